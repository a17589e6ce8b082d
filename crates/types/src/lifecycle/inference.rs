//! Signed inference receipts: what a gateway attests for each paid answer, so that anyone
//! holding a receipt and its input can check it offline against the chain and, later,
//! challenge it.
//!
//! A receipt is signed over `borsh(InferenceReceipt)` in [`RECEIPT_NAMESPACE`], like a
//! voucher: any ed25519 library can check it. `input_hash` is the plain BLAKE3 of the input
//! bytes exactly as sent (what `b3sum` prints, and the blob id of the input); `output_hash` is
//! the plain BLAKE3 of [`output_bytes`].

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::{Domain, Namespace};

use super::{ChannelId, DeploymentId, ModelId};
use crate::transaction::ChainId;
use crate::{Address, Amount, Hash, SecretKey, Signature, SignatureError};

/// The namespace receipts are signed in.
pub const RECEIPT_NAMESPACE: Namespace = Namespace::new("aifactory 2026-12 inference receipt v1");

/// The domain of a receipt's id: what makes a receipt challengeable once.
pub static RECEIPT_ID_DOMAIN: Domain = Domain::new("aifactory 2026-12 inference receipt id v1");

/// What a gateway attests about one answer.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct InferenceReceipt {
    /// The chain the deployment is on.
    pub chain_id: ChainId,
    /// The deployment that answered.
    pub deployment: DeploymentId,
    /// Its model.
    pub model: ModelId,
    /// The blob the gateway ran: the deployment's `model_hash`.
    pub model_hash: Hash,
    /// The channel that paid.
    pub channel: ChannelId,
    /// The voucher's cumulative amount that paid for this answer.
    pub amount: Amount,
    /// Plain BLAKE3 of the input bytes as sent.
    pub input_hash: Hash,
    /// Plain BLAKE3 of the output's canonical bytes ([`output_bytes`]).
    pub output_hash: Hash,
    /// The gateway's latest finalized height when it answered.
    pub height: u64,
}

/// A receipt with the gateway's signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedInferenceReceipt {
    /// What is attested.
    pub receipt: InferenceReceipt,
    /// Who attests it: the deployment's gateway.
    pub gateway: Address,
    /// The gateway's signature over `borsh(receipt)` in [`RECEIPT_NAMESPACE`].
    pub signature: Signature,
}

impl InferenceReceipt {
    /// The receipt's id: its hash in [`RECEIPT_ID_DOMAIN`].
    pub fn id(&self) -> Hash {
        RECEIPT_ID_DOMAIN.hash(&[&borsh::to_vec(self).expect("writing to a Vec cannot fail")])
    }

    /// Signs the receipt as `gateway`.
    pub fn sign(self, gateway: &SecretKey) -> SignedInferenceReceipt {
        let body = borsh::to_vec(&self).expect("writing to a Vec cannot fail");
        SignedInferenceReceipt {
            signature: gateway.sign_in(&RECEIPT_NAMESPACE, &body),
            gateway: gateway.address(),
            receipt: self,
        }
    }
}

impl SignedInferenceReceipt {
    /// Checks the gateway's signature (not that it is the deployment's gateway: compare with
    /// the deployment on chain).
    pub fn verify(&self) -> Result<(), SignatureError> {
        let body = borsh::to_vec(&self.receipt).expect("writing to a Vec cannot fail");
        self.signature
            .verify_in(&self.gateway, &RECEIPT_NAMESPACE, &body)
    }

    /// The exact bytes the gateway signed (the body framed in [`RECEIPT_NAMESPACE`]).
    pub fn message(&self) -> Vec<u8> {
        RECEIPT_NAMESPACE
            .frame(&borsh::to_vec(&self.receipt).expect("writing to a Vec cannot fail"))
    }
}

/// The canonical bytes of a model's answer: `u32 LE rows ‖ u32 LE classes ‖` then per row
/// `u32 LE class ‖ classes × f32 LE probability`, where the class is the most probable (the
/// lowest on a tie). `probabilities` is row-major, `rows × classes`.
pub fn output_bytes(classes: usize, probabilities: &[f32]) -> Vec<u8> {
    let classes = classes.max(1);
    let rows = probabilities.len() / classes;
    let mut bytes = Vec::with_capacity(8 + rows * (4 + 4 * classes));
    let count = |n: usize| u32::try_from(n).expect("answers are small").to_le_bytes();
    bytes.extend_from_slice(&count(rows));
    bytes.extend_from_slice(&count(classes));
    for row in probabilities.chunks_exact(classes) {
        bytes.extend_from_slice(&count(most_probable(row)));
        for p in row {
            bytes.extend_from_slice(&p.to_le_bytes());
        }
    }
    bytes
}

/// The index of the largest value, the lowest on a tie.
pub fn most_probable(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// A model's answer read back from [`output_bytes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Classes per row.
    pub classes: usize,
    /// Each row's stated most probable class.
    pub predicted: Vec<usize>,
    /// Row-major probabilities, `rows × classes`.
    pub probabilities: Vec<f32>,
}

impl Output {
    /// Reads [`output_bytes`]; `None` unless the bytes are exactly that layout with at least
    /// one class.
    pub fn parse(bytes: &[u8]) -> Option<Output> {
        let word = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
        let rows = u32::from_le_bytes(word(0)?) as usize;
        let classes = u32::from_le_bytes(word(4)?) as usize;
        let row_bytes = classes.checked_mul(4)?.checked_add(4)?;
        if classes == 0 || rows.checked_mul(row_bytes)?.checked_add(8)? != bytes.len() {
            return None;
        }
        let mut predicted = Vec::with_capacity(rows);
        let mut probabilities = Vec::with_capacity(rows * classes);
        for row in bytes[8..].chunks_exact(row_bytes) {
            let class = u32::from_le_bytes(row[..4].try_into().expect("4 bytes")) as usize;
            predicted.push(class);
            probabilities.extend(
                row[4..]
                    .chunks_exact(4)
                    .map(|p| f32::from_le_bytes(p.try_into().expect("4 bytes"))),
            );
        }
        Some(Output {
            classes,
            predicted,
            probabilities,
        })
    }
}

/// Whether a gateway's answer matches a re-run of the model, by the rule a challenge is judged
/// on (`docs/inference.md`): the same rows and classes, and on every row each probability
/// within `tolerance` of the re-run's and a stated class that is the re-run's or within
/// `2 × tolerance` of its top probability (a near tie may flip between machines).
pub fn outputs_match(gateway: &Output, rerun: &Output, tolerance: f32) -> bool {
    if gateway.classes != rerun.classes
        || gateway.predicted.len() != rerun.predicted.len()
        || gateway.probabilities.len() != rerun.probabilities.len()
    {
        return false;
    }
    let rows = gateway
        .probabilities
        .chunks_exact(gateway.classes)
        .zip(rerun.probabilities.chunks_exact(rerun.classes))
        .zip(&gateway.predicted);
    for ((stated, ours), &class) in rows {
        let close = stated
            .iter()
            .zip(ours)
            .all(|(g, v)| (g - v).abs() <= tolerance);
        let top = ours[most_probable(ours)];
        let class_ok = ours.get(class).is_some_and(|&p| p >= top - 2.0 * tolerance);
        if !close || !class_ok {
            return false;
        }
    }
    true
}

/// The plain BLAKE3 of [`output_bytes`].
pub fn output_hash(classes: usize, probabilities: &[f32]) -> Hash {
    Hash::from(blake3::hash(&output_bytes(classes, probabilities)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> InferenceReceipt {
        InferenceReceipt {
            chain_id: ChainId::new("test").unwrap(),
            deployment: 1,
            model: 2,
            model_hash: Hash([3; 32]),
            channel: 4,
            amount: 500,
            input_hash: Hash([5; 32]),
            output_hash: output_hash(2, &[0.25, 0.75]),
            height: 9,
        }
    }

    #[test]
    fn a_receipt_verifies_and_any_change_breaks_it() {
        let signed = receipt().sign(&SecretKey::from_bytes([1; 32]));
        assert_eq!(signed.verify(), Ok(()));
        let mut other = signed.clone();
        other.receipt.amount += 1;
        assert!(other.verify().is_err());
        let mut moved = signed.clone();
        moved.gateway = SecretKey::from_bytes([2; 32]).address();
        assert!(moved.verify().is_err());
    }

    fn output(predicted: &[usize], probabilities: &[f32]) -> Output {
        Output {
            classes: probabilities.len() / predicted.len(),
            predicted: predicted.to_vec(),
            probabilities: probabilities.to_vec(),
        }
    }

    #[test]
    fn an_output_reads_back_and_malformed_bytes_do_not() {
        let probabilities = [0.25, 0.75, 0.5, 0.5];
        let bytes = output_bytes(2, &probabilities);
        assert_eq!(Output::parse(&bytes), Some(output(&[1, 0], &probabilities)));
        assert_eq!(Output::parse(&bytes[..bytes.len() - 1]), None, "truncated");
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Output::parse(&longer), None, "trailing bytes");
        assert_eq!(Output::parse(&[0; 8]), None, "no classes");
        let mut huge = bytes;
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Output::parse(&huge), None, "rows beyond the bytes");
        assert_eq!(Output::parse(&[]), None);
    }

    #[test]
    fn outputs_match_within_the_tolerance_and_not_beyond() {
        let tolerance = 1e-4;
        let rerun = output(&[1], &[0.3, 0.7]);
        assert!(outputs_match(&rerun, &rerun, tolerance));
        let within = output(&[1], &[0.3 + 0.9e-4, 0.7 - 0.9e-4]);
        assert!(outputs_match(&within, &rerun, tolerance));
        let beyond = output(&[1], &[0.3 + 1.2e-4, 0.7 - 1.2e-4]);
        assert!(!outputs_match(&beyond, &rerun, tolerance));
        let wrong_class = output(&[0], &[0.3, 0.7]);
        assert!(!outputs_match(&wrong_class, &rerun, tolerance));
        let other_model = output(&[0], &[0.6, 0.4]);
        assert!(!outputs_match(&other_model, &rerun, tolerance));
    }

    #[test]
    fn a_near_tie_may_flip_but_counts_must_agree() {
        let tolerance = 1e-4;
        let rerun = output(&[0], &[0.50005, 0.49995]);
        let flipped = output(&[1], &[0.49996, 0.50004]);
        assert!(outputs_match(&flipped, &rerun, tolerance), "a near tie");
        let two_rows = output(&[0, 0], &[0.50005, 0.49995, 0.50005, 0.49995]);
        assert!(!outputs_match(&two_rows, &rerun, tolerance), "row count");
        let three = output(&[0], &[0.5, 0.5, 0.0]);
        assert!(!outputs_match(&three, &rerun, tolerance), "class count");
        let out_of_range = output(&[7], &[0.50005, 0.49995]);
        assert!(
            !outputs_match(&out_of_range, &rerun, tolerance),
            "no such class"
        );
    }

    #[test]
    fn a_receipt_id_changes_with_every_field() {
        let base = receipt();
        let mut other = receipt();
        other.height += 1;
        assert_ne!(base.id(), other.id());
        assert_eq!(base.id(), receipt().id());
    }

    #[test]
    fn output_bytes_follow_the_documented_layout() {
        let bytes = output_bytes(2, &[0.25, 0.75, 0.5, 0.5]);
        let mut expected = Vec::new();
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&0.25f32.to_le_bytes());
        expected.extend_from_slice(&0.75f32.to_le_bytes());
        expected.extend_from_slice(&0u32.to_le_bytes());
        expected.extend_from_slice(&0.5f32.to_le_bytes());
        expected.extend_from_slice(&0.5f32.to_le_bytes());
        assert_eq!(bytes, expected, "a tie goes to the lowest class");
    }
}

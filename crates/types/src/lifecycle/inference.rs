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

use aifactory_crypto::Namespace;

use super::{ChannelId, DeploymentId, ModelId};
use crate::transaction::ChainId;
use crate::{Address, Amount, Hash, SecretKey, Signature, SignatureError};

/// The namespace receipts are signed in.
pub const RECEIPT_NAMESPACE: Namespace = Namespace::new("aifactory 2026-12 inference receipt v1");

/// What a gateway attests about one answer.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
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

//! Transactions: the envelope every action travels in, its signature, and its hash.
//!
//! The sender signs the *signing digest*: BLAKE3 keyed by the domain
//! [`TX_SIGNING_DOMAIN`] over the transaction's canonical encoding (which begins with the
//! chain id). The domain is used for transactions and nothing else, so no other signed
//! message can be replayed as a transaction; the chain id stops replay on other chains, and
//! the strictly sequential nonce stops replay on this one.
//!
//! Some payloads carry signatures of other accounts (a channel claim carries each consumer's
//! voucher). They are checked with the sender's, in the same batch: a transaction with a bad
//! carried signature is refused like one with a bad envelope signature, and the ledger never
//! checks a signature itself.

use borsh::{BorshDeserialize, BorshSerialize};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use aifactory_crypto::{Domain, SignedMessage, verify_batch};

use crate::codec::{self, DecodeError};
use crate::lifecycle::voucher_message;
use crate::limits::{CHAIN_ID_BYTES_MAX, TX_BYTES_MAX};
use crate::{Address, Amount, BoundedString, Hash, Payload, SecretKey, Signature, SignatureError};

/// Fewest transactions whose digests [`verify_transactions_except`] computes across cores.
const PARALLEL_DIGESTS_MIN: usize = 512;

/// Domain of the digest a sender signs.
pub static TX_SIGNING_DOMAIN: Domain = Domain::new("aifactory 2026-11 transaction signature v1");

/// Domain of a signed transaction's hash (its id).
pub static TX_ID_DOMAIN: Domain = Domain::new("aifactory 2026-11 transaction id v1");

/// A chain's name, part of everything signed on it.
pub type ChainId = BoundedString<CHAIN_ID_BYTES_MAX>;

/// A signature a transaction's payload carries for an account other than its sender, with
/// the exact bytes it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedSignature {
    /// Who signed.
    pub signer: Address,
    /// The signed bytes (framed in the signature's namespace).
    pub message: Vec<u8>,
    /// The signature.
    pub signature: Signature,
}

impl CarriedSignature {
    /// The signature as one message of a batch.
    fn as_signed(&self) -> SignedMessage<'_> {
        SignedMessage {
            signer: &self.signer,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

/// An unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain this transaction is meant for.
    pub chain_id: ChainId,
    /// Who sends it, pays the fee, and signs it.
    pub sender: Address,
    /// The sender's next nonce: exactly the number of transactions it has had executed.
    pub nonce: u64,
    /// The fee, in base units, paid to the block's proposer.
    pub fee: Amount,
    /// The last block height at which the transaction may be included.
    pub expiry_height: u64,
    /// What to do.
    pub payload: Payload,
}

impl Transaction {
    /// The digest the sender signs.
    pub fn signing_digest(&self) -> Hash {
        TX_SIGNING_DOMAIN.hash(&[&codec::encode(self)])
    }

    /// The signatures the payload carries for accounts other than the sender: each channel
    /// claim's voucher, and a challenged receipt's gateway signature.
    pub fn carried_signatures(&self) -> Vec<CarriedSignature> {
        match &self.payload {
            Payload::ClaimChannels(claims) => claims
                .claims
                .iter()
                .map(|claim| {
                    let message = voucher_message(&self.chain_id, claim.channel, claim.amount);
                    CarriedSignature {
                        signer: claim.consumer,
                        message,
                        signature: claim.signature,
                    }
                })
                .collect(),
            Payload::Challenge(challenge) => vec![CarriedSignature {
                signer: challenge.receipt.gateway,
                message: challenge.receipt.message(),
                signature: challenge.receipt.signature,
            }],
            _ => Vec::new(),
        }
    }

    /// Signs the transaction with `key`, which must be the sender's.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        assert_eq!(
            key.address(),
            self.sender,
            "signing with a key that is not the sender's"
        );
        let signature = key.sign(&self.signing_digest());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

/// A transaction with the sender's signature: what is submitted and put in blocks.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The sender's signature over [`Transaction::signing_digest`].
    pub signature: Signature,
}

impl SignedTransaction {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// How many bytes [`SignedTransaction::encode`] gives, without allocating them.
    pub fn encoded_len(&self) -> usize {
        borsh::object_length(self).expect("counting bytes cannot fail")
    }

    /// Decodes untrusted bytes, refusing more than [`TX_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode("transaction", bytes, TX_BYTES_MAX)
    }

    /// The transaction's id: the hash in [`TX_ID_DOMAIN`] of its encoding.
    pub fn hash(&self) -> Hash {
        TX_ID_DOMAIN.hash(&[&codec::encode(&self.tx), &self.signature.0])
    }

    /// The signing digest and the id, from one encoding of the body (a signed transaction's
    /// encoding is the body's followed by the 64 signature bytes).
    fn digests(&self) -> (Hash, Hash) {
        let body = codec::encode(&self.tx);
        let signing = TX_SIGNING_DOMAIN.hash(&[&body]);
        let id = TX_ID_DOMAIN.hash(&[&body, &self.signature.0]);
        (signing, id)
    }

    /// Checks the sender's signature and those the payload carries.
    pub fn verify(self) -> Result<VerifiedTransaction, SignatureError> {
        let (signing, hash) = self.digests();
        self.signature.verify(&self.tx.sender, &signing)?;
        let carried = self.tx.carried_signatures();
        let messages: Vec<SignedMessage<'_>> =
            carried.iter().map(CarriedSignature::as_signed).collect();
        verify_batch(&messages).map_err(|(_, error)| error)?;
        Ok(VerifiedTransaction { signed: self, hash })
    }
}

/// A transaction whose signature has been checked; only the ledger's checks remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTransaction {
    signed: SignedTransaction,
    hash: Hash,
}

impl VerifiedTransaction {
    /// The signed transaction.
    pub fn signed(&self) -> &SignedTransaction {
        &self.signed
    }

    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.signed.tx
    }

    /// The transaction's id.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Gives back the signed transaction.
    pub fn into_signed(self) -> SignedTransaction {
        self.signed
    }
}

/// Checks many signatures at once, in batches across the machine's cores, carried ones
/// included; on failure, names the index of a bad transaction (the first, if a sender's own
/// signature is bad).
pub fn verify_transactions(
    txs: Vec<SignedTransaction>,
) -> Result<Vec<VerifiedTransaction>, (usize, SignatureError)> {
    verify_transactions_except(txs, |_, _| false)
}

/// Like [`verify_transactions`], but trusts the signature of each transaction for which
/// `known(&hash, &tx)` says it was already checked (a mempool holding that exact transaction),
/// and batch-checks only the rest. The hash is the transaction's id, which commits to the
/// signature bytes, so a transaction that differs from the vouched one in any byte (its
/// signature included) has another id and is checked.
pub fn verify_transactions_except(
    txs: Vec<SignedTransaction>,
    mut known: impl FnMut(&Hash, &SignedTransaction) -> bool,
) -> Result<Vec<VerifiedTransaction>, (usize, SignatureError)> {
    // Hashing is a few microseconds a transaction: only a large batch repays waking the pool.
    let digests: Vec<(Hash, Hash)> = if txs.len() < PARALLEL_DIGESTS_MIN {
        txs.iter().map(SignedTransaction::digests).collect()
    } else {
        txs.par_iter().map(SignedTransaction::digests).collect()
    };
    let unknown: Vec<usize> = txs
        .iter()
        .zip(&digests)
        .enumerate()
        .filter(|(_, (tx, (_, hash)))| !known(hash, tx))
        .map(|(index, _)| index)
        .collect();
    let carried: Vec<(usize, Vec<CarriedSignature>)> = unknown
        .iter()
        .map(|&index| (index, txs[index].tx.carried_signatures()))
        .filter(|(_, carried)| !carried.is_empty())
        .collect();
    // Each message with the index of the transaction that carries it.
    let mut owners: Vec<usize> = Vec::with_capacity(unknown.len());
    let mut messages: Vec<SignedMessage<'_>> = Vec::with_capacity(unknown.len());
    for &index in &unknown {
        owners.push(index);
        messages.push(SignedMessage {
            signer: &txs[index].tx.sender,
            message: digests[index].0.as_bytes(),
            signature: &txs[index].signature,
        });
    }
    for (index, signatures) in &carried {
        for signature in signatures {
            owners.push(*index);
            messages.push(signature.as_signed());
        }
    }
    verify_batch(&messages).map_err(|(position, error)| (owners[position], error))?;
    let verified = txs
        .into_iter()
        .zip(digests)
        .map(|(signed, (_, hash))| VerifiedTransaction { signed, hash })
        .collect();
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Transfer;

    fn transfer(key: &SecretKey, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: ChainId::new("test").unwrap(),
            sender: key.address(),
            nonce,
            fee: 10,
            expiry_height: 100,
            payload: Payload::Transfer(Transfer {
                to: Address([9; 32]),
                amount: 5,
                memo: Default::default(),
            }),
        }
        .sign(key)
    }

    #[test]
    fn encode_decode_verify() {
        let key = SecretKey::from_bytes([3; 32]);
        let signed = transfer(&key, 0);
        let decoded = SignedTransaction::decode(&signed.encode()).unwrap();
        assert_eq!(decoded, signed);
        assert_eq!(signed.encoded_len(), signed.encode().len());
        assert_eq!(decoded.clone().verify().unwrap().hash(), signed.hash());
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let key = SecretKey::from_bytes([3; 32]);
        let mut signed = transfer(&key, 0);
        signed.tx.nonce = 1;
        assert_eq!(
            signed.clone().verify().unwrap_err(),
            SignatureError::Mismatch
        );
        let mut other_chain = transfer(&key, 0);
        other_chain.tx.chain_id = ChainId::new("other").unwrap();
        assert_eq!(other_chain.verify().unwrap_err(), SignatureError::Mismatch);
    }

    /// A gateway's claim of two consumers' vouchers, signed by the gateway.
    fn claim(gateway: &SecretKey, consumers: &[SecretKey]) -> SignedTransaction {
        use crate::lifecycle::{ClaimChannels, sign_voucher};
        let chain_id = ChainId::new("test").unwrap();
        let claims = consumers
            .iter()
            .enumerate()
            .map(|(i, key)| sign_voucher(key, &chain_id, i as u64 + 1, 500))
            .collect();
        Transaction {
            chain_id,
            sender: gateway.address(),
            nonce: 0,
            fee: 10,
            expiry_height: 100,
            payload: Payload::ClaimChannels(ClaimChannels {
                claims: crate::BoundedVec::new(claims).unwrap(),
            }),
        }
        .sign(gateway)
    }

    /// A bad voucher makes the whole claim inadmissible, alone or in a batch, even though the
    /// gateway's own signature is good.
    #[test]
    fn a_claim_with_a_forged_voucher_is_refused_with_its_transaction() {
        let gateway = SecretKey::from_bytes([1; 32]);
        let consumers = [
            SecretKey::from_bytes([2; 32]),
            SecretKey::from_bytes([3; 32]),
        ];
        let good = claim(&gateway, &consumers);
        assert!(good.clone().verify().is_ok());
        // The gateway raises the second voucher and signs the transaction again.
        let mut tx = good.tx.clone();
        let Payload::ClaimChannels(claims) = &mut tx.payload else {
            unreachable!()
        };
        let mut raised = claims.claims.to_vec();
        raised[1].amount = 501;
        claims.claims = crate::BoundedVec::new(raised).unwrap();
        let forged = tx.sign(&gateway);
        assert_eq!(
            forged.clone().verify().unwrap_err(),
            SignatureError::Mismatch
        );
        let batch = vec![transfer(&consumers[0], 0), good, forged.clone()];
        assert_eq!(
            verify_transactions(batch.clone()).unwrap_err(),
            (2, SignatureError::Mismatch)
        );
        // A mempool that already checked the forgery vouches for it; nobody else is trusted.
        let vouched = forged.hash();
        assert!(verify_transactions_except(batch, |hash, _| *hash == vouched).is_ok());
    }

    #[test]
    fn batch_names_the_forgery() {
        let keys: Vec<SecretKey> = (1..=5).map(|i| SecretKey::from_bytes([i; 32])).collect();
        let mut txs: Vec<SignedTransaction> = keys.iter().map(|k| transfer(k, 0)).collect();
        assert_eq!(verify_transactions(txs.clone()).unwrap().len(), 5);
        txs[3].tx.fee = 11;
        assert_eq!(
            verify_transactions(txs).unwrap_err(),
            (3, SignatureError::Mismatch)
        );
    }

    #[test]
    fn only_unknown_transactions_are_checked() {
        let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_bytes([i; 32])).collect();
        let mut txs: Vec<SignedTransaction> = keys.iter().map(|k| transfer(k, 0)).collect();
        txs[1].tx.fee = 11;
        txs[2].signature = txs[0].signature;
        let forged = [txs[1].hash(), txs[2].hash()];
        // Vouching for a forgery skips its check: the caller's promise is what is trusted.
        let trusting = verify_transactions_except(txs.clone(), |hash, _| forged.contains(hash));
        assert_eq!(trusting.unwrap().len(), 4);
        // Vouching for the others leaves the forgeries checked, named by their index.
        let honest = [txs[0].hash(), txs[3].hash()];
        let checked = verify_transactions_except(txs.clone(), |hash, _| honest.contains(hash));
        assert_eq!(checked.unwrap_err(), (1, SignatureError::Mismatch));
        let checked =
            verify_transactions_except(txs[2..].to_vec(), |hash, _| honest.contains(hash));
        assert_eq!(checked.unwrap_err(), (0, SignatureError::Mismatch));
        // The ids handed to the callback are the transactions' own.
        let mut seen = Vec::new();
        verify_transactions_except(vec![txs[0].clone()], |hash, tx| {
            seen.push((*hash, tx.clone()));
            false
        })
        .unwrap();
        assert_eq!(seen, vec![(txs[0].hash(), txs[0].clone())]);
    }

    /// Regression: a small-order sender's "signature" (R = identity, s = 0) verified on any
    /// transaction, so anyone could spend from, or stake as, such an address.
    #[test]
    fn small_order_senders_are_refused() {
        let mut forged = transfer(&SecretKey::from_bytes([3; 32]), 0);
        forged.tx.sender = Address([0; 32]);
        forged.tx.payload = Payload::Stake(crate::payload::Stake { amount: 1 });
        let mut signature = [0u8; 64];
        signature[0] = 1;
        forged.signature = Signature(signature);
        assert_eq!(
            forged.clone().verify().unwrap_err(),
            SignatureError::SmallOrderKey
        );
        let honest = transfer(&SecretKey::from_bytes([4; 32]), 0);
        assert_eq!(
            verify_transactions(vec![honest, forged]).unwrap_err(),
            (1, SignatureError::SmallOrderKey)
        );
    }

    #[test]
    fn oversized_bytes_are_refused_before_decoding() {
        let bytes = vec![0u8; TX_BYTES_MAX + 1];
        assert!(matches!(
            SignedTransaction::decode(&bytes),
            Err(DecodeError::Oversized { .. })
        ));
    }
}

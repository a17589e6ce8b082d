//! Blocks: a header that commits to the transactions and to the state after them, and the
//! transactions themselves.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::{Domain, merkle};

use crate::codec::{self, DecodeError};
use crate::limits::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX};
use crate::transaction::{verify_transactions, verify_transactions_except};
use crate::{Address, BoundedVec, Hash, SignatureError, SignedTransaction, VerifiedTransaction};

/// Domain of a block's hash (the hash of its header).
pub static BLOCK_HASH_DOMAIN: Domain = Domain::new("aifactory 2026-11 block header v1");

/// What a block commits to.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Header {
    /// The block's height; the first block after genesis is 1.
    pub height: u64,
    /// The previous block's hash (the genesis hash for height 1).
    pub parent: Hash,
    /// The proposer's timestamp in milliseconds since the Unix epoch; strictly increasing.
    /// It is the only clock the ledger knows.
    pub timestamp_ms: u64,
    /// Who proposed the block; it collects the fees.
    pub proposer: Address,
    /// The list root of the transactions' ids, in block order.
    pub txs_root: Hash,
    /// The state root after applying the block.
    pub state_root: Hash,
}

impl Header {
    /// Bytes of an encoded header: height, parent, timestamp, proposer, two roots.
    pub const ENCODED_BYTES: usize = 8 + 32 + 8 + 32 + 32 + 32;

    /// The block's hash.
    pub fn hash(&self) -> Hash {
        BLOCK_HASH_DOMAIN.hash(&[&codec::encode(self)])
    }
}

/// A header and its transactions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, executed in this order.
    pub txs: BoundedVec<SignedTransaction, BLOCK_TXS_MAX>,
}

/// Why a block's signatures did not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction {index} of the block: {error}")]
pub struct BlockSignatureError {
    /// The position of the first bad transaction.
    pub index: usize,
    /// What was wrong with it.
    pub error: SignatureError,
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes untrusted bytes, refusing more than [`BLOCK_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode("block", bytes, BLOCK_BYTES_MAX)
    }

    /// Checks every transaction's signature (in batches across cores).
    pub fn verify(self) -> Result<VerifiedBlock, BlockSignatureError> {
        let header = self.header;
        let txs = verify_transactions(self.txs.into_inner())
            .map_err(|(index, error)| BlockSignatureError { index, error })?;
        Ok(VerifiedBlock { header, txs })
    }

    /// Checks the signatures of the transactions `known` does not vouch for (see
    /// [`verify_transactions_except`]): those a mempool already checked are not checked again.
    pub fn verify_except(
        self,
        known: impl FnMut(&Hash, &SignedTransaction) -> bool,
    ) -> Result<VerifiedBlock, BlockSignatureError> {
        let header = self.header;
        let txs = verify_transactions_except(self.txs.into_inner(), known)
            .map_err(|(index, error)| BlockSignatureError { index, error })?;
        Ok(VerifiedBlock { header, txs })
    }
}

/// A block whose signatures all check; the ledger decides the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlock {
    /// The header.
    pub header: Header,
    /// The transactions, each with a checked signature.
    pub txs: Vec<VerifiedTransaction>,
}

impl VerifiedBlock {
    /// Bytes of an encoded block with no transactions: the header and the count.
    pub const EMPTY_BYTES: usize = Header::ENCODED_BYTES + 4;

    /// How many bytes the block's encoding takes, without encoding it.
    pub fn encoded_len(&self) -> usize {
        self.txs
            .iter()
            .map(|tx| tx.signed().encoded_len())
            .fold(Self::EMPTY_BYTES, |sum, len| sum.saturating_add(len))
    }

    /// Assembles a block from transactions verified earlier (by the mempool, say).
    pub fn from_verified(header: Header, txs: Vec<VerifiedTransaction>) -> Self {
        VerifiedBlock { header, txs }
    }

    /// The list root of the transactions' ids, to compare with the header's.
    pub fn computed_txs_root(&self) -> Hash {
        txs_root(&self.txs)
    }

    /// The plain block, for encoding.
    pub fn to_block(&self) -> Block {
        let txs = self.txs.iter().map(|t| t.signed().clone()).collect();
        Block {
            header: self.header.clone(),
            txs: BoundedVec::new(txs).expect("a verified block came from a bounded one"),
        }
    }
}

/// The list root of transactions' ids.
pub fn txs_root(txs: &[VerifiedTransaction]) -> Hash {
    let ids: Vec<Hash> = txs.iter().map(VerifiedTransaction::hash).collect();
    merkle::list_root(&ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Transfer;
    use crate::transaction::ChainId;
    use crate::{Payload, SecretKey, Transaction};

    #[test]
    fn encoded_len_is_the_encoding_length() {
        let key = SecretKey::from_bytes([5; 32]);
        let tx = Transaction {
            chain_id: ChainId::new("test").unwrap(),
            sender: key.address(),
            nonce: 0,
            fee: 1,
            expiry_height: 9,
            payload: Payload::Transfer(Transfer {
                to: Address([1; 32]),
                amount: 3,
                memo: crate::BoundedBytes::new(vec![7; 100]).unwrap(),
            }),
        }
        .sign(&key)
        .verify()
        .unwrap();
        let empty = VerifiedBlock::from_verified(Header::default(), vec![]);
        assert_eq!(empty.encoded_len(), empty.to_block().encode().len());
        let block = VerifiedBlock::from_verified(Header::default(), vec![tx.clone(), tx]);
        assert_eq!(block.encoded_len(), block.to_block().encode().len());
    }
}

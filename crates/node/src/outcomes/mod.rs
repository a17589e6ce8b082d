//! Durable block outcomes: what executing each finalized block produced (its receipts and its
//! block-level events) kept on disk by height, so the API serves them for every block the
//! node has, not only for its recent window, and a restarted agent can replay the chain's
//! events from any height (`GET /v1/events?from_height=`).
//!
//! **Storage.** Two commonware immutable archives, the same kind and configuration as
//! marshal's finalized-blocks archive beside them: outcomes indexed by height and keyed by
//! block hash, and transaction locations (height, position) indexed by a running transaction
//! count and keyed by transaction id, for `GET /v1/txs/{hash}`. Both keep an on-disk hash
//! table and journals, so memory stays a few bitmaps and the shared page cache whatever the
//! history's length. Blocks are never pruned (marshal's archives are
//! immutable), so neither are outcomes; a node that started from a snapshot has both only
//! from its floor up.
//!
//! **Crash safety.** The [`crate::finalizer`] records a block's outcome, synced, after the
//! ledger applied it and before it publishes the block or acknowledges it to marshal; so
//! every published block is on disk, and every processed height too. A crash before the sync
//! loses at most outcomes marshal will redeliver or the start-up replay re-executes;
//! re-recording a height is a no-op (archive indices are unique), and re-executing a block
//! derives the same outcome anyway. A block's transaction locations are synced before its
//! outcome, whose `txs_before` numbers them: a crash between the two re-records the same
//! locations at the same indices, which is again a no-op.
//!
//! The archive is owned by one [`actor`]; the rest of the node talks to it through the
//! [`Outcomes`] mailbox.

mod actor;
mod ingress;

use aifactory_types::{Event, Hash, Receipt};
use borsh::{BorshDeserialize, BorshSerialize};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write};

pub use actor::{Actor, init};
pub use ingress::{Outcomes, Stopped};

use crate::limits::BLOCK_OUTCOME_BYTES_MAX;

/// What the node records of one finalized block beside the block itself.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct OutcomeRecord {
    /// Transactions recorded before this block's (its first one's index in the transaction
    /// archive); the archive assigns it when recording.
    pub txs_before: u64,
    /// The block's hash.
    pub hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// What the block did outside its transactions.
    pub events: Vec<Event>,
}

/// Where a finalized transaction is: its block's height and its position there. The
/// transaction archive maps each transaction's id to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block's height.
    pub height: u64,
    /// The transaction's position in the block.
    pub index: u32,
}

impl Write for TxLocation {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u64_le(self.height);
        buf.put_u32_le(self.index);
    }
}

impl EncodeSize for TxLocation {
    fn encode_size(&self) -> usize {
        TX_LOCATION_BYTES
    }
}

impl Read for TxLocation {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        if buf.remaining() < TX_LOCATION_BYTES {
            return Err(CodecError::EndOfBuffer);
        }
        Ok(TxLocation {
            height: buf.get_u64_le(),
            index: buf.get_u32_le(),
        })
    }
}

/// Bytes of an encoded [`TxLocation`].
const TX_LOCATION_BYTES: usize = 12;

/// Bytes of the length prefix in front of a record's Borsh bytes.
const LENGTH_PREFIX_BYTES: usize = 4;

const _: () = assert!(BLOCK_OUTCOME_BYTES_MAX <= u32::MAX as usize);

impl OutcomeRecord {
    fn borsh(&self) -> Vec<u8> {
        let bytes = borsh::to_vec(self).expect("a record serialises to memory");
        assert!(
            bytes.len() <= BLOCK_OUTCOME_BYTES_MAX,
            "a block's outcome of {} bytes is over BLOCK_OUTCOME_BYTES_MAX",
            bytes.len()
        );
        bytes
    }
}

impl Write for OutcomeRecord {
    fn write(&self, buf: &mut impl BufMut) {
        let bytes = self.borsh();
        buf.put_u32_le(u32::try_from(bytes.len()).expect("under the cap"));
        buf.put_slice(&bytes);
    }
}

impl EncodeSize for OutcomeRecord {
    fn encode_size(&self) -> usize {
        LENGTH_PREFIX_BYTES + self.borsh().len()
    }
}

impl Read for OutcomeRecord {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        if buf.remaining() < LENGTH_PREFIX_BYTES {
            return Err(CodecError::EndOfBuffer);
        }
        let len = buf.get_u32_le() as usize;
        if len > BLOCK_OUTCOME_BYTES_MAX {
            return Err(CodecError::InvalidLength(len));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let bytes = buf.copy_to_bytes(len);
        borsh::from_slice(&bytes).map_err(|e| CodecError::Wrapped("OutcomeRecord", e.into()))
    }
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;
    use commonware_codec::{Decode, Encode};

    use super::*;

    #[test]
    fn a_record_round_trips_and_a_cut_or_oversized_one_is_refused() {
        let mut chain = TestChain::new(3, 1_000_000);
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 10));
        let built = chain.build(vec![tx]);
        let record = OutcomeRecord {
            txs_before: 7,
            hash: built.outcome.block_hash,
            state_root: built.outcome.state_root,
            receipts: built.outcome.receipts,
            events: built.outcome.events,
        };
        let bytes = record.encode();
        assert_eq!(bytes.len(), record.encode_size());
        assert_eq!(
            OutcomeRecord::decode_cfg(bytes.clone(), &()).unwrap(),
            record
        );
        for cut in [0, 3, bytes.len() - 1] {
            assert!(
                OutcomeRecord::decode_cfg(commonware_codec::Copying(&bytes[..cut]), &()).is_err(),
                "cut at {cut}"
            );
        }
        let mut oversized = bytes.to_vec();
        oversized[..4].copy_from_slice(&(BLOCK_OUTCOME_BYTES_MAX as u32 + 1).to_le_bytes());
        assert!(matches!(
            OutcomeRecord::decode_cfg(commonware_codec::Copying(&oversized[..]), &()),
            Err(CodecError::InvalidLength(_))
        ));
    }
}

//! The receipts of recent finalized blocks and where each of their transactions landed, for
//! the API's `GET /v1/txs/{hash}` and `GET /v1/blocks/{id}`. Blocks themselves are durable in
//! marshal's archive; receipts are recomputed only by executing a block, so the node keeps
//! them for its last [`RECENT_BLOCKS_MAX`] finalized blocks (and for every block replayed at
//! startup, within the same window).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use aifactory_types::Hash;

use crate::chain::FinalizedBlock;
use crate::limits::RECENT_BLOCKS_MAX;

/// Where a finalized transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block's height.
    pub height: u64,
    /// The transaction's position in it.
    pub index: u32,
}

/// A window of recent finalized blocks, by height, by hash and by transaction.
#[derive(Debug, Default)]
pub struct RecentBlocks {
    blocks: VecDeque<Arc<FinalizedBlock>>,
    by_hash: BTreeMap<Hash, u64>,
    txs: BTreeMap<Hash, TxLocation>,
}

impl RecentBlocks {
    /// Records the next finalized block, forgetting the oldest beyond the window.
    pub fn push(&mut self, block: Arc<FinalizedBlock>) {
        let height = block.block.header().height;
        if let Some(last) = self.blocks.back() {
            debug_assert_eq!(last.block.header().height + 1, height);
        }
        self.by_hash.insert(block.block.hash(), height);
        // The receipts carry the transactions' ids, in block order: no need to hash again.
        debug_assert_eq!(block.receipts.len(), block.block.block().txs.len());
        for (index, receipt) in block.receipts.iter().enumerate() {
            let index = u32::try_from(index).expect("blocks hold fewer than 2^32 transactions");
            self.txs
                .insert(receipt.tx_hash, TxLocation { height, index });
        }
        self.blocks.push_back(block);
        while self.blocks.len() > RECENT_BLOCKS_MAX {
            let old = self.blocks.pop_front().expect("the window is not empty");
            self.by_hash.remove(&old.block.hash());
            for receipt in &old.receipts {
                self.txs.remove(&receipt.tx_hash);
            }
        }
    }

    /// The block at `height`, if it is in the window.
    pub fn by_height(&self, height: u64) -> Option<Arc<FinalizedBlock>> {
        let first = self.blocks.front()?.block.header().height;
        let offset = usize::try_from(height.checked_sub(first)?).ok()?;
        self.blocks.get(offset).cloned()
    }

    /// The block with header hash `hash`, if it is in the window.
    pub fn by_hash(&self, hash: &Hash) -> Option<Arc<FinalizedBlock>> {
        self.by_height(*self.by_hash.get(hash)?)
    }

    /// Where the transaction `hash` landed, if in the window.
    pub fn tx(&self, hash: &Hash) -> Option<(Arc<FinalizedBlock>, u32)> {
        let location = self.txs.get(hash)?;
        Some((self.by_height(location.height)?, location.index))
    }

    /// The newest block in the window.
    pub fn latest(&self) -> Option<Arc<FinalizedBlock>> {
        self.blocks.back().cloned()
    }
}

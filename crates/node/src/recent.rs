//! The receipts of recent finalized blocks and where each of their transactions landed, for
//! the API's `GET /v1/txs/{hash}` and `GET /v1/blocks/{id}`: a memory cache in front of the
//! disk (blocks in marshal's archive, receipts and events in [`crate::outcomes`]). It keeps
//! the last [`RECENT_BLOCKS_MAX`] finalized blocks, and no more than
//! [`RECENT_BLOCKS_BYTES_MAX`] of them (full blocks are large: a count alone let 100,000 of
//! them take gigabytes), including every block replayed at startup within the same window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use aifactory_types::Hash;

use crate::chain::FinalizedBlock;
use crate::limits::{RECENT_BLOCK_RECEIPT_BYTES, RECENT_BLOCKS_BYTES_MAX, RECENT_BLOCKS_MAX};

/// Where a finalized transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block's height.
    pub height: u64,
    /// The transaction's position in it.
    pub index: u32,
}

/// A window of recent finalized blocks, by height, by hash and by transaction.
#[derive(Debug)]
pub struct RecentBlocks {
    blocks: VecDeque<Arc<FinalizedBlock>>,
    by_hash: BTreeMap<Hash, u64>,
    txs: BTreeMap<Hash, TxLocation>,
    /// The estimated memory of the blocks in the window (see [`footprint`]).
    bytes: usize,
    bytes_max: usize,
}

impl Default for RecentBlocks {
    fn default() -> Self {
        RecentBlocks::with_bytes_max(RECENT_BLOCKS_BYTES_MAX)
    }
}

/// An estimate of the memory a finalized block takes in the window: the block twice (its
/// decoded form and its encoding) and a fixed allowance per receipt and index entry.
fn footprint(block: &FinalizedBlock) -> usize {
    let receipts = block
        .receipts
        .len()
        .saturating_mul(RECENT_BLOCK_RECEIPT_BYTES);
    block
        .block
        .bytes()
        .len()
        .saturating_mul(2)
        .saturating_add(receipts)
}

impl RecentBlocks {
    /// An empty window that keeps at most `bytes_max` estimated bytes of blocks.
    pub fn with_bytes_max(bytes_max: usize) -> Self {
        RecentBlocks {
            blocks: VecDeque::new(),
            by_hash: BTreeMap::new(),
            txs: BTreeMap::new(),
            bytes: 0,
            bytes_max,
        }
    }

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
        self.bytes += footprint(&block);
        self.blocks.push_back(block);
        while self.blocks.len() > RECENT_BLOCKS_MAX
            || (self.bytes > self.bytes_max && self.blocks.len() > 1)
        {
            let old = self.blocks.pop_front().expect("the window is not empty");
            self.bytes -= footprint(&old);
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

    /// The estimated memory of the blocks in the window.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many blocks the window holds.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The newest block in the window.
    pub fn latest(&self) -> Option<Arc<FinalizedBlock>> {
        self.blocks.back().cloned()
    }
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;

    use super::*;
    use crate::block::ChainBlock;

    /// Finalized blocks of `txs` transfers each (one from each of `txs` senders), built on a
    /// test chain.
    fn blocks(count: usize, txs: usize) -> Vec<Arc<FinalizedBlock>> {
        let mut chain = TestChain::new(txs + 1, 1_000_000_000);
        (0..count)
            .map(|_| {
                let batch = (1..=txs)
                    .map(|k| chain.tx(k, TestChain::transfer_to(chain.address(0), 1)))
                    .collect();
                let built = chain.build(batch);
                Arc::new(FinalizedBlock {
                    block: ChainBlock::new(built.block.to_block()),
                    state_root: chain.state.root(),
                    receipts: built.outcome.receipts,
                    events: built.outcome.events,
                })
            })
            .collect()
    }

    /// Regression: the window was bounded by a count of blocks only, whatever their size.
    #[test]
    fn the_window_is_bounded_by_bytes_and_keeps_the_newest() {
        let blocks = blocks(12, 20);
        let one = footprint(&blocks[0]);
        let mut recent = RecentBlocks::with_bytes_max(one * 5);
        for block in &blocks {
            recent.push(block.clone());
            assert!(recent.bytes() <= one * 6, "{} bytes held", recent.bytes());
        }
        assert!(recent.len() < blocks.len(), "nothing was forgotten");
        let newest = blocks.last().unwrap();
        assert_eq!(recent.latest().unwrap().block.hash(), newest.block.hash());
        let oldest = &blocks[0];
        assert!(recent.by_hash(&oldest.block.hash()).is_none());
        assert!(
            recent.tx(&oldest.receipts[0].tx_hash).is_none(),
            "its index went too"
        );
        assert!(recent.tx(&newest.receipts[0].tx_hash).is_some());
    }
}

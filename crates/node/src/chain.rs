//! What the node knows of the chain: the latest finalized state, the post-states of blocks it
//! verified or proposed but that are not yet finalized, and the mempool. Consensus (through
//! the application) reads and fills the pending states; the finalizer moves the finalized
//! state forward; the HTTP API reads through [`NodeHandle`].
//!
//! **Known cost:** a pending entry holds a full clone of the ledger `State` (its tables and
//! slot trees), taken when a block is built or verified on its parent's state. That is cheap
//! for a devnet and linear in the state's size; a copy-on-write or journaled state (issue 4's
//! store) removes it.
//!
//! **Locking:** one short `std::sync::Mutex` for the maps, never held across an `.await` and
//! never while executing a block; states are shared as `Arc<State>` and cloned outside it.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aifactory_ledger::{BlockOutcome, State};
use aifactory_types::{
    Event, Hash, Receipt, SignedTransaction, VerifiedBlock, VerifiedTransaction,
};
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, broadcast, watch};

use crate::block::{ChainBlock, Digest, to_digest};
use crate::limits::{FINALIZED_SUBSCRIBERS_BACKLOG_MAX, PENDING_STATES_MAX};
use crate::mempool::{Mempool, MempoolConfig, Rejection};
use crate::recent::RecentBlocks;

/// A finalized block with what executing it produced.
#[derive(Debug, Clone)]
pub struct FinalizedBlock {
    /// The block.
    pub block: ChainBlock,
    /// The state root after it.
    pub state_root: Hash,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// What the block did outside its transactions (deadlines: phases ending, jobs settling).
    pub events: Vec<Event>,
}

#[derive(Debug)]
struct Pending {
    height: u64,
    state: Arc<State>,
    receipts: Vec<Receipt>,
    events: Vec<Event>,
}

#[derive(Debug)]
struct Inner {
    finalized: Arc<State>,
    pending: BTreeMap<Digest, Pending>,
}

/// The shared view of the chain; cheap to clone.
#[derive(Debug, Clone)]
pub struct Chain {
    inner: Arc<Mutex<Inner>>,
    mempool: Arc<Mutex<Mempool>>,
    recent: Arc<Mutex<RecentBlocks>>,
    finalized_tx: Arc<watch::Sender<Arc<State>>>,
    blocks_tx: broadcast::Sender<Arc<FinalizedBlock>>,
    /// Woken whenever the mempool admits a transaction: a proposer holding back an empty
    /// block waits on it.
    admitted: Arc<Notify>,
    /// Finalized blocks executed only when applied (see [`Chain::replayed_blocks`]).
    replayed: Arc<AtomicU64>,
}

/// What the rest of the node (the HTTP API) reads and writes: the latest finalized state,
/// finalized blocks as they come, and transaction submission.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    chain: Chain,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .expect("a thread panicked holding the chain lock")
}

impl Chain {
    /// A chain whose finalized state is `state` (genesis, or restored from a snapshot) with an
    /// empty mempool.
    pub fn new(state: State, mempool: MempoolConfig) -> Self {
        let finalized = Arc::new(state);
        let (finalized_tx, _) = watch::channel(finalized.clone());
        let (blocks_tx, _) = broadcast::channel(FINALIZED_SUBSCRIBERS_BACKLOG_MAX);
        Chain {
            inner: Arc::new(Mutex::new(Inner {
                finalized,
                pending: BTreeMap::new(),
            })),
            mempool: Arc::new(Mutex::new(Mempool::new(mempool))),
            recent: Arc::default(),
            finalized_tx: Arc::new(finalized_tx),
            blocks_tx,
            admitted: Arc::new(Notify::new()),
            replayed: Arc::default(),
        }
    }

    /// This chain with a recent-blocks window of at most `bytes_max` estimated bytes (see
    /// [`RecentBlocks`]); for a node short of memory, or a test that needs old blocks to
    /// leave the window.
    pub fn with_recent_blocks_bytes_max(mut self, bytes_max: usize) -> Self {
        self.recent = Arc::new(Mutex::new(RecentBlocks::with_bytes_max(bytes_max)));
        self
    }

    /// The handle the API uses.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle {
            chain: self.clone(),
        }
    }

    /// The latest finalized state.
    pub fn finalized(&self) -> Arc<State> {
        lock(&self.inner).finalized.clone()
    }

    /// The state after the block `digest`, if it is the finalized tip or a pending block.
    pub fn state_after(&self, digest: &Digest) -> Option<Arc<State>> {
        let inner = lock(&self.inner);
        if to_digest(inner.finalized.last_block_hash()) == *digest {
            return Some(inner.finalized.clone());
        }
        inner.pending.get(digest).map(|p| p.state.clone())
    }

    /// Remembers the state after a block built or verified above the finalized tip. Beyond
    /// [`PENDING_STATES_MAX`] the lowest entry goes (it can be rebuilt from its ancestry).
    pub fn insert_pending(&self, digest: Digest, state: State, outcome: BlockOutcome) {
        let mut inner = lock(&self.inner);
        if state.height() <= inner.finalized.height() {
            return;
        }
        while inner.pending.len() >= PENDING_STATES_MAX {
            let lowest = inner
                .pending
                .iter()
                .min_by_key(|(digest, p)| (p.height, **digest))
                .map(|(digest, _)| *digest)
                .expect("the map is full");
            inner.pending.remove(&lowest);
        }
        inner.pending.insert(
            digest,
            Pending {
                height: state.height(),
                state: Arc::new(state),
                receipts: outcome.receipts,
                events: outcome.events,
            },
        );
    }

    /// How many finalized blocks this node executed only when it applied them (replayed from
    /// its archive after a restart, or fetched while catching up) rather than when it
    /// verified them in consensus.
    pub fn replayed_blocks(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    /// How many pending states are kept.
    pub fn pending_len(&self) -> usize {
        lock(&self.inner).pending.len()
    }

    /// Applies a finalized block to the finalized state; a block at or below the finalized
    /// height was applied before (marshal redelivers after a restart) and is skipped. Returns
    /// the block with its outcome if it was new; the caller records the outcome and then
    /// [`Chain::publish`]es it (see [`crate::finalizer::apply`]).
    ///
    /// Panics if the block does not extend the finalized state or does not apply: a quorum of
    /// validators executed it, so failing here means this node's state is corrupt.
    pub fn finalize(&self, block: &ChainBlock) -> Option<Arc<FinalizedBlock>> {
        let height = block.header().height;
        let (base, pending) = {
            let mut inner = lock(&self.inner);
            if height <= inner.finalized.height() {
                return None;
            }
            let pending = inner.pending.remove(&crate::block::to_digest(block.hash()));
            (inner.finalized.clone(), pending)
        };
        assert_eq!(
            height,
            base.height() + 1,
            "marshal delivers finalized blocks in height order"
        );
        let (state, receipts, events) = match pending {
            Some(p) => (p.state, p.receipts, p.events),
            None => {
                let (state, outcome) = self
                    .execute(&base, block)
                    .unwrap_or_else(|e| panic!("finalized block {height} does not apply: {e}"));
                self.replayed.fetch_add(1, Ordering::Relaxed);
                (Arc::new(state), outcome.receipts, outcome.events)
            }
        };
        assert_eq!(state.last_block_hash(), block.hash());
        {
            let mut inner = lock(&self.inner);
            inner.finalized = state.clone();
            inner.pending.retain(|_, p| p.height > height);
        }
        let finalized = Arc::new(FinalizedBlock {
            block: block.clone(),
            state_root: state.root(),
            receipts,
            events,
        });
        lock(&self.recent).push(finalized.clone());
        {
            // Published under the mempool lock: admission reads the state under the same
            // lock, so it always judges against the state the pool was pruned with.
            let included: HashSet<Hash> = finalized.receipts.iter().map(|r| r.tx_hash).collect();
            let mut mempool = lock(&self.mempool);
            mempool.prune(&state, &included);
            self.finalized_tx.send_replace(state);
        }
        Some(finalized)
    }

    /// Hands a finalized block to the subscribers of [`NodeHandle::subscribe_blocks`]; called
    /// once its outcome is on disk, so whoever hears of a block can read its outcome back.
    pub fn publish(&self, finalized: Arc<FinalizedBlock>) {
        // No subscriber is fine: the API may not be listening.
        let _ = self.blocks_tx.send(finalized);
    }

    /// The recent finalized blocks with their receipts.
    pub fn recent(&self) -> MutexGuard<'_, RecentBlocks> {
        lock(&self.recent)
    }

    /// The mempool.
    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        lock(&self.mempool)
    }

    /// Like [`execute`], but a transaction the mempool holds verbatim (same id, which commits
    /// to the signature bytes, and same contents) keeps the signature check it passed on
    /// admission; only the others are checked.
    pub fn execute(
        &self,
        parent: &State,
        block: &ChainBlock,
    ) -> Result<(State, BlockOutcome), ExecuteError> {
        let verified = block.block().clone().verify_except(|hash, tx| {
            lock(&self.mempool)
                .get(hash)
                .is_some_and(|known| known.signed() == tx)
        })?;
        apply(parent, &verified)
    }

    /// Admits signature-checked transactions, each with its encoded size, into the mempool
    /// under one lock, judged against the finalized state the pool was last pruned with (a
    /// state read before the lock could be a block behind the pool, and see gaps or taken
    /// nonces that are not there).
    pub fn admit(
        &self,
        txs: impl IntoIterator<Item = (VerifiedTransaction, usize)>,
    ) -> Vec<Result<Hash, Rejection>> {
        let mut mempool = lock(&self.mempool);
        let state = self.finalized_tx.borrow().clone();
        let results: Vec<_> = txs
            .into_iter()
            .map(|(tx, bytes)| mempool.insert(&state, tx, bytes))
            .collect();
        if results.iter().any(Result::is_ok) {
            self.admitted.notify_waiters();
        }
        results
    }

    /// Resolves at the next admission into the mempool after this call (take it before
    /// looking at the mempool, so an admission in between is not missed).
    pub fn next_admission(&self) -> OwnedNotified {
        self.admitted.clone().notified_owned()
    }
}

/// Why a block could not be executed on a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    /// A transaction's signature does not check.
    #[error("{0}")]
    Signature(#[from] aifactory_types::block::BlockSignatureError),
    /// The ledger refused the block.
    #[error("{0}")]
    Block(#[from] aifactory_ledger::BlockError),
}

/// Checks a block's signatures and executes it on a copy of `parent`.
pub fn execute(parent: &State, block: &ChainBlock) -> Result<(State, BlockOutcome), ExecuteError> {
    let verified = block.block().clone().verify()?;
    apply(parent, &verified)
}

fn apply(parent: &State, block: &VerifiedBlock) -> Result<(State, BlockOutcome), ExecuteError> {
    let mut state = parent.clone();
    let outcome = state.apply_block(block)?;
    Ok((state, outcome))
}

impl NodeHandle {
    /// The latest finalized state.
    pub fn finalized_state(&self) -> Arc<State> {
        self.chain.finalized_tx.borrow().clone()
    }

    /// A receiver of the finalized state, updated after every finalized block.
    pub fn watch_finalized(&self) -> watch::Receiver<Arc<State>> {
        self.chain.finalized_tx.subscribe()
    }

    /// A receiver of finalized blocks and their receipts, from now on; one that lags more than
    /// [`FINALIZED_SUBSCRIBERS_BACKLOG_MAX`] blocks skips ahead.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<FinalizedBlock>> {
        self.chain.blocks_tx.subscribe()
    }

    /// Admits a signed transaction (untrusted bytes) into the mempool.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash, Rejection> {
        let verified = SignedTransaction::decode(bytes)?.verify()?;
        self.admit(verified, bytes.len())
    }

    /// Admits a signature-checked transaction of `bytes` encoded bytes (see [`Chain::admit`]).
    pub fn admit(&self, tx: VerifiedTransaction, bytes: usize) -> Result<Hash, Rejection> {
        let mut results = self.chain.admit([(tx, bytes)]);
        results.pop().expect("one result per transaction")
    }

    /// How many transactions wait in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.chain.mempool().len()
    }

    /// The shared chain view behind this handle.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;
    use aifactory_types::BoundedVec;

    use super::*;

    #[test]
    fn a_forged_signature_on_a_pooled_transaction_is_still_checked() {
        let mut test = TestChain::new(3, 1_000_000_000);
        let chain = Chain::new(test.state.clone(), MempoolConfig::default());
        let pooled = test.tx(1, TestChain::transfer_to(test.address(2), 5));
        chain.handle().submit(&pooled.encode()).unwrap();
        let parent = test.state.clone();
        let honest = ChainBlock::new(test.build(vec![pooled.clone()]).block.to_block());
        chain
            .execute(&parent, &honest)
            .expect("the block with the pooled transaction executes");

        // The pooled transaction's unsigned content, with the sender's signature of another.
        let other = test.tx(1, TestChain::transfer_to(test.address(2), 6));
        let forgery = SignedTransaction {
            tx: pooled.tx.clone(),
            signature: other.signature,
        };
        let mut forged = honest.block().clone();
        forged.txs = BoundedVec::new(vec![forgery]).unwrap();
        let forged = ChainBlock::new(forged);
        assert!(chain.mempool().contains(&pooled.hash()));
        assert!(matches!(
            chain.execute(&parent, &forged),
            Err(ExecuteError::Signature(_))
        ));
        assert_eq!(
            chain.execute(&parent, &forged).unwrap_err(),
            execute(&parent, &forged).unwrap_err(),
            "refused exactly as without the mempool"
        );
    }
}

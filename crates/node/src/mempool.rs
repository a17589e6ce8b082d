//! The mempool: signed transactions waiting for a block.
//!
//! **Admission** decodes (capped at `TX_BYTES_MAX`), checks the signature, then runs the
//! ledger's own pre-checks ([`State::admit`]: chain id, expiry, fee floor, known sender, fee
//! payable) against the latest finalized state. The nonce is judged against what the sender
//! already has pending, which sits in one of two queues:
//!
//! - **ready**: a contiguous run of nonces starting at the account's nonce. Only these are
//!   proposed ([`Mempool::take`]).
//! - **future**: nonces past the ready run with a gap before them — a transaction that arrived
//!   before its predecessor (reordered on the way, or racing a block's finalization). They are
//!   held, never proposed, until the gap fills: when the missing nonce is admitted, or when a
//!   finalized state shows it executed ([`Mempool::prune`]); then they join the ready run in
//!   nonce order. A nonce `sender_txs_max` or more ahead of the account's is refused: the
//!   sender could not have its predecessors pending beside it anyway.
//!
//! The sender's balance must cover the fees of everything it has pending, in both queues.
//!
//! **Limits** ([`MempoolConfig`], defaults in [`crate::limits`]): total count, total bytes and
//! count per sender, each counting both queues; the future queue alone may hold at most a
//! [`MEMPOOL_FUTURE_SHARE`] share of the total and of each sender's limit. When the pool is
//! full something goes:
//!
//! - a future transaction is speculative, so a ready newcomer evicts future ones first (the
//!   lowest fee first, a sender's highest nonce first), whatever they pay;
//! - then the lowest fee among ready ones, but only a sender's *last* (evicting one in the
//!   middle would strand the rest), and only if the newcomer pays strictly more;
//! - a future newcomer may evict only future transactions that pay strictly less.
//!
//! A future transaction is also dropped once [`MEMPOOL_FUTURE_HEIGHTS_MAX`] blocks have been
//! finalized since it was admitted without its gap filling.
//!
//! **Proposals** read [`Mempool::take`]: the highest fee first across senders, each sender in
//! nonce order. Taking does not remove: a proposal may never be finalized. Entries leave when
//! a finalized state shows them included or stale ([`Mempool::prune`]).
//!
//! Every refusal is a typed [`Rejection`] with a stable [`Rejection::code`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};

use aifactory_ledger::{BlockContext, State};
use aifactory_types::{
    Address, Amount, DecodeError, Hash, SignatureError, SignedTransaction, TxError,
    VerifiedTransaction,
};

use crate::limits::{
    MEMPOOL_BYTES_MAX, MEMPOOL_DROPPED_RECORDS_MAX, MEMPOOL_FUTURE_HEIGHTS_MAX,
    MEMPOOL_FUTURE_SHARE, MEMPOOL_SENDER_TXS_MAX, MEMPOOL_TXS_MAX,
};

/// The mempool's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most transactions held, both queues.
    pub txs_max: usize,
    /// Most encoded bytes held, both queues.
    pub bytes_max: usize,
    /// Most pending transactions per sender, both queues.
    pub sender_txs_max: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            txs_max: MEMPOOL_TXS_MAX,
            bytes_max: MEMPOOL_BYTES_MAX,
            sender_txs_max: MEMPOOL_SENDER_TXS_MAX,
        }
    }
}

impl MempoolConfig {
    /// Most transactions held in the future queue (gapped nonces), across senders.
    pub fn future_txs_max(&self) -> usize {
        self.txs_max / MEMPOOL_FUTURE_SHARE
    }

    /// Most transactions one sender may have in the future queue.
    pub fn sender_future_txs_max(&self) -> usize {
        (self.sender_txs_max / MEMPOOL_FUTURE_SHARE).max(1)
    }
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The bytes are not a transaction (or too many of them).
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The signature does not check.
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    /// The ledger would not admit it into the next block.
    #[error("{0}")]
    Inadmissible(#[from] TxError),
    /// The same transaction is already pending.
    #[error("transaction {0} is already pending")]
    Duplicate(Hash),
    /// Another transaction with this nonce is already pending.
    #[error("a transaction with nonce {nonce} is already pending for this sender")]
    NonceTaken {
        /// The nonce.
        nonce: u64,
    },
    /// The nonce is too far ahead of the account's to be held until the gap fills.
    #[error("nonce {got} is too far ahead: the next nonce after the pending ones is {expected}")]
    NonceGap {
        /// The nonce that would extend the ready run.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The sender already has as many pending transactions as allowed.
    #[error("the sender already has {max} pending transactions: wait for a block")]
    SenderFull {
        /// The per-sender limit.
        max: usize,
    },
    /// The sender already has as many transactions waiting behind a nonce gap as allowed.
    #[error("the sender already has {max} transactions waiting behind a nonce gap: fill it first")]
    SenderFutureFull {
        /// The per-sender limit of the future queue.
        max: usize,
    },
    /// The balance cannot pay the fees of the pending run plus this one.
    #[error("balance {balance} cannot pay {fees} base units of fees for the pending transactions")]
    CannotPayPending {
        /// The sender's balance.
        balance: Amount,
        /// The fees of everything pending from the sender, including this transaction.
        fees: Amount,
    },
    /// The pool is full and the transaction pays no more than the cheapest one it could evict.
    #[error("the mempool is full: pay a fee above {fee_to_beat} base units")]
    PoolFull {
        /// The fee a newcomer must exceed (`u64::MAX` when nothing is evictable).
        fee_to_beat: Amount,
    },
    /// The future queue is full and the (gapped) transaction pays no more than the cheapest
    /// gapped one it could evict.
    #[error("too many transactions wait behind nonce gaps: pay a fee above {fee_to_beat}")]
    FutureFull {
        /// The fee a gapped newcomer must exceed (`u64::MAX` when nothing is evictable).
        fee_to_beat: Amount,
    },
}

impl Rejection {
    /// A stable snake_case name of the reason, for metrics and logs (a ledger refusal is
    /// named by its `TxError` code).
    pub fn code(&self) -> String {
        match self {
            Rejection::Decode(_) => "malformed".to_owned(),
            Rejection::Signature(_) => "bad_signature".to_owned(),
            Rejection::Inadmissible(error) => serde_json::to_value(error)
                .ok()
                .and_then(|value| value["code"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "inadmissible".to_owned()),
            Rejection::Duplicate(_) => "duplicate".to_owned(),
            Rejection::NonceTaken { .. } => "nonce_pending".to_owned(),
            Rejection::NonceGap { .. } => "nonce_gap".to_owned(),
            Rejection::SenderFull { .. } => "sender_full".to_owned(),
            Rejection::SenderFutureFull { .. } => "sender_future_full".to_owned(),
            Rejection::CannotPayPending { .. } => "cannot_pay_pending".to_owned(),
            Rejection::PoolFull { .. } => "pool_full".to_owned(),
            Rejection::FutureFull { .. } => "future_full".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tx: VerifiedTransaction,
    bytes: usize,
    /// The finalized height when it was admitted (ages the future queue).
    admitted_height: u64,
}

impl Entry {
    fn fee(&self) -> Amount {
        self.tx.tx().fee
    }
}

/// Which queue a transaction waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Queue {
    /// Extends the sender's contiguous run: may be proposed.
    Ready,
    /// Behind a nonce gap: held until it fills.
    Future,
}

/// Each sender's transactions in one queue, by nonce.
type Queued = BTreeMap<Address, BTreeMap<u64, Entry>>;

/// A transaction that could make room: the last of `sender`'s in `queue`.
#[derive(Debug, Clone, Copy)]
struct Victim {
    fee: Amount,
    queue: Queue,
    sender: Address,
    bytes: usize,
}

/// Pending transactions by sender and nonce, in the ready and future queues.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    config: MempoolConfig,
    ready: Queued,
    future: Queued,
    ids: HashMap<Hash, (Address, u64)>,
    bytes: usize,
    future_len: usize,
    dropped: DroppedLog,
}

/// Why recent transactions left the pool without being included (their nonce taken by
/// another, expired, or stuck behind a gap), so a client asking after one is told; the
/// oldest records go first past [`MEMPOOL_DROPPED_RECORDS_MAX`].
#[derive(Debug, Clone, Default)]
struct DroppedLog {
    order: VecDeque<Hash>,
    reasons: HashMap<Hash, TxError>,
}

impl DroppedLog {
    fn record(&mut self, hash: Hash, reason: TxError) {
        if self.reasons.insert(hash, reason).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > MEMPOOL_DROPPED_RECORDS_MAX {
            let oldest = self.order.pop_front().expect("longer than the limit");
            self.reasons.remove(&oldest);
        }
    }
}

impl Mempool {
    /// An empty mempool with `config`'s limits.
    pub fn new(config: MempoolConfig) -> Self {
        Mempool {
            config,
            ..Default::default()
        }
    }

    /// How many transactions are pending, both queues.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// How many pending transactions wait behind a nonce gap.
    pub fn future_len(&self) -> usize {
        self.future_len
    }

    /// Most transactions the pool holds.
    pub fn capacity(&self) -> usize {
        self.config.txs_max
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The encoded bytes pending.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the transaction with id `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.ids.contains_key(hash)
    }

    /// Why the transaction with id `hash` left the pool without being included, if it did
    /// recently (one included since shows as included: ask the chain first).
    pub fn dropped(&self, hash: &Hash) -> Option<&TxError> {
        self.dropped.reasons.get(hash)
    }

    /// The pending transaction with id `hash` (its signature was checked on admission), so a
    /// block holding it need not check it again.
    pub fn get(&self, hash: &Hash) -> Option<&VerifiedTransaction> {
        let (sender, nonce) = self.ids.get(hash)?;
        let entry = [&self.ready, &self.future]
            .into_iter()
            .find_map(|queued| queued.get(sender)?.get(nonce))?;
        (entry.tx.hash() == *hash).then_some(&entry.tx)
    }

    /// Decodes, verifies and admits untrusted bytes against `state` (the latest finalized).
    pub fn submit(&mut self, state: &State, bytes: &[u8]) -> Result<Hash, Rejection> {
        let signed = SignedTransaction::decode(bytes)?;
        let verified = signed.verify()?;
        self.insert(state, verified, bytes.len())
    }

    /// Admits a transaction whose signature was checked; `bytes` is its encoded size.
    /// `state` must be the finalized state the pool was last pruned with.
    pub fn insert(
        &mut self,
        state: &State,
        tx: VerifiedTransaction,
        bytes: usize,
    ) -> Result<Hash, Rejection> {
        let hash = tx.hash();
        if self.ids.contains_key(&hash) {
            return Err(Rejection::Duplicate(hash));
        }
        let queue = self.check_admissible(state, &tx)?;
        let sender = tx.tx().sender;
        self.check_sender_room(&sender, queue)?;
        let victims = self.plan_eviction(&sender, tx.tx().fee, bytes, queue)?;
        for victim in victims {
            self.remove_last(victim.queue, &victim.sender);
        }
        let nonce = tx.tx().nonce;
        let entry = Entry {
            tx,
            bytes,
            admitted_height: state.height(),
        };
        self.ids.insert(hash, (sender, nonce));
        self.bytes += bytes;
        match queue {
            Queue::Ready => {
                self.ready.entry(sender).or_default().insert(nonce, entry);
                self.promote(&sender, nonce + 1);
            }
            Queue::Future => {
                self.future.entry(sender).or_default().insert(nonce, entry);
                self.future_len += 1;
            }
        }
        Ok(hash)
    }

    /// The ledger's checks, with the nonce and balance judged against what is pending; says
    /// which queue the transaction belongs in.
    fn check_admissible(
        &self,
        state: &State,
        tx: &VerifiedTransaction,
    ) -> Result<Queue, Rejection> {
        let ctx = BlockContext {
            height: state.height() + 1,
            timestamp_ms: state.timestamp_ms() + 1,
            proposer: Address([0; 32]),
        };
        let tx = tx.tx();
        let Some(account) = state.account(&tx.sender) else {
            return Err(state.admit(&ctx, tx).expect_err("an unknown sender").into());
        };
        if tx.nonce < account.nonce {
            return Err(state.admit(&ctx, tx).expect_err("a used nonce").into());
        }
        let ready = self.ready.get(&tx.sender);
        let future = self.future.get(&tx.sender);
        let next = account.nonce + ready.map_or(0, |r| r.len() as u64);
        let taken = tx.nonce < next || future.is_some_and(|f| f.contains_key(&tx.nonce));
        if taken {
            return Err(Rejection::NonceTaken { nonce: tx.nonce });
        }
        let window_end = account
            .nonce
            .saturating_add(self.config.sender_txs_max as u64);
        if tx.nonce > next && tx.nonce >= window_end {
            return Err(Rejection::NonceGap {
                expected: next,
                got: tx.nonce,
            });
        }
        // The ledger checks the nonce against the account; the queues' nonces are checked above.
        let mut probe = tx.clone();
        probe.nonce = account.nonce;
        state.admit(&ctx, &probe)?;
        let pending_fees: Amount = [ready, future]
            .into_iter()
            .flatten()
            .flat_map(BTreeMap::values)
            .map(Entry::fee)
            .fold(0, Amount::saturating_add);
        let fees = pending_fees.saturating_add(tx.fee);
        if fees > account.balance {
            return Err(Rejection::CannotPayPending {
                balance: account.balance,
                fees,
            });
        }
        Ok(if tx.nonce == next {
            Queue::Ready
        } else {
            Queue::Future
        })
    }

    /// The per-sender limits: both queues together, and the future queue alone.
    fn check_sender_room(&self, sender: &Address, queue: Queue) -> Result<(), Rejection> {
        let ready = self.ready.get(sender).map_or(0, BTreeMap::len);
        let future = self.future.get(sender).map_or(0, BTreeMap::len);
        if ready + future >= self.config.sender_txs_max {
            return Err(Rejection::SenderFull {
                max: self.config.sender_txs_max,
            });
        }
        let future_max = self.config.sender_future_txs_max();
        if queue == Queue::Future && future >= future_max {
            return Err(Rejection::SenderFutureFull { max: future_max });
        }
        Ok(())
    }

    /// The transactions that must go to make room for a newcomer (from `sender`, paying
    /// `fee`, `bytes` long, bound for `queue`), or why it cannot have the room.
    fn plan_eviction(
        &self,
        sender: &Address,
        fee: Amount,
        bytes: usize,
        queue: Queue,
    ) -> Result<Vec<Victim>, Rejection> {
        let mut count = self.len() + 1;
        let mut total = self.bytes + bytes;
        let mut future = self.future_len + usize::from(queue == Queue::Future);
        let mut taken: BTreeMap<(Queue, Address), usize> = BTreeMap::new();
        let mut victims = Vec::new();
        loop {
            let future_over = future > self.config.future_txs_max();
            if count <= self.config.txs_max && total <= self.config.bytes_max && !future_over {
                return Ok(victims);
            }
            let gapped = cheapest_last(&self.future, Queue::Future, sender, &taken);
            let victim = match (queue, gapped) {
                (Queue::Ready, Some(victim)) => victim,
                (Queue::Ready, None) => {
                    match cheapest_last(&self.ready, Queue::Ready, sender, &taken) {
                        Some(victim) if victim.fee < fee => victim,
                        other => {
                            return Err(Rejection::PoolFull {
                                fee_to_beat: other.map_or(Amount::MAX, |v| v.fee),
                            });
                        }
                    }
                }
                (Queue::Future, Some(victim)) if victim.fee < fee => victim,
                (Queue::Future, other) => {
                    let fee_to_beat = other.map_or(Amount::MAX, |v| v.fee);
                    return Err(if future_over {
                        Rejection::FutureFull { fee_to_beat }
                    } else {
                        Rejection::PoolFull { fee_to_beat }
                    });
                }
            };
            *taken.entry((victim.queue, victim.sender)).or_default() += 1;
            count -= 1;
            total -= victim.bytes;
            future -= usize::from(victim.queue == Queue::Future);
            victims.push(victim);
        }
    }

    fn remove_last(&mut self, queue: Queue, sender: &Address) {
        let queued = match queue {
            Queue::Ready => &mut self.ready,
            Queue::Future => &mut self.future,
        };
        let run = queued.get_mut(sender).expect("a planned victim");
        let (_, entry) = run.pop_last().expect("a planned victim has entries");
        if run.is_empty() {
            queued.remove(sender);
        }
        if queue == Queue::Future {
            self.future_len -= 1;
        }
        self.forget(&entry);
    }

    fn forget(&mut self, entry: &Entry) {
        self.ids.remove(&entry.tx.hash());
        self.bytes -= entry.bytes;
    }

    /// Moves `sender`'s future transactions from nonce `next` on, as long as they are
    /// contiguous, to the end of its ready run (which must end just before `next`).
    fn promote(&mut self, sender: &Address, mut next: u64) {
        let Some(held) = self.future.get_mut(sender) else {
            return;
        };
        let mut promoted = Vec::new();
        while let Some(entry) = held.remove(&next) {
            promoted.push((next, entry));
            next += 1;
        }
        if held.is_empty() {
            self.future.remove(sender);
        }
        if promoted.is_empty() {
            return;
        }
        self.future_len -= promoted.len();
        let run = self.ready.entry(*sender).or_default();
        debug_assert!(
            run.last_key_value()
                .is_none_or(|(n, _)| *n + 1 == promoted[0].0)
        );
        run.extend(promoted);
    }

    /// Up to `max` candidates for a block on `parent` (the state it builds on, which may be
    /// ahead of the finalized one) from the ready queue: each sender's from its nonce in
    /// `parent` on (what `parent` executed is still pending here until it is finalized, and
    /// would only crowd the block), in nonce order; across senders the highest fee first,
    /// and among equal fees one per sender in turn, so no sender's run crowds out the rest.
    /// They stay pending until [`Mempool::prune`] sees them included.
    pub fn take(&self, parent: &State, max: usize) -> Vec<VerifiedTransaction> {
        let mut runs: BTreeMap<&Address, _> = self
            .ready
            .iter()
            .map(|(address, run)| {
                let nonce = parent.account(address).map_or(u64::MAX, |a| a.nonce);
                (address, run.range(nonce..).map(|(_, e)| e).peekable())
            })
            .collect();
        // The heap holds each sender's next fee and how many of its were taken before it;
        // remaining ties go to the lower address.
        let mut heads: BinaryHeap<(Amount, Reverse<usize>, Reverse<&Address>)> = runs
            .iter_mut()
            .filter_map(|(address, run)| {
                run.peek().map(|e| (e.fee(), Reverse(0), Reverse(*address)))
            })
            .collect();
        let mut out = Vec::with_capacity(max.min(self.len()));
        while out.len() < max {
            let Some((_, Reverse(taken), Reverse(address))) = heads.pop() else {
                break;
            };
            let run = runs.get_mut(address).expect("every head has a run");
            let entry = run.next().expect("a head was peeked");
            out.push(entry.tx.clone());
            if let Some(next) = run.peek() {
                heads.push((next.fee(), Reverse(taken + 1), Reverse(address)));
            }
        }
        out
    }

    /// Brings the pool up to `state` (a newly finalized state): drops nonces already used,
    /// transactions expired by the next height (in the ready queue with the rest of their
    /// sender's run, which could no longer execute), future transactions held too long, then
    /// promotes the future transactions whose gap the state filled. Those dropped without
    /// being `included` in the block that led to `state` are remembered with the reason.
    pub fn prune(&mut self, state: &State, included: &HashSet<Hash>) {
        let next_height = state.height() + 1;
        let nonce_of = |address: &Address| state.account(address).map_or(u64::MAX, |a| a.nonce);
        let mut dropped = Vec::new();
        self.ready.retain(|address, run| {
            let nonce = nonce_of(address);
            let stale: Vec<u64> = run.range(..nonce).map(|(n, _)| *n).collect();
            dropped.extend(stale.into_iter().filter_map(|n| run.remove(&n)));
            let expired = run
                .iter()
                .find(|(_, e)| e.tx.tx().expiry_height < next_height)
                .map(|(n, _)| *n);
            if let Some(first) = expired {
                let rest: Vec<u64> = run.range(first..).map(|(n, _)| *n).collect();
                dropped.extend(rest.into_iter().filter_map(|n| run.remove(&n)));
            }
            !run.is_empty()
        });
        let mut future_dropped = 0;
        self.future.retain(|address, held| {
            let nonce = nonce_of(address);
            let gone: Vec<u64> = held
                .iter()
                .filter(|(n, e)| {
                    **n < nonce
                        || e.tx.tx().expiry_height < next_height
                        || e.admitted_height.saturating_add(MEMPOOL_FUTURE_HEIGHTS_MAX)
                            < state.height()
                })
                .map(|(n, _)| *n)
                .collect();
            future_dropped += gone.len();
            dropped.extend(gone.into_iter().filter_map(|n| held.remove(&n)));
            !held.is_empty()
        });
        self.future_len -= future_dropped;
        for entry in &dropped {
            self.forget(entry);
            if included.contains(&entry.tx.hash()) {
                continue;
            }
            let tx = entry.tx.tx();
            let expected = nonce_of(&tx.sender);
            let reason = if tx.nonce < expected {
                TxError::NonceReplayed {
                    expected,
                    got: tx.nonce,
                }
            } else if tx.expiry_height < next_height {
                TxError::Expired {
                    expiry_height: tx.expiry_height,
                    height: next_height,
                }
            } else {
                TxError::NonceFromFuture {
                    expected,
                    got: tx.nonce,
                }
            };
            self.dropped.record(entry.tx.hash(), reason);
        }
        let gapped: Vec<Address> = self.future.keys().copied().collect();
        for sender in gapped {
            let run = self.ready.get(&sender).map_or(0, BTreeMap::len) as u64;
            self.promote(&sender, nonce_of(&sender).saturating_add(run));
        }
    }
}

/// The cheapest last transaction of a sender other than `exclude` in `queued`, skipping the
/// ones already `taken` from the end of each sender's; ties go to the higher address.
fn cheapest_last(
    queued: &Queued,
    queue: Queue,
    exclude: &Address,
    taken: &BTreeMap<(Queue, Address), usize>,
) -> Option<Victim> {
    queued
        .iter()
        .filter(|(address, _)| *address != exclude)
        .filter_map(|(address, run)| {
            let skip = taken.get(&(queue, *address)).copied().unwrap_or(0);
            run.values().rev().nth(skip).map(|entry| Victim {
                fee: entry.fee(),
                queue,
                sender: *address,
                bytes: entry.bytes,
            })
        })
        .min_by_key(|victim| (victim.fee, Reverse(victim.sender)))
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::TestChain;
    use aifactory_types::Transaction;

    use super::*;

    fn chain() -> TestChain {
        TestChain::new(6, 1_000_000_000)
    }

    /// A transfer from key `index` with `nonce` and `fee`.
    fn tx(chain: &TestChain, index: usize, nonce: u64, fee: Amount) -> SignedTransaction {
        let mut unsigned: Transaction = chain.unsigned(
            index,
            TestChain::transfer_to(aifactory_ledger::testing::filler_address(5), 1),
        );
        unsigned.nonce = nonce;
        unsigned.fee = fee;
        chain.sign(index, unsigned)
    }

    fn submit(
        pool: &mut Mempool,
        chain: &TestChain,
        t: &SignedTransaction,
    ) -> Result<Hash, Rejection> {
        pool.submit(&chain.state, &t.encode())
    }

    fn fee_min(chain: &TestChain) -> Amount {
        chain.state.params().fee_min
    }

    #[test]
    fn admits_a_contiguous_run_and_refuses_gaps_and_repeats() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        for nonce in 0..3 {
            submit(&mut pool, &chain, &tx(&chain, 1, nonce, fee)).unwrap();
        }
        assert_eq!(pool.len(), 3);
        let again = tx(&chain, 1, 2, fee);
        assert_eq!(
            submit(&mut pool, &chain, &again),
            Err(Rejection::Duplicate(again.hash()))
        );
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 1, fee + 1)),
            Err(Rejection::NonceTaken { nonce: 1 })
        );
        let far = MEMPOOL_SENDER_TXS_MAX as u64;
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, far, fee)),
            Err(Rejection::NonceGap {
                expected: 3,
                got: far
            }),
            "a nonce the sender could not have pending beside its predecessors"
        );
        submit(&mut pool, &chain, &tx(&chain, 1, 5, fee)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 5, fee + 1)),
            Err(Rejection::NonceTaken { nonce: 5 }),
            "a held nonce is taken too"
        );
    }

    fn hashes(txs: &[VerifiedTransaction]) -> Vec<Hash> {
        txs.iter().map(VerifiedTransaction::hash).collect()
    }

    #[test]
    fn a_gapped_nonce_is_held_then_promoted_when_the_gap_fills() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        let txs: Vec<SignedTransaction> = (0..4).map(|n| tx(&chain, 1, n, fee)).collect();
        for t in [&txs[0], &txs[2], &txs[3]] {
            submit(&mut pool, &chain, t).unwrap();
        }
        assert_eq!((pool.len(), pool.future_len()), (3, 2));
        assert!(pool.contains(&txs[3].hash()), "held counts as pending");
        assert_eq!(
            hashes(&pool.take(&chain.state, 10)),
            vec![txs[0].hash()],
            "never proposed while gapped"
        );
        submit(&mut pool, &chain, &txs[1]).unwrap();
        assert_eq!((pool.len(), pool.future_len()), (4, 0));
        let all: Vec<Hash> = txs.iter().map(SignedTransaction::hash).collect();
        assert_eq!(hashes(&pool.take(&chain.state, 10)), all);
        // The ready run goes on from the promoted ones.
        submit(&mut pool, &chain, &tx(&chain, 1, 4, fee)).unwrap();
        assert_eq!(pool.future_len(), 0);
    }

    #[test]
    fn the_balance_covers_held_transactions_too() {
        let chain = TestChain::new(3, 2_500);
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        submit(&mut pool, &chain, &tx(&chain, 1, 1, fee)).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 1, 2, fee)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 0, fee)),
            Err(Rejection::CannotPayPending {
                balance: 2_500,
                fees: 3 * fee
            })
        );
    }

    #[test]
    fn the_future_queue_has_its_own_limits() {
        let chain = chain();
        let fee = fee_min(&chain);
        // A sender may hold 8 / 4 = 2 gapped; the pool 8 / 4 = 2 in all.
        let mut pool = Mempool::new(MempoolConfig {
            txs_max: 8,
            sender_txs_max: 8,
            ..Default::default()
        });
        submit(&mut pool, &chain, &tx(&chain, 1, 2, fee)).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 1, 3, fee)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 4, fee)),
            Err(Rejection::SenderFutureFull { max: 2 })
        );
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 2, 1, fee)),
            Err(Rejection::FutureFull { fee_to_beat: fee }),
            "the pool's future share is full of transactions paying as much"
        );
        // Paying more evicts the cheapest held one: sender 1's highest nonce.
        let rich = tx(&chain, 2, 1, fee + 1);
        submit(&mut pool, &chain, &rich).unwrap();
        assert_eq!(pool.future_len(), 2);
        assert!(!pool.contains(&tx(&chain, 1, 3, fee).hash()));
        assert!(pool.contains(&tx(&chain, 1, 2, fee).hash()));
        // Ready transactions are not limited by the future share.
        for nonce in 0..2 {
            submit(&mut pool, &chain, &tx(&chain, 3, nonce, fee)).unwrap();
        }
        assert_eq!((pool.len(), pool.future_len()), (4, 2));
    }

    #[test]
    fn eviction_takes_held_transactions_before_ready_ones() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::new(MempoolConfig {
            txs_max: 8,
            ..Default::default()
        });
        let ready: Vec<SignedTransaction> = (0..7).map(|n| tx(&chain, 1, n, fee + 5)).collect();
        for t in &ready {
            submit(&mut pool, &chain, t).unwrap();
        }
        let held = tx(&chain, 2, 1, fee + 100);
        submit(&mut pool, &chain, &held).unwrap();
        assert_eq!(pool.len(), 8);
        // A held newcomer may push out only a held transaction that pays less, never a ready
        // one (these pay less than it does).
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 3, 1, fee + 50)),
            Err(Rejection::PoolFull {
                fee_to_beat: fee + 100
            })
        );
        // A ready newcomer evicts the held one even though it pays less.
        let newcomer = tx(&chain, 3, 0, fee);
        submit(&mut pool, &chain, &newcomer).unwrap();
        assert!(!pool.contains(&held.hash()));
        assert_eq!((pool.len(), pool.future_len()), (8, 0));
        // Then only a cheaper ready tail goes, for a newcomer paying strictly more.
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 4, 0, fee)),
            Err(Rejection::PoolFull { fee_to_beat: fee })
        );
        submit(&mut pool, &chain, &tx(&chain, 4, 0, fee + 1)).unwrap();
        assert!(!pool.contains(&newcomer.hash()));
        assert!(ready.iter().all(|t| pool.contains(&t.hash())));
    }

    #[test]
    fn prune_promotes_what_a_block_ungapped_and_drops_what_it_used() {
        let mut chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        // Nonce 0 went to another node and into a block; 1 and 2 are held here, as is a 0
        // that lost the race to it.
        let included = tx(&chain, 1, 0, fee);
        let loser = tx(&chain, 1, 0, fee + 1);
        let held: Vec<SignedTransaction> = (1..3).map(|n| tx(&chain, 1, n, fee)).collect();
        for t in &held {
            submit(&mut pool, &chain, t).unwrap();
        }
        submit(&mut pool, &chain, &loser).unwrap();
        assert_eq!(pool.future_len(), 0, "the loser filled the gap here");
        chain.build(vec![included.clone()]);
        pool.prune(&chain.state, &HashSet::from([included.hash()]));
        assert!(!pool.contains(&loser.hash()));
        assert_eq!(
            pool.dropped(&loser.hash()),
            Some(&TxError::NonceReplayed {
                expected: 1,
                got: 0
            }),
            "a client asking after the loser learns why it is gone"
        );
        let expected: Vec<Hash> = held.iter().map(SignedTransaction::hash).collect();
        assert_eq!(hashes(&pool.take(&chain.state, 10)), expected);

        // Sender 2: only future ones here; a block with its first two promotes the third.
        let own: Vec<SignedTransaction> = (0..4).map(|n| tx(&chain, 2, n, fee)).collect();
        for t in &own[1..] {
            submit(&mut pool, &chain, t).unwrap();
        }
        assert_eq!(pool.future_len(), 3);
        chain.build(vec![own[0].clone(), own[1].clone()]);
        pool.prune(&chain.state, &HashSet::from([own[0].hash(), own[1].hash()]));
        assert_eq!(pool.future_len(), 0);
        assert!(!pool.contains(&own[1].hash()), "executed");
        assert_eq!(pool.dropped(&own[1].hash()), None, "included, not dropped");
        let taken = hashes(&pool.take(&chain.state, 10));
        assert!(taken.contains(&own[2].hash()) && taken.contains(&own[3].hash()));
        assert_eq!(pool.len(), 4);
    }

    #[test]
    fn held_transactions_expire_and_age_out() {
        let mut chain = chain();
        let mut pool = Mempool::default();
        let mut short = chain.unsigned(1, TestChain::transfer_to(chain.address(5), 1));
        short.nonce = 1;
        short.expiry_height = 1;
        let short = chain.sign(1, short);
        let mut long = chain.unsigned(2, TestChain::transfer_to(chain.address(5), 1));
        long.nonce = 1;
        long.expiry_height = u64::MAX;
        let long = chain.sign(2, long);
        submit(&mut pool, &chain, &short).unwrap();
        submit(&mut pool, &chain, &long).unwrap();
        chain.build(vec![]);
        pool.prune(&chain.state, &HashSet::new());
        assert!(!pool.contains(&short.hash()), "expired at height 2");
        assert_eq!(
            pool.dropped(&short.hash()),
            Some(&TxError::Expired {
                expiry_height: 1,
                height: 2
            })
        );
        assert!(pool.contains(&long.hash()));
        while chain.state.height() < MEMPOOL_FUTURE_HEIGHTS_MAX {
            chain.build(vec![]);
        }
        pool.prune(&chain.state, &HashSet::new());
        assert!(pool.contains(&long.hash()), "held for exactly the limit");
        chain.build(vec![]);
        pool.prune(&chain.state, &HashSet::new());
        assert!(pool.is_empty(), "held too long");
        assert_eq!((pool.future_len(), pool.bytes()), (0, 0));
        assert_eq!(
            pool.dropped(&long.hash()),
            Some(&TxError::NonceFromFuture {
                expected: 0,
                got: 1
            })
        );
    }

    #[test]
    fn ledger_prechecks_apply() {
        let mut chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        assert!(matches!(
            submit(&mut pool, &chain, &tx(&chain, 1, 0, fee - 1)),
            Err(Rejection::Inadmissible(TxError::FeeTooLow { .. }))
        ));
        let mut wrong_chain = chain.unsigned(1, TestChain::transfer_to(chain.address(2), 1));
        wrong_chain.chain_id = aifactory_types::transaction::ChainId::new("other").unwrap();
        assert!(matches!(
            submit(&mut pool, &chain, &chain.sign(1, wrong_chain)),
            Err(Rejection::Inadmissible(TxError::WrongChainId { .. }))
        ));
        let stranger = aifactory_ledger::testing::test_key(40);
        let mut from_stranger = chain.unsigned(1, TestChain::transfer_to(chain.address(2), 1));
        from_stranger.sender = stranger.address();
        assert!(matches!(
            submit(&mut pool, &chain, &from_stranger.sign(&stranger)),
            Err(Rejection::Inadmissible(TxError::UnknownAccount { .. }))
        ));
        let first = tx(&chain, 2, 0, fee);
        chain.build(vec![first.clone()]);
        assert!(matches!(
            submit(&mut pool, &chain, &first),
            Err(Rejection::Inadmissible(TxError::NonceReplayed { .. }))
        ));
        let mut expired = chain.unsigned(3, TestChain::transfer_to(chain.address(2), 1));
        expired.expiry_height = chain.state.height();
        assert!(matches!(
            submit(&mut pool, &chain, &chain.sign(3, expired)),
            Err(Rejection::Inadmissible(TxError::Expired { .. }))
        ));
        assert!(pool.is_empty());
    }

    #[test]
    fn bad_bytes_and_signatures_are_refused() {
        let chain = chain();
        let mut pool = Mempool::default();
        assert!(matches!(
            pool.submit(&chain.state, &[1, 2, 3]),
            Err(Rejection::Decode(_))
        ));
        let mut forged = tx(&chain, 1, 0, fee_min(&chain));
        forged.tx.fee += 1;
        assert!(matches!(
            submit(&mut pool, &chain, &forged),
            Err(Rejection::Signature(_))
        ));
    }

    #[test]
    fn balance_must_cover_the_run() {
        let chain = TestChain::new(3, 2_500);
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        submit(&mut pool, &chain, &tx(&chain, 1, 0, fee)).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 1, 1, fee)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 2, fee)),
            Err(Rejection::CannotPayPending {
                balance: 2_500,
                fees: 3 * fee
            })
        );
    }

    #[test]
    fn per_sender_limit() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::new(MempoolConfig {
            sender_txs_max: 2,
            ..Default::default()
        });
        submit(&mut pool, &chain, &tx(&chain, 1, 0, fee)).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 1, 1, fee)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 2, fee)),
            Err(Rejection::SenderFull { max: 2 })
        );
        submit(&mut pool, &chain, &tx(&chain, 2, 0, fee)).unwrap();
    }

    #[test]
    fn full_pool_evicts_the_lowest_fee_tail_and_refuses_cheaper_newcomers() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::new(MempoolConfig {
            txs_max: 3,
            ..Default::default()
        });
        let cheap_head = tx(&chain, 1, 0, fee + 50);
        let cheap_tail = tx(&chain, 1, 1, fee + 10);
        submit(&mut pool, &chain, &cheap_head).unwrap();
        submit(&mut pool, &chain, &cheap_tail).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 2, 0, fee + 20)).unwrap();
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 3, 0, fee + 10)),
            Err(Rejection::PoolFull {
                fee_to_beat: fee + 10
            })
        );
        let rich = tx(&chain, 3, 0, fee + 11);
        submit(&mut pool, &chain, &rich).unwrap();
        assert_eq!(pool.len(), 3);
        assert!(!pool.contains(&cheap_tail.hash()), "the cheapest tail went");
        assert!(pool.contains(&cheap_head.hash()));
        assert!(pool.contains(&rich.hash()));
    }

    #[test]
    fn byte_limit_counts_encoded_sizes() {
        let chain = chain();
        let fee = fee_min(&chain);
        let first = tx(&chain, 1, 0, fee);
        let size = first.encode().len();
        let mut pool = Mempool::new(MempoolConfig {
            bytes_max: 2 * size,
            ..Default::default()
        });
        submit(&mut pool, &chain, &first).unwrap();
        submit(&mut pool, &chain, &tx(&chain, 2, 0, fee)).unwrap();
        assert_eq!(pool.bytes(), 2 * size);
        assert!(matches!(
            submit(&mut pool, &chain, &tx(&chain, 3, 0, fee)),
            Err(Rejection::PoolFull { .. })
        ));
        submit(&mut pool, &chain, &tx(&chain, 3, 0, fee + 1)).unwrap();
        assert_eq!(pool.bytes(), 2 * size);
    }

    #[test]
    fn take_orders_by_fee_across_senders_and_by_nonce_within() {
        let chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        let a0 = tx(&chain, 1, 0, fee);
        let a1 = tx(&chain, 1, 1, fee + 100);
        let b0 = tx(&chain, 2, 0, fee + 50);
        for t in [&a0, &a1, &b0] {
            submit(&mut pool, &chain, t).unwrap();
        }
        let taken: Vec<Hash> = pool
            .take(&chain.state, 10)
            .iter()
            .map(|t| t.hash())
            .collect();
        assert_eq!(taken, vec![b0.hash(), a0.hash(), a1.hash()]);
        assert_eq!(pool.take(&chain.state, 1).len(), 1);
        assert_eq!(pool.len(), 3, "taking does not remove");
    }

    #[test]
    fn take_skips_what_the_parent_executed_and_takes_senders_in_turn() {
        let mut chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        let a: Vec<SignedTransaction> = (0..3).map(|n| tx(&chain, 1, n, fee)).collect();
        let b: Vec<SignedTransaction> = (0..2).map(|n| tx(&chain, 2, n, fee)).collect();
        for t in a.iter().chain(&b) {
            submit(&mut pool, &chain, t).unwrap();
        }
        let finalized = chain.state.clone();
        let in_turn: Vec<Hash> = [&a[0], &b[0], &a[1], &b[1], &a[2]]
            .iter()
            .map(|t| t.hash())
            .collect();
        assert_eq!(hashes(&pool.take(&finalized, 10)), in_turn);
        // A block not yet finalized executed a[0] and a[1]: a block on it skips them.
        chain.build(vec![a[0].clone(), a[1].clone()]);
        assert_eq!(pool.len(), 5, "still pending: not finalized");
        let on_parent = [&a[2], &b[0], &b[1]]
            .iter()
            .map(|t| t.hash())
            .collect::<Vec<_>>();
        assert_eq!(hashes(&pool.take(&chain.state, 10)), on_parent);
    }

    #[test]
    fn prune_drops_included_and_expired() {
        let mut chain = chain();
        let fee = fee_min(&chain);
        let mut pool = Mempool::default();
        let included = tx(&chain, 1, 0, fee);
        let follower = tx(&chain, 1, 1, fee);
        let mut short = chain.unsigned(2, TestChain::transfer_to(chain.address(5), 1));
        short.expiry_height = 1;
        let short = chain.sign(2, short);
        let after_short = tx(&chain, 2, 1, fee);
        for t in [&included, &follower, &short, &after_short] {
            submit(&mut pool, &chain, t).unwrap();
        }
        let other = tx(&chain, 3, 0, fee);
        chain.build(vec![included.clone(), other]);
        pool.prune(&chain.state, &HashSet::new());
        assert!(!pool.contains(&included.hash()));
        assert!(pool.contains(&follower.hash()));
        assert!(!pool.contains(&short.hash()), "expired at height 2");
        assert!(!pool.contains(&after_short.hash()), "stranded behind it");
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.bytes(), follower.encode().len());
        // The follower now extends the run from the new account nonce.
        submit(&mut pool, &chain, &tx(&chain, 1, 2, fee)).unwrap();
    }
}

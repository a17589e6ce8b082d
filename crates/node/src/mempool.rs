//! The mempool: signed transactions waiting for a block.
//!
//! **Admission** decodes (capped at `TX_BYTES_MAX`), checks the signature, then runs the
//! ledger's own pre-checks ([`State::admit`]: chain id, expiry, fee floor, known sender, fee
//! payable) against the latest finalized state. Nonces: a sender's pending transactions are
//! always a contiguous run starting at its account nonce, so a newcomer must carry exactly the
//! next nonce after the run, and the balance must cover the fees of the whole run.
//!
//! **Limits** ([`MempoolConfig`], defaults in [`crate::limits`]): total count, total bytes,
//! and count per sender. When the pool is full the lowest fee goes: only a sender's *last*
//! pending transaction may be evicted (evicting one in the middle would strand the rest), and a
//! newcomer that does not pay strictly more than the cheapest evictable transaction is refused.
//!
//! **Proposals** read [`Mempool::take`]: the highest fee first across senders, each sender in
//! nonce order. Taking does not remove: a proposal may never be finalized. Entries leave when
//! a finalized state shows them included or stale ([`Mempool::prune`]).
//!
//! Every refusal is a typed [`Rejection`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use aifactory_ledger::{BlockContext, State};
use aifactory_types::{
    Address, Amount, DecodeError, Hash, SignatureError, SignedTransaction, TxError,
    VerifiedTransaction,
};

use crate::limits::{MEMPOOL_BYTES_MAX, MEMPOOL_SENDER_TXS_MAX, MEMPOOL_TXS_MAX};

/// The mempool's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub txs_max: usize,
    /// Most encoded bytes held.
    pub bytes_max: usize,
    /// Most pending transactions per sender.
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
    /// The nonce skips ahead of the sender's pending run.
    #[error("nonce {got} skips ahead: the next nonce after the pending ones is {expected}")]
    NonceGap {
        /// The nonce that would extend the run.
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
    /// The balance cannot pay the fees of the pending run plus this one.
    #[error("balance {balance} cannot pay {fees} base units of fees for the pending transactions")]
    CannotPayPending {
        /// The sender's balance.
        balance: Amount,
        /// The fees of the pending run including this transaction.
        fees: Amount,
    },
    /// The pool is full and the transaction pays no more than the cheapest one it could evict.
    #[error("the mempool is full: pay a fee above {fee_to_beat} base units")]
    PoolFull {
        /// The fee a newcomer must exceed (`u64::MAX` when nothing is evictable).
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
            Rejection::CannotPayPending { .. } => "cannot_pay_pending".to_owned(),
            Rejection::PoolFull { .. } => "pool_full".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tx: VerifiedTransaction,
    bytes: usize,
}

impl Entry {
    fn fee(&self) -> Amount {
        self.tx.tx().fee
    }
}

/// Pending transactions by sender and nonce.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    config: MempoolConfig,
    senders: BTreeMap<Address, BTreeMap<u64, Entry>>,
    ids: HashMap<Hash, (Address, u64)>,
    bytes: usize,
}

impl Mempool {
    /// An empty mempool with `config`'s limits.
    pub fn new(config: MempoolConfig) -> Self {
        Mempool {
            config,
            ..Default::default()
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.ids.len()
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

    /// Decodes, verifies and admits untrusted bytes against `state` (the latest finalized).
    pub fn submit(&mut self, state: &State, bytes: &[u8]) -> Result<Hash, Rejection> {
        let signed = SignedTransaction::decode(bytes)?;
        let verified = signed.verify()?;
        self.insert(state, verified, bytes.len())
    }

    /// Admits a transaction whose signature was checked; `bytes` is its encoded size.
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
        self.check_admissible(state, &tx)?;
        let sender = tx.tx().sender;
        let pending = self.senders.get(&sender).map_or(0, BTreeMap::len);
        if pending >= self.config.sender_txs_max {
            return Err(Rejection::SenderFull {
                max: self.config.sender_txs_max,
            });
        }
        let victims = self.plan_eviction(&sender, tx.tx().fee, bytes)?;
        for victim in victims {
            self.remove_last(&victim);
        }
        let nonce = tx.tx().nonce;
        self.senders
            .entry(sender)
            .or_default()
            .insert(nonce, Entry { tx, bytes });
        self.ids.insert(hash, (sender, nonce));
        self.bytes += bytes;
        Ok(hash)
    }

    /// The ledger's checks, with the nonce and balance judged against the pending run.
    fn check_admissible(&self, state: &State, tx: &VerifiedTransaction) -> Result<(), Rejection> {
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
        let run = self.senders.get(&tx.sender);
        let next = account.nonce + run.map_or(0, |r| r.len() as u64);
        if tx.nonce < next {
            return Err(Rejection::NonceTaken { nonce: tx.nonce });
        }
        if tx.nonce > next {
            return Err(Rejection::NonceGap {
                expected: next,
                got: tx.nonce,
            });
        }
        // The ledger checks the nonce against the account; the run's nonces are checked above.
        let mut probe = tx.clone();
        probe.nonce = account.nonce;
        state.admit(&ctx, &probe)?;
        let pending_fees: Amount = run.map_or(0, |r| r.values().map(Entry::fee).sum());
        let fees = pending_fees.saturating_add(tx.fee);
        if fees > account.balance {
            return Err(Rejection::CannotPayPending {
                balance: account.balance,
                fees,
            });
        }
        Ok(())
    }

    /// The senders whose last transactions must go to make room for `bytes` more, or why the
    /// newcomer (from `sender`, paying `fee`) cannot have the room.
    fn plan_eviction(
        &self,
        sender: &Address,
        fee: Amount,
        bytes: usize,
    ) -> Result<Vec<Address>, Rejection> {
        let mut count = self.len() + 1;
        let mut total = self.bytes + bytes;
        let mut taken: BTreeMap<Address, usize> = BTreeMap::new();
        let mut victims = Vec::new();
        while count > self.config.txs_max || total > self.config.bytes_max {
            let cheapest = self
                .senders
                .iter()
                .filter(|(address, _)| *address != sender)
                .filter_map(|(address, run)| {
                    let skip = taken.get(address).copied().unwrap_or(0);
                    run.values()
                        .rev()
                        .nth(skip)
                        .map(|entry| (entry.fee(), *address, entry.bytes))
                })
                .min_by_key(|(fee, address, _)| (*fee, Reverse(*address)));
            let Some((victim_fee, victim, victim_bytes)) = cheapest else {
                return Err(Rejection::PoolFull {
                    fee_to_beat: Amount::MAX,
                });
            };
            if victim_fee >= fee {
                return Err(Rejection::PoolFull {
                    fee_to_beat: victim_fee,
                });
            }
            *taken.entry(victim).or_default() += 1;
            victims.push(victim);
            count -= 1;
            total -= victim_bytes;
        }
        Ok(victims)
    }

    fn remove_last(&mut self, sender: &Address) {
        let run = self.senders.get_mut(sender).expect("a planned victim");
        let (_, entry) = run.pop_last().expect("a planned victim has entries");
        if run.is_empty() {
            self.senders.remove(sender);
        }
        self.forget(&entry);
    }

    fn forget(&mut self, entry: &Entry) {
        self.ids.remove(&entry.tx.hash());
        self.bytes -= entry.bytes;
    }

    /// Up to `max` candidates for the next block: the highest fee first across senders, each
    /// sender's in nonce order. They stay pending until [`Mempool::prune`] sees them included.
    pub fn take(&self, max: usize) -> Vec<VerifiedTransaction> {
        let mut runs: BTreeMap<&Address, _> = self
            .senders
            .iter()
            .map(|(address, run)| (address, run.values().peekable()))
            .collect();
        // The heap holds each sender's next fee; ties go to the lower address.
        let mut heads: BinaryHeap<(Amount, Reverse<&Address>)> = runs
            .iter_mut()
            .filter_map(|(address, run)| run.peek().map(|e| (e.fee(), Reverse(*address))))
            .collect();
        let mut out = Vec::with_capacity(max.min(self.len()));
        while out.len() < max {
            let Some((_, Reverse(address))) = heads.pop() else {
                break;
            };
            let run = runs.get_mut(address).expect("every head has a run");
            let entry = run.next().expect("a head was peeked");
            out.push(entry.tx.clone());
            if let Some(next) = run.peek() {
                heads.push((next.fee(), Reverse(address)));
            }
        }
        out
    }

    /// Drops what `state` (a newly finalized state) shows included or stale: nonces already
    /// used, and transactions expired by the next height (with the rest of their sender's run,
    /// which could no longer execute).
    pub fn prune(&mut self, state: &State) {
        let next_height = state.height() + 1;
        let mut dropped = Vec::new();
        self.senders.retain(|address, run| {
            let nonce = state.account(address).map_or(u64::MAX, |a| a.nonce);
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
        for entry in &dropped {
            self.forget(entry);
        }
    }
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
        assert_eq!(
            submit(&mut pool, &chain, &tx(&chain, 1, 5, fee)),
            Err(Rejection::NonceGap {
                expected: 3,
                got: 5
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
        let taken: Vec<Hash> = pool.take(10).iter().map(|t| t.hash()).collect();
        assert_eq!(taken, vec![b0.hash(), a0.hash(), a1.hash()]);
        assert_eq!(pool.take(1).len(), 1);
        assert_eq!(pool.len(), 3, "taking does not remove");
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
        pool.prune(&chain.state);
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

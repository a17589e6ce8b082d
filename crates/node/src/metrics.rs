//! The node's own Prometheus metrics, registered in the runtime's registry beside
//! commonware's (p2p connections and bytes, simplex views, marshal sync), so `/metrics`
//! serves them all. Names are prefixed with the registering context's label (`node_`).
//!
//! Time to finality is measured from the moment this node's API accepted a transaction to
//! the moment this node applied the finalized block holding it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aifactory_types::Hash;
use commonware_runtime::telemetry::metrics::{
    Counter, CounterFamily, EncodeLabelSet, Gauge, Histogram, MetricsExt,
};
use commonware_runtime::{Clock, Metrics};

use crate::chain::FinalizedBlock;
use crate::mempool::Rejection;

/// Transactions whose acceptance time is remembered for the finality histogram.
const SUBMITTED_TRACKED_MAX: usize = 200_000;

/// Histogram buckets for time to finality, in seconds.
const FINALITY_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
];

/// The label of a rejection counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The rejection's code (`nonce_replayed`, `pool_full`, ...).
    pub reason: String,
}

#[derive(Debug, Default)]
struct Submitted {
    at: BTreeMap<Hash, SystemTime>,
    order: VecDeque<Hash>,
}

/// The node's metrics; cheap to clone.
#[derive(Clone)]
pub struct NodeMetrics {
    /// Height of the last finalized block applied.
    pub finalized_height: Gauge,
    /// Transactions in the mempool.
    pub mempool_size: Gauge,
    /// Transactions the mempool refused, by reason (from the API or from gossip).
    pub mempool_rejections: CounterFamily<ReasonLabel>,
    /// Transactions accepted through this node's API.
    pub api_accepted: Counter,
    /// Transactions admitted from peers' gossip.
    pub gossip_admitted: Counter,
    /// Finalized blocks applied (live or replayed).
    pub blocks_finalized: Counter,
    /// Finalized transactions applied.
    pub txs_finalized: Counter,
    /// Encoded bytes of the finalized blocks applied.
    pub block_bytes_finalized: Counter,
    /// Finalized blocks executed only when applied: replayed from the archive after a restart,
    /// or fetched while catching up.
    pub blocks_replayed: Counter,
    /// Seconds from API acceptance to finalization, for transactions accepted here.
    pub time_to_finality: Histogram,
    submitted: Arc<Mutex<Submitted>>,
}

impl NodeMetrics {
    /// Registers the metrics under `context`.
    pub fn register(context: &impl Metrics) -> Self {
        NodeMetrics {
            finalized_height: context
                .gauge("finalized_height", "height of the last finalized block"),
            mempool_size: context.gauge("mempool_size", "transactions in the mempool"),
            mempool_rejections: context.family(
                "mempool_rejections",
                "transactions the mempool refused, by reason",
            ),
            api_accepted: context.counter("api_accepted", "transactions accepted by the API"),
            gossip_admitted: context
                .counter("gossip_admitted", "transactions admitted from gossip"),
            blocks_finalized: context.counter("blocks_finalized", "finalized blocks applied"),
            txs_finalized: context.counter("txs_finalized", "finalized transactions applied"),
            block_bytes_finalized: context.counter(
                "block_bytes_finalized",
                "encoded bytes of finalized blocks applied",
            ),
            blocks_replayed: context.counter(
                "blocks_replayed",
                "finalized blocks executed only when applied (replayed after a restart, or fetched \
                 while catching up)",
            ),
            time_to_finality: context.histogram(
                "time_to_finality_seconds",
                "seconds from API acceptance to finalization",
                FINALITY_BUCKETS,
            ),
            submitted: Arc::default(),
        }
    }

    /// Counts a refused transaction.
    pub fn reject(&self, rejection: &Rejection) {
        self.mempool_rejections
            .get_or_create(&ReasonLabel {
                reason: rejection.code(),
            })
            .inc();
    }

    /// Notes that the API accepted transaction `hash` now.
    pub fn accepted(&self, hash: Hash, clock: &impl Clock) {
        self.api_accepted.inc();
        let mut submitted = self.submitted.lock().expect("metrics lock");
        if submitted.at.insert(hash, clock.current()).is_none() {
            submitted.order.push_back(hash);
        }
        while submitted.order.len() > SUBMITTED_TRACKED_MAX {
            let oldest = submitted.order.pop_front().expect("not empty");
            submitted.at.remove(&oldest);
        }
    }

    /// Brings `blocks_replayed` up to the chain's count, which also covers blocks replayed
    /// before the metrics were listening.
    pub fn replayed(&self, total: u64) {
        self.blocks_replayed
            .inc_by(total.saturating_sub(self.blocks_replayed.get()));
    }

    /// Records a finalized block: counts, heights and the finality time of its transactions
    /// that were accepted here.
    pub fn finalized(&self, block: &FinalizedBlock, clock: &impl Clock) {
        let height = block.block.header().height;
        let height = i64::try_from(height).unwrap_or(i64::MAX);
        self.finalized_height.set(height);
        self.blocks_finalized.inc();
        let txs = &block.block.block().txs;
        self.txs_finalized.inc_by(txs.len() as u64);
        self.block_bytes_finalized
            .inc_by(block.block.bytes().len() as u64);
        let now = clock.current();
        let mut submitted = self.submitted.lock().expect("metrics lock");
        if submitted.at.is_empty() {
            return;
        }
        for receipt in &block.receipts {
            if let Some(at) = submitted.at.remove(&receipt.tx_hash) {
                let elapsed = now.duration_since(at).unwrap_or(Duration::ZERO);
                self.time_to_finality.observe(elapsed.as_secs_f64());
            }
        }
        if submitted.at.is_empty() {
            submitted.order.clear();
        }
    }
}

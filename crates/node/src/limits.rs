//! Every limit of the node, defined once, with compile-time checks of how they relate.
//! Limits on what a block or transaction may hold live in `aifactory_types::limits`.

use aifactory_types::limits::{BLOCK_TXS_MAX, TX_BYTES_MAX};

use crate::block::CHAIN_BLOCK_BYTES_MAX;

/// Most transactions the mempool holds.
pub const MEMPOOL_TXS_MAX: usize = 50_000;

/// Most encoded bytes the mempool holds (sum of the transactions' sizes).
pub const MEMPOOL_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most pending transactions from one sender (a contiguous run of nonces).
pub const MEMPOOL_SENDER_TXS_MAX: usize = 64;

/// The future queue (transactions behind a nonce gap) may hold at most `1 /
/// MEMPOOL_FUTURE_SHARE` of the pool's count limit, and of each sender's: most of the pool
/// stays for transactions that can execute now.
pub const MEMPOOL_FUTURE_SHARE: usize = 4;

/// Finalized blocks a transaction may wait behind a nonce gap before it is dropped (at a few
/// blocks a second, about a minute): a gap that long is not being filled.
pub const MEMPOOL_FUTURE_HEIGHTS_MAX: u64 = 256;

/// Transactions dropped from the mempool whose reason the node remembers for clients asking
/// after them; older records are forgotten.
pub const MEMPOOL_DROPPED_RECORDS_MAX: usize = 65_536;

/// Most transactions a proposer takes from the mempool for one block.
pub const PROPOSAL_TXS_MAX: usize = 4_096;

/// Most verified-but-unfinalized blocks whose post-state is kept in memory; beyond it the
/// lowest is dropped (a later lookup rebuilds it by replaying the ancestry).
pub const PENDING_STATES_MAX: usize = 64;

/// Most finalized blocks queued for subscribers that lag; a slower one skips ahead.
pub const FINALIZED_SUBSCRIBERS_BACKLOG_MAX: usize = 1_024;

/// How far ahead of the local clock a block's timestamp may be before a verifier waits.
pub const BLOCK_TIMESTAMP_DRIFT_MS_MAX: u64 = 2_000;

/// Chain events (per transaction its inclusion and ledger events, then the block's) buffered
/// for each live `/v1/events` subscriber before it lags: about a full block's burst, so a
/// subscriber merely slower than one block misses none. A resumed stream that overflows it
/// refills from the outcome archive instead.
pub const EVENTS_BACKLOG_MAX: usize = 4 * (BLOCK_TXS_MAX + 1);

/// Finalized blocks whose receipts the node keeps for the API.
pub const RECENT_BLOCKS_MAX: usize = 100_000;

/// Most estimated bytes of finalized blocks and receipts the node keeps for the API (the
/// oldest go first; the newest block always stays).
pub const RECENT_BLOCKS_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Most bytes of one block's recorded outcome (its receipts and block-level events, Borsh):
/// far above what a full block of transactions and a block's worth of due deadlines produce,
/// so only a corrupt length on disk meets it.
pub const BLOCK_OUTCOME_BYTES_MAX: usize = 256 * 1024 * 1024;

/// The memory a kept receipt and its index entries are reckoned at.
pub const RECENT_BLOCK_RECEIPT_BYTES: usize = 256;

/// Most blobs a node fetches from its peers at once on its clients' behalf; a client asking
/// for another missing blob meanwhile is told to retry. Each fetch holds one connection to
/// one peer at a time.
pub const BLOB_PEER_FETCHES_MAX: usize = 8;

/// How long a node waits to connect to a peer's API when fetching a blob.
pub const BLOB_PEER_CONNECT_TIMEOUT_MS: u64 = 2_000;

/// How long a peer's API may go silent mid-answer before a blob fetch from it is abandoned.
pub const BLOB_PEER_READ_TIMEOUT_MS: u64 = 10_000;

/// Most transactions in one gossip message.
pub const GOSSIP_BATCH_TXS_MAX: usize = 512;

/// How long a gossip batch waits for more transactions before it is sent. It bounds the
/// messages to each peer at 100 a second, half the transaction channel's quota in `p2p.rs`
/// (200 a second): at 5 ms, batches sent at the quota itself were dropped by jitter, and peers
/// saw nonce gaps.
pub const GOSSIP_BATCH_DELAY_MS: u64 = 10;

/// Most bytes of one gossip message (the batch's transactions plus length prefixes).
pub const GOSSIP_MESSAGE_BYTES_MAX: usize = GOSSIP_BATCH_TXS_MAX * (TX_BYTES_MAX + 4) + 4;

/// Most bytes of any p2p message: a full block with room for marshal's framing.
pub const P2P_MESSAGE_BYTES_MAX: usize = CHAIN_BLOCK_BYTES_MAX + 64 * 1024;

/// Transactions accepted locally and waiting to be gossiped; beyond it gossip drops the
/// newest (they stay in the local mempool and still reach a block when we propose).
pub const GOSSIP_QUEUE_MAX: usize = 65_536;

const _: () = assert!(GOSSIP_MESSAGE_BYTES_MAX <= P2P_MESSAGE_BYTES_MAX);
const _: () = assert!(MEMPOOL_BYTES_MAX >= 1_024 * TX_BYTES_MAX);
const _: () = assert!(MEMPOOL_SENDER_TXS_MAX <= MEMPOOL_TXS_MAX);
const _: () = assert!(MEMPOOL_FUTURE_SHARE >= 2 && MEMPOOL_SENDER_TXS_MAX >= MEMPOOL_FUTURE_SHARE);
const _: () = assert!(PROPOSAL_TXS_MAX <= BLOCK_TXS_MAX);
const _: () = assert!(PENDING_STATES_MAX >= 2);

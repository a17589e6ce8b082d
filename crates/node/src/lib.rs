//! AI Factory's node: consensus, block dissemination and the mempool around the ledger.
//!
//! Consensus is commonware's (simplex BFT, ed25519 signatures, the genesis validators as
//! participants); this crate writes none of its own. A block's life:
//!
//! 1. **propose** — the round's leader builds a block on its parent's post-state from the
//!    mempool's candidates ([`application`]), and marshal's `Inline` wrapper broadcasts the full
//!    block to peers (buffered broadcast) while simplex proposes its digest.
//! 2. **verify** — every validator gets the block (broadcast, or backfill by digest),
//!    re-executes it on the parent's post-state and votes to notarize only if it matches.
//! 3. **notarize → finalize** — simplex collects 2f+1 votes per step; the leader-less
//!    nullify path skips a view whose proposal failed.
//! 4. **marshal** stores finalized blocks and finalizations durably and delivers the blocks in
//!    height order, at least once, fetching any it missed from peers.
//! 5. **apply** — the [`finalizer`] applies each block to the finalized state (adopting the
//!    post-state computed at verify), prunes the mempool, records its receipts and events on
//!    disk ([`outcomes`]), publishes it through [`NodeHandle`], then acknowledges so marshal
//!    advances its processed height.
//!
//! Durable: simplex's journal, marshal's archives and the block outcomes (see [`engine`]). The ledger state is in
//! memory and rebuilt at startup by replaying finalized blocks from the archive.

pub mod application;
pub mod block;
pub mod chain;
pub mod config;
pub mod daemon;
pub mod devnet;
pub mod engine;
pub mod epochs;
pub mod finalizer;
pub mod gossip;
pub mod history;
pub mod keys;
pub mod limits;
pub mod mempool;
pub mod metrics;
pub mod outcomes;
pub mod p2p;
pub mod recent;
pub mod service;
pub mod snapshots;
pub mod supervisor;
pub mod sync;

pub use block::{BlockCodecConfig, ChainBlock, Digest};
pub use chain::{Chain, FinalizedBlock, NodeHandle};
pub use engine::{
    CONSENSUS_NAMESPACE, Channels, Config, P2P_NAMESPACE, StartError, Timeouts, Validator, start,
};
pub use mempool::{Mempool, MempoolConfig, Rejection};

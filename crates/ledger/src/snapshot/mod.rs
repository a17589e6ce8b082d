//! Snapshots: the whole ledger state as one self-checking byte stream, so that a restarting
//! node replays only the blocks after its last snapshot, and a new node can start from a
//! peer's snapshot instead of from genesis.
//!
//! ## Format, version 3 (all integers little-endian)
//!
//! ```text
//! header   magic       8 bytes  89 41 49 46 53 4e 41 50   ("\x89AIFSNAP")
//!          version     u32      3
//!          chain id    u32 length (at most 64) + UTF-8
//!          height      u64      height of the last applied block
//!          block hash  32 bytes hash of the last applied block (the genesis hash at 0)
//!          state root  32 bytes the state root after it
//!          checksum    32 bytes keyed BLAKE3, "aifactory 2026-11 snapshot header v1", of
//!                               the header bytes before it
//! tables   six, in tag order (0 meta, 1 params, 2 accounts, 3 validators, 4 candidates,
//!          5 deadlines), each:
//!          tag         u8
//!          slots       u32      how many slots the table has used (empty ones included)
//!          per slot    0 (empty: its row was deleted) | 1, borsh(key), borsh(value)
//! trailer  checksum    32 bytes keyed BLAKE3, "aifactory 2026-11 snapshot v1", of every
//!                               byte before it, header included
//! ```
//!
//! Recording every slot, empty ones too, is what makes a restored state indistinguishable
//! from the original: the next new key gets the same slot, so every later root, receipt and
//! proof is the same. The trees, the key index and the root are not stored; they are rebuilt.
//!
//! ## What a reader can trust
//!
//! [`State::read_snapshot`] refuses a torn or corrupted stream (the checksums), any count over
//! its [`SnapshotLimits`] before allocating for it, and any state whose tables do not hash to
//! the root the snapshot records, or whose parameters break their rules. That makes the snapshot *self-consistent*, not *true*: a
//! peer can write a consistent snapshot of a state that never existed. The caller trusts it
//! only after [`SnapshotHeader::matches`] a block header it has verified, and after checking
//! the chain id against its genesis (neither the chain id nor the block hash is under the
//! root).
//!
//! ## Streams, not files
//!
//! The ledger does no I/O: [`State::write_snapshot`] writes to any `std::io::Write` and
//! [`State::read_snapshot`] reads from any `std::io::Read`. Keeping a snapshot in a file,
//! crash-safely, is the caller's business (the node's `snapshots.rs`, through
//! `aifactory_store::durable`).
//!
//! ## Memory
//!
//! Reading streams into the final tables: each table's slots grow by doubling up to the
//! declared count (never beyond what the bytes read so far justify), then the index and the
//! tree are built once at their exact sizes. Nothing holds the whole snapshot's bytes.

mod checksum;
mod error;
mod read;
mod write;

#[cfg(test)]
mod tests;

use aifactory_types::{Hash, Header};

pub use error::SnapshotError;
pub use read::read_snapshot_header;

pub(crate) use checksum::reseal;

/// The first bytes of every snapshot.
const MAGIC: [u8; 8] = *b"\x89AIFSNAP";

/// The format version this build writes and reads: 2 added the candidates table; 3 added
/// the deadlines table, and its state root commits to each table's slot count; 4 added the
/// lifecycle's tables (id counters, datasets, models, jobs, participants, rounds, phase posts,
/// scores).
pub const SNAPSHOT_VERSION: u32 = 4;

/// Default [`SnapshotLimits::account_slots_max`]: 16 Mi accounts. A slot costs about 200 bytes
/// of memory before the root can be checked, so a lying peer can cost us about 3 GiB.
pub const SNAPSHOT_ACCOUNT_SLOTS_MAX: u32 = 1 << 24;

/// Default [`SnapshotLimits::validator_slots_max`]. Slots are never reused, and each epoch
/// can seat up to `validators_max` newcomers, so churn grows the table by at most 256 slots
/// an epoch: 2^20 lasts at least 4096 epochs of full turnover (about 200 MiB if a peer lies).
pub const SNAPSHOT_VALIDATOR_SLOTS_MAX: u32 = 1 << 20;

/// Default [`SnapshotLimits::candidate_slots_max`]: each `JoinValidators` after a leave or a
/// drop takes a new slot for a fee, as a new account does, so the cap is the accounts'.
pub const SNAPSHOT_CANDIDATE_SLOTS_MAX: u32 = SNAPSHOT_ACCOUNT_SLOTS_MAX;

/// Default [`SnapshotLimits::deadline_slots_max`]: each deadline is scheduled by a paid
/// transaction, and slots are never reused, so the cap is the accounts'.
pub const SNAPSHOT_DEADLINE_SLOTS_MAX: u32 = SNAPSHOT_ACCOUNT_SLOTS_MAX;

/// Default [`SnapshotLimits::lifecycle_slots_max`]: every lifecycle entry is created by a paid
/// transaction (or a deadline one scheduled), and slots are never reused, so the cap is the
/// accounts'.
pub const SNAPSHOT_LIFECYCLE_SLOTS_MAX: u32 = SNAPSHOT_ACCOUNT_SLOTS_MAX;

/// Slots of the metadata and parameters tables: one each, under the key `()`.
pub(crate) const SINGLETON_SLOTS_MAX: u32 = 1;

/// Slots reserved before any is read; growth beyond doubles, capped at the declared count.
const SLOTS_RESERVED_FIRST: usize = 4096;

/// What a snapshot says about itself: enough to decide whether it is worth reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The chain's id.
    pub chain_id: String,
    /// Height of the last block applied to the state.
    pub height: u64,
    /// Hash of that block (the genesis hash at height 0).
    pub last_block_hash: Hash,
    /// The state root after that block.
    pub state_root: Hash,
}

impl SnapshotHeader {
    /// Whether this is the state after `header`: same height, block hash and state root.
    pub fn matches(&self, header: &Header) -> bool {
        header.height == self.height
            && header.hash() == self.last_block_hash
            && header.state_root == self.state_root
    }
}

/// Caps on the counts a snapshot declares, checked before anything is allocated for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotLimits {
    /// Most account slots (occupied or empty) a snapshot may declare.
    pub account_slots_max: u32,
    /// Most validator slots a snapshot may declare.
    pub validator_slots_max: u32,
    /// Most candidate slots a snapshot may declare.
    pub candidate_slots_max: u32,
    /// Most deadline slots a snapshot may declare.
    pub deadline_slots_max: u32,
    /// Most slots a snapshot may declare for each lifecycle table (datasets, models, jobs,
    /// participants, rounds, phase posts, scores).
    pub lifecycle_slots_max: u32,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        SnapshotLimits {
            account_slots_max: SNAPSHOT_ACCOUNT_SLOTS_MAX,
            validator_slots_max: SNAPSHOT_VALIDATOR_SLOTS_MAX,
            candidate_slots_max: SNAPSHOT_CANDIDATE_SLOTS_MAX,
            deadline_slots_max: SNAPSHOT_DEADLINE_SLOTS_MAX,
            lifecycle_slots_max: SNAPSHOT_LIFECYCLE_SLOTS_MAX,
        }
    }
}

//! Why a snapshot was refused.

use std::io;

use aifactory_types::Hash;

/// A snapshot the ledger will not restore; nothing is kept from it.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The input does not start with the snapshot magic.
    #[error("not a ledger snapshot: it starts with {got:02x?}")]
    NotASnapshot {
        /// The first eight bytes.
        got: [u8; 8],
    },
    /// The snapshot is in a format version this build cannot read.
    #[error("snapshot format version {got} is not supported; this build reads version {supported}")]
    UnsupportedVersion {
        /// The snapshot's version.
        got: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The input ends before the snapshot does: a torn file or a cut transfer.
    #[error("snapshot truncated: the input ends at byte {offset}")]
    Truncated {
        /// How many bytes there were.
        offset: u64,
    },
    /// A count in the snapshot is above its limit; nothing was allocated for it.
    #[error("snapshot declares {count} {what}, more than the limit of {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The declared count.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// The bytes do not follow the format.
    #[error("malformed snapshot at byte {offset}: {reason}")]
    Malformed {
        /// Where the problem was noticed.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The header's checksum does not match its bytes.
    #[error("snapshot header corrupted: its checksum does not match")]
    HeaderCorrupted,
    /// The checksum at the end does not match the bytes before it.
    #[error(
        "snapshot corrupted: the checksum at byte {offset} records {recorded}, the bytes hash to {computed}"
    )]
    ChecksumMismatch {
        /// Where the checksum starts.
        offset: u64,
        /// The checksum in the snapshot.
        recorded: Hash,
        /// The checksum of the bytes read.
        computed: Hash,
    },
    /// The snapshot decodes but describes no state the ledger could have reached.
    #[error("snapshot describes an impossible state: {reason}")]
    Invalid {
        /// What does not hold together.
        reason: String,
    },
    /// The restored tables hash to a different state root than the snapshot records.
    #[error("snapshot records state root {expected} but its tables hash to {actual}")]
    RootMismatch {
        /// The root the snapshot records.
        expected: Hash,
        /// The root of the restored tables.
        actual: Hash,
    },
    /// Input that should hold one snapshot continues after its end.
    #[error("the input continues after the snapshot's checksum")]
    TrailingBytes,
    /// Reading failed (not the format's fault).
    #[error("reading the snapshot failed: {0}")]
    Io(#[source] io::Error),
}

//! Why a blob-store operation failed.
//!
//! Streams (`std::io::Read`/`Write`) can only return `std::io::Error`; the store's readers and
//! writers wrap a [`StoreError`] inside it, and [`StoreError::from_io`] takes it back out, so a
//! caller that went through `io::copy` still gets the typed reason.

use std::io;
use std::path::{Path, PathBuf};

use aifactory_crypto::Hash;

/// A blob-store failure, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The blob is not in the store, or the peer asked for it does not have it.
    #[error("blob {id} not found")]
    NotFound {
        /// The missing blob.
        id: Hash,
    },
    /// The content is longer than the store's `blob_bytes_max`; nothing was stored.
    #[error("blob too large: {len} bytes or more, the limit is {max} (blob_bytes_max)")]
    TooLarge {
        /// Bytes offered when the limit was crossed (a lower bound on the full length).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The content does not hash to the id it was expected to have; nothing was stored.
    #[error("content hashes to {got}, expected {expected}: refused")]
    HashMismatch {
        /// The id the caller (or the chain) named.
        expected: Hash,
        /// The BLAKE3 hash of what actually arrived.
        got: Hash,
    },
    /// A stored blob or its chunk file fails verification: disk corruption or tampering.
    /// Remove the blob and fetch it again.
    #[error("blob {id} is corrupt on disk: {detail}")]
    Corrupt {
        /// The blob.
        id: Hash,
        /// What failed to verify.
        detail: String,
    },
    /// The file system refused an operation.
    #[error("blob store I/O error at {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Storing the blob would take the store past `store_bytes_max`; nothing was stored.
    #[error(
        "blob store quota exceeded: {used} bytes used, {len} more would pass the limit of {max}"
    )]
    QuotaExceeded {
        /// Content bytes stored already.
        used: u64,
        /// Length of the blob being stored (so far).
        len: u64,
        /// The quota, `store_bytes_max`.
        max: u64,
    },
    /// The stream being stored failed (the caller's reader or a peer); nothing was stored.
    #[error("reading the content to store failed: {source}")]
    Input {
        /// The stream's error.
        source: io::Error,
    },
    /// Another process has this store open; a store has one owner at a time.
    #[error("blob store at {} is in use by another process", path.display())]
    Locked {
        /// The store's lock file.
        path: PathBuf,
    },
}

impl StoreError {
    /// Wraps this error in an `io::Error`, for the `Read`/`Write` impls.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            StoreError::NotFound { .. } => io::ErrorKind::NotFound,
            StoreError::Io { source, .. } | StoreError::Input { source } => source.kind(),
            StoreError::TooLarge { .. } | StoreError::QuotaExceeded { .. } => {
                io::ErrorKind::StorageFull
            }
            StoreError::Locked { .. } => io::ErrorKind::ResourceBusy,
            StoreError::HashMismatch { .. } | StoreError::Corrupt { .. } => {
                io::ErrorKind::InvalidData
            }
        };
        io::Error::new(kind, self)
    }

    /// Takes a `StoreError` back out of an `io::Error` made by [`StoreError::into_io`]; any
    /// other I/O error is an input-stream failure.
    pub fn from_io(error: io::Error) -> StoreError {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<StoreError>())
        {
            let inner = error.into_inner().expect("checked above");
            return *inner.downcast::<StoreError>().expect("checked above");
        }
        StoreError::Input { source: error }
    }

    /// A copy of this error, for a writer that must report the same failure twice.
    pub(crate) fn duplicate(&self) -> StoreError {
        let copy_io = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        match self {
            StoreError::NotFound { id } => StoreError::NotFound { id: *id },
            StoreError::TooLarge { len, max } => StoreError::TooLarge {
                len: *len,
                max: *max,
            },
            StoreError::HashMismatch { expected, got } => StoreError::HashMismatch {
                expected: *expected,
                got: *got,
            },
            StoreError::Corrupt { id, detail } => StoreError::Corrupt {
                id: *id,
                detail: detail.clone(),
            },
            StoreError::Io { path, source } => StoreError::Io {
                path: path.clone(),
                source: copy_io(source),
            },
            StoreError::QuotaExceeded { used, len, max } => StoreError::QuotaExceeded {
                used: *used,
                len: *len,
                max: *max,
            },
            StoreError::Input { source } => StoreError::Input {
                source: copy_io(source),
            },
            StoreError::Locked { path } => StoreError::Locked { path: path.clone() },
        }
    }
}

/// A closure that wraps an `io::Error` with the path it happened at.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

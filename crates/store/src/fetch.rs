//! Fetching a missing blob from a peer, verifying it before it is stored.
//!
//! A [`BlobSource`] is anything that can stream a blob's bytes by id: a peer connection, an
//! HTTP gateway, another local store. [`Store::fetch_missing`] streams the source's bytes
//! into a [`crate::BlobWriter`] that expects the id: the size cap stops an endless stream
//! while it flows, and the hash is compared before the rename, so a lying peer's bytes are
//! refused ([`StoreError::HashMismatch`]) and its temporary file deleted. Nothing partial is
//! ever visible.
//!
//! Async. The store does blocking file I/O with fsyncs, which must not run on an async
//! runtime's worker threads. A tokio node calls `fetch_missing` inside
//! `tokio::task::spawn_blocking`, with a source whose reader bridges the peer's `AsyncRead`
//! (e.g. `tokio_util::io::SyncIoBridge`); or it drives a `BlobWriter` itself (it is `Send`
//! and `'static`), handing each received frame to `write_bytes` from a blocking task and
//! calling `finish` at the end. The trait is sync so that the store needs no runtime.
//!
//! Later: a peer could send the blob's chunk file first (its CVs are checked against the id
//! in one step), and each 256 KiB piece could then be checked as it arrives, so a lying peer
//! is caught after one piece rather than at the end. The verifying pieces are in `verify.rs`.

use std::io::{self, Read};

use aifactory_crypto::Hash;

use crate::error::StoreError;
use crate::store::Store;

/// Somewhere blobs can be fetched from by id, e.g. a peer. Its bytes are never trusted.
pub trait BlobSource {
    /// A stream of blob `id`'s bytes, or `None` if this source does not have it.
    fn open_blob(&self, id: &Hash) -> io::Result<Option<Box<dyn Read + Send + '_>>>;
}

/// A local store is a source too: a node can seed another, and tests use one as an honest peer.
impl BlobSource for Store {
    fn open_blob(&self, id: &Hash) -> io::Result<Option<Box<dyn Read + Send + '_>>> {
        match self.reader(id) {
            Ok(reader) => Ok(Some(Box::new(reader))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into_io()),
        }
    }
}

/// What [`Store::fetch_missing`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The blob was already stored; the source was not asked.
    AlreadyPresent,
    /// The blob was fetched, verified and stored.
    Stored,
}

impl Store {
    /// Makes sure blob `id` is stored, fetching it from `source` if missing. The source's
    /// bytes are stored only if they hash to `id` and fit the limits.
    pub fn fetch_missing(
        &self,
        id: &Hash,
        source: &(impl BlobSource + ?Sized),
    ) -> Result<Fetched, StoreError> {
        if self.has(id)? {
            return Ok(Fetched::AlreadyPresent);
        }
        let stream = source
            .open_blob(id)
            .map_err(|source| StoreError::Input { source })?
            .ok_or(StoreError::NotFound { id: *id })?;
        self.put_reader(stream, Some(*id))?;
        Ok(Fetched::Stored)
    }

    /// Like [`Store::fetch_missing`], trying each source in turn until one delivers the
    /// right bytes; if none does, the last source's error.
    pub fn fetch_missing_from_any(
        &self,
        id: &Hash,
        sources: &[&dyn BlobSource],
    ) -> Result<Fetched, StoreError> {
        let mut last = StoreError::NotFound { id: *id };
        for source in sources {
            match self.fetch_missing(id, *source) {
                Ok(fetched) => return Ok(fetched),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

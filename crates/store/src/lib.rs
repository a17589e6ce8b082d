//! AI Factory's content-addressed blob store: models, updates and manifests live here.
//!
//! A blob's id is the standard BLAKE3 hash of its whole content, so anyone can check one
//! with `b3sum`. Blobs stream in through a [`BlobWriter`] (capped by `blob_bytes_max` and a
//! store-wide quota, optionally required to hash to a given id) and stream out through a
//! [`BlobReader`] that verifies every 256 KiB piece before returning a byte of it. A missing
//! blob is fetched from a [`BlobSource`] (a peer) and refused unless it hashes to its id.
//!
//! On disk (details in `layout.rs`): `blobs/<first byte of id in hex>/<id>` holds a blob's
//! exact bytes, `<id>.cv` beside it holds the BLAKE3 chaining value of each 256 KiB piece
//! (for blobs of more than one piece; see `verify.rs` for why these authenticate the pieces
//! and `outboard.rs` for the format), and `tmp/` holds writes in progress.
//!
//! Crash safety (argued in `write.rs`): a blob becomes visible only by renaming a complete,
//! fsynced file into place, after its chunk file, followed by a directory fsync; whatever a
//! crash leaves in `tmp/`, and any chunk file without its blob, is deleted at open. A kill -9
//! at any point leaves either no blob or the whole blob. [`durable`] holds the same discipline
//! for whole small files, shared with the wallet and the node.
//!
//! Why our own chunk file rather than the `bao` or `bao-tree` crates: `blake3::hazmat` (from
//! the BLAKE3 authors, written for exactly this) gives the chaining values directly, so
//! verified pieces and ranges cost ~200 lines over a crate we already use, with a 32-byte
//! per-256 KiB file whose whole format fits in a table. `bao` encodes 1 KiB-chunk trees
//! (6% overhead, and its releases have slowed), `bao-tree`'s API has changed with most
//! releases; either would be a second tree format to trust.

mod config;
pub mod durable;
mod error;
mod fetch;
mod layout;
mod outboard;
mod read;
mod store;
mod verify;
mod write;

pub use config::{BLOB_BYTES_MAX_DEFAULT, STORE_BYTES_MAX_DEFAULT, StoreConfig};
pub use error::StoreError;
pub use fetch::{BlobSource, Fetched};
pub use read::BlobReader;
pub use store::Store;
pub use verify::CHUNK_BYTES;
pub use write::BlobWriter;

// The node moves stores, writers and readers into blocking tasks, and errors across threads.
const _: () = {
    const fn thread_safe<T: Send + Sync + 'static>() {}
    thread_safe::<Store>();
    thread_safe::<BlobWriter>();
    thread_safe::<BlobReader>();
    thread_safe::<StoreError>();
};

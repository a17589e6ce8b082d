//! Where things live under a store's root directory, and the durable file-system steps.
//!
//! ```text
//! <root>/LOCK                       held (flock) by the one process that has the store open
//! <root>/blobs/<hh>/<id>            a blob's bytes, exactly; <hh> is the id's first byte in hex
//! <root>/blobs/<hh>/<id>.cv         its chunk file, for blobs of more than one 256 KiB piece
//! <root>/tmp/<pid>-<n>.tmp          writes in progress; anything here is deleted at open
//! ```
//!
//! Ids are lowercase hex, so a directory listing sorted by name is sorted by id.

use std::fs;
use std::path::{Path, PathBuf};

use aifactory_crypto::Hash;

use crate::durable;
use crate::error::{StoreError, io_error};

/// The suffix of a chunk file.
pub(crate) const OUTBOARD_SUFFIX: &str = ".cv";

/// The paths of one store.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `root`.
    pub(crate) fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
        }
    }

    /// The store's root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The lock file.
    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join("LOCK")
    }

    /// The directory of shard directories.
    pub(crate) fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The directory of writes in progress.
    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh temporary file's path.
    pub(crate) fn temp_file(&self, serial: u64) -> PathBuf {
        self.tmp()
            .join(format!("{}-{serial}.tmp", std::process::id()))
    }

    /// The shard directory of `id`.
    pub(crate) fn shard(&self, id: &Hash) -> PathBuf {
        self.blobs().join(hex_byte(id.0[0]))
    }

    /// The file holding `id`'s bytes.
    pub(crate) fn data(&self, id: &Hash) -> PathBuf {
        self.shard(id).join(id.to_string())
    }

    /// The chunk file of `id`.
    pub(crate) fn outboard(&self, id: &Hash) -> PathBuf {
        self.shard(id).join(format!("{id}{OUTBOARD_SUFFIX}"))
    }
}

/// `byte` as two lowercase hex digits.
fn hex_byte(byte: u8) -> String {
    format!("{byte:02x}")
}

/// Whether `name` is a shard directory's name.
pub(crate) fn is_shard_name(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The id a data file's name spells, if it is one of ours (canonical lowercase hex).
pub(crate) fn parse_data_name(name: &str) -> Option<Hash> {
    let id: Hash = name.parse().ok()?;
    (id.to_string() == name).then_some(id)
}

/// Creates `dir` if missing, syncing its parent so the new entry survives a crash.
pub(crate) fn create_dir_durably(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io_error(dir)(e)),
    }
    sync_dir(dir.parent().expect("store directories have a parent"))
}

/// Flushes a directory's entries (renames, removals) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    durable::sync_dir(dir).map_err(io_error(dir))
}

/// Removes a file, treating "already gone" as done.
pub(crate) fn remove_if_present(path: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path)(e)),
    }
}

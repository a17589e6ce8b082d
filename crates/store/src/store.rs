//! The store: opening (lock, crash clean-up, accounting), lookups, listing and removal.
//!
//! Opening takes an exclusive lock on `LOCK`, deletes everything in `tmp/` (writes that a
//! crash interrupted), deletes chunk files whose blob is absent (left by a crash between the
//! two renames of a write, or mid-removal), and sums the blobs' sizes for the quota.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aifactory_crypto::Hash;

use crate::config::StoreConfig;
use crate::error::{StoreError, io_error};
use crate::layout::{
    Layout, OUTBOARD_SUFFIX, create_dir_durably, is_shard_name, parse_data_name, remove_if_present,
    sync_dir,
};
use crate::read::BlobReader;
use crate::write::BlobWriter;

/// A content-addressed blob store in one directory. Cheap to clone; clones share the store.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    config: StoreConfig,
    /// Content bytes of the committed blobs. Held while a blob is committed or removed, so
    /// the quota check, the rename and the count move together.
    used_bytes: Mutex<u64>,
    /// A copy of `used_bytes` that readers and in-flight writers see without waiting for a
    /// commit's fsyncs; written only while `used_bytes` is held.
    used_bytes_seen: AtomicU64,
    temp_serial: AtomicU64,
    /// Held open for the store's lifetime: the lock is released when it closes.
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the store at `root`, cleaning up after any crash.
    pub fn open(root: impl AsRef<Path>, config: StoreConfig) -> Result<Store, StoreError> {
        let layout = Layout::new(root.as_ref());
        fs::create_dir_all(layout.root()).map_err(io_error(layout.root()))?;
        let lock = take_lock(&layout)?;
        create_dir_durably(&layout.blobs())?;
        create_dir_durably(&layout.tmp())?;
        clean_tmp(&layout)?;
        let used_bytes = scan_blobs(&layout)?;
        Ok(Store {
            inner: Arc::new(Inner {
                layout,
                config,
                used_bytes: Mutex::new(used_bytes),
                used_bytes_seen: AtomicU64::new(used_bytes),
                temp_serial: AtomicU64::new(0),
                _lock: lock,
            }),
        })
    }

    /// The store's limits.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        self.inner.layout.root()
    }

    /// Content bytes of all blobs stored (what the quota `store_bytes_max` counts).
    pub fn used_bytes(&self) -> u64 {
        self.inner.used_bytes_seen.load(Ordering::Acquire)
    }

    /// Whether the blob `id` is stored.
    pub fn has(&self, id: &Hash) -> Result<bool, StoreError> {
        let path = self.inner.layout.data(id);
        path.try_exists().map_err(io_error(&path))
    }

    /// The length in bytes of blob `id`.
    pub fn size(&self, id: &Hash) -> Result<u64, StoreError> {
        let path = self.inner.layout.data(id);
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { id: *id })
            }
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Every stored blob's id, in ascending order.
    pub fn list(&self) -> Result<Vec<Hash>, StoreError> {
        let mut ids = Vec::new();
        for shard in shard_dirs(&self.inner.layout)? {
            for name in file_names(&shard)? {
                ids.extend(parse_data_name(&name));
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Removes blob `id`. Deleting the data file is the commit point: a crash after it leaves
    /// a stray chunk file, which the next open deletes.
    pub fn remove(&self, id: &Hash) -> Result<(), StoreError> {
        let layout = &self.inner.layout;
        let mut used = self.used();
        let len = self.size(id)?;
        if !remove_if_present(&layout.data(id))? {
            return Err(StoreError::NotFound { id: *id });
        }
        // The file's length is what was counted, unless someone changed it behind our back.
        let left = used.saturating_sub(len);
        self.set_used(&mut used, left);
        sync_dir(&layout.shard(id))?;
        if remove_if_present(&layout.outboard(id))? {
            sync_dir(&layout.shard(id))?;
        }
        Ok(())
    }

    /// A writer for a new blob; its id is whatever the content hashes to.
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        BlobWriter::new(self.clone(), None)
    }

    /// A writer for content that must hash to `id`; anything else is refused at `finish`.
    pub fn writer_expecting(&self, id: Hash) -> Result<BlobWriter, StoreError> {
        BlobWriter::new(self.clone(), Some(id))
    }

    /// Stores `bytes` and returns their id.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash, StoreError> {
        let mut writer = self.writer()?;
        writer.write_bytes(bytes)?;
        writer.finish()
    }

    /// Stores everything `reader` yields (optionally requiring it to hash to `expected`).
    pub fn put_reader(
        &self,
        reader: impl Read,
        expected: Option<Hash>,
    ) -> Result<Hash, StoreError> {
        let mut writer = BlobWriter::new(self.clone(), expected)?;
        writer.copy_from(reader)?;
        writer.finish()
    }

    /// A reader of blob `id` that verifies each 256 KiB piece before returning any of it.
    pub fn reader(&self, id: &Hash) -> Result<BlobReader, StoreError> {
        BlobReader::open(&self.inner.layout, *id)
    }

    /// The whole of blob `id`, verified.
    pub fn get(&self, id: &Hash) -> Result<Vec<u8>, StoreError> {
        self.reader(id)?.read_to_vec()
    }

    /// `len` bytes of blob `id` from `offset` (fewer at the end), verified. Only the pieces
    /// the range touches are read.
    pub fn read_range(&self, id: &Hash, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        self.reader(id)?.read_range(offset, len)
    }

    /// Reads and verifies all of blob `id` (a scrub), returning its length.
    pub fn verify(&self, id: &Hash) -> Result<u64, StoreError> {
        let mut reader = self.reader(id)?;
        let mut len = 0;
        while let Some(piece) = reader.next_piece()? {
            len += piece.len() as u64;
        }
        Ok(len)
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    pub(crate) fn next_temp_serial(&self) -> u64 {
        self.inner.temp_serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a new count of content bytes, under the accounting lock.
    pub(crate) fn set_used(&self, used: &mut MutexGuard<'_, u64>, value: u64) {
        **used = value;
        self.inner.used_bytes_seen.store(value, Ordering::Release);
    }

    /// The accounting lock; also serialises commits and removals.
    pub(crate) fn used(&self) -> MutexGuard<'_, u64> {
        // A panic while holding it cannot leave the count half-updated (one assignment).
        self.inner
            .used_bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes the store's exclusive lock, or says who has it.
fn take_lock(layout: &Layout) -> Result<File, StoreError> {
    let path = layout.lock();
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
        Err(fs::TryLockError::Error(e)) => Err(io_error(&path)(e)),
    }
}

/// Deletes every file in `tmp/`: writes that never reached their rename.
fn clean_tmp(layout: &Layout) -> Result<(), StoreError> {
    let tmp = layout.tmp();
    let names = file_names(&tmp)?;
    for name in &names {
        remove_if_present(&tmp.join(name))?;
    }
    if !names.is_empty() {
        sync_dir(&tmp)?;
    }
    Ok(())
}

/// Sums the blobs' sizes and deletes chunk files whose blob is absent.
fn scan_blobs(layout: &Layout) -> Result<u64, StoreError> {
    let mut used = 0u64;
    for shard in shard_dirs(layout)? {
        let names = file_names(&shard)?;
        let mut removed = false;
        for name in &names {
            if let Some(id) = name.strip_suffix(OUTBOARD_SUFFIX).and_then(parse_data_name) {
                if !layout.data(&id).exists() {
                    removed |= remove_if_present(&shard.join(name))?;
                }
            } else if parse_data_name(name).is_some() {
                let path = shard.join(name);
                let len = fs::metadata(&path).map_err(io_error(&path))?.len();
                used = used
                    .checked_add(len)
                    .expect("a file system holds under 2^64 bytes");
            }
        }
        if removed {
            sync_dir(&shard)?;
        }
    }
    Ok(used)
}

/// The shard directories, in order.
fn shard_dirs(layout: &Layout) -> Result<Vec<std::path::PathBuf>, StoreError> {
    let blobs = layout.blobs();
    Ok(file_names(&blobs)?
        .into_iter()
        .filter(|name| is_shard_name(name))
        .map(|name| blobs.join(name))
        .collect())
}

/// The names in `dir`, sorted; names that are not UTF-8 are not ours and are skipped.
fn file_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        names.extend(entry.file_name().into_string().ok());
    }
    names.sort_unstable();
    Ok(names)
}

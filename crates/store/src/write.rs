//! Streaming writes: content goes to a temporary file and is hashed as it arrives; `finish`
//! makes it a blob.
//!
//! The crash-safety argument. A blob is visible exactly when `blobs/<hh>/<id>` exists, and
//! that name only ever appears by `rename` of a complete, fsynced temporary file: the
//! commit point. Before it, everything lives in `tmp/`, which open deletes. For a blob of
//! several pieces the chunk file is renamed into place *before* the data, with a directory
//! fsync between, so a visible multi-piece blob always has its chunk file; a chunk file
//! without its blob (a crash between the renames) is deleted at open. The shard directory is
//! fsynced after the data rename, so a blob that `finish` reported stays after a crash. A
//! writer that errs or is dropped unfinished deletes its temporary files at once.
//!
//! Limits are enforced while bytes stream in, not at the end: the write that would pass
//! `blob_bytes_max` (or the quota) fails, and the temporary file is deleted then and there.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use aifactory_crypto::Hash;

use crate::error::{StoreError, io_error};
use crate::layout::{create_dir_durably, remove_if_present, sync_dir};
use crate::outboard::Outboard;
use crate::store::Store;
use crate::verify::{CHUNK_BYTES, TreeHasher};

/// Bytes buffered between the caller's writes and the temporary file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// Bytes read at a time by [`BlobWriter::copy_from`].
const COPY_BUFFER_BYTES: usize = 64 * 1024;

/// A blob being written: `io::Write` the content, then [`BlobWriter::finish`] for its id.
///
/// Dropping it unfinished, or any error, deletes what was written; nothing becomes visible.
#[derive(Debug)]
pub struct BlobWriter {
    store: Store,
    expected: Option<Hash>,
    file: Option<BufWriter<File>>,
    /// Temporary files this writer must delete unless they were renamed into place.
    data_temp: Option<PathBuf>,
    outboard_temp: Option<PathBuf>,
    hasher: TreeHasher,
    len: u64,
    error: Option<StoreError>,
}

impl BlobWriter {
    /// A writer into `store`; `expected`, if given, is the id the content must hash to.
    pub(crate) fn new(store: Store, expected: Option<Hash>) -> Result<BlobWriter, StoreError> {
        let path = store.layout().temp_file(store.next_temp_serial());
        let file = create_new(&path)?;
        Ok(BlobWriter {
            store,
            expected,
            file: Some(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
            data_temp: Some(path),
            outboard_temp: None,
            hasher: TreeHasher::new(CHUNK_BYTES),
            len: 0,
            error: None,
        })
    }

    /// Bytes accepted so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes have been accepted yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`, refusing them (and discarding everything) past a limit.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(error) = &self.error {
            return Err(error.duplicate());
        }
        self.append(bytes)
            .inspect_err(|error| self.fail(error.duplicate()))
    }

    /// Appends everything `reader` yields; a read error is [`StoreError::Input`].
    pub fn copy_from(&mut self, mut reader: impl Read) -> Result<u64, StoreError> {
        let mut buffer = vec![0u8; COPY_BUFFER_BYTES];
        let mut copied = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => return Ok(copied),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let error = StoreError::from_io(e);
                    self.fail(error.duplicate());
                    return Err(error);
                }
            };
            self.write_bytes(&buffer[..n])?;
            copied += n as u64;
        }
    }

    /// Makes the content a blob (fsync, rename, directory fsync) and returns its id. If the
    /// blob is already stored, the copy is discarded and the id returned.
    pub fn finish(mut self) -> Result<Hash, StoreError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        // On any error below, `Drop` deletes the temporary files still named in `self`.
        self.commit()
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let len = self.len + bytes.len() as u64;
        let config = *self.store.config();
        if len > config.blob_bytes_max {
            return Err(StoreError::TooLarge {
                len,
                max: config.blob_bytes_max,
            });
        }
        let used = self.store.used_bytes();
        if used.saturating_add(len) > config.store_bytes_max {
            return Err(StoreError::QuotaExceeded {
                used,
                len,
                max: config.store_bytes_max,
            });
        }
        let file = self.file.as_mut().expect("an open writer has its file");
        let path = self
            .data_temp
            .as_ref()
            .expect("an open writer has its temporary file");
        file.write_all(bytes).map_err(io_error(path))?;
        self.hasher.update(bytes);
        self.len = len;
        Ok(())
    }

    /// Records the first error and deletes the temporary file at once.
    fn fail(&mut self, error: StoreError) {
        self.file = None;
        self.remove_temps();
        self.error.get_or_insert(error);
    }

    fn commit(&mut self) -> Result<Hash, StoreError> {
        let data_temp = self
            .data_temp
            .clone()
            .expect("an open writer has its temporary file");
        let file = self.file.take().expect("an open writer has its file");
        let file = file
            .into_inner()
            .map_err(|e| io_error(&data_temp)(e.into_error()))?;
        file.sync_all().map_err(io_error(&data_temp))?;
        drop(file);

        let hasher = std::mem::replace(&mut self.hasher, TreeHasher::new(CHUNK_BYTES));
        let (id, cvs) = hasher.finish();
        if let Some(expected) = self.expected
            && expected != id
        {
            return Err(StoreError::HashMismatch { expected, got: id });
        }
        if !cvs.is_empty() {
            let outboard = Outboard { len: self.len, cvs };
            self.write_outboard_temp(&outboard)?;
        }
        self.publish(id)?;
        Ok(id)
    }

    fn write_outboard_temp(&mut self, outboard: &Outboard) -> Result<(), StoreError> {
        let path = self.store.layout().temp_file(self.store.next_temp_serial());
        let mut file = create_new(&path)?;
        self.outboard_temp = Some(path.clone());
        file.write_all(&outboard.encode())
            .map_err(io_error(&path))?;
        file.sync_all().map_err(io_error(&path))
    }

    /// Renames the synced temporary files into place under the accounting lock.
    fn publish(&mut self, id: Hash) -> Result<(), StoreError> {
        let layout = self.store.layout().clone();
        let mut used = self.store.used();
        let data = layout.data(&id);
        if data.try_exists().map_err(io_error(&data))? {
            return Ok(()); // Already stored: same content, same id. Drop deletes our copy.
        }
        let max = self.store.config().store_bytes_max;
        if used.saturating_add(self.len) > max {
            return Err(StoreError::QuotaExceeded {
                used: *used,
                len: self.len,
                max,
            });
        }
        let shard = layout.shard(&id);
        create_dir_durably(&shard)?;
        if let Some(temp) = &self.outboard_temp {
            let target = layout.outboard(&id);
            std::fs::rename(temp, &target).map_err(io_error(&target))?;
            self.outboard_temp = None;
            sync_dir(&shard)?;
        }
        let temp = self
            .data_temp
            .as_ref()
            .expect("an open writer has its temporary file");
        std::fs::rename(temp, &data).map_err(io_error(&data))?;
        self.data_temp = None;
        let total = *used + self.len;
        self.store.set_used(&mut used, total);
        sync_dir(&shard)
    }

    /// Deletes this writer's temporary files; failures only leave them for open to clean.
    fn remove_temps(&mut self) {
        for path in [self.data_temp.take(), self.outboard_temp.take()]
            .into_iter()
            .flatten()
        {
            let _ = remove_if_present(&path);
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf).map_err(StoreError::into_io)?;
        Ok(buf.len())
    }

    /// Pushes buffered bytes to the temporary file (durability comes only with `finish`).
    fn flush(&mut self) -> io::Result<()> {
        match (&mut self.file, &self.error) {
            (Some(file), _) => file.flush(),
            (None, Some(error)) => Err(error.duplicate().into_io()),
            (None, None) => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        self.file = None;
        self.remove_temps();
    }
}

/// Creates a file that must not exist yet.
fn create_new(path: &std::path::Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error(path))
}

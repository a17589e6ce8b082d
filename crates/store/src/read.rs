//! Verified reads: a reader never returns a byte it has not checked against the blob's id.
//!
//! At open the reader checks the chunk file (if the blob has more than one 256 KiB piece):
//! its exact size, its header, and that its CVs merge to the id. Then it reads a whole piece
//! at a time, hashes it, and compares it with its CV (or, for a one-piece blob, with the id
//! itself) before copying any of it out. A bit flip on disk therefore surfaces as
//! [`StoreError::Corrupt`] naming the piece, and the bytes before it, all verified, are the
//! only ones handed out. Seeking reads only the pieces a range touches, so ranges are cheap.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use aifactory_crypto::Hash;
use blake3::hazmat::ChainingValue;

use crate::error::{StoreError, io_error};
use crate::layout::Layout;
use crate::outboard::{self, Outboard};
use crate::verify::{CHUNK_BYTES, chunk_count, chunk_cv, chunk_len, root_from_cvs};

/// A verified, seekable stream of one blob's bytes.
#[derive(Debug)]
pub struct BlobReader {
    id: Hash,
    path: PathBuf,
    file: File,
    len: u64,
    /// The pieces' CVs, checked against `id`; empty for a blob of one piece or none.
    cvs: Vec<ChainingValue>,
    pos: u64,
    /// The verified piece `piece_index`, or nothing.
    piece: Vec<u8>,
    piece_index: Option<u64>,
}

impl BlobReader {
    /// Opens blob `id` and checks its chunk file against the id.
    pub(crate) fn open(layout: &Layout, id: Hash) -> Result<BlobReader, StoreError> {
        let path = layout.data(&id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { id });
            }
            Err(e) => return Err(io_error(&path)(e)),
        };
        let len = file.metadata().map_err(io_error(&path))?.len();
        let cvs = if outboard::needed(len) {
            load_cvs(layout, id, len)?
        } else {
            Vec::new()
        };
        if len == 0 && Hash::from(blake3::hash(b"")) != id {
            return Err(corrupt(
                id,
                "the file is empty but the id is not the empty blob's",
            ));
        }
        Ok(BlobReader {
            id,
            path,
            file,
            len,
            cvs,
            pos: 0,
            piece: Vec::new(),
            piece_index: None,
        })
    }

    /// The blob's id.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The blob's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The verified bytes from the current position to the end of its piece, advancing past
    /// them; `None` at the end of the blob.
    pub fn next_piece(&mut self) -> Result<Option<&[u8]>, StoreError> {
        if self.pos >= self.len {
            return Ok(None);
        }
        let index = self.pos / CHUNK_BYTES;
        self.load_piece(index)?;
        let start = (self.pos - index * CHUNK_BYTES) as usize;
        self.pos = index * CHUNK_BYTES + self.piece.len() as u64;
        Ok(Some(&self.piece[start..]))
    }

    /// The rest of the blob from the current position, verified.
    pub fn read_to_vec(&mut self) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(self.len.saturating_sub(self.pos) as usize);
        while let Some(piece) = self.next_piece()? {
            out.extend_from_slice(piece);
        }
        Ok(out)
    }

    /// `len` bytes from `offset` (fewer at the end of the blob), verified.
    pub fn read_range(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let end = offset.saturating_add(len).min(self.len);
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        self.pos = offset;
        while self.pos < end {
            let want = (end - self.pos) as usize;
            let piece = self.next_piece()?.expect("pos is before the end");
            out.extend_from_slice(&piece[..want.min(piece.len())]);
        }
        self.pos = end.max(offset);
        Ok(out)
    }

    /// Reads piece `index` into `self.piece` and verifies it, unless it is already there.
    fn load_piece(&mut self, index: u64) -> Result<(), StoreError> {
        if self.piece_index == Some(index) {
            return Ok(());
        }
        self.piece_index = None;
        let piece_len = chunk_len(self.len, index, CHUNK_BYTES) as usize;
        self.piece.resize(piece_len, 0);
        self.file
            .seek(SeekFrom::Start(index * CHUNK_BYTES))
            .and_then(|_| self.file.read_exact(&mut self.piece))
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => corrupt(self.id, "the file shrank while open"),
                _ => io_error(&self.path)(e),
            })?;
        let intact = if self.cvs.is_empty() {
            Hash::from(blake3::hash(&self.piece)) == self.id
        } else {
            chunk_cv(&self.piece, index, CHUNK_BYTES) == self.cvs[index as usize]
        };
        if !intact {
            self.piece.clear();
            let start = index * CHUNK_BYTES;
            let detail = format!(
                "piece {index} (bytes {start}..{}) does not match its hash",
                start + piece_len as u64
            );
            return Err(corrupt(self.id, &detail));
        }
        self.piece_index = Some(index);
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        let index = self.pos / CHUNK_BYTES;
        self.load_piece(index).map_err(StoreError::into_io)?;
        let start = (self.pos - index * CHUNK_BYTES) as usize;
        let n = buf.len().min(self.piece.len() - start);
        buf[..n].copy_from_slice(&self.piece[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the blob",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// Reads blob `id`'s chunk file and checks it: exact size, header, CVs merging to `id`.
fn load_cvs(layout: &Layout, id: Hash, len: u64) -> Result<Vec<ChainingValue>, StoreError> {
    let path = layout.outboard(&id);
    let expected_bytes = outboard::encoded_len(len);
    let actual_bytes = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(corrupt(id, "its chunk file is missing"));
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    if actual_bytes != expected_bytes {
        let detail = format!("its chunk file is {actual_bytes} bytes, expected {expected_bytes}");
        return Err(corrupt(id, &detail));
    }
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let decoded = Outboard::decode(&bytes).map_err(|detail| corrupt(id, &detail))?;
    if decoded.len != len || decoded.cvs.len() as u64 != chunk_count(len, CHUNK_BYTES) {
        return Err(corrupt(
            id,
            "its chunk file describes a blob of another length",
        ));
    }
    if root_from_cvs(&decoded.cvs) != id {
        return Err(corrupt(id, "its chunk file does not hash to the id"));
    }
    Ok(decoded.cvs)
}

fn corrupt(id: Hash, detail: &str) -> StoreError {
    StoreError::Corrupt {
        id,
        detail: detail.to_string(),
    }
}

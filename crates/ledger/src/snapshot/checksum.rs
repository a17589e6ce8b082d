//! The snapshot's checksums, and the streams that compute them on the way through: a writer
//! and a reader that count bytes and feed them to a hash in 64 KiB chunks (BLAKE3 is several
//! times faster on large inputs than on the few bytes of one field).
//!
//! The hash itself is passed in as a closure: the streams need only "absorb these bytes".

use std::io::{self, Read, Write};

use aifactory_crypto::Domain;
use aifactory_types::Hash;
use aifactory_types::limits::CHAIN_ID_BYTES_MAX;

/// Domain of the header's checksum.
pub(super) static HEADER_CHECKSUM: Domain = Domain::new("aifactory 2026-11 snapshot header v1");

/// Domain of the whole snapshot's checksum.
pub(super) static SNAPSHOT_CHECKSUM: Domain = Domain::new("aifactory 2026-11 snapshot v1");

/// Bytes gathered before they are hashed (and, writing, passed on).
const CHUNK_BYTES: usize = 64 * 1024;

/// Length of a checksum.
pub(super) const CHECKSUM_BYTES: usize = 32;

/// Header bytes before the chain id: magic, version, chain id length.
pub(super) const HEADER_PREFIX_BYTES: usize = 16;

/// Header bytes after the chain id, up to its checksum: height, block hash, state root.
pub(super) const HEADER_SUFFIX_BYTES: usize = 8 + 32 + 32;

/// A writer that passes bytes on in chunks, counting them and feeding each chunk to `absorb`.
pub(super) struct ChecksumWriter<W, F> {
    inner: W,
    absorb: F,
    chunk: Vec<u8>,
    written: u64,
}

impl<W: Write, F: FnMut(&[u8])> ChecksumWriter<W, F> {
    pub(super) fn new(inner: W, absorb: F) -> Self {
        ChecksumWriter {
            inner,
            absorb,
            chunk: Vec::with_capacity(CHUNK_BYTES),
            written: 0,
        }
    }

    fn pass_on(&mut self) -> io::Result<()> {
        (self.absorb)(&self.chunk);
        self.inner.write_all(&self.chunk)?;
        self.written += self.chunk.len() as u64;
        self.chunk.clear();
        Ok(())
    }

    /// Passes on what is left; returns the inner writer and how many bytes went through.
    pub(super) fn finish(mut self) -> io::Result<(W, u64)> {
        self.pass_on()?;
        Ok((self.inner, self.written))
    }
}

impl<W: Write, F: FnMut(&[u8])> Write for ChecksumWriter<W, F> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= CHUNK_BYTES {
            self.pass_on()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pass_on()?;
        self.inner.flush()
    }
}

/// A reader that never reads ahead of what it is asked for (a snapshot ends where its format
/// says, so the stream can go on), counts bytes, notices the end of input, and feeds what it
/// read to `absorb` in chunks.
pub(super) struct ChecksumReader<R, F> {
    inner: R,
    absorb: F,
    chunk: Vec<u8>,
    offset: u64,
    ended: bool,
}

impl<R: Read, F: FnMut(&[u8])> ChecksumReader<R, F> {
    pub(super) fn new(inner: R, absorb: F) -> Self {
        ChecksumReader {
            inner,
            absorb,
            chunk: Vec::new(),
            offset: 0,
            ended: false,
        }
    }

    /// Bytes read so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the input ran out while more was wanted.
    pub(super) fn ended(&self) -> bool {
        self.ended
    }

    /// Feeds everything read so far to `absorb`.
    pub(super) fn absorb_all(&mut self) {
        (self.absorb)(&self.chunk);
        self.chunk.clear();
    }

    /// Reads the next `N` bytes without feeding them to `absorb` (the checksum itself).
    pub(super) fn read_unabsorbed<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        self.absorb_all();
        let mut bytes = [0u8; N];
        let mut filled = 0;
        while filled < N {
            match self.inner.read(&mut bytes[filled..]) {
                Ok(0) => {
                    self.ended = true;
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(bytes)
    }
}

impl<R: Read, F: FnMut(&[u8])> Read for ChecksumReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended = true;
        }
        self.chunk.extend_from_slice(&buf[..n]);
        if self.chunk.len() >= CHUNK_BYTES {
            self.absorb_all();
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Where a header that starts like `bytes` ends (its checksum excluded), if its chain id
/// length is within the cap.
pub(super) fn header_len(bytes: &[u8]) -> Option<usize> {
    let length: [u8; 4] = bytes.get(12..16)?.try_into().ok()?;
    let chain_id_len = u32::from_le_bytes(length) as usize;
    (chain_id_len <= CHAIN_ID_BYTES_MAX)
        .then_some(HEADER_PREFIX_BYTES + chain_id_len + HEADER_SUFFIX_BYTES)
}

/// Recomputes both checksums of `bytes` as if they were a snapshot, whatever they hold, so
/// that a fuzzer's mutations reach the decoder behind the checksums. Never panics.
pub(crate) fn reseal(bytes: &mut [u8]) {
    if let Some(end) = header_len(bytes)
        && bytes.len() >= end + CHECKSUM_BYTES
    {
        let checksum = HEADER_CHECKSUM.hash(&[&bytes[..end]]);
        bytes[end..end + CHECKSUM_BYTES].copy_from_slice(&checksum.0);
    }
    if let Some(end) = bytes.len().checked_sub(CHECKSUM_BYTES) {
        let checksum: Hash = SNAPSHOT_CHECKSUM.hash(&[&bytes[..end]]);
        bytes[end..].copy_from_slice(&checksum.0);
    }
}

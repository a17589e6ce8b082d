//! The chunk file (`<id>.cv`) kept beside a blob of more than one piece: its pieces' CVs.
//!
//! ```text
//! offset  bytes  field
//! 0       8      magic "aifcv\0\0\x01" (format version 1)
//! 8       8      blob length in bytes, u64 little-endian
//! 16      1      log2 of the piece size (18: 256 KiB); no other value is accepted
//! 17      7      zero
//! 24      32*n   the CV of each piece in order, n = ceil(length / piece size) >= 2
//! ```
//!
//! Nothing in it is trusted: decoding checks every field and the exact length, and the reader
//! then checks that the CVs merge to the blob's id before using any of them.

use blake3::hazmat::ChainingValue;

use crate::verify::{CHUNK_BYTES, chunk_count};

const MAGIC: [u8; 8] = *b"aifcv\0\0\x01";
const HEADER_BYTES: u64 = 24;
const CV_BYTES: u64 = 32;
const CHUNK_LOG: u8 = CHUNK_BYTES.trailing_zeros() as u8;

/// The decoded chunk file of a multi-piece blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outboard {
    /// The blob's length in bytes.
    pub(crate) len: u64,
    /// Each piece's chaining value, in order.
    pub(crate) cvs: Vec<ChainingValue>,
}

/// The exact size of the chunk file of a blob of `len` bytes (one with two pieces or more).
pub(crate) fn encoded_len(len: u64) -> u64 {
    HEADER_BYTES + CV_BYTES * chunk_count(len, CHUNK_BYTES)
}

/// Whether a blob of `len` bytes has a chunk file.
pub(crate) fn needed(len: u64) -> bool {
    chunk_count(len, CHUNK_BYTES) >= 2
}

impl Outboard {
    /// The file's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        assert_eq!(self.cvs.len() as u64, chunk_count(self.len, CHUNK_BYTES));
        assert!(needed(self.len));
        let mut bytes = Vec::with_capacity(encoded_len(self.len) as usize);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&self.len.to_le_bytes());
        bytes.push(CHUNK_LOG);
        bytes.extend_from_slice(&[0; 7]);
        for cv in &self.cvs {
            bytes.extend_from_slice(cv);
        }
        debug_assert_eq!(bytes.len() as u64, encoded_len(self.len));
        bytes
    }

    /// Decodes a chunk file, refusing anything but the exact encoding of a multi-piece blob.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Outboard, String> {
        let header = bytes.get(..HEADER_BYTES as usize).ok_or_else(|| {
            format!(
                "chunk file is {} bytes, shorter than its header",
                bytes.len()
            )
        })?;
        if header[..8] != MAGIC {
            return Err("chunk file has the wrong magic".into());
        }
        let len = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        if header[16] != CHUNK_LOG || header[17..24] != [0; 7] {
            return Err(format!(
                "chunk file names an unsupported piece size 2^{}",
                header[16]
            ));
        }
        if !needed(len) {
            return Err(format!(
                "chunk file for a {len}-byte blob, which needs none"
            ));
        }
        if bytes.len() as u64 != encoded_len(len) {
            return Err(format!(
                "chunk file is {} bytes, a {len}-byte blob's is {}",
                bytes.len(),
                encoded_len(len)
            ));
        }
        let cvs = bytes[HEADER_BYTES as usize..]
            .chunks_exact(CV_BYTES as usize)
            .map(|cv| cv.try_into().expect("32 bytes"))
            .collect();
        Ok(Outboard { len, cvs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A change to a file's bytes.
    type Mutation = fn(&mut Vec<u8>);

    fn sample(pieces: u64, tail: u64) -> Outboard {
        let len = (pieces - 1) * CHUNK_BYTES + tail;
        let cvs = (0..pieces).map(|i| [i as u8; 32]).collect();
        Outboard { len, cvs }
    }

    #[test]
    fn round_trips() {
        for (pieces, tail) in [(2, 1), (2, CHUNK_BYTES), (3, 77), (17, CHUNK_BYTES - 1)] {
            let outboard = sample(pieces, tail);
            let bytes = outboard.encode();
            assert_eq!(bytes.len() as u64, encoded_len(outboard.len));
            assert_eq!(Outboard::decode(&bytes).unwrap(), outboard);
        }
    }

    #[test]
    fn refuses_every_malformed_header() {
        let good = sample(3, 10).encode();
        let cases: [(&str, Mutation); 6] = [
            ("magic", |b| b[0] ^= 1),
            ("piece size", |b| b[16] = 17),
            ("reserved", |b| b[20] = 1),
            ("length too small", |b| {
                b[8..16].copy_from_slice(&5u64.to_le_bytes())
            }),
            ("truncated", |b| b.truncate(b.len() - 1)),
            ("extended", |b| b.push(0)),
        ];
        for (name, mutate) in cases {
            let mut bytes = good.clone();
            mutate(&mut bytes);
            assert!(Outboard::decode(&bytes).is_err(), "{name} accepted");
        }
    }

    proptest! {
        /// Random bytes are an error, never a panic; what decodes re-encodes identically.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(outboard) = Outboard::decode(&bytes) {
                prop_assert_eq!(outboard.encode(), bytes);
            }
        }

        /// A valid header followed by random CVs and a random length decodes or errors cleanly.
        #[test]
        fn random_lengths_never_panic(len in any::<u64>(), body in 0usize..300) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.push(CHUNK_LOG);
            bytes.extend_from_slice(&[0; 7]);
            bytes.resize(bytes.len() + body, 0xAB);
            if let Ok(outboard) = Outboard::decode(&bytes) {
                prop_assert_eq!(outboard.encode(), bytes);
            }
        }
    }
}

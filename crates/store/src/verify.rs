//! BLAKE3 tree arithmetic over fixed-size chunks: how a blob is verified piece by piece.
//!
//! BLAKE3 hashes its input as a left-balanced binary tree of 1 KiB chunks. A run of 2^k whole
//! chunks that starts at a multiple of its own size is a complete subtree with its own 32-byte
//! *chaining value* (CV). Blobs are cut into `CHUNK_BYTES` pieces (256 KiB, a power of two
//! KiB), so every piece is such a subtree, except the last, which may be short and is still
//! the final subtree of its level. With more than one piece, the left subtree of any BLAKE3
//! node over these pieces always ends on a piece boundary (it covers the largest power of two
//! of 1 KiB chunks below the node's length, and that is a power-of-two count of pieces), so
//! merging piece CVs left-balanced with `merge_subtrees_non_root`, and the top pair with
//! `merge_subtrees_root`, gives exactly `blake3::hash` of the whole blob.
//!
//! So a blob's id (its standard BLAKE3 hash, which `b3sum` prints) authenticates the list of
//! piece CVs, and each CV authenticates its 256 KiB piece: a reader checks the list once
//! against the id, then checks each piece before handing any of its bytes out. A blob of one
//! piece or less has no list; its one piece is checked against the id directly.
//!
//! The functions take the piece size as a parameter only so that tests can exercise deep trees
//! with small pieces; the store always uses [`CHUNK_BYTES`].

use aifactory_crypto::Hash;
use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

/// Bytes per verified piece ("chunk") of a blob: 256 KiB.
pub const CHUNK_BYTES: u64 = 1 << 18;

const _: () = assert!(CHUNK_BYTES.is_power_of_two());
const _: () = assert!(CHUNK_BYTES >= blake3::CHUNK_LEN as u64);
const _: () = assert!(CHUNK_BYTES <= usize::MAX as u64);

/// How many pieces a blob of `len` bytes has (zero for the empty blob).
pub(crate) fn chunk_count(len: u64, chunk_bytes: u64) -> u64 {
    len.div_ceil(chunk_bytes)
}

/// The length of piece `index` of a blob of `len` bytes.
pub(crate) fn chunk_len(len: u64, index: u64, chunk_bytes: u64) -> u64 {
    let start = index * chunk_bytes;
    assert!(
        start < len,
        "piece {index} is past the end of a {len}-byte blob"
    );
    (len - start).min(chunk_bytes)
}

/// The CV of piece `index` (not the root: only for blobs of two or more pieces).
pub(crate) fn chunk_cv(piece: &[u8], index: u64, chunk_bytes: u64) -> ChainingValue {
    assert!(!piece.is_empty() && piece.len() as u64 <= chunk_bytes);
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * chunk_bytes);
    hasher.update(piece);
    hasher.finalize_non_root()
}

/// The BLAKE3 hash of a blob of two or more pieces, from the pieces' CVs in order.
pub(crate) fn root_from_cvs(cvs: &[ChainingValue]) -> Hash {
    assert!(cvs.len() >= 2, "a root over CVs needs two pieces or more");
    let split = left_subtree_pieces(cvs.len());
    let left = subtree_cv(&cvs[..split]);
    let right = subtree_cv(&cvs[split..]);
    Hash::from(merge_subtrees_root(&left, &right, Mode::Hash))
}

/// The CV of a non-root subtree made of these pieces.
fn subtree_cv(cvs: &[ChainingValue]) -> ChainingValue {
    if let [only] = cvs {
        return *only;
    }
    let split = left_subtree_pieces(cvs.len());
    let left = subtree_cv(&cvs[..split]);
    let right = subtree_cv(&cvs[split..]);
    merge_subtrees_non_root(&left, &right, Mode::Hash)
}

/// The largest power of two strictly below `pieces` (at least 2): BLAKE3's left subtree.
fn left_subtree_pieces(pieces: usize) -> usize {
    debug_assert!(pieces >= 2);
    1 << (usize::BITS - 1 - (pieces - 1).leading_zeros())
}

/// Hashes a blob as it streams by, one pass, keeping each piece's CV.
#[derive(Debug, Clone)]
pub(crate) struct TreeHasher {
    chunk_bytes: u64,
    current: blake3::Hasher,
    current_len: u64,
    len: u64,
    cvs: Vec<ChainingValue>,
}

impl TreeHasher {
    /// A hasher cutting pieces of `chunk_bytes` (a power of two, at least 1 KiB).
    pub(crate) fn new(chunk_bytes: u64) -> Self {
        assert!(chunk_bytes.is_power_of_two() && chunk_bytes >= blake3::CHUNK_LEN as u64);
        TreeHasher {
            chunk_bytes,
            current: blake3::Hasher::new(),
            current_len: 0,
            len: 0,
            cvs: Vec::new(),
        }
    }

    /// Feeds the next bytes of the blob.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // A full piece is closed only once a byte beyond it arrives: until then it may be
            // the whole blob, whose hash is a root, not a CV.
            if self.current_len == self.chunk_bytes {
                self.cvs.push(self.current.finalize_non_root());
                self.current = blake3::Hasher::new();
                self.current.set_input_offset(self.len);
                self.current_len = 0;
            }
            let room = (self.chunk_bytes - self.current_len).min(data.len() as u64) as usize;
            self.current.update(&data[..room]);
            self.current_len += room as u64;
            self.len += room as u64;
            data = &data[room..];
        }
    }

    /// The blob's BLAKE3 hash, and its pieces' CVs if it has two pieces or more (else empty).
    pub(crate) fn finish(mut self) -> (Hash, Vec<ChainingValue>) {
        if self.cvs.is_empty() {
            return (Hash::from(self.current.finalize()), Vec::new());
        }
        self.cvs.push(self.current.finalize_non_root());
        (root_from_cvs(&self.cvs), self.cvs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn content(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// Hashing in one pass, recomputing CVs piece by piece, and `blake3::hash` all agree.
    fn check(len: usize, chunk_bytes: u64, write_sizes: usize) {
        let data = content(len, len as u8);
        let mut hasher = TreeHasher::new(chunk_bytes);
        for part in data.chunks(write_sizes.max(1)) {
            hasher.update(part);
        }
        let (root, cvs) = hasher.finish();
        assert_eq!(
            root,
            Hash::from(blake3::hash(&data)),
            "len {len} chunk {chunk_bytes}"
        );
        let pieces = chunk_count(len as u64, chunk_bytes);
        if pieces <= 1 {
            assert!(cvs.is_empty());
            return;
        }
        assert_eq!(cvs.len() as u64, pieces);
        for (index, piece) in data.chunks(chunk_bytes as usize).enumerate() {
            assert_eq!(chunk_cv(piece, index as u64, chunk_bytes), cvs[index]);
            assert_eq!(
                chunk_len(len as u64, index as u64, chunk_bytes),
                piece.len() as u64
            );
        }
        assert_eq!(root_from_cvs(&cvs), root);
    }

    #[test]
    fn boundaries_agree_with_blake3() {
        for chunk_bytes in [1024, 2048, 8192] {
            let c = chunk_bytes as usize;
            for len in [
                0,
                1,
                c - 1,
                c,
                c + 1,
                2 * c,
                3 * c - 1,
                3 * c + 5,
                7 * c,
                8 * c,
                9 * c + 1,
            ] {
                check(len, chunk_bytes, 1000);
            }
        }
        let c = CHUNK_BYTES as usize;
        check(5 * c + 17, CHUNK_BYTES, 65536);
    }

    #[test]
    fn left_subtree_is_blake3s_split() {
        for pieces in 2..100u64 {
            let left = left_subtree_pieces(pieces as usize) as u64;
            let len = pieces * CHUNK_BYTES;
            assert_eq!(left * CHUNK_BYTES, blake3::hazmat::left_subtree_len(len));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_length_and_write_pattern(len in 0usize..40_000, log in 10u32..13, writes in 1usize..5000) {
            check(len, 1u64 << log, writes);
        }
    }
}

//! 32-byte BLAKE3 digests and domain-separated hashing.
//!
//! Every hash the protocol defines is BLAKE3 in keyed mode, keyed with the key that BLAKE3's
//! derive-key mode derives from a context string (`blake3::derive_key(context, b"")`). Each
//! purpose has its own context, so a hash made for one purpose can never pass for another;
//! the key is derived once per process, so hashing a short message costs one compression.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};

/// A 32-byte BLAKE3 digest: block hashes, transaction hashes, state roots, blob ids.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of nothing and the root of an empty tree.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A hashing purpose, named by a context string that no other purpose uses.
#[derive(Debug)]
pub struct Domain {
    context: &'static str,
    key: OnceLock<[u8; 32]>,
}

impl Domain {
    /// A domain for `context`, e.g. `"aifactory 2026-11 transaction id v1"`.
    pub const fn new(context: &'static str) -> Self {
        Domain {
            context,
            key: OnceLock::new(),
        }
    }

    /// The context string.
    pub fn context(&self) -> &'static str {
        self.context
    }

    /// The BLAKE3 key of this domain.
    pub fn key(&self) -> &[u8; 32] {
        self.key
            .get_or_init(|| blake3::derive_key(self.context, b""))
    }

    /// A keyed hasher to stream a long or structured message into.
    pub fn hasher(&self) -> blake3::Hasher {
        blake3::Hasher::new_keyed(self.key())
    }

    /// The hash of the concatenation of `parts`.
    pub fn hash(&self, parts: &[&[u8]]) -> Hash {
        if let [only] = parts {
            return Hash::from(blake3::keyed_hash(self.key(), only));
        }
        let mut hasher = self.hasher();
        for part in parts {
            hasher.update(part);
        }
        Hash::from(hasher.finalize())
    }

    /// The hash of two hashes side by side: one compression.
    pub fn hash_pair(&self, left: &Hash, right: &Hash) -> Hash {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&left.0);
        both[32..].copy_from_slice(&right.0);
        Hash::from(blake3::keyed_hash(self.key(), &both))
    }
}

impl From<blake3::Hash> for Hash {
    fn from(hash: blake3::Hash) -> Self {
        Hash(*hash.as_bytes())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// Why a string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hexadecimal characters; got {got:?}")]
pub struct HashParseError {
    /// The rejected input (truncated to 80 characters).
    pub got: String,
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| HashParseError {
            got: s.chars().take(80).collect(),
        })?;
        Ok(Hash(bytes))
    }
}

crate::text::serde_as_text!(Hash);

#[cfg(test)]
mod tests {
    use super::*;

    static A: Domain = Domain::new("test a");
    static B: Domain = Domain::new("test b");

    #[test]
    fn hex_round_trip() {
        let hash = A.hash(&[b"abc"]);
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Hash>().unwrap(), hash);
    }

    #[test]
    fn domains_separate_and_parts_concatenate() {
        assert_ne!(A.hash(&[b"x"]), B.hash(&[b"x"]));
        assert_eq!(A.hash(&[b"x", b"y"]), A.hash(&[b"xy"]));
        let (l, r) = (A.hash(&[b"l"]), A.hash(&[b"r"]));
        assert_eq!(A.hash_pair(&l, &r), A.hash(&[&l.0, &r.0]));
    }

    #[test]
    fn keyed_with_the_derived_key() {
        let expected = blake3::keyed_hash(&blake3::derive_key("test a", b""), b"m");
        assert_eq!(A.hash(&[b"m"]), Hash::from(expected));
    }

    #[test]
    fn bad_hex_is_rejected() {
        assert!("zz".parse::<Hash>().is_err());
        assert!("00".repeat(31).parse::<Hash>().is_err());
    }
}

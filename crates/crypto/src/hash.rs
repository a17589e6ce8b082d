//! 32-byte BLAKE3 digests and domain-separated hashing.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};

/// A 32-byte BLAKE3 digest: block hashes, transaction hashes, state roots, blob ids.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of the genesis block and the root of an empty tree.
    pub const ZERO: Hash = Hash([0; 32]);

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Hashes `parts` under a domain: a BLAKE3 key derived from the context string `domain`, so
/// that hashes made for one purpose can never be passed off as hashes made for another.
pub fn hash_domain(domain: &str, parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new_derive_key(domain);
    for part in parts {
        hasher.update(part);
    }
    Hash(*hasher.finalize().as_bytes())
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

    #[test]
    fn hex_round_trip() {
        let hash = hash_domain("test", &[b"abc"]);
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Hash>().unwrap(), hash);
    }

    #[test]
    fn domains_separate() {
        assert_ne!(hash_domain("a", &[b"x"]), hash_domain("b", &[b"x"]));
        assert_eq!(hash_domain("a", &[b"x", b"y"]), hash_domain("a", &[b"xy"]));
    }

    #[test]
    fn bad_hex_is_rejected() {
        assert!("zz".parse::<Hash>().is_err());
        assert!("00".repeat(31).parse::<Hash>().is_err());
    }
}

//! ed25519 signing keys and signatures.
//!
//! Verification follows ZIP-215 (the `ed25519-zebra` crate): every node, whether it checks
//! one signature or a batch, accepts exactly the same set of signatures, so a crafted signature
//! cannot split the network.
//!
//! ZIP-215 accepts public keys of small order (the eight torsion points, in any of their
//! encodings), and for such a key the signature (R = identity, s = 0) verifies on *every*
//! message: anyone can sign for it. We refuse them ([`SignatureError::SmallOrderKey`]), which
//! also makes them provable burn addresses: tokens sent to one can never move again.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_zebra::{SigningKey, VerificationKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Address, Hash};

/// A private ed25519 key. Its bytes are wiped from memory when it is dropped.
///
/// The wrapped `SigningKey` is `Copy` and does not wipe itself, so this wrapper does: it is
/// never `Copy`, never hands out the inner key, and zeroes it (seed, scalar, prefix) on drop.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl Zeroize for SecretKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl SecretKey {
    /// Draws a fresh key from a cryptographic random source.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        SecretKey(SigningKey::new(rng))
    }

    /// Rebuilds a key from its 32 secret bytes (a seed, as RFC 8032 calls it).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = SecretKey(SigningKey::from(bytes));
        bytes.zeroize();
        key
    }

    /// The 32 secret bytes, for encrypting at rest. Handle with care.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The address (public key) that this key signs for.
    pub fn address(&self) -> Address {
        Address(self.0.verification_key().into())
    }

    /// Signs a 32-byte digest; callers hash their message under a domain first.
    pub fn sign(&self, digest: &Hash) -> Signature {
        self.sign_bytes(digest.as_bytes())
    }

    /// Signs raw bytes: for a digest ([`SecretKey::sign`]) or a framed message
    /// ([`SecretKey::sign_in`]), never for bytes a caller has not framed.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {})", self.address())
    }
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signer's address is not a valid ed25519 public key.
    #[error("the signer's address is not a valid ed25519 public key")]
    InvalidKey,
    /// The signer's key has small order: anyone can forge its signatures, so none counts.
    #[error("the signer's address is a small-order key, for which anyone can sign")]
    SmallOrderKey,
    /// The signature does not match the message and key: tampered data or the wrong key.
    #[error("signature does not verify against the signer's key")]
    Mismatch,
}

/// Whether `address` is an ed25519 point of small order (ZIP-215 decoding: non-canonical
/// encodings included); see the module docs.
pub fn is_small_order(address: &Address) -> bool {
    CompressedEdwardsY(address.0)
        .decompress()
        .is_some_and(|point| point.is_small_order())
}

impl Signature {
    /// Checks that `address`'s key signed `digest`.
    pub fn verify(&self, address: &Address, digest: &Hash) -> Result<(), SignatureError> {
        self.verify_bytes(address, digest.as_bytes())
    }

    /// Checks that `address`'s key signed the raw `message` (a digest or a framed message).
    pub(crate) fn verify_bytes(
        &self,
        address: &Address,
        message: &[u8],
    ) -> Result<(), SignatureError> {
        let key = VerificationKey::try_from(address.0).map_err(|_| SignatureError::InvalidKey)?;
        if is_small_order(address) {
            return Err(SignatureError::SmallOrderKey);
        }
        let signature = ed25519_zebra::Signature::from(self.0);
        key.verify(&signature, message)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for Signature {
    type Err = hex::FromHexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(s, &mut bytes)?;
        Ok(Signature(bytes))
    }
}

crate::text::serde_as_text!(Signature);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Domain;

    static TEST: Domain = Domain::new("keys test");

    #[test]
    fn sign_then_verify() {
        let key = SecretKey::from_bytes([1; 32]);
        let digest = TEST.hash(&[b"hello"]);
        let signature = key.sign(&digest);
        assert_eq!(signature.verify(&key.address(), &digest), Ok(()));
    }

    #[test]
    fn wrong_message_or_key_fails() {
        let key = SecretKey::from_bytes([1; 32]);
        let other = SecretKey::from_bytes([2; 32]);
        let digest = TEST.hash(&[b"hello"]);
        let signature = key.sign(&digest);
        let tampered = TEST.hash(&[b"hellp"]);
        assert_eq!(
            signature.verify(&key.address(), &tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            signature.verify(&other.address(), &digest),
            Err(SignatureError::Mismatch)
        );
    }

    /// Encodings of small-order points: the identity (canonical and not), the point of order
    /// 2, the all-zero bytes (order 4), and one of order 8.
    pub(crate) fn small_order_addresses() -> Vec<Address> {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut identity_noncanonical = [0xff; 32]; // p + 1
        identity_noncanonical[0] = 0xee;
        identity_noncanonical[31] = 0x7f;
        let mut minus_one = [0xff; 32]; // p - 1
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        let mut order_8 = [0u8; 32];
        hex::decode_to_slice(
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            &mut order_8,
        )
        .unwrap();
        [identity, identity_noncanonical, minus_one, [0; 32], order_8]
            .map(Address)
            .to_vec()
    }

    /// The signature that verifies under every small-order key, on every message.
    pub(crate) fn forgery() -> Signature {
        let mut bytes = [0u8; 64];
        bytes[0] = 1; // R = the identity, s = 0
        Signature(bytes)
    }

    /// Regression: ZIP-215 accepts small-order keys, and for them one signature verifies on
    /// every message; such a key signed for anyone who asked.
    #[test]
    fn small_order_keys_are_refused() {
        let digest = TEST.hash(&[b"anything"]);
        for address in small_order_addresses() {
            assert!(is_small_order(&address), "{address}");
            assert_eq!(
                forgery().verify(&address, &digest),
                Err(SignatureError::SmallOrderKey),
                "{address}"
            );
        }
        let key = SecretKey::from_bytes([1; 32]);
        assert!(!is_small_order(&key.address()));
        assert_eq!(
            Address([0; 32]).to_string(),
            "aif1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq8499jj",
            "the burn address docs/encoding.md names"
        );
    }

    /// Regression: the key claimed to be wiped on drop, but the wrapped key is `Copy` and
    /// nothing zeroed it.
    #[test]
    fn secret_key_is_wiped_on_drop() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<SecretKey>();
        let mut key = SecretKey::from_bytes([7; 32]);
        key.zeroize();
        assert_eq!(key.to_bytes(), [0; 32]);
    }

    #[test]
    fn bytes_round_trip() {
        let key = SecretKey::generate(&mut rand_core::OsRng);
        let again = SecretKey::from_bytes(key.to_bytes());
        assert_eq!(key.address(), again.address());
    }
}

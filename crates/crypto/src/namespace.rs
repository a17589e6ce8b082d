//! Signing namespaces: signatures over raw messages that say what they are for.
//!
//! Transactions sign a 32-byte BLAKE3 digest. Messages that outside clients must sign or check
//! with a bare ed25519 library (a payment voucher, an inference receipt) are signed over their
//! bytes instead, framed as `u8 len(namespace) ‖ namespace ‖ body`. Each purpose has its own
//! namespace, and the length prefix makes the framing unambiguous, so a signature made for one
//! purpose never verifies for another; a framed message is longer than 32 bytes (namespaces are
//! at least [`NAMESPACE_BYTES_MIN`]), so it never passes for a transaction digest.

use crate::{Address, SecretKey, Signature, SignatureError};

/// A signing purpose, named by a string no other purpose uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace(&'static str);

/// Shortest namespace, in bytes: keeps a framed message longer than a 32-byte digest.
pub const NAMESPACE_BYTES_MIN: usize = 32;

impl Namespace {
    /// A namespace for `name`, e.g. `"aifactory 2026-12 channel voucher v1"`; between
    /// [`NAMESPACE_BYTES_MIN`] and 255 bytes, checked when the constant is built.
    pub const fn new(name: &'static str) -> Self {
        assert!(name.len() >= NAMESPACE_BYTES_MIN && name.len() <= u8::MAX as usize);
        Namespace(name)
    }

    /// The namespace's name.
    pub fn name(&self) -> &'static str {
        self.0
    }

    /// The bytes actually signed for `body`: `u8 len ‖ namespace ‖ body`.
    pub fn frame(&self, body: &[u8]) -> Vec<u8> {
        let name = self.0.as_bytes();
        let mut framed = Vec::with_capacity(1 + name.len() + body.len());
        framed.push(u8::try_from(name.len()).expect("checked in `new`"));
        framed.extend_from_slice(name);
        framed.extend_from_slice(body);
        framed
    }
}

impl SecretKey {
    /// Signs `body` in `namespace` (see the module docs).
    pub fn sign_in(&self, namespace: &Namespace, body: &[u8]) -> Signature {
        self.sign_bytes(&namespace.frame(body))
    }
}

impl Signature {
    /// Checks that `address`'s key signed `body` in `namespace`.
    pub fn verify_in(
        &self,
        address: &Address,
        namespace: &Namespace,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        self.verify_bytes(address, &namespace.frame(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    const ONE: Namespace = Namespace::new("aifactory 2026-12 test namespace one");
    const TWO: Namespace = Namespace::new("aifactory 2026-12 test namespace two");

    #[test]
    fn a_signature_verifies_only_in_its_namespace_and_for_its_body() {
        let key = SecretKey::from_bytes([7; 32]);
        let signature = key.sign_in(&ONE, b"body");
        assert_eq!(signature.verify_in(&key.address(), &ONE, b"body"), Ok(()));
        assert_eq!(
            signature.verify_in(&key.address(), &TWO, b"body"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            signature.verify_in(&key.address(), &ONE, b"bodz"),
            Err(SignatureError::Mismatch)
        );
        let other = SecretKey::from_bytes([8; 32]).address();
        assert_eq!(
            signature.verify_in(&other, &ONE, b"body"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn framing_is_length_prefixed_and_never_a_digest() {
        let framed = ONE.frame(b"xy");
        assert_eq!(framed[0] as usize, ONE.name().len());
        assert_eq!(&framed[1..framed.len() - 2], ONE.name().as_bytes());
        assert_eq!(&framed[framed.len() - 2..], b"xy");
        assert!(ONE.frame(b"").len() > 32);
        // A signature over a framed message does not pass for one over a digest.
        let key = SecretKey::from_bytes([9; 32]);
        let digest = Hash([3; 32]);
        let signature = key.sign_in(&ONE, digest.as_bytes());
        assert!(signature.verify(&key.address(), &digest).is_err());
    }
}

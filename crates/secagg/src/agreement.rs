//! X25519 key pairs and the secrets derived from their agreements.
//!
//! Each client holds two X25519 key pairs per round: the cipher pair, whose agreements key the
//! AEAD that carries Shamir shares, and the mask pair, whose agreements seed the pairwise
//! masks. Both agreements go through BLAKE3 `derive_key` with a context unique to their use,
//! bound to the round and to the unordered pair of clients, so no derived key serves two
//! purposes, two rounds or two pairs.

use x25519_dalek::{PublicKey, StaticSecret};

use crate::error::{Error, Result};
use crate::{ClientId, RoundId};

/// Context of the pairwise mask seeds.
const MASK_CONTEXT: &str = "aifactory secagg v1 pairwise mask seed";
/// Context of the share-encryption keys.
const CIPHER_CONTEXT: &str = "aifactory secagg v1 share encryption key";

/// The public half of an X25519 secret given as raw bytes (before clamping).
pub(crate) fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

/// Whether `public` is a low-order point, whose agreement with any secret is all zeros.
pub(crate) fn is_low_order(public: &[u8; 32]) -> bool {
    // A clamped scalar is a multiple of the cofactor 8, so it sends every low-order point to
    // the identity: one agreement with a fixed scalar tells them apart.
    !StaticSecret::from([1u8; 32])
        .diffie_hellman(&PublicKey::from(*public))
        .was_contributory()
}

/// Derives a 32-byte key for `context` from `secret`'s agreement with `peer_public`.
///
/// `me` and `peer` are the two ends; the key is the same from either end. A low-order peer
/// key (whose agreement would be all zeros, known to anyone) is refused.
fn derive(
    context: &str,
    secret: &[u8; 32],
    peer_public: &[u8; 32],
    round: &RoundId,
    me: ClientId,
    peer: ClientId,
) -> Result<[u8; 32]> {
    let shared = StaticSecret::from(*secret).diffie_hellman(&PublicKey::from(*peer_public));
    if !shared.was_contributory() {
        return Err(Error::LowOrderKey(peer));
    }
    let (low, high) = if me < peer { (me, peer) } else { (peer, me) };
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(shared.as_bytes());
    hasher.update(&round.0);
    hasher.update(&low.to_le_bytes());
    hasher.update(&high.to_le_bytes());
    Ok(*hasher.finalize().as_bytes())
}

/// The seed of the pairwise mask between `me` and `peer`.
pub(crate) fn mask_seed(
    secret: &[u8; 32],
    peer_public: &[u8; 32],
    round: &RoundId,
    me: ClientId,
    peer: ClientId,
) -> Result<[u8; 32]> {
    derive(MASK_CONTEXT, secret, peer_public, round, me, peer)
}

/// The AEAD key for shares exchanged between `me` and `peer`.
pub(crate) fn cipher_key(
    secret: &[u8; 32],
    peer_public: &[u8; 32],
    round: &RoundId,
    me: ClientId,
    peer: ClientId,
) -> Result<[u8; 32]> {
    derive(CIPHER_CONTEXT, secret, peer_public, round, me, peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_derive_the_same_seed_and_keys_are_separated() {
        let round = RoundId([1; 32]);
        let (a, b) = ([3u8; 32], [4u8; 32]);
        let ab = mask_seed(&a, &public_of(&b), &round, 0, 1).unwrap();
        let ba = mask_seed(&b, &public_of(&a), &round, 1, 0).unwrap();
        assert_eq!(ab, ba);
        assert_ne!(ab, cipher_key(&a, &public_of(&b), &round, 0, 1).unwrap());
        assert_ne!(
            ab,
            mask_seed(&a, &public_of(&b), &RoundId([2; 32]), 0, 1).unwrap()
        );
    }

    #[test]
    fn low_order_keys_are_refused() {
        assert_eq!(
            mask_seed(&[3; 32], &[0; 32], &RoundId([1; 32]), 0, 5),
            Err(Error::LowOrderKey(5))
        );
        assert!(is_low_order(&[0; 32]));
        assert!(!is_low_order(&public_of(&[3; 32])));
    }
}

//! Encryption of a pair of Shamir shares from one client to one neighbour.
//!
//! ChaCha20-Poly1305 under the pair's cipher key (`agreement::cipher_key`). The nonce is the
//! (from, to) pair, unique per key within a round because each key belongs to one round and
//! one unordered pair; the associated data binds the round id. Since only the two ends can
//! compute the key, a share that decrypts was written by its claimed author: the trainer can
//! neither read nor forge one, so forwarded shares need no signature of their own.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::{Error, Result};
use crate::shamir::{self, LIMBS, Share};
use crate::{ClientId, RoundId};

/// Bytes of the plaintext: the self-mask-seed share then the mask-key share, 8 bytes a limb.
pub(crate) const PLAIN_BYTES: usize = 2 * LIMBS * 8;

/// Bytes of a sealed pair of shares: the plaintext plus the 16-byte tag.
pub(crate) const SEALED_BYTES: usize = PLAIN_BYTES + 16;

/// The two shares a client gives each neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SharePair {
    /// Share of the owner's self-mask seed.
    pub seed: Share,
    /// Share of the owner's mask (X25519) secret key.
    pub key: Share,
}

fn nonce(from: ClientId, to: ClientId) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&from.to_le_bytes());
    bytes[4..8].copy_from_slice(&to.to_le_bytes());
    Nonce::from(bytes)
}

/// Encrypts `pair` from `from` to `to`.
pub(crate) fn seal(
    key: &[u8; 32],
    round: &RoundId,
    from: ClientId,
    to: ClientId,
    pair: &SharePair,
) -> [u8; SEALED_BYTES] {
    let mut plain = [0u8; PLAIN_BYTES];
    for (chunk, limb) in plain
        .chunks_mut(8)
        .zip(pair.seed.iter().chain(pair.key.iter()))
    {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let sealed = cipher
        .encrypt(
            &nonce(from, to),
            Payload {
                msg: &plain,
                aad: &round.0,
            },
        )
        .expect("ChaCha20-Poly1305 encryption of a fixed-size buffer cannot fail");
    sealed
        .try_into()
        .expect("sealed length is plaintext plus tag")
}

/// Decrypts the pair `from` sealed to `to`; refuses anything altered, forged or non-canonical.
pub(crate) fn open(
    key: &[u8; 32],
    round: &RoundId,
    from: ClientId,
    to: ClientId,
    sealed: &[u8; SEALED_BYTES],
) -> Result<SharePair> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(
            &nonce(from, to),
            Payload {
                msg: sealed,
                aad: &round.0,
            },
        )
        .map_err(|_| Error::Decrypt { from, to })?;
    let mut limbs = plain
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
    let seed: Share = std::array::from_fn(|_| limbs.next().expect("ten limbs"));
    let key: Share = std::array::from_fn(|_| limbs.next().expect("ten limbs"));
    if !shamir::is_canonical(&seed) || !shamir::is_canonical(&key) {
        return Err(Error::Decrypt { from, to });
    }
    Ok(SharePair { seed, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_shares_open_only_for_their_pair_and_round() {
        let pair = SharePair {
            seed: [1, 2, 3, 4, 5],
            key: [6, 7, 8, 9, 10],
        };
        let round = RoundId([7; 32]);
        let sealed = seal(&[9; 32], &round, 1, 2, &pair);
        assert_eq!(open(&[9; 32], &round, 1, 2, &sealed), Ok(pair));
        assert!(open(&[9; 32], &round, 2, 1, &sealed).is_err());
        assert!(open(&[9; 32], &RoundId([8; 32]), 1, 2, &sealed).is_err());
        let mut altered = sealed;
        altered[0] ^= 1;
        assert!(open(&[9; 32], &round, 1, 2, &altered).is_err());
    }
}

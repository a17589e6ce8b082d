//! Expansion of a 32-byte seed into a mask vector with the ChaCha20 generator.
//!
//! Pairwise masks (from an X25519 agreement) and self masks (from a private seed) are both
//! `PRG(seed)`: the ChaCha20 keystream under key `seed` and an all-zero nonce, read as
//! little-endian `u64`s. Each `u64` is uniform, so its low k bits are uniform modulo 2^k,
//! which is what hides a masked input.
//!
//! The keystream comes from the RustCrypto `chacha20` crate rather than `rand_chacha`'s
//! generator: the bytes are identical (with a zero nonce and fewer than 2^32 blocks the two
//! ChaCha20 variants coincide, pinned by a test below) and it measured about 30% faster
//! here, which is most of a client's time at 100k parameters.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};

/// Whether a mask is added to or subtracted from the accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// `acc += PRG(seed)`.
    Plus,
    /// `acc -= PRG(seed)`.
    Minus,
}

impl Sign {
    /// The sign of the pairwise mask that `me` applies for `peer`: `+` towards larger ids.
    pub fn pairwise(me: u32, peer: u32) -> Sign {
        assert_ne!(me, peer, "no pairwise mask with oneself");
        if me < peer { Sign::Plus } else { Sign::Minus }
    }

    /// The opposite sign, used to remove a mask.
    pub fn flip(self) -> Sign {
        match self {
            Sign::Plus => Sign::Minus,
            Sign::Minus => Sign::Plus,
        }
    }
}

/// Words generated per block: large enough to amortise the call, small enough for L1.
const BLOCK_WORDS: usize = 512;

/// Applies `acc ±= PRG(seed)` coordinate-wise, wrapping.
pub fn apply(acc: &mut [u64], seed: &[u8; 32], sign: Sign) {
    apply_many(acc, &[(*seed, sign)]);
}

/// Applies every `acc ±= PRG(seed)` at once: block by block, each block of `acc` stays in
/// the L1 cache while every keystream is added to it, instead of one pass over `acc` per mask.
pub fn apply_many(acc: &mut [u64], masks: &[([u8; 32], Sign)]) {
    assert!(
        acc.len() <= crate::limits::PARAMS_MAX + 1,
        "mask longer than the block counter allows"
    );
    let mut ciphers: Vec<(ChaCha20, Sign)> = masks
        .iter()
        .map(|(seed, sign)| (ChaCha20::new(seed.into(), &[0u8; 12].into()), *sign))
        .collect();
    let mut block = [0u8; BLOCK_WORDS * 8];
    for chunk in acc.chunks_mut(BLOCK_WORDS) {
        let bytes = &mut block[..chunk.len() * 8];
        for (cipher, sign) in &mut ciphers {
            bytes.fill(0);
            cipher.apply_keystream(bytes);
            let words = bytes
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().expect("8-byte chunk")));
            match sign {
                Sign::Plus => chunk
                    .iter_mut()
                    .zip(words)
                    .for_each(|(a, m)| *a = a.wrapping_add(m)),
                Sign::Minus => chunk
                    .iter_mut()
                    .zip(words)
                    .for_each(|(a, m)| *a = a.wrapping_sub(m)),
            }
        }
    }
}

/// `PRG(seed)` as a fresh vector of `len` words.
pub fn expand(seed: &[u8; 32], len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    apply(&mut out, seed, Sign::Plus);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_then_minus_cancels() {
        let mut acc: Vec<u64> = (0..3000).collect();
        let before = acc.clone();
        apply(&mut acc, &[7; 32], Sign::Plus);
        assert_ne!(acc, before);
        apply(&mut acc, &[7; 32], Sign::Minus);
        assert_eq!(acc, before);
    }

    #[test]
    fn expansion_is_a_prefix_stable_stream() {
        // A vector's mask does not depend on how long the vector is: the same seed, the same prefix.
        let long = expand(&[3; 32], 2500);
        let short = expand(&[3; 32], 1500);
        assert_eq!(&long[..1500], &short[..]);
        assert_ne!(expand(&[4; 32], 10), expand(&[3; 32], 10));
    }

    #[test]
    fn keystream_equals_the_rand_chacha_generator() {
        use rand::Rng;
        use rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
        let mut words = vec![0u64; 5000];
        rng.fill(&mut words[..]);
        assert_eq!(expand(&[9; 32], 5000), words);
    }

    #[test]
    fn applying_many_equals_applying_each() {
        let masks = [
            ([1; 32], Sign::Plus),
            ([2; 32], Sign::Minus),
            ([3; 32], Sign::Plus),
        ];
        let mut each = vec![5u64; 1700];
        masks
            .iter()
            .for_each(|(seed, sign)| apply(&mut each, seed, *sign));
        let mut many = vec![5u64; 1700];
        apply_many(&mut many, &masks);
        assert_eq!(each, many);
    }

    #[test]
    fn pairwise_signs_cancel_between_two_peers() {
        assert_eq!(Sign::pairwise(1, 2), Sign::pairwise(2, 1).flip());
    }
}

//! Expansion of a 32-byte seed into a mask vector with the ChaCha20 generator.
//!
//! Pairwise masks (from an X25519 agreement) and self masks (from a private seed) are both
//! `PRG(seed)`: the ChaCha20 keystream read as little-endian `u64`s. Each `u64` is uniform, so
//! its low k bits are uniform modulo 2^k, which is what hides a masked input.

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

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
const BLOCK_WORDS: usize = 1024;

/// Applies `acc ±= PRG(seed)` coordinate-wise, wrapping.
pub fn apply(acc: &mut [u64], seed: &[u8; 32], sign: Sign) {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let mut block = [0u64; BLOCK_WORDS];
    for chunk in acc.chunks_mut(BLOCK_WORDS) {
        let words = &mut block[..chunk.len()];
        rng.fill(words);
        match sign {
            Sign::Plus => chunk
                .iter_mut()
                .zip(words.iter())
                .for_each(|(a, m)| *a = a.wrapping_add(*m)),
            Sign::Minus => chunk
                .iter_mut()
                .zip(words.iter())
                .for_each(|(a, m)| *a = a.wrapping_sub(*m)),
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
    fn pairwise_signs_cancel_between_two_peers() {
        assert_eq!(Sign::pairwise(1, 2), Sign::pairwise(2, 1).flip());
    }
}

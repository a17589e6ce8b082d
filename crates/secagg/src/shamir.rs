//! Shamir secret sharing of 32-byte secrets over the prime field GF(2^61 - 1).
//!
//! Why our own: the common crates share byte-wise over GF(2^8), which caps a round at 255
//! holders, while a round here may have thousands of clients; the general ones are generic
//! over elliptic-curve scalar fields and far heavier than the sixty lines a Mersenne prime
//! needs. With p = 2^61 - 1 a product reduces with two shifts and an add.
//!
//! A secret is cut into five 56-bit limbs (5 × 56 ≥ 256), each shared with its own random
//! polynomial of degree t - 1; a share is the five evaluations at the holder's x-coordinate
//! (its client id plus one, never zero). Any t shares give the secret back by Lagrange
//! interpolation at zero; t - 1 shares are uniformly distributed, whatever the secret.

use rand_core::RngCore;

/// The field prime 2^61 - 1.
pub const PRIME: u64 = (1 << 61) - 1;

/// Limbs per secret: five of 56 bits cover 32 bytes.
pub const LIMBS: usize = 5;

/// Bytes per limb.
const LIMB_BYTES: usize = 7;

/// One holder's share: the five limb polynomials evaluated at its x-coordinate.
pub type Share = [u64; LIMBS];

/// `a * b mod p`.
fn mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    let folded = (product as u64 & PRIME) + (product >> 61) as u64;
    reduce_once(folded)
}

/// `a + b mod p`, for a, b < p.
fn add(a: u64, b: u64) -> u64 {
    reduce_once(a + b)
}

/// `a - b mod p`, for a, b < p.
fn sub(a: u64, b: u64) -> u64 {
    if a >= b { a - b } else { a + PRIME - b }
}

/// Brings a value below 2p into [0, p).
fn reduce_once(a: u64) -> u64 {
    if a >= PRIME { a - PRIME } else { a }
}

/// `a^(p-2)`, the inverse of a non-zero `a`.
fn inverse(a: u64) -> u64 {
    assert_ne!(a, 0, "zero has no inverse");
    let mut base = a;
    let mut exponent = PRIME - 2;
    let mut acc = 1;
    while exponent > 0 {
        if exponent & 1 == 1 {
            acc = mul(acc, base);
        }
        base = mul(base, base);
        exponent >>= 1;
    }
    acc
}

/// A uniform field element.
fn random_element(rng: &mut impl RngCore) -> u64 {
    loop {
        let candidate = rng.next_u64() >> 3;
        if candidate < PRIME {
            return candidate;
        }
    }
}

/// The secret's limbs, little-endian.
fn to_limbs(secret: &[u8; 32]) -> Share {
    let mut limbs = [0u64; LIMBS];
    for (limb, chunk) in limbs.iter_mut().zip(secret.chunks(LIMB_BYTES)) {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        *limb = u64::from_le_bytes(bytes);
    }
    limbs
}

/// The secret from its limbs, or `None` if a limb is too wide to have come from a secret.
fn from_limbs(limbs: &Share) -> Option<[u8; 32]> {
    let mut secret = [0u8; 32];
    for (limb, chunk) in limbs.iter().zip(secret.chunks_mut(LIMB_BYTES)) {
        let bytes = limb.to_le_bytes();
        if bytes[chunk.len()..].iter().any(|b| *b != 0) {
            return None;
        }
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    Some(secret)
}

/// The x-coordinate of a holder: its client id plus one, so never zero.
pub fn x_of(holder: u32) -> u64 {
    u64::from(holder) + 1
}

/// Whether every limb of a share is a field element (decoders check this).
pub fn is_canonical(share: &Share) -> bool {
    share.iter().all(|limb| *limb < PRIME)
}

/// Splits `secret` into one share per x-coordinate, any `threshold` of which recover it.
pub fn split(
    secret: &[u8; 32],
    threshold: usize,
    xs: &[u64],
    rng: &mut impl RngCore,
) -> Vec<Share> {
    assert!(threshold >= 1, "threshold must be at least one");
    assert!(
        xs.iter().all(|x| *x != 0 && *x < PRIME),
        "x-coordinates must be non-zero field elements"
    );
    let constant = to_limbs(secret);
    // coefficients[d][l]: the degree-d coefficient of limb l's polynomial.
    let mut coefficients = vec![constant];
    for _ in 1..threshold {
        coefficients.push(std::array::from_fn(|_| random_element(rng)));
    }
    xs.iter().map(|x| evaluate(&coefficients, *x)).collect()
}

/// Evaluates the limb polynomials at `x` by Horner's rule.
fn evaluate(coefficients: &[Share], x: u64) -> Share {
    let mut acc = [0u64; LIMBS];
    for coefficient in coefficients.iter().rev() {
        for (a, c) in acc.iter_mut().zip(coefficient) {
            *a = add(mul(*a, x), *c);
        }
    }
    acc
}

/// Recovers the secret from shares at distinct non-zero x-coordinates by interpolating at zero.
///
/// Returns `None` when the shares cannot come from any secret (a limb out of range); with
/// fewer than the threshold the result is simply some other value, which callers detect by
/// checking it against a commitment.
pub fn combine(points: &[(u64, Share)]) -> Option<[u8; 32]> {
    assert!(!points.is_empty(), "combine needs at least one share");
    let mut secret = [0u64; LIMBS];
    for (i, (xi, share)) in points.iter().enumerate() {
        let mut numerator = 1;
        let mut denominator = 1;
        for (j, (xj, _)) in points.iter().enumerate() {
            if i != j {
                assert_ne!(xi, xj, "duplicate x-coordinate");
                numerator = mul(numerator, *xj);
                denominator = mul(denominator, sub(*xj, *xi));
            }
        }
        let lambda = mul(numerator, inverse(denominator));
        for (s, y) in secret.iter_mut().zip(share) {
            *s = add(*s, mul(lambda, *y));
        }
    }
    from_limbs(&secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    proptest! {
        #[test]
        fn any_threshold_subset_recovers_the_secret(
            secret in any::<[u8; 32]>(),
            n in 1usize..40,
            t_frac in 0.0f64..1.0,
            seed in any::<u64>(),
        ) {
            let t = 1 + ((n - 1) as f64 * t_frac) as usize;
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let xs: Vec<u64> = (0..n as u32).map(|h| x_of(h * 7)).collect();
            let shares = split(&secret, t, &xs, &mut rng);
            // Take t shares starting at a seed-chosen offset.
            let start = (seed as usize) % n;
            let points: Vec<_> = (0..t).map(|i| (xs[(start + i) % n], shares[(start + i) % n])).collect();
            prop_assert_eq!(combine(&points), Some(secret));
            prop_assert!(shares.iter().all(is_canonical));
        }
    }

    #[test]
    fn fewer_than_threshold_shares_do_not_recover() {
        let secret = [9u8; 32];
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let xs: Vec<u64> = (0..10).map(x_of).collect();
        let shares = split(&secret, 6, &xs, &mut rng);
        let points: Vec<_> = xs.iter().copied().zip(shares).take(5).collect();
        assert_ne!(combine(&points), Some(secret));
    }

    #[test]
    fn field_arithmetic_agrees_with_u128() {
        let a = PRIME - 5;
        let b = PRIME - 9;
        assert_eq!(
            u128::from(mul(a, b)),
            (u128::from(a) * u128::from(b)) % u128::from(PRIME)
        );
        assert_eq!(mul(inverse(12345), 12345), 1);
        assert_eq!(sub(3, 5), PRIME - 2);
    }
}

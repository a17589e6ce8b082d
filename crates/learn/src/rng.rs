//! Randomness, of two kinds kept apart: the reproducibility seed and the privacy secret.
//!
//! Every random choice that may be public (weight initialisation, shuffling, client
//! selection without DP, partitions) draws from a ChaCha8 stream seeded from a `u64`: the job
//! seed is published so anyone can replay a run. What protects privacy (DP noise, DP-SGD's
//! example sampling, DP-FedAvg's client sampling) draws instead from a [`PrivacySecret`], 256
//! bits from the operating system's generator unless a test fixes one, expanded by ChaCha20;
//! it never derives from the seed, since anyone who knows the seed could regenerate the noise
//! and subtract it. Independent streams
//! are derived from one seed and a label with BLAKE3, so adding a new use of randomness
//! never shifts the draws of an existing one. Gaussians use Box–Muller on f64, which is
//! platform-independent, unlike library samplers whose algorithm may change.

use rand::{Rng as _, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The crate's random number generator.
pub type Rng = ChaCha8Rng;

/// A generator seeded directly from `seed`.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// A seed for an independent stream, derived from a parent seed, a label and an index.
pub fn derive_seed(seed: u64, label: &str, index: u64) -> u64 {
    let mut h = blake3::Hasher::new_derive_key("aifactory-learn rng derive v1");
    h.update(&seed.to_le_bytes());
    h.update(&(label.len() as u64).to_le_bytes());
    h.update(label.as_bytes());
    h.update(&index.to_le_bytes());
    let out = h.finalize();
    u64::from_le_bytes(out.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The generator of privacy randomness: ChaCha20 keyed by a [`PrivacySecret`].
pub type PrivacyRng = rand_chacha::ChaCha20Rng;

/// A 256-bit secret for DP noise and sampling, kept apart from the public seed. `Debug`
/// never prints it, and no configuration serialises it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivacySecret([u8; 32]);

impl PrivacySecret {
    /// A fresh secret from the operating system's generator: what every real run uses.
    pub fn from_os() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A fixed secret, so a test can replay DP noise. A real job must never use one: anyone
    /// who learns it can remove the noise.
    pub fn for_testing(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// An independent secret for `label` and `index` (e.g. one per federated client).
    pub fn derive(&self, label: &str, index: u64) -> Self {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"aifactory-learn privacy secret v1");
        h.update(&(label.len() as u64).to_le_bytes());
        h.update(label.as_bytes());
        h.update(&index.to_le_bytes());
        Self(*h.finalize().as_bytes())
    }

    /// The privacy stream for `label` and `index`.
    pub fn stream(&self, label: &str, index: u64) -> PrivacyRng {
        PrivacyRng::from_seed(self.derive(label, index).0)
    }
}

impl std::fmt::Debug for PrivacySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivacySecret(..)")
    }
}

/// A uniform draw in `[0, 1)` with 53 bits of precision.
pub fn uniform<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.r#gen::<u64>() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal draw (Box–Muller).
pub fn gaussian<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln is finite
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A uniform index in `0..n` (`n > 0`).
pub fn below(rng: &mut Rng, n: usize) -> usize {
    assert!(n > 0, "below(0)");
    rng.gen_range(0..n)
}

/// Shuffles in place (Fisher–Yates).
pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

/// A random permutation of `0..n`.
pub fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(rng, &mut v);
    v
}

/// A Gamma(α, 1) draw (Marsaglia–Tsang, with the α < 1 boost); used for Dirichlet draws.
pub fn gamma(rng: &mut Rng, alpha: f64) -> f64 {
    assert!(
        alpha > 0.0 && alpha.is_finite(),
        "gamma shape must be positive"
    );
    if alpha < 1.0 {
        let u = 1.0 - uniform(rng);
        return gamma(rng, alpha + 1.0) * u.powf(1.0 / alpha);
    }
    let d = alpha - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = gaussian(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - uniform(rng);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Dirichlet(α, …, α) draw over `k` categories.
pub fn dirichlet(rng: &mut Rng, alpha: f64, k: usize) -> Vec<f64> {
    let g: Vec<f64> = (0..k).map(|_| gamma(rng, alpha)).collect();
    let s: f64 = g.iter().sum();
    g.iter().map(|x| x / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_labels_separate_streams() {
        let a: Vec<f64> = (0..5)
            .map({
                let mut r = rng(7);
                move |_| gaussian(&mut r)
            })
            .collect();
        let b: Vec<f64> = (0..5)
            .map({
                let mut r = rng(7);
                move |_| gaussian(&mut r)
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(derive_seed(7, "a", 0), derive_seed(7, "b", 0));
        assert_ne!(derive_seed(7, "a", 0), derive_seed(7, "a", 1));
    }

    #[test]
    fn gaussian_and_gamma_have_the_right_moments() {
        let mut r = rng(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| gaussian(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        for alpha in [0.3, 1.0, 4.0] {
            let g: f64 = (0..n).map(|_| gamma(&mut r, alpha)).sum::<f64>() / n as f64;
            assert!(
                (g - alpha).abs() < 0.02 * alpha.max(1.0),
                "gamma({alpha}) mean {g}"
            );
        }
    }
}

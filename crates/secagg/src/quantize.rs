//! From float updates to integers modulo 2^k and back.
//!
//! Encoding, for a round with clip range c and b value bits (L = 2^b - 1 levels):
//!
//! 1. every coordinate x is clamped to [-c, c] (NaN and ±inf are refused, not clamped);
//! 2. it is mapped to y = (x + c) / (2c) · L, a real number in [0, L];
//! 3. it is rounded stochastically: q = ⌊y⌋ + 1 with probability y - ⌊y⌋, else ⌊y⌋, the coin
//!    drawn from ChaCha20 seeded by the client's rounding seed, so E\[q\] = y exactly and the
//!    same seed gives the same q;
//! 4. q is multiplied by the client's sample count s (FedAvg weight), and one more coordinate
//!    carrying s itself is appended, so the vector has `params + 1` coordinates.
//!
//! The trainer learns Σ s·q per coordinate and Σ s, and decodes the weighted mean as
//! x̄ = (Σ s·q / Σ s) / L · 2c - c. The modulus 2^k is chosen (see `RoundConfig::modulus_bits`)
//! so that the true integer sum never wraps: the sum of masked vectors modulo 2^k is then the
//! exact integer sum of the quantised inputs.

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{Error, Result};

/// Levels of a b-bit quantiser: 2^b - 1, so that both -c and +c are representable.
pub fn levels(value_bits: u32) -> u64 {
    (1u64 << value_bits) - 1
}

/// The width of one quantisation step, in the units of the update.
pub fn quantum(clip: f32, value_bits: u32) -> f64 {
    2.0 * f64::from(clip) / levels(value_bits) as f64
}

/// Quantises `update` to integers in [0, 2^b - 1] with stochastic rounding seeded by `seed`.
pub fn quantize(update: &[f32], clip: f32, value_bits: u32, seed: &[u8; 32]) -> Result<Vec<u64>> {
    if let Some(index) = update.iter().position(|x| !x.is_finite()) {
        return Err(Error::Input(format!("coordinate {index} is not finite")));
    }
    let clip = f64::from(clip);
    let top = levels(value_bits) as f64;
    let mut rng = ChaCha20Rng::from_seed(*seed);
    Ok(update
        .iter()
        .map(|x| {
            let y = (f64::from(*x).clamp(-clip, clip) + clip) / (2.0 * clip) * top;
            let floor = y.floor();
            let coin: f64 = rng.r#gen();
            let q = if coin < y - floor { floor + 1.0 } else { floor };
            q.min(top) as u64
        })
        .collect())
}

/// The weighted mean of the clients' updates from the centred integer sums and the total
/// weight; a zero total (a malicious masked weight can make it so) is an error.
pub fn dequantize_mean(
    sums: &[i128],
    weight_total: u64,
    clip: f32,
    value_bits: u32,
) -> Result<Vec<f32>> {
    if weight_total == 0 {
        return Err(Error::WeightTotal {
            total: 0,
            max: u64::MAX,
        });
    }
    let clip = f64::from(clip);
    let top = levels(value_bits) as f64;
    Ok(sums
        .iter()
        .map(|s| ((*s as f64 / weight_total as f64) / top * 2.0 * clip - clip) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_clamping_are_exact() {
        let q = quantize(&[-1.0, 1.0, -5.0, 5.0, 0.0], 1.0, 8, &[0; 32]).unwrap();
        assert_eq!(&q[..4], &[0, 255, 0, 255]);
        assert!(q[4] == 127 || q[4] == 128);
    }

    #[test]
    fn stochastic_rounding_is_unbiased_and_seeded() {
        // 0.3 of a step above a level: about 30% of coordinates round up.
        let step = quantum(1.0, 4) as f32;
        let x = -1.0 + 0.3 * step;
        let q = quantize(&vec![x; 20_000], 1.0, 4, &[5; 32]).unwrap();
        let ups = q.iter().filter(|v| **v == 1).count() as f64 / 20_000.0;
        assert!((ups - 0.3).abs() < 0.02, "round-up rate {ups}");
        assert_eq!(q, quantize(&vec![x; 20_000], 1.0, 4, &[5; 32]).unwrap());
    }

    #[test]
    fn non_finite_input_is_refused() {
        assert!(quantize(&[0.0, f32::NAN], 1.0, 8, &[0; 32]).is_err());
        assert!(quantize(&[f32::INFINITY], 1.0, 8, &[0; 32]).is_err());
    }

    #[test]
    fn mean_round_trips_within_a_step() {
        let update = [0.25f32, -0.5, 0.9];
        let q = quantize(&update, 1.0, 16, &[1; 32]).unwrap();
        let sums: Vec<i128> = q.iter().map(|v| i128::from(*v) * 3).collect();
        let mean = dequantize_mean(&sums, 3, 1.0, 16).unwrap();
        for (a, b) in mean.iter().zip(update) {
            assert!((a - b).abs() <= quantum(1.0, 16) as f32);
        }
    }
}

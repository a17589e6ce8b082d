//! Composition with central differential privacy: distributed noise added by the clients.
//!
//! Decision: the noise is added by the clients, inside the integer domain, before masking.
//! Each client first clips its update to L2 norm C (`clip_l2`), quantises it, then adds to
//! every coordinate an integer drawn from a rounded Gaussian with standard deviation
//! σ_client = z · Δ₂ / √t (in quantisation steps), where z is the job's noise multiplier,
//! Δ₂ = C / quantum + √d bounds the L2 norm of one client's centred quantised update
//! (clipping plus at most one step of stochastic rounding per coordinate) and t is the
//! round's threshold. The round never completes with fewer than t survivors, so the sum
//! always carries at least t independent noises, of total variance ≥ (z · Δ₂)²: the Gaussian
//! mechanism with multiplier z on the sum of clipped updates, which is what the learning
//! crate's privacy accountant charges for.
//!
//! What the trainer then sees: only that noised sum (and the survivor count, which is public
//! anyway). It never sees an un-noised sum, so the guarantee holds against the trainer too,
//! not only against whoever later reads the model. The price: with m > t survivors the noise
//! is √(m/t) times larger than needed (`effective_noise_multiplier` reports it).
//!
//! Neighbouring relation: add/remove-one client. Two rounds are neighbours when one has one
//! more client's update than the other; that client's clipped, quantised update moves the
//! integer sum by at most Δ₂ in L2, which is the sensitivity the noise is scaled to (a
//! replace-one relation would need 2Δ₂). A round aggregates every client on its roster: no
//! sampling, so the accountant charges q = 1 per round unless the job samples its rosters
//! by Poisson, in which case it may charge that rate.
//!
//! Where the noise comes from: each client draws its own from its per-round secret
//! (`ClientSeeds::noise`, derived from the 32-byte secret the client gives `Client::new`,
//! which a real client takes from the OS generator). It is never derived from anything
//! public; only the in-memory simulator derives client secrets from its seed, to replay.
//!
//! Honest caveats, written down so the accountant can be set accordingly: (1) a sum of
//! rounded Gaussians is not exactly a Gaussian; for σ_client of a few steps or more the
//! difference is negligible (Kairouz, Liu & Steinke 2021 analyse the distributed discrete
//! Gaussian exactly); (2) each noise is truncated at ±8σ_client so the modulus can be sized
//! to never wrap, which changes the distribution by less than 1e-14; (3) DP rounds use unit
//! weights (sample count 1 per client, `RoundConfig` enforces it), because FedAvg weights
//! would scale a client's sensitivity by its private sample count; (4) noise a client
//! adds can be withheld by a malicious client — the guarantee assumes at least t honest
//! survivors.

use borsh::{BorshDeserialize, BorshSerialize};
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::quantize::quantum;

/// Truncation of each client's noise, in standard deviations.
pub const NOISE_TAIL_SIGMAS: f64 = 8.0;

/// The job's differential privacy parameters, as fixed in the round configuration.
#[derive(Debug, Clone, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct DpConfig {
    /// L2 norm every client's update is clipped to before quantising (C).
    pub clip_norm_l2: f32,
    /// Noise multiplier z: the sum's noise has standard deviation at least z · Δ₂.
    pub noise_multiplier: f32,
}

/// Scales `update` down so its L2 norm is at most `clip_norm_l2`.
pub fn clip_l2(update: &[f32], clip_norm_l2: f32) -> Vec<f32> {
    let norm = update
        .iter()
        .map(|x| f64::from(*x).powi(2))
        .sum::<f64>()
        .sqrt();
    let scale = if norm > f64::from(clip_norm_l2) {
        f64::from(clip_norm_l2) / norm
    } else {
        1.0
    };
    update
        .iter()
        .map(|x| (f64::from(*x) * scale) as f32)
        .collect()
}

/// Δ₂: the L2 sensitivity of one client's centred quantised update, in quantisation steps.
pub fn sensitivity_steps(dp: &DpConfig, clip: f32, value_bits: u32, params: usize) -> f64 {
    f64::from(dp.clip_norm_l2) / quantum(clip, value_bits) + (params as f64).sqrt()
}

/// σ_client: each client's noise standard deviation, in quantisation steps.
pub fn client_noise_std(
    dp: &DpConfig,
    clip: f32,
    value_bits: u32,
    params: usize,
    threshold: usize,
) -> f64 {
    f64::from(dp.noise_multiplier) * sensitivity_steps(dp, clip, value_bits, params)
        / (threshold as f64).sqrt()
}

/// The noise multiplier the sum actually carries when `survivors` clients contributed.
pub fn effective_noise_multiplier(dp: &DpConfig, survivors: usize, threshold: usize) -> f64 {
    f64::from(dp.noise_multiplier) * (survivors as f64 / threshold as f64).sqrt()
}

/// The largest magnitude one client's noise can take, in steps (used to size the modulus).
pub fn noise_bound(std: f64) -> u64 {
    (NOISE_TAIL_SIGMAS * std).ceil() as u64
}

/// Adds rounded, truncated Gaussian noise of standard deviation `std` to every coordinate.
pub fn add_noise(values: &mut [u64], std: f64, seed: &[u8; 32]) {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let bound = noise_bound(std) as f64;
    for value in values {
        let noise = (gaussian(&mut rng) * std).round().clamp(-bound, bound) as i64;
        *value = value.wrapping_add(noise as u64);
    }
}

/// A standard normal sample by the Box–Muller transform.
fn gaussian(rng: &mut ChaCha20Rng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_l2_bounds_the_norm_and_keeps_small_updates() {
        let clipped = clip_l2(&[3.0, 4.0], 1.0);
        assert!((clipped[0] - 0.6).abs() < 1e-6 && (clipped[1] - 0.8).abs() < 1e-6);
        assert_eq!(clip_l2(&[0.3, 0.4], 1.0), vec![0.3, 0.4]);
    }

    #[test]
    fn noise_has_the_asked_variance_and_bound() {
        let mut values = vec![0u64; 50_000];
        add_noise(&mut values, 10.0, &[2; 32]);
        let signed: Vec<f64> = values.iter().map(|v| *v as i64 as f64).collect();
        let mean = signed.iter().sum::<f64>() / signed.len() as f64;
        let var = signed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / signed.len() as f64;
        assert!(mean.abs() < 0.3, "mean {mean}");
        assert!((var.sqrt() - 10.0).abs() < 0.3, "std {}", var.sqrt());
        assert!(signed.iter().all(|x| x.abs() <= 80.0));
    }

    #[test]
    fn more_survivors_than_threshold_means_more_noise() {
        let dp = DpConfig {
            clip_norm_l2: 1.0,
            noise_multiplier: 1.0,
        };
        assert_eq!(effective_noise_multiplier(&dp, 4, 4), 1.0);
        assert_eq!(effective_noise_multiplier(&dp, 16, 4), 2.0);
    }
}

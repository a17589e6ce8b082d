//! Clipping and Gaussian noise: the two operations behind DP-SGD and DP-FedAvg.
//!
//! **DP-SGD** (Abadi et al. 2016), local to a provider: every step samples each example
//! with probability q (Poisson sampling, which is what the RDP accountant assumes), clips
//! each example's gradient to L2 norm C, sums them, adds N(0, σ²C²) to every coordinate
//! and divides by the expected batch size qN.
//!
//! **DP-FedAvg** (McMahan et al. 2018), in the aggregate: each round samples every client
//! independently with probability q = clients per round / clients (Poisson sampling, so the
//! number of participants varies and may be zero), clips each participant's update (new
//! weights − global weights) to norm C, sums them, adds N(0, σ²C²) to every coordinate and
//! divides by the expected number of clients qN — a constant, so that the division does not
//! leak the sample size. That is the sampled Gaussian mechanism at the client level, with the
//! same accountant.
//!
//! **Neighbouring relation and sensitivity.** Both are accounted under add/remove-one: two
//! data sets are neighbours when one holds one more record than the other — one example for
//! DP-SGD (example-level privacy), one client with all its data for DP-FedAvg (client-level
//! privacy). Clipping bounds the L2 sensitivity of the noised sum to C under that relation
//! (it would be 2C under replace-one, which would need twice the noise for the same ε). The
//! RDP bound of the Poisson-sampled Gaussian (Mironov, Talwar & Zhang 2019) is stated for
//! add/remove, which is why both mechanisms sample by Poisson rather than a fixed-size batch.
//!
//! Noise (and, upstream, the sampling) comes from a [`PrivacyRng`] keyed by a secret drawn
//! from the OS (`rng::PrivacySecret`), never from the job's public seed: whoever knows the
//! seed could otherwise regenerate the noise and subtract it.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_finite};
use crate::federated::fedavg::check_updates;
use crate::params::l2_norm;
use crate::rng::{self, PrivacyRng};

/// Parameters of the Gaussian mechanism on clipped contributions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// Clipping norm C of each contribution (example gradient or client update).
    pub clip_norm: f64,
    /// Noise standard deviation as a multiple σ of the clipping norm.
    pub noise_multiplier: f64,
}

impl DpConfig {
    /// Checks the parameters are finite and positive (σ may be 0 for clipping alone).
    pub fn validate(&self) -> Result<()> {
        if !(self.clip_norm > 0.0 && self.clip_norm.is_finite()) {
            return Err(LearnError::Config("clip norm must be positive".into()));
        }
        if !(self.noise_multiplier >= 0.0 && self.noise_multiplier.is_finite()) {
            return Err(LearnError::Config(
                "noise multiplier must be non-negative".into(),
            ));
        }
        Ok(())
    }
}

/// Scales `v` in place so that its L2 norm is at most `clip_norm`; returns the norm before.
/// A vector with a NaN or infinite coordinate is refused: a NaN norm would pass the
/// comparison unclipped and an infinite one would turn the vector into NaN. (The norm of
/// finite f32 values, summed in f64, cannot overflow.)
pub fn clip(v: &mut [f32], clip_norm: f64) -> Result<f64> {
    check_finite("vector", 0, v)?;
    let norm = l2_norm(v);
    if norm > clip_norm {
        let s = (clip_norm / norm) as f32;
        v.iter_mut().for_each(|x| *x *= s);
    }
    Ok(norm)
}

/// Adds independent N(0, std²) noise to every coordinate, drawn from the secret stream `rng`.
pub fn add_gaussian(v: &mut [f32], std: f64, rng: &mut PrivacyRng) {
    if std == 0.0 {
        return;
    }
    v.iter_mut()
        .for_each(|x| *x += (rng::gaussian(rng) * std) as f32);
}

/// DP-FedAvg aggregation of `len`-long updates: clip each, sum, add N(0, σ²C²) drawn from
/// the secret stream `noise`, divide by `expected_clients`. Returns the noised mean update;
/// a round whose Poisson sample is empty still returns noise.
pub fn dp_mean(
    updates: &[Vec<f32>],
    len: usize,
    cfg: &DpConfig,
    expected_clients: f64,
    noise: &mut PrivacyRng,
) -> Result<Vec<f32>> {
    cfg.validate()?;
    if !(expected_clients > 0.0 && expected_clients.is_finite()) {
        return Err(LearnError::Config(
            "the expected number of clients must be positive".into(),
        ));
    }
    if !updates.is_empty() && check_updates(updates)? != len {
        return Err(LearnError::LengthMismatch {
            got: updates[0].len(),
            expected: len,
        });
    }
    let mut sum = vec![0f32; len];
    for u in updates {
        let mut c = u.clone();
        clip(&mut c, cfg.clip_norm)?;
        sum.iter_mut().zip(&c).for_each(|(s, x)| *s += x);
    }
    add_gaussian(&mut sum, cfg.noise_multiplier * cfg.clip_norm, noise);
    let scale = (1.0 / expected_clients) as f32;
    sum.iter_mut().for_each(|x| *x *= scale);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_the_norm_and_keeps_the_direction() {
        let mut v = vec![3.0, 4.0];
        assert_eq!(clip(&mut v, 1.0).unwrap(), 5.0);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut w = vec![0.3, 0.4];
        clip(&mut w, 1.0).unwrap();
        assert_eq!(w, vec![0.3, 0.4]);
    }

    #[test]
    fn dp_mean_without_noise_is_the_mean_of_clipped_updates_and_noise_has_the_right_scale() {
        let cfg = DpConfig {
            clip_norm: 1.0,
            noise_multiplier: 0.0,
        };
        let secret = rng::PrivacySecret::for_testing([9; 32]);
        let stream = || secret.stream("test", 0);
        let m = dp_mean(
            &[vec![3.0, 4.0], vec![0.1, 0.0]],
            2,
            &cfg,
            2.0,
            &mut stream(),
        )
        .unwrap();
        assert!((m[0] - 0.35).abs() < 1e-6 && (m[1] - 0.4).abs() < 1e-6);
        let cfg = DpConfig {
            clip_norm: 2.0,
            noise_multiplier: 1.5,
        };
        let zeros = vec![vec![0.0; 100_000]];
        let n = dp_mean(&zeros, 100_000, &cfg, 1.0, &mut stream()).unwrap();
        let std = (n.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / n.len() as f64).sqrt();
        assert!((std - 3.0).abs() < 0.03, "noise std {std}");
        assert_eq!(
            n,
            dp_mean(&zeros, 100_000, &cfg, 1.0, &mut stream()).unwrap()
        );
        assert_eq!(dp_mean(&[], 4, &cfg, 1.0, &mut stream()).unwrap().len(), 4);
    }
}

//! A client's plaintext contribution, before masking: quantised, weighted and noised.
//!
//! Every random choice a client makes comes from one 32-byte secret through BLAKE3
//! `derive_key` with a context per purpose and the round id, so the same secret replays the
//! same round exactly (the simulator relies on it) and never repeats across rounds.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::config::Round;
use crate::dp;
use crate::error::{Error, Result};
use crate::quantize::{levels, quantize};
use crate::{ClientId, RoundId};

/// The per-purpose secrets of one client in one round.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ClientSeeds {
    /// X25519 secret of the cipher key pair.
    pub cipher_secret: [u8; 32],
    /// X25519 secret of the mask key pair (Shamir-shared).
    pub mask_secret: [u8; 32],
    /// Self-mask seed b (Shamir-shared).
    pub self_seed: [u8; 32],
    /// Seed of the Shamir polynomials' random coefficients.
    pub sharing: [u8; 32],
    /// Seed of the stochastic rounding.
    pub rounding: [u8; 32],
    /// Seed of the differential privacy noise.
    pub noise: [u8; 32],
}

impl ClientSeeds {
    /// Derives every seed from the client's `secret` for `round`.
    pub fn derive(secret: &[u8; 32], round: &RoundId) -> ClientSeeds {
        let one = |purpose: &str| {
            let mut hasher =
                blake3::Hasher::new_derive_key(&format!("aifactory secagg v1 client {purpose}"));
            hasher.update(secret);
            hasher.update(&round.0);
            *hasher.finalize().as_bytes()
        };
        ClientSeeds {
            cipher_secret: one("cipher secret"),
            mask_secret: one("mask secret"),
            self_seed: one("self seed"),
            sharing: one("sharing"),
            rounding: one("rounding"),
            noise: one("noise"),
        }
    }
}

/// The contribution of `client` before masking: `params` weighted quantised coordinates
/// (plus noise when DP is on) and the weight itself, as residues to be summed modulo 2^k.
pub fn encode_input(
    round: &Round,
    client: ClientId,
    update: &[f32],
    samples: u32,
    seeds: &ClientSeeds,
) -> Result<Vec<u64>> {
    let config = &round.config;
    if update.len() != config.params as usize {
        return Err(Error::Input(format!(
            "client {client}: {} parameters, the round expects {}",
            update.len(),
            config.params
        )));
    }
    if samples == 0 || samples > config.sample_count_max {
        return Err(Error::Input(format!(
            "client {client}: sample count {samples} outside 1..={}",
            config.sample_count_max
        )));
    }
    let clipped;
    let update = match &config.dp {
        Some(dp_config) => {
            clipped = dp::clip_l2(update, dp_config.clip_norm_l2);
            &clipped[..]
        }
        None => update,
    };
    let mut values = quantize(
        update,
        config.clip,
        u32::from(config.value_bits),
        &seeds.rounding,
    )?;
    let weight = u64::from(samples);
    values.iter_mut().for_each(|v| *v *= weight);
    if let Some(std) = config.noise_std() {
        dp::add_noise(&mut values, std, &seeds.noise);
    }
    values.push(weight);
    Ok(values)
}

/// The contribution of `client` for an exact integer sum: `values`, each in `0..=2^b - 1`,
/// taken as already quantised, with weight 1 (so the trainer learns Σ values exactly, and the
/// survivor count as the weight). For sums that must be exact, such as the counts and
/// fixed-point moments behind a job's standardisation statistics; a round with differential
/// privacy refuses it, since its noise would make the sum inexact.
pub fn encode_integers(round: &Round, client: ClientId, values: &[u64]) -> Result<Vec<u64>> {
    let config = &round.config;
    if config.dp.is_some() {
        return Err(Error::Input(format!(
            "client {client}: a round with differential privacy takes no exact integers"
        )));
    }
    if values.len() != config.params as usize {
        return Err(Error::Input(format!(
            "client {client}: {} values, the round expects {}",
            values.len(),
            config.params
        )));
    }
    let top = levels(u32::from(config.value_bits));
    if let Some(index) = values.iter().position(|v| *v > top) {
        return Err(Error::Input(format!(
            "client {client}: value {index} is above the round's {top}"
        )));
    }
    let mut out = values.to_vec();
    out.push(1);
    Ok(out)
}

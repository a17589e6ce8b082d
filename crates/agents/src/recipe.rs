//! What a job trains, read from its terms and its starting model: the model file (spec,
//! weights and the job-wide featurizer), local training, the aggregation rule and the server
//! optimiser, turned from the ledger's integers into the learning stack's settings, the same
//! way by every party.
//!
//! The job fixes the feature encoding: its model's starting blob is a `learn` model file that
//! carries a featurizer (categories and numeric columns), and every provider and validator
//! encodes its rows with it, so a column means the same to all of them.

use aifactory_learn::data::features::Featurizer;
use aifactory_learn::federated::Rule;
use aifactory_learn::federated::server_opt::ServerOptimizer;
use aifactory_learn::privacy::clip_noise::DpConfig;
use aifactory_learn::rng::derive_seed;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{Optimizer, TrainConfig};
use aifactory_types::lifecycle::{
    Aggregation, JobId, JobTerms, MICROS_PER_UNIT, Micros, PrivacyUnit,
};
use aifactory_types::{Address, Hash};
use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use std::time::Instant;

use crate::nodes::Nodes;

/// Millionths as a real number.
pub fn real(micros: Micros) -> f64 {
    micros as f64 / MICROS_PER_UNIT as f64
}

/// Local training as the terms set it: SGD without momentum (FedAvg's client), the proximal
/// term for FedProx, a seed per job, provider and round from the job's public seed, and with
/// differential privacy per example DP-SGD with the job's clip norm and noise multiplier (its
/// noise drawn from the provider's own secret randomness): exactly what the RDP accountant
/// charges each provider's ε for. Privacy per provider adds its noise in the secure sum
/// instead (`secure::round_config`), so local training is plain.
pub fn local_training(terms: &JobTerms, job: JobId, provider: &Address, round: u32) -> TrainConfig {
    let t = &terms.training;
    let prox_mu = match terms.aggregation {
        Aggregation::FedProx { mu } => real(mu),
        _ => 0.0,
    };
    TrainConfig {
        epochs: usize::from(t.epochs),
        batch_size: t.batch_size as usize,
        learning_rate: real(t.learning_rate),
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        prox_mu,
        seed: derive_seed(
            t.seed,
            &format!("job {job} provider {provider}"),
            u64::from(round),
        ),
        dp_sgd: terms
            .privacy
            .as_ref()
            .filter(|p| p.unit == PrivacyUnit::Example)
            .map(|p| DpConfig {
                clip_norm: real(p.clip_norm),
                noise_multiplier: real(p.noise_multiplier),
            }),
        ..TrainConfig::default()
    }
}

/// The rule that combines a round's updates.
pub fn rule(terms: &JobTerms) -> Rule {
    match terms.aggregation {
        Aggregation::FedAvg | Aggregation::FedProx { .. } => Rule::Mean,
        Aggregation::Median => Rule::Median,
        Aggregation::TrimmedMean { trim_bps } => Rule::TrimmedMean {
            beta: f64::from(trim_bps) / 10_000.0,
        },
        Aggregation::Krum { byzantine } => Rule::Krum {
            f: usize::from(byzantine),
        },
    }
}

/// The server optimiser: plain steps of the server learning rate, with momentum if set.
pub fn server(terms: &JobTerms) -> ServerOptimizer {
    let lr = real(terms.server.learning_rate);
    match terms.server.momentum {
        0 => ServerOptimizer::Sgd { lr },
        m => ServerOptimizer::AvgM {
            lr,
            momentum: real(m),
        },
    }
}

/// A blob from the nodes (the client checks it against its hash: a node that serves other
/// bytes is caught, not trusted).
pub async fn fetch_blob(nodes: &Nodes, hash: &Hash) -> anyhow::Result<Bytes> {
    let started = Instant::now();
    let bytes = nodes
        .blob(hash)
        .await
        .with_context(|| format!("fetching blob {hash}"))?;
    tracing::debug!(%hash, bytes = bytes.len(), ms = millis(started), "blob fetched");
    Ok(bytes)
}

/// Stores `bytes` on the nodes; returns their hash.
pub async fn put_blob(nodes: &Nodes, bytes: Vec<u8>) -> anyhow::Result<Hash> {
    let started = Instant::now();
    let hash = Hash::from(blake3::hash(&bytes));
    let bytes = Bytes::from(bytes);
    nodes
        .put_blob(&hash, bytes.clone())
        .await
        .with_context(|| format!("storing blob {hash}"))?;
    tracing::debug!(%hash, bytes = bytes.len(), ms = millis(started), "blob stored");
    Ok(hash)
}

/// Milliseconds since `started`, for the timings agents log (`scripts/bench-job` reads them).
pub fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A model file from the blob store, which must carry the job's featurizer.
pub async fn fetch_model(nodes: &Nodes, hash: &Hash) -> anyhow::Result<(StoredModel, Featurizer)> {
    let bytes = fetch_blob(nodes, hash).await?;
    let model = StoredModel::from_bytes(&bytes)
        .map_err(|e| anyhow!("blob {hash} is not a model file: {e}"))?;
    let features = model.features.clone().ok_or_else(|| {
        anyhow!(
            "model {hash} carries no featurizer: a job's model must fix the feature encoding \
             (make one with `aifactory model init`)"
        )
    })?;
    Ok((model, features))
}

#[cfg(test)]
mod tests {
    use aifactory_types::lifecycle::{LocalTraining, PrivacyTerms, ServerOptimiser};

    use super::*;

    #[test]
    fn terms_become_the_learning_stacks_settings() {
        let mut terms = JobTerms {
            training: LocalTraining {
                epochs: 2,
                batch_size: 64,
                learning_rate: 50_000,
                seed: 7,
            },
            aggregation: Aggregation::TrimmedMean { trim_bps: 1_000 },
            server: ServerOptimiser {
                learning_rate: 1_000_000,
                momentum: 900_000,
            },
            ..JobTerms::default()
        };
        let a = Address([1; 32]);
        let cfg = local_training(&terms, 3, &a, 1);
        assert_eq!(
            (cfg.epochs, cfg.batch_size, cfg.learning_rate),
            (2, 64, 0.05)
        );
        assert_ne!(
            cfg.seed,
            local_training(&terms, 3, &a, 2).seed,
            "a seed per round"
        );
        assert_ne!(
            cfg.seed,
            local_training(&terms, 3, &Address([2; 32]), 1).seed
        );
        assert_eq!(rule(&terms), Rule::TrimmedMean { beta: 0.1 });
        assert_eq!(
            server(&terms),
            ServerOptimizer::AvgM {
                lr: 1.0,
                momentum: 0.9
            }
        );
        terms.server.momentum = 0;
        assert_eq!(server(&terms), ServerOptimizer::Sgd { lr: 1.0 });
        assert_eq!(cfg.dp_sgd, None);
        terms.privacy = Some(PrivacyTerms {
            clip_norm: 1_000_000,
            noise_multiplier: 1_100_000,
            delta_pico: 10_000_000,
            ..Default::default()
        });
        let dp = local_training(&terms, 3, &a, 1).dp_sgd.unwrap();
        assert_eq!((dp.clip_norm, dp.noise_multiplier), (1.0, 1.1));
        if let Some(privacy) = &mut terms.privacy {
            privacy.unit = PrivacyUnit::Provider;
        }
        assert_eq!(
            local_training(&terms, 3, &a, 1).dp_sgd,
            None,
            "per-provider noise goes into the secure sum, not into local steps"
        );
        terms.aggregation = Aggregation::FedProx { mu: 10_000 };
        assert_eq!(local_training(&terms, 3, &a, 1).prox_mu, 0.01);
        assert_eq!(rule(&terms), Rule::Mean);
    }
}

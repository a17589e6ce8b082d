//! A federated job simulated on one machine: every client's data in memory, rounds run
//! in order, clients trained in parallel threads.
//!
//! Reproducibility: round r selects clients from (seed, r); client i in round r trains
//! with seed (seed, "client", r·n + i) from the current global weights with a fresh local
//! optimiser (Adam state resets each round, as in Flower's default client); updates are
//! combined in client-index order. Clients run on up to `threads` scoped threads; since
//! weights are always loaded from flat vectors and shuffling uses per-client streams,
//! the result is identical for any thread count — except that dropout draws from burn's
//! process-global RNG, so a spec with dropout is trained on one thread.
//!
//! Attacks for robustness experiments are part of the simulation: a client marked
//! [`Behaviour::Scale`] multiplies its honest update by a factor (a negative factor is a
//! sign flip); [`Behaviour::Alie`] and [`Behaviour::Ipm`] are colluding, omniscient
//! attackers that craft their update from the round's honest updates; and
//! [`Behaviour::LabelFlip`] trains honestly on flipped labels.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result, check_max};
use crate::federated::Rule;
use crate::federated::selection;
use crate::federated::server_opt::{ServerOptimizer, ServerState};
use crate::limits;
use crate::metrics::classification::accuracy;
use crate::params;
use crate::predict::predict_native;
use crate::privacy::clip_noise::{self, DpConfig};
use crate::rng::{self, PrivacySecret};
use crate::samples::Samples;
use crate::spec::ModelSpec;
use crate::store::StoredModel;
use crate::train::{self, TrainConfig};

/// How a simulated client behaves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Behaviour {
    /// Sends its honest update.
    #[default]
    Honest,
    /// Sends its honest update multiplied by this factor (negative: sign flip).
    Scale(f32),
    /// "A little is enough" (Baruch et al. 2019): sends μ − z·σ, the coordinate-wise mean of
    /// the round's honest updates minus z of their standard deviations.
    Alie(f32),
    /// Inner-product manipulation (Xie et al. 2019): sends −ε times the mean of the round's
    /// honest updates.
    Ipm(f32),
    /// Trains on its data with labels flipped (y → classes − 1 − y), then sends that update.
    LabelFlip,
}

/// A federated job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FedConfig {
    /// Rounds to run.
    pub rounds: usize,
    /// Clients selected per round; with DP-FedAvg the expected number, each client taking
    /// part independently with probability clients_per_round / clients (Poisson sampling).
    pub clients_per_round: usize,
    /// How updates are combined.
    pub rule: Rule,
    /// How the combined update is applied.
    pub server: ServerOptimizer,
    /// Local training of each client (its `prox_mu` > 0 makes this FedProx).
    pub local: TrainConfig,
    /// DP-FedAvg: clip each update and noise the sum (requires [`Rule::Mean`]).
    pub dp: Option<DpConfig>,
    /// The job's seed: public, for reproducibility (selection without DP, local shuffling).
    pub seed: u64,
    /// Secret for DP-FedAvg's client sampling and noise and the clients' DP-SGD. `None` (the
    /// default, and what a real job uses) draws a fresh one from the OS; never serialised.
    #[serde(skip)]
    pub privacy_secret: Option<PrivacySecret>,
    /// Worker threads for client training.
    pub threads: usize,
}

/// What one round did.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundReport {
    /// Round number from 0.
    pub round: usize,
    /// Clients that took part.
    pub participants: Vec<usize>,
    /// Test accuracy of the new global model, if a test set was given.
    pub test_accuracy: Option<f64>,
}

/// The outcome of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct FedOutput {
    /// Final global parameters.
    pub params: Vec<f32>,
    /// One report per round.
    pub rounds: Vec<RoundReport>,
}

/// Runs a federated job over `clients` starting from `start`.
pub fn simulate(
    spec: &ModelSpec,
    start: &[f32],
    clients: &[Samples],
    behaviours: &[Behaviour],
    test: Option<&Samples>,
    cfg: &FedConfig,
    progress: &mut dyn FnMut(&RoundReport),
) -> Result<FedOutput> {
    check_max("clients", clients.len(), limits::CLIENTS_MAX)?;
    check_max("rounds", cfg.rounds, limits::ROUNDS_MAX)?;
    if behaviours.len() != clients.len() {
        return Err(LearnError::Config(
            "one behaviour per client is needed".into(),
        ));
    }
    if cfg.dp.is_some() && cfg.rule != Rule::Mean {
        return Err(LearnError::Config("DP-FedAvg needs the mean rule".into()));
    }
    for c in clients {
        train::check_fit(spec, c)?;
    }
    let mut global = start.to_vec();
    let mut server = ServerState::new(cfg.server, global.len())?;
    let mut rounds = Vec::with_capacity(cfg.rounds);
    let threads = if spec.dropout() > 0.0 {
        1
    } else {
        cfg.threads.max(1)
    };
    let privacy = cfg
        .privacy_secret
        .clone()
        .unwrap_or_else(PrivacySecret::from_os);
    for round in 0..cfg.rounds {
        let picked = match cfg.dp {
            None => {
                selection::select(cfg.seed, round as u64, clients.len(), cfg.clients_per_round)?
            }
            Some(_) => selection::poisson(
                &mut privacy.stream("dp-fedavg sample", round as u64),
                clients.len(),
                cfg.clients_per_round as f64 / clients.len() as f64,
            )?,
        };
        let updates = train_clients(
            spec, &global, clients, &picked, cfg, round, threads, &privacy, behaviours,
        )?;
        let updates = attack(updates, &picked, behaviours);
        let delta = match &cfg.dp {
            None => {
                let weights: Vec<f64> = picked.iter().map(|&i| clients[i].rows() as f64).collect();
                cfg.rule.combine(&updates, &weights)?
            }
            Some(dp) => clip_noise::dp_mean(
                &updates,
                global.len(),
                dp,
                cfg.clients_per_round as f64,
                &mut privacy.stream("dp-fedavg noise", round as u64),
            )?,
        };
        server.apply(&mut global, &delta)?;
        let test_accuracy = match test {
            Some(t) => Some(evaluate_accuracy(spec, &global, t)?),
            None => None,
        };
        let report = RoundReport {
            round,
            participants: picked,
            test_accuracy,
        };
        progress(&report);
        rounds.push(report);
    }
    Ok(FedOutput {
        params: global,
        rounds,
    })
}

/// Accuracy of flat parameters on a data set.
pub fn evaluate_accuracy(spec: &ModelSpec, params: &[f32], data: &Samples) -> Result<f64> {
    let model = StoredModel::new(spec.clone(), params.to_vec())?;
    let probs = predict_native(&model, &data.x)?;
    Ok(accuracy(&data.labels, &probs.argmax()))
}

#[allow(clippy::too_many_arguments)]
fn train_clients(
    spec: &ModelSpec,
    global: &[f32],
    clients: &[Samples],
    picked: &[usize],
    cfg: &FedConfig,
    round: usize,
    threads: usize,
    privacy: &PrivacySecret,
    behaviours: &[Behaviour],
) -> Result<Vec<Vec<f32>>> {
    let one = |i: usize| -> Result<Vec<f32>> {
        let mut local = cfg.local.clone();
        let index = (round * clients.len() + i) as u64;
        local.seed = rng::derive_seed(cfg.seed, "client", index);
        local.privacy_secret = Some(privacy.derive("client", index));
        let flipped;
        let data = match behaviours[i] {
            Behaviour::LabelFlip => {
                flipped = flip_labels(&clients[i]);
                &flipped
            }
            _ => &clients[i],
        };
        let out = train::train(spec, global, data, &local)?;
        Ok(params::sub(&out.params, global))
    };
    if threads <= 1 {
        return picked.iter().map(|&i| one(i)).collect();
    }
    let mut results: Vec<Option<Result<Vec<f32>>>> = (0..picked.len()).map(|_| None).collect();
    let chunk = picked.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (ids, slots) in picked.chunks(chunk).zip(results.chunks_mut(chunk)) {
            let one = &one;
            s.spawn(move || {
                for (&i, slot) in ids.iter().zip(slots) {
                    *slot = Some(one(i));
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every slot filled"))
        .collect()
}

/// The same samples with every label y replaced by classes − 1 − y.
fn flip_labels(data: &Samples) -> Samples {
    let mut flipped = data.clone();
    let top = data.classes as u32 - 1;
    flipped.labels.iter_mut().for_each(|y| *y = top - *y);
    flipped
}

/// Replaces the updates of attacking clients; ALIE and IPM attackers collude and know the
/// round's honest updates (the strongest attacker the papers consider).
fn attack(updates: Vec<Vec<f32>>, picked: &[usize], behaviours: &[Behaviour]) -> Vec<Vec<f32>> {
    let honest: Vec<&Vec<f32>> = updates
        .iter()
        .zip(picked)
        .filter(|(_, i)| behaviours[**i] == Behaviour::Honest)
        .map(|(u, _)| u)
        .collect();
    let len = updates.first().map_or(0, Vec::len);
    let count = honest.len().max(1) as f64;
    let mean: Vec<f64> = (0..len)
        .map(|j| honest.iter().map(|u| f64::from(u[j])).sum::<f64>() / count)
        .collect();
    let std: Vec<f64> = (0..len)
        .map(|j| {
            let var = honest
                .iter()
                .map(|u| (f64::from(u[j]) - mean[j]).powi(2))
                .sum::<f64>()
                / count;
            var.sqrt()
        })
        .collect();
    updates
        .into_iter()
        .zip(picked)
        .map(|(u, &i)| match behaviours[i] {
            Behaviour::Honest | Behaviour::LabelFlip => u,
            Behaviour::Scale(s) => u.iter().map(|x| x * s).collect(),
            Behaviour::Alie(z) => mean
                .iter()
                .zip(&std)
                .map(|(m, s)| (m - f64::from(z) * s) as f32)
                .collect(),
            Behaviour::Ipm(eps) => mean.iter().map(|m| (-f64::from(eps) * m) as f32).collect(),
        })
        .collect()
}

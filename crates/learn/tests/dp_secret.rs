//! DP noise and DP sampling come from secret randomness: the job seed is public (it is
//! published so runs can be reproduced), so noise drawn from it could be regenerated and
//! subtracted. Two runs with the same seed must draw different noise, unless a test-only
//! privacy secret is given.

use aifactory_learn::federated::Rule;
use aifactory_learn::federated::server_opt::ServerOptimizer;
use aifactory_learn::federated::simulation::{self, Behaviour, FedConfig};
use aifactory_learn::privacy::clip_noise::DpConfig;
use aifactory_learn::rng::PrivacySecret;
use aifactory_learn::train::{self, TrainConfig};
use aifactory_learn::{ModelSpec, Samples, params};

fn data(rows: usize, shift: f32) -> Samples {
    let x = (0..rows * 3)
        .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5 + shift)
        .collect();
    let labels = (0..rows).map(|i| (i % 2) as u32).collect();
    Samples::new(x, labels, 3, 2).unwrap()
}

fn spec() -> ModelSpec {
    ModelSpec::from_json(r#"{"kind":"logreg","inputs":3,"outputs":1}"#).unwrap()
}

fn dp() -> DpConfig {
    DpConfig {
        clip_norm: 1.0,
        noise_multiplier: 1.0,
    }
}

fn dp_sgd(config: &TrainConfig) -> Vec<f32> {
    let start = params::init(&spec(), 1);
    train::train(&spec(), &start, &data(64, 0.0), config)
        .unwrap()
        .params
}

fn dp_fedavg(config: &FedConfig) -> Vec<f32> {
    let clients: Vec<Samples> = (0..6).map(|i| data(16, i as f32 * 0.01)).collect();
    let start = params::init(&spec(), 1);
    simulation::simulate(
        &spec(),
        &start,
        &clients,
        &[Behaviour::Honest; 6],
        None,
        config,
        &mut |_| {},
    )
    .unwrap()
    .params
}

fn sgd_config() -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 16,
        dp_sgd: Some(dp()),
        seed: 0,
        ..TrainConfig::default()
    }
}

fn fed_config() -> FedConfig {
    FedConfig {
        rounds: 2,
        clients_per_round: 3,
        rule: Rule::Mean,
        server: ServerOptimizer::Sgd { lr: 1.0 },
        local: TrainConfig {
            epochs: 1,
            batch_size: 8,
            ..TrainConfig::default()
        },
        dp: Some(dp()),
        seed: 0,
        threads: 1,
        privacy_secret: None,
    }
}

/// Regression: DP-SGD drew its sample and noise from the shuffle stream and DP-FedAvg its
/// noise from the job seed, so anyone knowing the seed could regenerate the noise.
#[test]
fn dp_noise_does_not_follow_from_the_public_seed() {
    assert_ne!(dp_sgd(&sgd_config()), dp_sgd(&sgd_config()), "DP-SGD");
    assert_ne!(
        dp_fedavg(&fed_config()),
        dp_fedavg(&fed_config()),
        "DP-FedAvg"
    );
}

/// With a test-only secret the same run replays exactly, and another secret changes it.
#[test]
fn a_test_secret_replays_dp_noise() {
    let secret = |b: u8| Some(PrivacySecret::for_testing([b; 32]));
    let sgd = |b: u8| {
        dp_sgd(&TrainConfig {
            privacy_secret: secret(b),
            ..sgd_config()
        })
    };
    assert_eq!(sgd(1), sgd(1));
    assert_ne!(sgd(1), sgd(2));
    let fed = |b: u8| {
        dp_fedavg(&FedConfig {
            privacy_secret: secret(b),
            ..fed_config()
        })
    };
    assert_eq!(fed(1), fed(1));
    assert_ne!(fed(1), fed(2));
}

/// Regression: DP-FedAvg selected a fixed number of clients without replacement but was
/// accounted as the Poisson-sampled Gaussian. It now samples each client independently with
/// q = clients_per_round / clients, so the number of participants varies around q·n.
#[test]
fn dp_fedavg_samples_clients_by_poisson_as_accounted() {
    let clients: Vec<Samples> = (0..6).map(|i| data(16, i as f32 * 0.01)).collect();
    let cfg = FedConfig {
        rounds: 40,
        privacy_secret: Some(PrivacySecret::for_testing([4; 32])),
        ..fed_config()
    };
    let mut sizes = Vec::new();
    simulation::simulate(
        &spec(),
        &params::init(&spec(), 1),
        &clients,
        &[Behaviour::Honest; 6],
        None,
        &cfg,
        &mut |r| sizes.push(r.participants.len()),
    )
    .unwrap();
    assert!(
        sizes.iter().any(|s| *s != 3),
        "fixed-size sample: {sizes:?}"
    );
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    // Binomial(6, 1/2) over 40 rounds: mean 3, standard error 0.19.
    assert!(
        (mean - 3.0).abs() < 0.8,
        "mean participants {mean}: {sizes:?}"
    );
}

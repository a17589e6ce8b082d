//! Same seed, same weights: runs repeated in one process give identical content ids.

use aifactory_learn::federated::Rule;
use aifactory_learn::federated::partition;
use aifactory_learn::federated::server_opt::ServerOptimizer;
use aifactory_learn::federated::simulation::{self, Behaviour, FedConfig};
use aifactory_learn::privacy::clip_noise::DpConfig;
use aifactory_learn::rng::PrivacySecret;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{self, Optimizer, TrainConfig};
use aifactory_learn::{ModelSpec, datasets, params};

fn id(spec: &ModelSpec, p: Vec<f32>) -> String {
    StoredModel::new(spec.clone(), p).unwrap().content_id()
}

#[test]
fn same_seed_same_content_id_for_every_training_mode() {
    let adult = datasets::adult().unwrap();
    let data = adult.train.samples.subset(&(0..4000).collect::<Vec<_>>());
    let spec = ModelSpec::from_json(
        r#"{"kind":"mlp","inputs":108,"hidden":[32],"outputs":1,"dropout":0.2}"#,
    )
    .unwrap();
    let start = params::init(&spec, 1);
    let configs = [
        TrainConfig {
            epochs: 2,
            seed: 3,
            ..TrainConfig::default()
        },
        TrainConfig {
            epochs: 1,
            optimizer: Optimizer::Sgd { momentum: 0.9 },
            learning_rate: 0.05,
            weight_decay: 1e-4,
            prox_mu: 0.1,
            seed: 3,
            ..TrainConfig::default()
        },
        TrainConfig {
            epochs: 1,
            batch_size: 200,
            dp_sgd: Some(DpConfig {
                clip_norm: 1.0,
                noise_multiplier: 1.1,
            }),
            seed: 3,
            privacy_secret: Some(PrivacySecret::for_testing([3; 32])),
            ..TrainConfig::default()
        },
    ];
    for cfg in configs {
        let a = train::train(&spec, &start, &data, &cfg).unwrap();
        let b = train::train(&spec, &start, &data, &cfg).unwrap();
        assert_eq!(id(&spec, a.params.clone()), id(&spec, b.params), "{cfg:?}");
        let c = train::train(
            &spec,
            &start,
            &data,
            &TrainConfig {
                seed: 4,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_ne!(
            id(&spec, a.params.clone()),
            id(&spec, c.params),
            "a different seed must change the weights"
        );
        assert_ne!(
            id(&spec, a.params),
            id(&spec, start.clone()),
            "training must change the weights"
        );
    }
}

#[test]
fn federated_runs_are_identical_across_thread_counts() {
    let adult = datasets::adult().unwrap();
    let data = adult.train.samples.subset(&(0..6000).collect::<Vec<_>>());
    let spec =
        ModelSpec::from_json(r#"{"kind":"mlp","inputs":108,"hidden":[16],"outputs":1}"#).unwrap();
    let parts: Vec<_> = partition::dirichlet(&data.labels, 2, 6, 0.5, 50, 2)
        .unwrap()
        .iter()
        .map(|r| data.subset(r))
        .collect();
    let mut ids = Vec::new();
    for (threads, server) in [
        (
            1,
            ServerOptimizer::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.99,
                tau: 1e-3,
            },
        ),
        (
            2,
            ServerOptimizer::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.99,
                tau: 1e-3,
            },
        ),
    ] {
        let cfg = FedConfig {
            rounds: 3,
            clients_per_round: 4,
            rule: Rule::Mean,
            server,
            local: TrainConfig {
                prox_mu: 0.01,
                ..TrainConfig::default()
            },
            dp: Some(DpConfig {
                clip_norm: 0.5,
                noise_multiplier: 0.3,
            }),
            seed: 9,
            threads,
            // DP noise comes from a secret; a fixed test secret makes it replayable.
            privacy_secret: Some(PrivacySecret::for_testing([5; 32])),
        };
        let out = simulation::simulate(
            &spec,
            &params::init(&spec, 2),
            &parts,
            &[Behaviour::Honest; 6],
            None,
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        ids.push(id(&spec, out.params));
    }
    assert_eq!(ids[0], ids[1]);
}

//! The Rust side of `scripts/bench-learn`: one local epoch of the Adult MLP, and a
//! 10-client, 5-round FedAvg simulation of the same job. Prints one JSON object.
//!
//! The job: Adult one-hot/standardised (108 inputs), MLP 108→64→32→1 ReLU, Adam 1e-3
//! (reset each round), batch 64, 10 disjoint IID clients, 1 local epoch per round,
//! accuracy on adult.test after each round. Build with `--release`.

use std::time::Instant;

use aifactory_learn::federated::Rule;
use aifactory_learn::federated::partition;
use aifactory_learn::federated::server_opt::ServerOptimizer;
use aifactory_learn::federated::simulation::{self, Behaviour, FedConfig};
use aifactory_learn::train::{self, TrainConfig};
use aifactory_learn::{ModelSpec, datasets, params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads: usize = std::env::args().nth(1).map_or(Ok(2), |s| s.parse())?;
    let adult = datasets::adult()?;
    let spec = ModelSpec::from_json(
        r#"{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1,"activation":"relu"}"#,
    )?;
    let start = params::init(&spec, 1);
    let local = TrainConfig {
        epochs: 1,
        batch_size: 64,
        learning_rate: 1e-3,
        ..TrainConfig::default()
    };
    let mut epochs = Vec::new();
    for rep in 0..5 {
        let t = Instant::now();
        train::train(
            &spec,
            &start,
            &adult.train.samples,
            &TrainConfig {
                seed: rep,
                ..local.clone()
            },
        )?;
        epochs.push(t.elapsed().as_secs_f64());
    }
    epochs.sort_by(f64::total_cmp);
    let parts: Vec<_> = partition::iid(adult.train.samples.rows(), 10, 1)?
        .iter()
        .map(|r| adult.train.samples.subset(r))
        .collect();
    let cfg = FedConfig {
        rounds: 5,
        clients_per_round: 10,
        rule: Rule::Mean,
        server: ServerOptimizer::Sgd { lr: 1.0 },
        local,
        dp: None,
        seed: 1,
        threads,
        privacy_secret: None,
    };
    let t = Instant::now();
    let out = simulation::simulate(
        &spec,
        &start,
        &parts,
        &[Behaviour::Honest; 10],
        Some(&adult.test.samples),
        &cfg,
        &mut |_| {},
    )?;
    let fed_s = t.elapsed().as_secs_f64();
    let acc: Vec<f64> = out.rounds.iter().filter_map(|r| r.test_accuracy).collect();
    println!(
        "{}",
        serde_json::json!({"epoch_s_median": epochs[epochs.len() / 2], "epoch_s_all": epochs, "fed_s": fed_s, "fed_threads": threads, "round_accuracy": acc})
    );
    Ok(())
}

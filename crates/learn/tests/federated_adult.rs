//! Federated training on disjoint parts of Adult: against centralised training on the
//! pooled data, and under poisoning by 20 % of the clients.

use aifactory_learn::datasets;
use aifactory_learn::federated::Rule;
use aifactory_learn::federated::partition;
use aifactory_learn::federated::server_opt::ServerOptimizer;
use aifactory_learn::federated::simulation::{self, Behaviour, FedConfig};
use aifactory_learn::train::{self, TrainConfig};
use aifactory_learn::{ModelSpec, Samples, params};

const SPEC: &str =
    r#"{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1,"activation":"relu"}"#;
const ROUNDS: usize = 5;

fn clients(train: &Samples, n: usize, seed: u64) -> Vec<Samples> {
    partition::iid(train.rows(), n, seed)
        .unwrap()
        .iter()
        .map(|rows| train.subset(rows))
        .collect()
}

fn fed(
    spec: &ModelSpec,
    parts: &[Samples],
    behaviours: &[Behaviour],
    test: &Samples,
    rule: Rule,
) -> f64 {
    let cfg = FedConfig {
        rounds: ROUNDS,
        clients_per_round: parts.len(),
        rule,
        server: ServerOptimizer::Sgd { lr: 1.0 },
        local: TrainConfig {
            epochs: 1,
            batch_size: 64,
            learning_rate: 1e-3,
            ..TrainConfig::default()
        },
        dp: None,
        seed: 7,
        threads: 2,
        privacy_secret: None,
    };
    let start = params::init(spec, 1);
    let out = simulation::simulate(
        spec,
        &start,
        parts,
        behaviours,
        Some(test),
        &cfg,
        &mut |_| {},
    )
    .unwrap();
    out.rounds.last().unwrap().test_accuracy.unwrap()
}

#[test]
fn fedavg_matches_centralised_training_within_one_point() {
    let adult = datasets::adult().unwrap();
    let spec = ModelSpec::from_json(SPEC).unwrap();
    let (train_set, test) = (&adult.train.samples, &adult.test.samples);
    let cfg = TrainConfig {
        epochs: ROUNDS,
        batch_size: 64,
        learning_rate: 1e-3,
        seed: 7,
        ..TrainConfig::default()
    };
    let central = train::train(&spec, &params::init(&spec, 1), train_set, &cfg).unwrap();
    let central_acc = simulation::evaluate_accuracy(&spec, &central.params, test).unwrap();
    println!("| setting | test accuracy |\n|---|---|");
    println!(
        "| centralised, {ROUNDS} epochs on the pooled 32,561 rows | {:.2} % |",
        100.0 * central_acc
    );
    for n in [3, 5, 10] {
        let parts = clients(train_set, n, 11);
        let acc = fed(&spec, &parts, &vec![Behaviour::Honest; n], test, Rule::Mean);
        println!(
            "| FedAvg, {n} clients (disjoint IID parts), {ROUNDS} rounds × 1 local epoch | {:.2} % |",
            100.0 * acc
        );
        assert!(
            (acc - central_acc).abs() <= 0.01,
            "FedAvg with {n} clients: {acc} vs centralised {central_acc}"
        );
    }
    assert!(central_acc > 0.84, "centralised accuracy {central_acc}");
}

#[test]
fn robust_rules_resist_twenty_percent_poisoned_clients() {
    let adult = datasets::adult().unwrap();
    let spec = ModelSpec::from_json(SPEC).unwrap();
    let (train_set, test) = (&adult.train.samples, &adult.test.samples);
    let n = 10;
    let parts = clients(train_set, n, 11);
    let honest = vec![Behaviour::Honest; n];
    let attacked = |b: Behaviour| -> Vec<Behaviour> {
        (0..n)
            .map(|i| if i < 2 { b } else { Behaviour::Honest })
            .collect()
    };
    let attacks = [
        ("clean", honest.clone()),
        ("scaled ×10", attacked(Behaviour::Scale(10.0))),
        ("sign-flipped ×(−4)", attacked(Behaviour::Scale(-4.0))),
    ];
    let rules = [
        Rule::Mean,
        Rule::Median,
        Rule::TrimmedMean { beta: 0.2 },
        Rule::Krum { f: 2 },
        Rule::MultiKrum { f: 2, m: 6 },
    ];
    let clean_fedavg = fed(&spec, &parts, &honest, test, Rule::Mean);
    println!("| rule | clean | scaled ×10 | sign-flipped ×(−4) |\n|---|---|---|---|");
    for rule in rules {
        let accs: Vec<f64> = attacks
            .iter()
            .map(|(_, b)| {
                if rule == Rule::Mean && b == &honest {
                    clean_fedavg
                } else {
                    fed(&spec, &parts, b, test, rule)
                }
            })
            .collect();
        println!(
            "| {} | {:.2} % | {:.2} % | {:.2} % |",
            rule.name(),
            100.0 * accs[0],
            100.0 * accs[1],
            100.0 * accs[2]
        );
        for (a, (name, _)) in accs.iter().zip(&attacks).skip(1) {
            match rule {
                Rule::Mean => assert!(
                    clean_fedavg - a > 0.02,
                    "FedAvg under {name} should degrade: {a} vs {clean_fedavg}"
                ),
                Rule::Median | Rule::TrimmedMean { .. } | Rule::Krum { .. } => {
                    assert!(
                        clean_fedavg - a <= 0.02,
                        "{} under {name}: {a} vs clean {clean_fedavg}",
                        rule.name()
                    )
                }
                _ => {}
            }
        }
    }
}

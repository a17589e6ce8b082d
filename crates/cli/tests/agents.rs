//! Federated jobs run by separate agent processes against a real devnet: four validator
//! nodes over loopback TCP; three `aifactory agent provider` processes, each holding a
//! disjoint third of Adult's training rows; one `aifactory agent trainer`; two `aifactory
//! agent validator` processes, each holding half of Adult's test rows. A sponsor opens a
//! FedAvg job with secure aggregation with the CLI. Its model's developer fixed the encoding
//! but not the numeric columns' statistics, so the job's first round measures them over the
//! providers' rows by secure aggregation; five training rounds follow. The agents register,
//! join, measure, train, close, verify, commit and reveal with nothing else driving them. The
//! test checks the statistics against the pooled rows', the settlement against the split by
//! hand, that `job verify` recomputes every round, and that the model is within two points of
//! centralised training on the pooled rows (both printed); then a second job with differential
//! privacy (DP-SGD at each provider) settles, and its ε and accuracy are printed; then a third
//! with privacy per provider (noise added inside the secure sum).

mod common;

use std::time::Instant;

use aifactory_learn::ModelSpec;
use aifactory_learn::data::features::{FeatureColumn, Featurizer};
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{self, Optimizer, TrainConfig};
use common::{AIF, Factory, Terms, adult, final_model, paid, split_rows, test_accuracy};

const PROVIDERS: usize = 3;
const SCORERS: usize = 2;
/// Training rounds; each job has one more, the statistics round.
const ROUNDS: usize = 5;

/// Accuracy on Adult's test rows of the same MLP trained centrally on the pooled training rows
/// for as many epochs as the job's rounds, with the job's local settings.
fn centralised_accuracy(features: &Featurizer, spec: &ModelSpec, start: &[f32]) -> f64 {
    let schema = Schema::adult();
    let train_rows = Table::read_csv(&adult("adult.data"), &schema).unwrap();
    let data = features.encode(&train_rows).unwrap();
    let config = TrainConfig {
        epochs: ROUNDS,
        batch_size: 64,
        learning_rate: 0.05,
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        seed: 11,
        ..TrainConfig::default()
    };
    let trained = train::train(spec, start, &data, &config).unwrap();
    test_accuracy(spec, &trained.params, features)
}

/// The ε each provider spends on a job that must have settled.
fn settled_epsilons(factory: &Factory, job: &serde_json::Value) -> Vec<f64> {
    assert_eq!(
        job["job"]["value"]["status"]["stage"],
        "settled",
        "{job}\n{}",
        factory.logs()
    );
    let epsilons: Vec<f64> = job["privacy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["epsilon"].as_f64().unwrap())
        .collect();
    assert_eq!(epsilons.len(), PROVIDERS);
    epsilons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_from_registered_data_to_payout_with_agents_alone() {
    // Developer, sponsor, trainer, three providers, two validators.
    let mut factory = Factory::start(3 + PROVIDERS + SCORERS, 23_000).await;
    let key = |i: usize| format!("account-{i}");
    let (developer, sponsor, trainer) = (key(0), key(1), key(2));
    let start_file = factory.register_model_with(&developer, "secure", common::GROUPS);
    factory.start_providers(PROVIDERS, 3, |_| String::new());
    factory.start_agent("trainer", "trainer", &trainer, "[trainer]\n");
    factory.start_validators(SCORERS, 3 + PROVIDERS, |_| String::new());
    factory.wait_datasets(PROVIDERS).await;

    let terms = Terms {
        rounds: ROUNDS + 1,
        secure: Some(2),
        ..Terms::default()
    }
    .write(factory.root(), "job");
    factory.cli.json(&[
        "job",
        "open",
        "--from",
        &sponsor,
        "--terms",
        terms.to_str().unwrap(),
    ]);
    let opened = Instant::now();
    let job = factory.wait_finished(1).await;
    println!(
        "job 1 finished {:.1} s after it opened",
        opened.elapsed().as_secs_f64()
    );
    let status = &job["job"]["value"]["status"];
    assert_eq!(status["stage"], "settled", "{job}\n{}", factory.logs());
    assert_eq!(job["job"]["value"]["escrow"], 0);
    assert_eq!(job["job"]["value"]["rounds_closed"], ROUNDS as u64 + 1);

    // Payouts by the split, by hand: trainer 30 AIF, validators 10 AIF shared by equal stakes,
    // providers 40 AIF by samples (each provider's rows, every round).
    let cli = &factory.cli;
    assert_eq!(paid(cli, &job, &trainer), 30 * AIF);
    for i in 0..SCORERS {
        assert_eq!(
            paid(cli, &job, &key(3 + PROVIDERS + i)),
            5 * AIF,
            "validator {i}"
        );
    }
    let rows: Vec<u64> = split_rows(&adult("adult.data"), PROVIDERS)
        .iter()
        .map(|p| p.lines().count() as u64)
        .collect();
    let total: u64 = rows.iter().sum();
    let pool = 40 * AIF;
    let mut paid_providers = 0;
    for (i, r) in rows.iter().enumerate() {
        let exact = pool * r / total;
        let got = paid(cli, &job, &key(3 + i));
        assert!(
            got == exact || got == exact + 1,
            "provider {i}: {got} vs {exact}"
        );
        paid_providers += got;
    }
    assert_eq!(
        paid_providers, pool,
        "the providers' pool is paid to the base unit"
    );

    // `job watch` replays a finished job: every round with its model's accuracy on the
    // sponsor's own rows, the stages, the payouts.
    let eval = factory.root().join("validator-0.csv");
    let out = cli.run(&[
        "job",
        "watch",
        "1",
        "--eval-data",
        eval.to_str().unwrap(),
        "--eval-schema",
        "adult",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accuracies: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "round_closed")
        .map(|e| e["accuracy"].as_f64().unwrap())
        .collect();
    println!("job 1 accuracy per round on validator 0's rows: {accuracies:.4?}");
    assert_eq!(accuracies.len(), ROUNDS + 1);
    // Round 1 only measured the statistics: its model is the untrained start.
    let trained = &accuracies[1..];
    assert!(trained.iter().all(|a| *a > 0.70), "{accuracies:?}");
    assert!(
        trained[ROUNDS - 1] > trained[0],
        "training improves it: {accuracies:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage" && e["stage"] == "settled")
    );
    assert!(events.iter().filter(|e| e["event"] == "paid").count() >= 1 + PROVIDERS + SCORERS);

    // Anyone can recompute every round from the published blobs, after the job too: once the
    // ledger has pruned its phase messages from the state, from the blocks that carried them.
    factory.wait_pruned(1, ROUNDS + 1).await;
    let checks = cli.json(&["job", "verify", "1"]);
    let checks = checks.as_array().unwrap();
    assert_eq!(checks.len(), ROUNDS + 1);
    assert!(
        checks
            .iter()
            .all(|c| c["aggregate_matches"] == true && c["model_matches"] == true),
        "{checks:?}"
    );

    // The statistics the first round measured are those of the pooled rows.
    let federated = final_model(&factory, &job).await;
    let features = federated.features.clone().unwrap();
    let pooled_rows = Table::read_csv(&adult("adult.data"), &Schema::adult()).unwrap();
    let exclude = ["sex".to_owned(), "race".to_owned()];
    let pooled_features =
        Featurizer::fit(&pooled_rows, &Schema::adult(), "income", &exclude).unwrap();
    assert!(!features.statistics_pending);
    for (got, want) in features.columns.iter().zip(&pooled_features.columns) {
        if let (
            FeatureColumn::Numeric { name, mean, std },
            FeatureColumn::Numeric {
                mean: m, std: s, ..
            },
        ) = (got, want)
        {
            assert!(
                (mean - m).abs() <= 1e-6 * m.abs().max(1.0) && (std - s).abs() <= 1e-6 * s,
                "{name}: measured {mean} ± {std}, pooled {m} ± {s}"
            );
        }
    }

    // The federated model against centralised training on the pooled rows.
    let federated_accuracy = test_accuracy(&federated.spec, &federated.params, &features);
    let start = StoredModel::load(&start_file).unwrap();
    let pooled = centralised_accuracy(&features, &start.spec, &start.params);
    println!(
        "job 1 accuracy on adult.test: federated {federated_accuracy:.4}, centralised {pooled:.4}"
    );
    assert!(
        (federated_accuracy - pooled).abs() <= 0.02,
        "federated {federated_accuracy} vs centralised {pooled}"
    );

    // A second job with differential privacy: each provider runs DP-SGD on its rows.
    let private = Terms {
        privacy: Some(
            "\n[privacy]\nclip_norm = 1000000\nnoise_multiplier = 1000000\ndelta_pico = 10000000\n"
                .into(),
        ),
        rounds: ROUNDS + 1,
        secure: Some(2),
        ..Terms::default()
    }
    .write(factory.root(), "private-job");
    cli.json(&[
        "job",
        "open",
        "--from",
        &sponsor,
        "--terms",
        private.to_str().unwrap(),
    ]);
    let opened = Instant::now();
    let job = factory.wait_finished(2).await;
    let epsilons = settled_epsilons(&factory, &job);
    assert!(
        epsilons.iter().all(|e| *e > 0.0 && e.is_finite()),
        "{epsilons:?}"
    );
    let model = final_model(&factory, &job).await;
    let accuracy = test_accuracy(&model.spec, &model.params, &features);
    println!(
        "job 2 (DP-SGD, σ = 1.0, C = 1.0, δ = 1e-5) finished {:.1} s after it opened: ε per provider {epsilons:.3?}, accuracy {accuracy:.4}",
        opened.elapsed().as_secs_f64()
    );

    // A third with privacy per provider: each provider clips its round update and adds its
    // share of the noise inside the secure sum, so ε is charged per round, the same for every
    // provider whatever its rows (three providers need a small noise multiplier to learn).
    let per_provider = Terms {
        rounds: 3,
        privacy: Some(
            "\n[privacy]\nclip_norm = 1000000\nnoise_multiplier = 20000\ndelta_pico = 10000000\nunit = \"provider\"\n"
                .into(),
        ),
        secure: Some(2),
        ..Terms::default()
    }
    .write(factory.root(), "per-provider-job");
    cli.json(&[
        "job",
        "open",
        "--from",
        &sponsor,
        "--terms",
        per_provider.to_str().unwrap(),
    ]);
    let job = factory.wait_finished(3).await;
    let epsilons = settled_epsilons(&factory, &job);
    assert!(
        epsilons.iter().all(|e| *e == epsilons[0] && e.is_finite()),
        "{epsilons:?}"
    );
    let checks = cli.json(&["job", "verify", "3"]);
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["aggregate_matches"] == true && c["model_matches"] == true),
        "the noised sums recompute: {checks}"
    );
    let private_model = model;
    let model = final_model(&factory, &job).await;
    assert_ne!(
        model.params, private_model.params,
        "job 3 trained its own model"
    );
    let accuracy = test_accuracy(&model.spec, &model.params, &features);
    println!(
        "job 3 (noise in the secure sum, z = 0.02, C = 1.0, δ = 1e-5): ε per provider {:.1}, accuracy {accuracy:.4}",
        epsilons[0]
    );
    factory.stop();
}

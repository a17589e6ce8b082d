//! The walkthrough of `docs/lifecycle.md`, run for real: four validator processes over
//! loopback TCP, and the `aifactory` binary driving one whole job with nothing but its
//! commands — a model and two datasets registered, the job (`docs/examples/small-job.toml`)
//! opened, claimed and joined, a round posted and closed, a score committed and revealed —
//! then the payouts checked against the terms' split.

mod common;

use common::{AIF, Factory};

/// Funded accounts: the developer, sponsor, trainer, two providers and a validator.
const ACCOUNTS: usize = 6;

/// A stand-in blob hash.
fn h(n: u8) -> String {
    hex::encode([n; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_from_registration_to_payout_with_the_cli_alone() {
    let factory = Factory::start(ACCOUNTS, 21_000).await;
    let cli = &factory.cli;
    let dir = &factory.dir;
    let [dev, sponsor, trainer, alice, bob, val] = [
        "account-0",
        "account-1",
        "account-2",
        "account-3",
        "account-4",
        "account-5",
    ];
    let terms = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/small-job.toml"
    );

    // 1. A model and two datasets.
    let (spec_hash, schema) = (h(1), h(2));
    cli.json(&[
        "model",
        "register",
        "--from",
        dev,
        "--spec",
        &spec_hash,
        "--royalty-bps",
        "500",
        "--licence",
        "Apache-2.0",
    ]);
    for (provider, rows, root) in [(alice, "16000", h(3)), (bob, "16561", h(6))] {
        cli.json(&[
            "dataset",
            "register",
            "--from",
            provider,
            "--schema",
            &schema,
            "--rows",
            rows,
            "--rows-root",
            &root,
            "--licence",
            "CC-BY-4.0",
            "--price",
            "0",
            "--quality-report",
            &h(4),
            "--anonymity-report",
            &h(5),
            "--stake",
            "1",
        ]);
    }
    let datasets = cli.json(&["dataset", "list"]);
    assert_eq!(
        datasets["items"].as_array().map(Vec::len),
        Some(2),
        "{datasets}"
    );

    // 2. Open, claim, join: the second join starts training.
    cli.json(&["job", "open", "--from", sponsor, "--terms", terms]);
    cli.json(&["job", "claim", "1", "--from", trainer]);
    cli.json(&[
        "job",
        "join",
        "1",
        "--dataset",
        "1",
        "--from",
        alice,
        "--yes",
    ]);
    cli.json(&["job", "join", "1", "--dataset", "2", "--from", bob, "--yes"]);
    let job = cli.json(&["job", "show", "1"]);
    assert_eq!(job["job"]["value"]["status"]["stage"], "training", "{job}");

    // 3. The round: both updates, then the trainer's close.
    for (provider, update) in [(alice, h(11)), (bob, h(12))] {
        cli.json(&[
            "job", "post", "1", "--round", "1", "--phase", "0", "--blob", &update, "--from",
            provider,
        ]);
    }
    let alice_samples = format!("{}=16000", cli.address(alice));
    let bob_samples = format!("{}=16561", cli.address(bob));
    cli.json(&[
        "job",
        "close",
        "1",
        "--round",
        "1",
        "--aggregate",
        &h(13),
        "--model",
        &h(14),
        "--contribution",
        &alice_samples,
        "--contribution",
        &bob_samples,
        "--from",
        trainer,
    ]);

    // 4. Commit (the job's one validator: commits close at once), then reveal.
    let saved = dir.path().join("score.json");
    let saved = saved.to_str().unwrap();
    cli.json(&[
        "job",
        "commit",
        "1",
        "--metric",
        "0.85",
        "--calibration-error",
        "0.03",
        "--fairness-gap",
        "0.05",
        "--aggregates-match",
        "true",
        "--stake",
        "1",
        "--save",
        saved,
        "--from",
        val,
    ]);
    cli.json(&["job", "reveal", saved, "--from", val]);

    // 5. Settled at 0.85, every pool paid by the split of docs/examples/small-job.toml.
    let job = cli.json(&["job", "show", "1"]);
    let status = &job["job"]["value"]["status"];
    assert_eq!(status["stage"], "settled", "{job}");
    assert_eq!(status["score"], 850_000);
    assert_eq!(job["job"]["value"]["escrow"], 0);
    let paid = |who: &str| common::paid(cli, &job, who);
    assert_eq!(paid(trainer), 30 * AIF);
    assert_eq!(paid(val), 10 * AIF);
    // The providers' 40 AIF by samples, 16000 : 16561, to the base unit.
    let pool = 40 * AIF;
    let alice_exact = pool * 16_000 / 32_561;
    assert!(paid(alice) == alice_exact || paid(alice) == alice_exact + 1);
    assert_eq!(paid(alice) + paid(bob), pool);
    let trained = status["model"].as_u64().unwrap().to_string();
    let provenance = cli.json(&["model", "provenance", &trained]);
    assert_eq!(provenance["job"]["job"]["key"], 1, "{provenance}");
    factory.stop();
}

//! Agents that crash or lie, on a real devnet with every party a separate process: each test
//! drills one fault (`[*.drill]` in the agent's configuration, or `kill -9`) and checks what
//! the other agents and the ledger make of it.

mod common;

use std::collections::BTreeMap;

use aifactory_client::views::BlockId;
use aifactory_types::{Address, Payload, TREASURY, codec};
use common::{AIF, Factory, Terms, paid};
use rand_core::{OsRng, RngCore};
use serde_json::Value;

const PROVIDERS: usize = 3;

/// Keys: developer 0, sponsor 1, trainer 2, providers 3.., validators after.
fn key(i: usize) -> String {
    format!("account-{i}")
}

/// A devnet with the model registered, providers and validators running (with `provider` and
/// `validator` extra table text per index), and the trainer started with `trainer` as its
/// table; the job opened with `terms`.
async fn factory(
    port: u16,
    terms: Terms,
    trainer: &str,
    provider: impl Fn(usize) -> String,
    validator: impl Fn(usize) -> String,
    validators: usize,
) -> Factory {
    let mut factory = Factory::start(3 + PROVIDERS + validators, port).await;
    factory.register_model(&key(0));
    factory.start_providers(PROVIDERS, 3, provider);
    factory.start_agent("trainer", "trainer", &key(2), trainer);
    factory.start_validators(validators, 3 + PROVIDERS, validator);
    factory.wait_datasets(PROVIDERS).await;
    let path = terms.write(factory.root(), "job");
    factory.cli.json(&[
        "job",
        "open",
        "--from",
        &key(1),
        "--terms",
        path.to_str().unwrap(),
    ]);
    factory
}

/// The treasury's balance (0 before anything was paid to it: the account does not exist yet).
fn treasury(factory: &Factory) -> u64 {
    let out = factory.cli.run(&["account", "show", &TREASURY.to_string()]);
    if !out.status.success() {
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(error.contains("no such account"), "{error}");
        return 0;
    }
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    view["proof"]["account"]["balance"].as_u64().unwrap()
}

fn status(job: &Value) -> &Value {
    &job["job"]["value"]["status"]
}

/// The providers a closed round of job 1 credited.
fn credited_1(factory: &Factory, round: u32) -> Vec<String> {
    credited(factory, 1, round)
}

/// The providers a closed round of job `job` credited.
fn credited(factory: &Factory, job: u64, round: u32) -> Vec<String> {
    let view = factory.cli.json(&[
        "job",
        "show",
        &job.to_string(),
        "--round",
        &round.to_string(),
    ]);
    view["round"]["value"]["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts provider `i` again with its plain configuration (no drill), as an operator would
/// after a crash.
fn restart_provider(f: &mut Factory, i: usize) {
    let table = common::provider_table(&f.root().join(format!("provider-{i}.csv")));
    let name = format!("provider-{i}");
    let config = f.agent_config(&name, &key(3 + i), &table);
    f.agents.restart(&name, &config);
}

/// Polls `done` every 150 ms until it holds; panics with the agents' logs after the timeout.
async fn wait_until(f: &mut Factory, what: &str, mut done: impl FnMut(&mut Factory) -> bool) {
    let started = std::time::Instant::now();
    while !done(f) {
        assert!(
            started.elapsed() < common::TIMEOUT,
            "{what} did not happen:\n{}",
            f.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

fn stage(job: &Value) -> &str {
    status(job)["stage"].as_str().unwrap_or("")
}

/// Waits for provider 0's drilled crash in round 2 and for round 2 to close, restarts it
/// without the drill, and returns the job once it has ended, checking it settled.
async fn crash_in_round_2_then_rejoin(f: &mut Factory) -> Value {
    wait_until(f, "provider 0's crash", |f| f.agents.exited("provider-0")).await;
    f.wait_job(1, "round 2 closed", |job| {
        job["job"]["value"]["rounds_closed"].as_u64() >= Some(2)
    })
    .await;
    restart_provider(f, 0);
    let job = f.wait_finished(1).await;
    assert_eq!(stage(&job), "settled", "{job}\n{}", f.logs());
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_crashes_mid_round_is_left_out_then_rejoins() {
    let terms = Terms {
        providers_min: 2,
        rounds: 4,
        validators_min: 1,
        validators_max: 1,
        deadlines: [2000, 10, 2000, 2000, 2000],
        ..Terms::default()
    };
    let crash = |i: usize| match i {
        0 => "\n[provider.drill]\ncrash_before_round = 2\n".to_owned(),
        _ => String::new(),
    };
    let mut f = factory(23_400, terms, "[trainer]\n", crash, |_| String::new(), 1).await;
    // Provider 0 trains round 2, journals its update and dies before posting it.
    // Round 2 goes on without it; it comes back (without the drill) and takes part again.
    let job = crash_in_round_2_then_rejoin(&mut f).await;
    let crashed = f.cli.address(&key(3));
    assert!(
        credited_1(&f, 1).contains(&crashed),
        "round 1 had all three"
    );
    assert_eq!(credited_1(&f, 2).len(), 2);
    assert!(
        !credited_1(&f, 2).contains(&crashed),
        "round 2 went on without it"
    );
    assert!(
        credited_1(&f, 4).contains(&crashed),
        "it rejoined by the last round"
    );
    let (p0, p1) = (paid(&f.cli, &job, &key(3)), paid(&f.cli, &job, &key(4)));
    assert!(p0 > 0 && p0 < p1, "paid for fewer samples: {p0} vs {p1}");
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_that_crashes_mid_round_resumes_where_it_was() {
    let terms = Terms {
        rounds: 3,
        validators_min: 1,
        validators_max: 1,
        ..Terms::default()
    };
    let drill = "[trainer]\n\n[trainer.drill]\ncrash_before_round = 2\n";
    let mut f = factory(
        23_800,
        terms,
        drill,
        |_| String::new(),
        |_| String::new(),
        1,
    )
    .await;
    wait_until(&mut f, "the trainer's crash", |f| {
        f.agents.exited("trainer")
    })
    .await;
    let config = f.agent_config("trainer", &key(2), "[trainer]\n");
    f.agents.restart("trainer", &config);
    let job = f.wait_finished(1).await;
    assert_eq!(stage(&job), "settled", "{job}\n{}", f.logs());
    assert_eq!(paid(&f.cli, &job, &key(2)), 30 * AIF);
    let checks = f.cli.json(&["job", "verify", "1"]);
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["model_matches"] == true),
        "{checks}"
    );
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_that_never_comes_back_is_slashed_and_the_escrow_returned() {
    let terms = Terms {
        rounds: 3,
        validators_min: 1,
        validators_max: 1,
        deadlines: [2000, 2000, 10, 2000, 2000],
        ..Terms::default()
    };
    let drill = "[trainer]\n\n[trainer.drill]\ncrash_before_round = 2\n";
    let f = factory(
        24_200,
        terms,
        drill,
        |_| String::new(),
        |_| String::new(),
        1,
    )
    .await;
    let before = treasury(&f);
    let job = f.wait_finished(1).await;
    assert_eq!(stage(&job), "failed", "{job}\n{}", f.logs());
    assert_eq!(status(&job)["reason"], "trainer_vanished");
    assert_eq!(
        job["job"]["value"]["escrow"], 0,
        "the rest went back to the sponsor"
    );
    assert_eq!(paid(&f.cli, &job, &key(2)), 0);
    assert_eq!(
        treasury(&f) - before,
        5 * AIF,
        "the trainer's stake went to the treasury"
    );
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_that_does_not_reveal_is_slashed() {
    let terms = Terms {
        rounds: 2,
        validators_min: 1,
        validators_max: 2,
        deadlines: [2000, 2000, 2000, 2000, 10],
        ..Terms::default()
    };
    let withhold = |i: usize| match i {
        1 => "\n[validator.drill]\nwithhold_reveal = true\n".to_owned(),
        _ => String::new(),
    };
    let f = factory(24_600, terms, "[trainer]\n", |_| String::new(), withhold, 2).await;
    let before = treasury(&f);
    let job = f.wait_finished(1).await;
    assert_eq!(stage(&job), "settled", "{job}\n{}", f.logs());
    let (honest, silent) = (key(3 + PROVIDERS), key(4 + PROVIDERS));
    assert_eq!(
        paid(&f.cli, &job, &honest),
        10 * AIF,
        "the whole validators' pool"
    );
    assert_eq!(paid(&f.cli, &job, &silent), 0);
    // The treasury's 10 % share and the silent validator's 1 AIF stake.
    assert_eq!(treasury(&f) - before, 10 * AIF + AIF);
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_that_publishes_a_wrong_model_is_caught_and_slashed() {
    let terms = Terms {
        rounds: 2,
        validators_min: 2,
        validators_max: 2,
        ..Terms::default()
    };
    let drill = "[trainer]\n\n[trainer.drill]\nwrong_model = true\n";
    let f = factory(
        25_000,
        terms,
        drill,
        |_| String::new(),
        |_| String::new(),
        2,
    )
    .await;
    let before = treasury(&f);
    let job = f.wait_finished(1).await;
    assert_eq!(stage(&job), "failed", "{job}\n{}", f.logs());
    assert_eq!(status(&job)["reason"], "aggregate_mismatch");
    assert_eq!(paid(&f.cli, &job, &key(2)), 0);
    assert!(
        treasury(&f) - before >= 5 * AIF,
        "the trainer's stake went to the treasury"
    );
    let verify = f.cli.run(&["job", "verify", "1"]);
    assert!(
        !verify.status.success(),
        "job verify must fail on a wrong model"
    );
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoning_provider_barely_moves_a_median_job() {
    // Three honest providers and one that sends its update times -5. Job 1 (model 1) runs
    // with the honest three only (the poisoner's policy takes model 2 alone); job 2 (model 2)
    // runs with all four. Both aggregate by the coordinate-wise median.
    let mut f = Factory::start(3 + 4 + 1, 25_400).await;
    f.register_model(&key(0));
    f.register_model(&key(0));
    f.start_providers(4, 3, |i| match i {
        3 => "\n[provider.policy]\nmodels = [2]\n\n[provider.drill]\nscale_update = -5.0\n"
            .to_owned(),
        _ => String::new(),
    });
    f.start_agent("trainer", "trainer", &key(2), "[trainer]\n");
    f.start_validators(1, 7, |_| String::new());
    f.wait_datasets(4).await;
    let median = "rule = \"median\"".to_owned();
    let mut accuracy = Vec::new();
    for (job, providers) in [(1u64, 3usize), (2, 4)] {
        let terms = Terms {
            model: job,
            providers_min: providers,
            providers_max: providers,
            rounds: 3,
            validators_min: 1,
            validators_max: 1,
            aggregation: median.clone(),
            ..Terms::default()
        }
        .write(f.root(), &format!("job-{job}"));
        f.cli.json(&[
            "job",
            "open",
            "--from",
            &key(1),
            "--terms",
            terms.to_str().unwrap(),
        ]);
        let view = f.wait_finished(job).await;
        assert_eq!(stage(&view), "settled", "job {job}: {view}\n{}", f.logs());
        let model = common::final_model(&f, &view).await;
        let features = model.features.clone().unwrap();
        accuracy.push(common::test_accuracy(&model.spec, &model.params, &features));
    }
    let poisoner = f.cli.address(&key(6));
    assert!(
        credited(&f, 1, 1).iter().all(|p| *p != poisoner),
        "job 1 is clean"
    );
    assert!(
        credited(&f, 2, 1).contains(&poisoner),
        "job 2 took the poisoned update"
    );
    println!(
        "median aggregation: clean {:.4}, with a poisoner {:.4}",
        accuracy[0], accuracy[1]
    );
    assert!((accuracy[0] - accuracy[1]).abs() <= 0.02, "{accuracy:?}");
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_one_out_pays_a_provider_whose_updates_hurt_nothing() {
    // Three honest providers and one that sends its update negated, under FedAvg: the validator
    // replays the job without each provider in turn; the negating one only holds the model
    // back, so it measures nothing and earns nothing from the providers' pool.
    let mut f = Factory::start(3 + 4 + 1, 27_000).await;
    f.register_model(&key(0));
    f.start_providers(4, 3, |i| match i {
        3 => "\n[provider.drill]\nscale_update = -1.0\n".to_owned(),
        _ => String::new(),
    });
    f.start_agent("trainer", "trainer", &key(2), "[trainer]\n");
    f.start_validators(1, 7, |_| String::new());
    f.wait_datasets(4).await;
    let terms = Terms {
        providers_min: 4,
        providers_max: 4,
        rounds: 3,
        validators_min: 1,
        validators_max: 1,
        leave_one_out: true,
        ..Terms::default()
    }
    .write(f.root(), "job");
    f.cli.json(&[
        "job",
        "open",
        "--from",
        &key(1),
        "--terms",
        terms.to_str().unwrap(),
    ]);
    let view = f.wait_finished(1).await;
    assert_eq!(stage(&view), "settled", "{view}\n{}", f.logs());
    let pool = 40 * AIF;
    let paid: Vec<u64> = (3..7).map(|i| paid(&f.cli, &view, &key(i))).collect();
    println!("leave-one-out: providers' pool paid {paid:?} (the last one negates its updates)");
    assert_eq!(paid[3], 0, "the negating provider earns nothing: {paid:?}");
    assert!(paid[..3].iter().all(|p| *p > 0), "{paid:?}");
    assert_eq!(paid.iter().sum::<u64>(), pool, "the pool is paid in full");
    f.stop();
}

/// What a transaction is for, the way an agent labels it: two transactions with the same
/// purpose must carry the same payload.
fn purpose(payload: &Payload) -> Option<String> {
    Some(match payload {
        Payload::RegisterDataset(_) => "register".into(),
        Payload::JoinJob(j) => format!("join {}", j.job),
        Payload::ClaimJob(c) => format!("claim {}", c.job),
        Payload::PostPhase(p) => format!("post {} {} {}", p.job, p.round, p.phase),
        Payload::CloseRound(c) => format!("close {} {}", c.job, c.round),
        Payload::CommitScore(c) => format!("commit {}", c.job),
        Payload::RevealScore(r) => format!("reveal {}", r.job),
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_killed_at_random_moments_never_send_two_messages_for_one_purpose() {
    let mut f = factory(
        25_800,
        Terms {
            rounds: 10,
            validators_min: 1,
            validators_max: 1,
            ..Terms::default()
        },
        "[trainer]\n",
        |_| String::new(),
        |_| String::new(),
        1,
    )
    .await;
    let seed = OsRng.next_u64() | 1;
    println!("chaos seed {seed}");
    let mut state = seed;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let names = f.agents.names();
    let mut kills = 0;
    let started = std::time::Instant::now();
    loop {
        let job = f.cli.json(&["job", "show", "1"]);
        if job["job"]["value"]["status"]["stage"] == "settled" {
            break;
        }
        assert!(
            started.elapsed() < common::TIMEOUT,
            "job not settled under chaos (seed {seed}): {}\n{}",
            job["job"]["value"]["status"],
            f.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50 + next(250))).await;
        let name = &names[next(names.len() as u64) as usize];
        let config = f.root().join(format!("{name}.toml"));
        f.agents.restart(name, &config);
        kills += 1;
    }
    println!("settled after {kills} kill -9 and restarts");
    assert!(kills >= 5, "too few kills to mean anything: {kills}");

    // Every transaction any agent got into a block, by purpose: one payload each.
    let client = aifactory_client::Client::new(&f.nodes[0]).unwrap();
    let tip = client.status().await.unwrap().finalized_height;
    let mut sent: BTreeMap<(Address, String), Vec<Vec<u8>>> = BTreeMap::new();
    for height in 1..=tip {
        let block = client.block(BlockId::Height(height)).await.unwrap();
        for tx in block.block.txs.iter() {
            if let Some(purpose) = purpose(&tx.tx.payload) {
                let payloads = sent.entry((tx.tx.sender, purpose)).or_default();
                let bytes = codec::encode(&tx.tx.payload);
                if !payloads.contains(&bytes) {
                    payloads.push(bytes);
                }
            }
        }
    }
    let twice: Vec<_> = sent
        .iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        twice.is_empty(),
        "two different messages for {twice:?} (seed {seed})"
    );
    assert!(
        sent.keys().any(|(_, p)| p == "close 1 10"),
        "the whole job is on chain"
    );
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_lost_after_its_masked_input_is_still_summed_in_a_secure_round() {
    // Provider 0 posts its masked input in round 2, then dies before the consistency check:
    // the two others reveal the shares that unmask its input, and the round sums all three.
    let terms = Terms {
        rounds: 3,
        validators_min: 1,
        validators_max: 1,
        secure: Some(2),
        deadlines: [2000, 10, 2000, 2000, 2000],
        ..Terms::default()
    };
    let crash = |i: usize| match i {
        0 => "\n[provider.drill]\ncrash_before_round = 2\ncrash_before_phase = 3\n".to_owned(),
        _ => String::new(),
    };
    let mut f = factory(26_600, terms, "[trainer]\n", crash, |_| String::new(), 1).await;
    // Round 2's last phases go on without it; it comes back (without the drill) for round 3.
    crash_in_round_2_then_rejoin(&mut f).await;
    let lost = f.cli.address(&key(3));
    let round = f.cli.json(&["job", "show", "1", "--round", "2"]);
    let posters = |phase: usize| -> Vec<String> {
        round["phases"][phase]["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"]["poster"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(posters(2).contains(&lost), "its masked input is on chain");
    assert!(
        !posters(3).contains(&lost),
        "it never signed the survivor list"
    );
    assert!(
        credited_1(&f, 2).contains(&lost),
        "its update is in the sum"
    );
    assert_eq!(credited_1(&f, 2).len(), 3);
    let checks = f.cli.json(&["job", "verify", "1"]);
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["model_matches"] == true),
        "{checks}"
    );
    f.stop();
}

//! A gateway on a real devnet: four validator nodes, the gateway as its own `aifactory agent
//! gateway` process serving a native Adult model registered on chain, and two consumers
//! making 500 paid calls each with vouchers they sign themselves. Halfway through one
//! consumer's calls the gateway is killed with SIGKILL and restarted; the consumer re-sends the
//! voucher it had in flight until the gateway answers it, exactly once. Afterwards the claims
//! pay each channel exactly the last voucher answered, and the royalty table splits them.
//!
//! And challenges on the same devnet: a gateway answering with another model's weights is
//! found out by validator agents and slashed; an honest one keeps its stake.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aifactory_client::Client;
use aifactory_client::views::gateway::PredictRequest;
use aifactory_node::devnet::DEVNET_CHAIN_ID;
use aifactory_types::transaction::ChainId;
use aifactory_wallet::Keystore;
use common::{Factory, adult, adult_test_row, base_port};
use serde_json::Value;

const CALLS: u64 = 500;
const PRICE: u64 = 1_000;

/// Waits until the gateway at `url` answers its status, at most a minute; `logs` says why not.
async fn wait_gateway(url: &str, logs: impl Fn() -> String) {
    let client = Client::new(url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.gateway_status().await.is_err() {
        assert!(Instant::now() < deadline, "{}", logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes `CALLS` paid calls on `channel`, signed by `key`; on a failed connection (the gateway
/// down) re-sends the same voucher until it is answered. Kills and restarts the gateway after
/// `kill_after` calls if asked. Returns the last amount answered.
async fn consume(
    gateway: &str,
    channel: u64,
    key: aifactory_types::SecretKey,
    input: &str,
    kill: Option<(u64, Arc<Mutex<Factory>>, std::path::PathBuf)>,
) -> u64 {
    let client = Client::new(gateway).unwrap();
    let chain_id = ChainId::new(DEVNET_CHAIN_ID).unwrap();
    let mut answered = 0;
    for call in 1..=CALLS {
        let amount = call * PRICE;
        if let Some((at, factory, config)) = &kill
            && call == *at
        {
            // The request goes out, then the gateway dies under it.
            let request = PredictRequest::paid(&key, &chain_id, channel, amount, input.to_owned());
            let in_flight = tokio::spawn({
                let client = client.clone();
                async move { client.predict(1, &request).await }
            });
            factory.lock().unwrap().agents.kill("gateway");
            let _ = in_flight.await;
            factory.lock().unwrap().agents.restart("gateway", config);
        }
        let request = PredictRequest::paid(&key, &chain_id, channel, amount, input.to_owned());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match client.predict(1, &request).await {
                Ok(answer) => {
                    assert_eq!(answer.receipt.receipt.amount, amount);
                    assert_eq!(answer.receipt.verify(), Ok(()));
                    answered = amount;
                    break;
                }
                Err(error) if error.status().is_none() => {
                    // The gateway is down or restarting: the same voucher again.
                    assert!(Instant::now() < deadline, "the gateway did not come back");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("call {call} on channel {channel}: {error}"),
            }
        }
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_pay_a_gateway_through_a_kill_9_and_the_claims_match() {
    let factory = Factory::start(3, 27_400).await;
    factory.register_model("account-0");
    let gateway_port = base_port(27_400) + 50;
    let url = format!("http://127.0.0.1:{gateway_port}");
    factory.cli.json(&[
        "gateway",
        "deploy",
        "--from",
        "account-1",
        "--model",
        "1",
        "--price",
        "0.000001",
        "--gateway-bps",
        "2000",
        "--stake",
        "100",
        "--endpoint",
        &url,
    ]);
    for consumer in ["account-0", "account-2"] {
        factory.cli.json(&[
            "channel",
            "open",
            "--from",
            consumer,
            "--deployment",
            "1",
            "--deposit",
            "1",
            "--expires-in",
            "100000",
        ]);
    }
    let config = factory.agent_config(
        "gateway",
        "account-1",
        &format!("[gateway]\nlisten = \"127.0.0.1:{gateway_port}\"\ndeployments = [1]\nclaim_interval_s = 2\n"),
    );
    let log = factory.root().join("gateway.log");
    let mut factory = factory;
    factory.agents.start("gateway", "gateway", &config, &log);
    wait_gateway(&url, || std::fs::read_to_string(&log).unwrap()).await;

    let keys = Keystore::new(factory.root().join("keys"));
    let first = keys.load("account-0", None).unwrap();
    let second = keys.load("account-2", None).unwrap();
    let input = adult_test_row();
    let factory = Arc::new(Mutex::new(factory));
    let started = Instant::now();
    let (a, b) = tokio::join!(
        consume(
            &url,
            1,
            first,
            &input,
            Some((CALLS / 2, factory.clone(), config.clone()))
        ),
        consume(&url, 2, second, &input, None),
    );
    println!(
        "{} paid calls from two consumers, with a kill -9 and restart, in {:.1} s",
        2 * CALLS,
        started.elapsed().as_secs_f64()
    );
    assert_eq!((a, b), (CALLS * PRICE, CALLS * PRICE));

    // The claims pay exactly the last vouchers answered.
    let factory = Arc::try_unwrap(factory)
        .ok()
        .expect("the consumers are done")
        .into_inner()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let claimed: Vec<u64> = [1, 2]
            .iter()
            .map(|c| {
                factory.cli.json(&["channel", "show", &c.to_string()])["channel"]["value"]["claimed"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        if claimed == [CALLS * PRICE, CALLS * PRICE] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "claimed {claimed:?}: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let shown = factory.cli.json(&["gateway", "show", "1"]);
    assert_eq!(
        shown["deployment"]["value"]["claimed_total"],
        2 * CALLS * PRICE
    );
}

/// Votes stay open this many blocks (about a second each on a devnet): long enough for the
/// validators to judge on a loaded machine.
const VOTE_BLOCKS: u64 = 30;

/// Two gateways serve the same model on a devnet: one honestly, one (a drill) answering with
/// another model's weights while its receipts name the deployed ones. A consumer pays each
/// for an answer with `predict` and challenges both with `receipt challenge`; two validator
/// agents judge by re-running the model. The cheat is slashed half its stake and suspended,
/// and the challenger is paid; the honest gateway keeps its stake and gets 40 % of the bond.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_serving_another_model_is_slashed_and_an_honest_one_is_not() {
    let mut factory = Factory::start_with(5, 27_800, |genesis| {
        let inference = &mut genesis["params"]["inference"];
        inference["challenge_vote_blocks"] = VOTE_BLOCKS.into();
        inference["challenge_window_blocks"] = 1_000_000.into();
    })
    .await;
    factory.register_model("account-0");
    // Other weights for the same architecture: what the cheat serves instead.
    let spec = factory.root().join("mlp.json");
    let other = factory.root().join("other.safetensors");
    let data = adult("adult.data");
    let init = factory.cli.json(&[
        "model",
        "init",
        "--spec",
        spec.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--schema",
        "adult",
        "--statistics",
        "data",
        "--exclude",
        "sex",
        "--exclude",
        "race",
        "--seed",
        "11",
        "--out",
        other.to_str().unwrap(),
    ]);
    factory
        .cli
        .json(&["blob", "put", init["model_file"].as_str().unwrap()]);
    let other_blob = init["weights"].as_str().unwrap().to_owned();

    let base = base_port(27_800);
    let mut urls = Vec::new();
    for (i, gateway) in ["account-1", "account-2"].iter().enumerate() {
        let port = base + 50 + i as u16;
        let url = format!("http://127.0.0.1:{port}");
        factory.cli.json(&[
            "gateway",
            "deploy",
            "--from",
            gateway,
            "--model",
            "1",
            "--price",
            "0.000001",
            "--gateway-bps",
            "2000",
            "--stake",
            "100",
            "--endpoint",
            &url,
        ]);
        let drill = match i {
            0 => String::new(),
            _ => format!("\n[gateway.drill]\nserve_blob = {other_blob:?}\n"),
        };
        let table = format!(
            "[gateway]\nlisten = \"127.0.0.1:{port}\"\ndeployments = [{}]\n{drill}",
            i + 1
        );
        factory.start_agent(&format!("gateway-{i}"), "gateway", gateway, &table);
        urls.push(url);
    }
    factory.start_validators(2, 3, |_| String::new());

    let input = factory.root().join("row.csv");
    std::fs::write(&input, adult_test_row()).unwrap();
    let mut challenged = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        wait_gateway(url, || factory.logs()).await;
        let answer = factory.cli.json(&[
            "predict",
            "--model",
            "1",
            "--deployment",
            &(i + 1).to_string(),
            "--input",
            input.to_str().unwrap(),
            "--from",
            "account-0",
            "--deposit",
            "1",
        ]);
        let saved = answer["saved"].as_str().unwrap().to_owned();
        factory.cli.json(&[
            "receipt",
            "challenge",
            &saved,
            "--bond",
            "2",
            "--from",
            "account-0",
        ]);
        challenged.push(i + 1);
    }

    // Both challenges resolve: the cheat's upheld, the honest gateway's rejected.
    let deadline = Instant::now() + Duration::from_secs(240);
    let shown = loop {
        let shown: Vec<Value> = [1, 2]
            .iter()
            .map(|id| factory.cli.json(&["challenge", "show", &id.to_string()]))
            .collect();
        if shown
            .iter()
            .all(|c| c["challenge"]["value"]["status"] != "voting")
        {
            break shown;
        }
        assert!(Instant::now() < deadline, "{shown:?}\n{}", factory.logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (honest, cheat) = (
        &shown[0]["challenge"]["value"],
        &shown[1]["challenge"]["value"],
    );
    assert_eq!(challenged, [1, 2]);
    assert_eq!(honest["deployment"], 1);
    assert_eq!(honest["status"], "rejected", "{honest}\n{}", factory.logs());
    assert_eq!(cheat["status"], "upheld", "{cheat}\n{}", factory.logs());
    for (challenge, verdict) in [(&shown[0], "gateway_right"), (&shown[1], "gateway_wrong")] {
        let votes = challenge["votes"].as_array().unwrap();
        assert_eq!(votes.len(), 2, "both validators voted");
        assert!(
            votes.iter().all(|v| v["value"]["verdict"] == verdict),
            "{votes:?}"
        );
    }
    let stake =
        |id: &str| factory.cli.json(&["gateway", "show", id])["deployment"]["value"].clone();
    let (kept, slashed) = (stake("1"), stake("2"));
    assert_eq!(kept["stake"], 100_000_000_000u64);
    assert_eq!(kept["status"]["status"], "active");
    assert_eq!(slashed["stake"], 50_000_000_000u64);
    assert_eq!(slashed["status"]["status"], "suspended");
}

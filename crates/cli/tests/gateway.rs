//! A gateway on a real devnet: four validator nodes, the gateway as its own `aifactory agent
//! gateway` process serving a native Adult model registered on chain, and two consumers
//! making 500 paid calls each with vouchers they sign themselves. Halfway through one
//! consumer's calls the gateway is killed with SIGKILL and restarted; the consumer re-sends the
//! voucher it had in flight until the gateway answers it, exactly once. Afterwards the claims
//! pay each channel exactly the last voucher answered, and the royalty table splits them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aifactory_client::Client;
use aifactory_client::views::gateway::PredictRequest;
use aifactory_learn::data::schema::Schema;
use aifactory_node::devnet::DEVNET_CHAIN_ID;
use aifactory_types::transaction::ChainId;
use aifactory_wallet::Keystore;
use common::{Factory, adult, base_port};

const CALLS: u64 = 500;
const PRICE: u64 = 1_000;

/// A CSV input of Adult's first test row, with the header the model's encoder reads.
fn input() -> String {
    let names: Vec<String> = Schema::adult()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect();
    let text = std::fs::read_to_string(adult("adult.test")).unwrap();
    let row = text
        .lines()
        .find(|l| !l.starts_with('|') && !l.trim().is_empty())
        .unwrap();
    format!("{}\n{row}\n", names.join(","))
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
    let client = Client::new(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.gateway_status().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let keys = Keystore::new(factory.root().join("keys"));
    let first = keys.load("account-0", None).unwrap();
    let second = keys.load("account-2", None).unwrap();
    let input = input();
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

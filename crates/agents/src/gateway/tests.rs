//! The gateway end to end in one process: a single-process chain served on loopback with an
//! ONNX model deployed and two channels open, the real gateway serving on its own socket.
//! Paid calls with receipts; every refusal, each followed by a correct call on the same
//! channel (no channel is ever left "locked"); a claim that pays exactly the last voucher; a
//! restart that recovers the vouchers and refuses a replay.

use std::path::Path;

use aifactory_api::testing::{TestServer, start, unlimited};
use aifactory_api::views::gateway::PredictRequest;
use aifactory_client::{Client, ClientError};
use aifactory_ledger::testing::lifecycle::spdx;
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain, test_key};
use aifactory_types::amount::BASE_UNITS_PER_AIF;
use aifactory_types::lifecycle::{Deploy, ModelArtifact, OpenChannel, RegisterModel, output_hash};
use aifactory_types::transaction::ChainId;
use aifactory_types::{BoundedString, Hash, Payload};
use aifactory_wallet::{Keystore, Protection};
use bytes::Bytes;

use super::*;
use crate::config::AgentSettings;

const ONNX: &[u8] = include_bytes!("../../../learn/tests/vectors/tiny_mlp.onnx");
const GATEWAY: usize = 2;
const CONSUMERS: [usize; 2] = [3, 4];
const PRICE: u64 = 1_000;
const DEPOSIT: u64 = 10_000_000;

/// The chain: the ONNX model (id 1) deployed by key 2 (deployment 1); channels 1 and 2 from
/// keys 3 and 4.
async fn chain() -> TestServer {
    let hash = Hash::from(blake3::hash(ONNX));
    let mut chain = TestChain::new(6, 10_000 * BASE_UNITS_PER_AIF);
    let register = RegisterModel {
        artifact: ModelArtifact::Onnx(hash),
        royalty_bps: 1_000,
        licence: spdx("MIT"),
        parent: None,
    };
    chain.build_ok(vec![chain.tx(1, Payload::RegisterModel(register))]);
    let deploy = Deploy {
        model: 1,
        price_per_call: PRICE,
        gateway_bps: 2_000,
        stake: 100 * BASE_UNITS_PER_AIF,
        url: BoundedString::new("http://127.0.0.1:1").unwrap(),
    };
    chain.build_ok(vec![chain.tx(GATEWAY, Payload::Deploy(deploy))]);
    let expiry_height = chain.state.height() + 1_000;
    let opens = CONSUMERS
        .iter()
        .map(|&c| {
            let open = OpenChannel {
                deployment: 1,
                deposit: DEPOSIT,
                expiry_height,
            };
            chain.tx(c, Payload::OpenChannel(open))
        })
        .collect();
    chain.build_ok(opens);
    let server = start(
        aifactory_api::testing::TestNode::sealing_over(chain),
        unlimited(),
    )
    .await;
    Client::new(&server.base_url())
        .unwrap()
        .put_blob(&hash, Bytes::from_static(ONNX))
        .await
        .unwrap();
    server
}

/// A gateway's configuration under `home`, its key imported there (once per `home`).
fn config(server: &TestServer, home: &Path) -> GatewayConfig {
    Keystore::new(home.join("keys"))
        .import(
            "gateway",
            &hex::encode(test_key(GATEWAY).to_bytes()),
            Protection::InsecurePlaintext,
        )
        .unwrap();
    GatewayConfig {
        agent: AgentSettings {
            nodes: vec![server.base_url()],
            home: home.to_owned(),
            key: "gateway".into(),
            passphrase_file: None,
            state_dir: home.join("state"),
            fee: 1_000,
            poll_ms: 200,
        },
        gateway: GatewaySettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            deployments: vec![1],
            claim_interval_s: 3_600,
            claim_threshold: Aif(u64::MAX),
            claim_margin_blocks: 50,
            accept_margin_blocks: 60,
            drill: Default::default(),
            unpaid_for_bench: false,
        },
    }
}

/// A request on `channel` (1 or 2) for `amount`, signed by its consumer.
fn request(channel: u64, amount: u64, input: &str) -> PredictRequest {
    let consumer = test_key(CONSUMERS[(channel as usize - 1) % CONSUMERS.len()]);
    PredictRequest::paid(
        &consumer,
        &ChainId::new(TEST_CHAIN_ID).unwrap(),
        channel,
        amount,
        input.to_owned(),
    )
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    let error = result.expect_err("refused");
    (error.status().unwrap(), error.code().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_calls_refusals_a_claim_and_a_restart() {
    let server = chain().await;
    let home = tempfile::tempdir().unwrap();
    let config = config(&server, home.path());
    let mut agent = Agent::start(&config.agent).unwrap();
    let (mut role, listening) = GatewayRole::start(&config, &agent).await.unwrap();
    let gateway = Client::new(&format!("http://{listening}")).unwrap();

    let status = gateway.gateway_status().await.unwrap();
    assert_eq!(status.gateway, test_key(GATEWAY).address());
    let columns = status.models[0].columns.clone();
    let row: Vec<String> = (0..columns.len()).map(|i| format!("0.{i}")).collect();
    let input = format!("{}\n{}\n", columns.join(","), row.join(","));

    // Ten paid calls on channel 1, each receipt signed and naming its voucher.
    for call in 1..=10u64 {
        let answer = gateway
            .predict(1, &request(1, call * PRICE, &input))
            .await
            .unwrap();
        let receipt = &answer.receipt;
        assert_eq!(receipt.verify(), Ok(()));
        assert_eq!(receipt.gateway, test_key(GATEWAY).address());
        assert_eq!(receipt.receipt.amount, call * PRICE);
        assert_eq!(
            receipt.receipt.input_hash,
            Hash::from(blake3::hash(input.as_bytes()))
        );
        let probabilities: Vec<f32> = answer
            .rows
            .iter()
            .flat_map(|r| r.probabilities.clone())
            .collect();
        let classes = answer.rows[0].probabilities.len();
        assert_eq!(
            receipt.receipt.output_hash,
            output_hash(classes, &probabilities)
        );
    }
    let last = 10 * PRICE;

    // Every refusal, then the next correct voucher on the same channel is served. Each case
    // is made from what was paid so far.
    let mut paid = last;
    // The last voucher again is a retry only for the input it paid for.
    let other_input = format!(
        "{}\n{}\n",
        columns.join(","),
        vec!["1"; columns.len()].join(",")
    );
    let too_many_rows = format!(
        "{}\n{}",
        columns.join(","),
        vec![row.join(","); 70].join("\n")
    );
    let oversized = format!("{}\n{}\n", columns.join(","), "9".repeat(70 * 1024));
    type Case<'a> = (Box<dyn Fn(u64) -> PredictRequest + 'a>, u64, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            Box::new(|p| request(1, p - PRICE, &input)),
            1,
            402,
            "replayed_voucher",
        ),
        (
            Box::new(|p| request(1, p, &other_input)),
            1,
            402,
            "replayed_voucher",
        ),
        (
            Box::new(|p| request(1, p + 1, &input)),
            1,
            402,
            "stale_voucher",
        ),
        (
            Box::new(|_| request(1, DEPOSIT + 1, &input)),
            1,
            402,
            "over_deposit",
        ),
        (
            Box::new(|p| request(1, p + PRICE, "a,b\n1,2\n")),
            1,
            422,
            "malformed_input",
        ),
        (
            Box::new(|p| request(1, p + PRICE, &too_many_rows)),
            1,
            413,
            "input_too_large",
        ),
        (
            Box::new(|p| request(1, p + PRICE, &oversized)),
            1,
            413,
            "body_too_large",
        ),
        (
            Box::new(|p| request(1, p + PRICE, &input)),
            9,
            404,
            "unknown_model",
        ),
        (
            Box::new(|p| request(9, p + PRICE, &input)),
            1,
            402,
            "unknown_channel",
        ),
    ];
    for (bad, model, status, code) in cases {
        assert_eq!(
            refused(gateway.predict(model, &bad(paid)).await),
            (status, code.to_owned()),
            "{code}"
        );
        paid += PRICE;
        gateway.predict(1, &request(1, paid, &input)).await.unwrap();
    }
    // A voucher signed by the other consumer for channel 1.
    let mut forged = request(2, paid + PRICE, &input);
    forged.voucher.channel = 1;
    assert_eq!(
        refused(gateway.predict(1, &forged).await),
        (402, "bad_signature".to_owned())
    );
    // A lost reply: the same voucher for the same input is answered again, not charged.
    let retry = request(1, paid, &input);
    let again = gateway.predict(1, &retry).await.unwrap();
    assert_eq!(again.receipt.receipt.amount, paid);
    // Channel 2 is independent.
    gateway
        .predict(1, &request(2, PRICE, &input))
        .await
        .unwrap();
    assert_eq!(gateway.held_voucher(1).await.unwrap().voucher.amount, paid);

    // A claim pays exactly the last vouchers.
    role.settings.claim_interval_s = 0;
    role.tick(&mut agent, &Look::Everything).await.unwrap();
    let node = &Client::new(&server.base_url()).unwrap();
    assert_eq!(node.channel(1).await.unwrap().channel.value.claimed, paid);
    assert_eq!(node.channel(2).await.unwrap().channel.value.claimed, PRICE);
    assert_eq!(
        node.deployment(1)
            .await
            .unwrap()
            .deployment
            .value
            .claimed_total,
        paid + PRICE
    );

    // A restart recovers every voucher from the log: a replay is still refused, the next
    // voucher is served.
    drop(role);
    let restarted = Agent::start(&config.agent).unwrap();
    let mut settings = config.clone();
    settings.gateway.listen = "127.0.0.1:0".parse().unwrap();
    let (_role, listening) = GatewayRole::start(&settings, &restarted).await.unwrap();
    let gateway = Client::new(&format!("http://{listening}")).unwrap();
    assert_eq!(gateway.held_voucher(1).await.unwrap().voucher.amount, paid);
    assert_eq!(
        refused(
            gateway
                .predict(1, &request(1, paid, &format!("{input}\n")))
                .await
        ),
        (402, "replayed_voucher".to_owned())
    );
    gateway
        .predict(1, &request(1, paid + PRICE, &input))
        .await
        .unwrap();
}

/// A consumer extends a channel the gateway refused as too close to expiry: the next call
/// makes the gateway read the channel again, and it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extended_channel_is_read_again_before_it_is_refused() {
    use aifactory_types::lifecycle::ExtendChannel;

    let server = chain().await;
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&server, home.path());
    // Channels expire about 1,000 blocks out: every voucher is "too close" at this margin.
    config.gateway.accept_margin_blocks = 999;
    let agent = Agent::start(&config.agent).unwrap();
    let (_role, listening) = GatewayRole::start(&config, &agent).await.unwrap();
    let gateway = Client::new(&format!("http://{listening}")).unwrap();
    let columns = gateway.gateway_status().await.unwrap().models[0]
        .columns
        .clone();
    let input = format!(
        "{}\n{}\n",
        columns.join(","),
        vec!["0.5"; columns.len()].join(",")
    );
    assert_eq!(
        refused(gateway.predict(1, &request(1, PRICE, &input)).await),
        (402, "channel_expiring".to_owned())
    );

    let node = Client::new(&server.base_url()).unwrap();
    let expiry = node.channel(1).await.unwrap().channel.value.expiry_height;
    let extend = ExtendChannel {
        channel: 1,
        expiry_height: expiry + 5_000,
    };
    let tx = server
        .node
        .chain()
        .tx(CONSUMERS[0], Payload::ExtendChannel(extend));
    node.submit_tx(&tx).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while node.channel(1).await.unwrap().channel.value.expiry_height == expiry {
        assert!(
            std::time::Instant::now() < deadline,
            "the extension did not land"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let answer = gateway
        .predict(1, &request(1, PRICE, &input))
        .await
        .unwrap();
    assert_eq!(answer.receipt.receipt.amount, PRICE);
}

/// The bench's unpaid mode answers (with a signed receipt) a voucher no channel backs, and
/// holds nothing to claim; the same gateway paid refuses that voucher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unpaid_bench_mode_answers_without_a_channel_and_holds_nothing() {
    let server = chain().await;
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&server, home.path());
    let agent = Agent::start(&config.agent).unwrap();
    let (paid, listening) = GatewayRole::start(&config, &agent).await.unwrap();
    let gateway = Client::new(&format!("http://{listening}")).unwrap();
    let columns = gateway.gateway_status().await.unwrap().models[0]
        .columns
        .clone();
    let row: Vec<String> = (0..columns.len()).map(|i| format!("0.{i}")).collect();
    let input = format!("{}\n{}\n", columns.join(","), row.join(","));
    // Channel 1's consumer signing for channel 9, which is not open.
    let mut unbacked = request(1, PRICE, &input);
    unbacked.voucher.channel = 9;
    assert_eq!(
        refused(gateway.predict(1, &unbacked).await),
        (402, "unknown_channel".to_owned())
    );
    drop(paid);

    config.gateway.unpaid_for_bench = true;
    config.agent.state_dir = home.path().join("unpaid-state");
    let agent = Agent::start(&config.agent).unwrap();
    let (unpaid, listening) = GatewayRole::start(&config, &agent).await.unwrap();
    let gateway = Client::new(&format!("http://{listening}")).unwrap();
    let answer = gateway.predict(1, &unbacked).await.unwrap();
    assert_eq!(answer.receipt.verify(), Ok(()));
    assert_eq!(answer.receipt.receipt.channel, 9);
    assert!(unpaid.gateway.held().is_empty(), "nothing to claim");
}

//! End to end with real processes: `aifactory node` validators on loopback TCP (the real
//! engine, real sockets, real files), driven through their HTTP APIs.
//!
//! One devnet of five validators, of which four start (a quorum): transfers flow in from
//! several senders through different nodes; one node is SIGKILLed mid-load and restarted and
//! must catch up to the same chain; bad input through the API gets its error and status
//! while the node keeps serving; the fifth validator joins late and syncs the whole chain; a
//! full node (a key outside the validator set) follows the same chain without voting;
//! SIGTERM stops every node cleanly.
//!
//! Beside it, one validator started with a low per-client API rate limit: a client past its
//! burst is refused with 429 while another client is served, and is served again once its
//! bucket refills. And a four-validator devnet asked, by anyone, for blobs nobody has: each
//! node asks its peers once and no request is forwarded on, so every node keeps finalizing
//! with its open file descriptors flat, and stops on SIGTERM with event streams open.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use aifactory_api::views::{BlockId, TxStatus};
use aifactory_client::{Client, ClientError};
use aifactory_node::config::NodeConfig;
use aifactory_node::devnet::{DEVNET_CHAIN_ID, Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use aifactory_types::payload::Transfer;
use aifactory_types::transaction::ChainId;
use aifactory_types::{Hash, Params, Payload, SecretKey, SignedTransaction, Transaction};

const VALIDATORS: usize = 5;
/// The full node's index: after the validators.
const FULL_NODE: usize = VALIDATORS;
const SENDERS: usize = 4;
const TXS_PER_SENDER: u64 = 30;
const TIMEOUT: Duration = Duration::from_secs(120);

/// The rate-limited node's sustained requests per second per client.
const RATE_LIMIT_PER_S: u32 = 1;
/// The rate-limited node's burst per client.
const RATE_LIMIT_BURST: u32 = 3;
/// Requests sent back to back before the limit must have refused one (far past the burst).
const REQUESTS_PAST_BURST_MAX: usize = 50;
/// Where the rate-limited node's ports start, past the main devnet's from the same base.
const RATE_LIMITED_PORT_OFFSET: u16 = 50;

/// Where the blob-flood devnet's ports start, past the rate-limited node's.
const BLOB_FLOOD_PORT_OFFSET: u16 = 60;
/// Requests for missing blobs in the burst, spread over the nodes.
const MISSING_BLOB_BURST: usize = 200;
/// How many more descriptors than before the flood a node may hold after it (pooled
/// connections to peers come and go); a request loop grows by thousands.
const FD_GROWTH_MAX: usize = 64;

/// How long a node may take to stop after SIGTERM, event-stream clients connected or not,
/// before the test kills it (and fails).
const SIGTERM_GRACE: Duration = Duration::from_secs(10);

/// A base port unlikely to collide with another test run on the machine. Every port a test
/// binds (up to 220 above the base) stays below Linux's ephemeral range (32768 up), where an
/// outgoing connection could take a node's port while it is down and the node would then
/// fail to bind it on restart.
fn base_port() -> u16 {
    let spread = u16::try_from(std::process::id() % 58).unwrap();
    20_000 + spread * 220
}

fn transfer(
    key: &SecretKey,
    chain_id: &str,
    nonce: u64,
    to: &SecretKey,
    amount: u64,
) -> SignedTransaction {
    Transaction {
        chain_id: ChainId::new(chain_id).unwrap(),
        sender: key.address(),
        nonce,
        fee: Params::default().fee_min,
        expiry_height: 1_000_000,
        payload: Payload::Transfer(Transfer {
            to: to.address(),
            amount,
            memo: Default::default(),
        }),
    }
    .sign(key)
}

fn api_error(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn included(client: &Client, hash: &Hash) -> bool {
    matches!(
        client.tx(hash).await.map(|view| view.status),
        Ok(TxStatus::Included { .. })
    )
}

/// Node `index`'s finalized height.
async fn finalized_height(supervisor: &Supervisor, index: usize) -> u64 {
    supervisor
        .client(index)
        .status()
        .await
        .unwrap()
        .finalized_height
}

/// Every running node's block at each height 1..=height has the same hash.
async fn assert_same_chain(supervisor: &Supervisor, nodes: &[usize], height: u64) {
    for h in 1..=height {
        let mut hashes = BTreeSet::new();
        for &node in nodes {
            let block = supervisor
                .client(node)
                .block(BlockId::Height(h))
                .await
                .unwrap_or_else(|e| panic!("node {node} has no block {h}: {e}"));
            hashes.insert(block.hash);
        }
        assert_eq!(hashes.len(), 1, "nodes disagree at height {h}");
    }
}

/// Node `index`'s metric whose name ends with `_{suffix}` (one without labels).
async fn metric(supervisor: &Supervisor, index: usize, suffix: &str) -> String {
    let url = format!("http://{}/metrics", supervisor.devnet().spec.api(index));
    let metrics = reqwest::get(url).await.unwrap().text().await.unwrap();
    let ending = format!("_{suffix}");
    metrics
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(' ')?;
            name.ends_with(&ending).then(|| value.to_owned())
        })
        .unwrap_or_else(|| panic!("no {suffix} metric in {metrics}"))
}

/// Node `index`'s `voting` gauge (1 while it is in the current validator set).
async fn voting(supervisor: &Supervisor, index: usize) -> String {
    metric(supervisor, index, "voting").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_survives_a_kill_serves_bad_input_and_syncs_a_late_joiner() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DevnetSpec {
        validators: VALIDATORS,
        base_port: base_port(),
        accounts: SENDERS,
        full_nodes: 1,
    };
    let devnet = Devnet::init(dir.path(), spec).unwrap();
    let keystore = devnet.keystore();
    let senders: Vec<SecretKey> = (0..SENDERS)
        .map(|i| keystore.load(&format!("account-{i}"), None).unwrap())
        .collect();
    let recipient = keystore.load("faucet", None).unwrap();
    let program = env!("CARGO_BIN_EXE_aifactory");
    let mut supervisor = Supervisor::new(devnet, program.as_ref());
    let first_four = [0, 1, 2, 3];
    for &node in first_four.iter().chain([&FULL_NODE]) {
        supervisor.restart(node).unwrap();
    }
    for &node in &first_four {
        supervisor.wait_height(node, 2, TIMEOUT).await.unwrap();
    }

    // Transfers from every sender, each sender through its own node, with node 1 killed
    // half-way through and restarted after.
    let mut accepted = Vec::new();
    for nonce in 0..TXS_PER_SENDER {
        if nonce == TXS_PER_SENDER / 2 {
            supervisor.kill(1);
        }
        for (s, key) in senders.iter().enumerate() {
            let node = [0, 2, 3, 0][s];
            let tx = transfer(key, DEVNET_CHAIN_ID, nonce, &recipient, 1 + nonce);
            let hash = supervisor
                .client(node)
                .submit_tx(&tx)
                .await
                .unwrap()
                .tx_hash;
            accepted.push(hash);
        }
        if nonce % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    supervisor.restart(1).unwrap();

    // Every accepted transaction is finalized, and the restarted node has it too.
    let deadline = std::time::Instant::now() + TIMEOUT;
    for hash in &accepted {
        while !included(&supervisor.client(0), hash).await {
            assert!(
                std::time::Instant::now() < deadline,
                "tx {hash} never finalized"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let height = finalized_height(&supervisor, 0).await;
    supervisor.wait_height(1, height, TIMEOUT).await.unwrap();
    for hash in &accepted {
        assert!(
            included(&supervisor.client(1), hash).await,
            "node 1 lost tx {hash}"
        );
    }
    assert_same_chain(&supervisor, &first_four, height).await;
    // Regression: the counter of blocks a restarted node replays stayed at zero.
    let replayed: u64 = metric(&supervisor, 1, "blocks_replayed_total")
        .await
        .parse()
        .unwrap();
    assert!(replayed > 0, "the restarted node replayed no block");
    let account = supervisor
        .client(1)
        .account(&senders[0].address())
        .await
        .unwrap();
    assert_eq!(account.proof.account.nonce, TXS_PER_SENDER);
    assert!(account.proof.verify(&account.state_root));

    // Bad input: each refused with its code, and the node keeps serving.
    let client = supervisor.client(2);
    let replayed = transfer(&senders[0], DEVNET_CHAIN_ID, 0, &recipient, 1);
    assert_eq!(
        api_error(client.submit_tx(&replayed).await),
        (409, "nonce_replayed".into())
    );
    let other_chain = transfer(&senders[0], "another-chain", TXS_PER_SENDER, &recipient, 1);
    assert_eq!(
        api_error(client.submit_tx(&other_chain).await),
        (422, "wrong_chain_id".into())
    );
    let stranger = SecretKey::from_bytes([7; 32]);
    let unknown = transfer(&stranger, DEVNET_CHAIN_ID, 0, &recipient, 1);
    assert_eq!(
        api_error(client.submit_tx(&unknown).await),
        (422, "unknown_account".into())
    );
    let mut forged = transfer(&senders[1], DEVNET_CHAIN_ID, TXS_PER_SENDER, &recipient, 1);
    forged.tx.fee += 1;
    assert_eq!(api_error(client.submit_tx(&forged).await).0, 422);
    assert_eq!(api_error(client.submit_tx_hex("not hex").await).0, 400);
    assert_eq!(
        api_error(client.submit_tx_bytes(vec![1, 2, 3]).await).0,
        400
    );
    assert_eq!(
        api_error(client.submit_tx_bytes(vec![0; 64 * 1024]).await).0,
        413
    );
    // The server closes a connection whose body it refused unread: start a fresh one.
    let client = supervisor.client(2);
    assert_eq!(api_error(client.account(&stranger.address()).await).0, 404);
    assert_eq!(
        api_error(client.block(BlockId::Height(u64::MAX)).await).0,
        404
    );
    assert!(client.status().await.unwrap().finalized_height >= height);

    // Regression: status listed the configured peers, not the live ones. Node 2 is
    // connected to the three other running validators and the full node, not to the fifth
    // validator, which has not started yet.
    let live: BTreeSet<String> = client
        .status()
        .await
        .unwrap()
        .peers
        .into_iter()
        .map(|peer| peer.id)
        .collect();
    let keystore = supervisor.devnet().keystore();
    let address = |name: &str| keystore.load(name, None).unwrap().address().to_string();
    assert!(
        !live.contains(&address("validator-4")),
        "a stopped node is listed: {live:?}"
    );
    for name in ["validator-0", "validator-1", "validator-3", "full-0"] {
        assert!(live.contains(&address(name)), "{name} missing: {live:?}");
    }

    // The fifth validator joins late and syncs every block from its peers.
    supervisor.restart(4).unwrap();
    supervisor.wait_height(4, height, TIMEOUT).await.unwrap();
    assert_same_chain(&supervisor, &[0, 4], height).await;

    // The full node, never a validator, followed the same chain and serves it.
    supervisor
        .wait_height(FULL_NODE, height, TIMEOUT)
        .await
        .unwrap();
    assert_same_chain(&supervisor, &[0, FULL_NODE], height).await;
    let full = supervisor.client(FULL_NODE);
    assert!(included(&full, &accepted[0]).await);

    // Metrics are served and count what happened.
    let metrics = reqwest::get(format!(
        "http://{}/metrics",
        supervisor.devnet().spec.api(0)
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(metrics.contains("finalized_height"), "{metrics}");
    assert!(metrics.contains("time_to_finality_seconds"), "{metrics}");
    assert_eq!(voting(&supervisor, 0).await, "1", "a validator votes");
    assert_eq!(
        voting(&supervisor, FULL_NODE).await,
        "0",
        "a full node does not"
    );

    // SIGTERM stops each node cleanly.
    for node in 0..=FULL_NODE {
        let status = supervisor.terminate(node, Duration::from_secs(20)).unwrap();
        assert!(status.success(), "node {node} exited with {status}");
    }
}

/// An HTTP client whose connections come from `source`: any 127.0.0.0/8 address reaches a
/// loopback listener, and the rate limit tells clients apart by address.
fn client_from(source: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_the_rate_limit_gets_429_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DevnetSpec {
        validators: 1,
        base_port: base_port() + RATE_LIMITED_PORT_OFFSET,
        accounts: 0,
        full_nodes: 0,
    };
    let devnet = Devnet::init(dir.path(), spec).unwrap();
    let config_path = devnet.config_path(0);
    let mut config = NodeConfig::load(&config_path).unwrap();
    config.api.rate_limit_per_second = RATE_LIMIT_PER_S;
    config.api.rate_limit_burst = RATE_LIMIT_BURST;
    std::fs::write(&config_path, config.to_toml()).unwrap();
    let mut supervisor = Supervisor::new(devnet, env!("CARGO_BIN_EXE_aifactory").as_ref());
    supervisor.restart(0).unwrap();
    supervisor.wait_ready(0, TIMEOUT).await.unwrap();
    let status_url = format!("http://{}/v1/status", supervisor.devnet().spec.api(0));

    // Back to back, one client soon spends its burst and is refused: 429, the JSON error,
    // and a Retry-After saying when to come back.
    let greedy = client_from(Ipv4Addr::LOCALHOST);
    let mut refused = None;
    for _ in 0..REQUESTS_PAST_BURST_MAX {
        let response = greedy.get(&status_url).send().await.unwrap();
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    let refused = refused.expect("a client far past its burst was never refused");
    let retry_after_s: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after_s >= 1, "Retry-After: {retry_after_s}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("at most 1 per second, bursts of 3"),
        "{message}"
    );

    // Another client, from another address, is served meanwhile.
    let other = client_from(Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(other.get(&status_url).send().await.unwrap().status(), 200);

    // Once its bucket refills, the first client is served again.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let status = greedy.get(&status_url).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "the bucket never refilled");
        tokio::time::sleep(Duration::from_secs(retry_after_s)).await;
    }

    // The node kept serving throughout, and stops cleanly.
    let served: serde_json::Value = other
        .get(&status_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["chain_id"], DEVNET_CHAIN_ID);
    assert!(supervisor.exited().is_empty(), "the node exited");
    let exit = supervisor.terminate(0, Duration::from_secs(20)).unwrap();
    assert!(exit.success(), "the node exited with {exit}");
}

/// How many file descriptors process `pid` holds open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("cannot list the descriptors of {pid}: {e}"))
        .count()
}

/// A hash nobody stored (64 hex digits made of a tag, a counter and this process's id).
fn missing_hash(tag: u64, n: usize) -> String {
    format!(
        "{tag:016x}{n:016x}{:016x}{:016x}",
        std::process::id(),
        u64::MAX
    )
}

/// Regression: one GET of a blob nobody has made the nodes forward the request to each other
/// in a loop until they ran out of file descriptors and two validators panicked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_missing_blobs_are_not_forwarded_and_finality_goes_on() {
    const NODES: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let spec = DevnetSpec {
        validators: NODES,
        base_port: base_port() + BLOB_FLOOD_PORT_OFFSET,
        accounts: 0,
        full_nodes: 0,
    };
    let devnet = Devnet::init(dir.path(), spec).unwrap();
    let mut supervisor = Supervisor::new(devnet, env!("CARGO_BIN_EXE_aifactory").as_ref());
    for node in 0..NODES {
        supervisor.restart(node).unwrap();
    }
    for node in 0..NODES {
        supervisor.wait_height(node, 2, TIMEOUT).await.unwrap();
    }
    let pids: Vec<u32> = (0..NODES).map(|n| supervisor.pid(n).unwrap()).collect();
    let fds_before: Vec<usize> = pids.iter().map(|&pid| open_fds(pid)).collect();
    let urls: Vec<String> = (0..NODES)
        .map(|n| format!("http://{}/v1/blobs/", supervisor.devnet().spec.api(n)))
        .collect();
    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();

    // One request, as a stranger would send it: a clear 404, soon.
    let response = http
        .get(format!("{}{}", urls[0], missing_hash(1, 0)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "blob_not_found", "{body}");

    // A burst of them, all at once over every node: each answered 404 or, when the node is
    // already asking its peers for as many blobs as it allows, 503.
    let requests = (0..MISSING_BLOB_BURST).map(|n| {
        let url = format!("{}{}", urls[n % NODES], missing_hash(2, n));
        let http = http.clone();
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    for status in futures::future::join_all(requests).await {
        let status = status.expect("a node did not answer a request for a missing blob");
        assert!(matches!(status, 404 | 503), "status {status}");
    }
    // Close the burst's connections, so the nodes' counts show only what they hold on
    // their own.
    drop(http);

    // Every node is alive, still finalizing, and holds about as many descriptors as before.
    let height = finalized_height(&supervisor, 0).await;
    for node in 0..NODES {
        supervisor
            .wait_height(node, height + 5, TIMEOUT)
            .await
            .unwrap();
    }
    assert!(supervisor.exited().is_empty(), "a node exited");
    for (node, (&pid, &before)) in pids.iter().zip(&fds_before).enumerate() {
        let after = open_fds(pid);
        assert!(
            after <= before + FD_GROWTH_MAX,
            "node {node} held {before} descriptors before the flood and {after} after"
        );
    }

    // Regression: a node waited forever on its event-stream clients before it stopped. With
    // a subscriber connected to each, SIGTERM still stops every node cleanly and soon.
    let mut streams = Vec::new();
    for node in 0..NODES {
        streams.push(supervisor.client(node).events().await.unwrap());
    }
    for node in 0..NODES {
        let status = supervisor.terminate(node, SIGTERM_GRACE).unwrap();
        assert!(status.success(), "node {node} exited with {status}");
    }
    drop(streams);
}

//! `scripts/bench-devnet`: four validators as real `aifactory node` processes on loopback,
//! under a fixed offered load of transfers. Each submitter sends, through `POST /v1/txs/batch`,
//! whatever of its schedule has come due, after lingering `BENCH_BATCH_MS` for more; load is
//! open loop (the schedule does not wait for the node), within one batch in flight per
//! submitter. Prints the sustained finalized transactions per second (over the whole run, so
//! at most `rate × seconds / (seconds + the last one's time to finality)`, and while the load
//! was on), the median and p99 time from each transaction's scheduled time to its finality
//! (seen on node 0's event stream), and the CPU the nodes used.
//!
//! Settings (environment): `BENCH_RATE` offered tx/s (6000), `BENCH_SECONDS` load duration
//! (20), `BENCH_SENDERS` funded senders (256), `BENCH_CONNECTIONS` concurrent submitters (8),
//! `BENCH_BATCH_MS` linger before each batch (20), `BENCH_BASE_PORT` (27700).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aifactory_api::TX_BATCH_TXS_MAX;
use aifactory_api::views::ChainEvent;
use aifactory_client::{Client, ClientError};
use aifactory_node::config::NodeConfig;
use aifactory_node::devnet::{DEVNET_CHAIN_ID, Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use aifactory_types::payload::Transfer;
use aifactory_types::transaction::ChainId;
use aifactory_types::{Hash, Params, Payload, SecretKey, Transaction};
use futures::StreamExt;
use tokio::sync::Mutex;

mod support;
use support::{setting, start_devnet};

const VALIDATORS: usize = 4;

/// CPU seconds (user + system) the validators have used.
fn cpu_seconds(supervisor: &Supervisor) -> f64 {
    (0..VALIDATORS)
        .filter_map(|i| supervisor.cpu_time(i))
        .map(|t| t.as_secs_f64())
        .sum()
}

/// The same error again, for every item of a batch that failed as a whole.
fn refusal(error: &ClientError) -> ClientError {
    match error {
        ClientError::Api {
            status,
            code,
            message,
            details,
            retry_after_s,
        } => ClientError::Api {
            status: *status,
            code: code.clone(),
            message: message.clone(),
            details: details.clone(),
            retry_after_s: *retry_after_s,
        },
        other => ClientError::Decode(other.to_string()),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate = setting("BENCH_RATE", 6_000);
    let seconds = setting("BENCH_SECONDS", 20);
    let senders = setting("BENCH_SENDERS", 256) as usize;
    let connections = setting("BENCH_CONNECTIONS", 8) as usize;
    let linger = Duration::from_millis(setting("BENCH_BATCH_MS", 20));
    let base_port = u16::try_from(setting("BENCH_BASE_PORT", 27_700)).expect("a port");
    let total = rate * seconds;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = DevnetSpec {
        validators: VALIDATORS,
        base_port,
        accounts: senders,
        full_nodes: 0,
    };
    let devnet = Devnet::init(dir.path(), spec).expect("the devnet lays out");
    // The load comes from one IP: lift the per-client rate limit.
    for index in 0..VALIDATORS {
        let path = devnet.config_path(index);
        let mut config = NodeConfig::load(&path).expect("the config loads");
        config.api.rate_limit_per_second = 0;
        config.data_dir = "data".into();
        config.key_file = format!("../keys/validator-{index}.json").into();
        config.genesis_file = "../genesis.json".into();
        std::fs::write(&path, config.to_toml()).expect("the config saves");
    }
    let keystore = devnet.keystore();
    let keys: Vec<SecretKey> = (0..senders)
        .map(|i| {
            keystore
                .load(&format!("account-{i}"), None)
                .expect("a funded key")
        })
        .collect();
    let recipient = keystore
        .load("faucet", None)
        .expect("the faucet key")
        .address();

    eprintln!("signing {total} transfers from {senders} senders");
    let chain_id = ChainId::new(DEVNET_CHAIN_ID).expect("a chain id");
    let fee = Params::default().fee_min;
    // Round-robin over senders, so each sender's nonces go out in order and spread in time.
    let per_sender = total.div_ceil(senders as u64);
    let mut schedule = Vec::with_capacity(total as usize);
    for nonce in 0..per_sender {
        for (s, key) in keys.iter().enumerate() {
            if schedule.len() as u64 == total {
                break;
            }
            let tx = Transaction {
                chain_id: chain_id.clone(),
                sender: key.address(),
                nonce,
                fee,
                expiry_height: 1_000_000,
                payload: Payload::Transfer(Transfer {
                    to: recipient,
                    amount: 1,
                    memo: Default::default(),
                }),
            }
            .sign(key);
            schedule.push((s, tx));
        }
    }

    let mut supervisor = start_devnet(devnet, VALIDATORS).await;

    // Finality as node 0 sees it: the time each transaction's inclusion event arrives.
    let finalized: Arc<Mutex<BTreeMap<Hash, Instant>>> = Arc::default();
    let mut events = supervisor.client(0).events().await.expect("events");
    let recorder = finalized.clone();
    let lagged: Arc<AtomicU64> = Arc::default();
    let lag_counter = lagged.clone();
    let blocks: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let block_recorder = blocks.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(ChainEvent::TxIncluded { tx_hash, .. }) => {
                    recorder.lock().await.insert(tx_hash, Instant::now());
                }
                Ok(ChainEvent::Block { height, .. }) => {
                    block_recorder.lock().await.push((height, Instant::now()));
                }
                Ok(ChainEvent::Lagged { skipped }) => {
                    lag_counter.fetch_add(skipped, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });

    let clients: Vec<Client> = (0..VALIDATORS).map(|i| supervisor.client(i)).collect();
    let cpu_before = cpu_seconds(&supervisor);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let due = move |i: usize| start + interval * u32::try_from(i).expect("fits");
    let submitted: Arc<Mutex<BTreeMap<Hash, Instant>>> = Arc::default();
    let refused: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    // Each sender belongs to one submitter, which sends its transactions in nonce order, in
    // batches one after another to one node: a sender's nonces never race each other.
    let mut lanes: Vec<Vec<(usize, aifactory_types::SignedTransaction)>> =
        (0..connections).map(|_| Vec::new()).collect();
    for (i, (sender, tx)) in schedule.into_iter().enumerate() {
        lanes[sender % connections].push((i, tx));
    }
    let mut workers = Vec::new();
    for (lane_index, lane) in lanes.into_iter().enumerate() {
        let client = clients[lane_index % VALIDATORS].clone();
        let (submitted, refused) = (submitted.clone(), refused.clone());
        workers.push(tokio::spawn(async move {
            let mut next = 0;
            while next < lane.len() {
                // Wait for the first due transaction, linger for more, send what is due.
                tokio::time::sleep_until((due(lane[next].0) + linger).into()).await;
                let now = Instant::now();
                let end = lane[next..]
                    .iter()
                    .take(TX_BATCH_TXS_MAX)
                    .take_while(|(i, _)| due(*i) <= now)
                    .count()
                    + next;
                let batch = &lane[next..end];
                let txs: Vec<_> = batch.iter().map(|(_, tx)| tx.clone()).collect();
                let answers = match client.submit_batch(&txs).await {
                    Ok(answers) => answers,
                    Err(error) => batch.iter().map(|_| Err(refusal(&error))).collect(),
                };
                for ((i, _), answer) in batch.iter().zip(answers) {
                    match answer {
                        Ok(accepted) => {
                            submitted.lock().await.insert(accepted.tx_hash, due(*i));
                        }
                        Err(error) => {
                            let code = match error {
                                ClientError::Api { code, .. } => code,
                                other => other.to_string(),
                            };
                            *refused.lock().await.entry(code).or_default() += 1;
                        }
                    }
                }
                next = end;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a submitter");
    }
    let offered_for = start.elapsed();
    // Let the tail finalize.
    let accepted = submitted.lock().await.len();
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while finalized.lock().await.len() < accepted && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_after = cpu_seconds(&supervisor);
    let finalized = finalized.lock().await.clone();
    let submitted = submitted.lock().await.clone();
    let mut latencies: Vec<Duration> = submitted
        .iter()
        .filter_map(|(hash, sent)| Some(finalized.get(hash)?.saturating_duration_since(*sent)))
        .collect();
    latencies.sort();
    let last_final = submitted
        .keys()
        .filter_map(|hash| finalized.get(hash))
        .max()
        .copied()
        .unwrap_or(start);
    let window = last_final.saturating_duration_since(start).as_secs_f64();
    // The rate of finalization while the load was on, after the first second (which only
    // fills the pipeline): unlike the whole-run figure it does not count the last
    // transaction's time to finality as time the chain was idle.
    let steady_from = start + Duration::from_secs(1);
    let steady_to = start + offered_for;
    let steady = finalized
        .values()
        .filter(|at| **at >= steady_from && **at < steady_to)
        .count();
    let steady_s = steady_to
        .saturating_duration_since(steady_from)
        .as_secs_f64();
    let wall = start.elapsed().as_secs_f64();
    supervisor.stop_all(Duration::from_secs(10));

    println!(
        "offered load        {rate} tx/s for {:.1} s ({total} transfers, {senders} senders)",
        offered_for.as_secs_f64()
    );
    let refused = refused.lock().await.clone();
    println!(
        "accepted / refused  {accepted} / {} {refused:?}",
        refused.values().sum::<u64>()
    );
    println!("finalized           {}", latencies.len());
    let blocks = blocks.lock().await.clone();
    let in_load: Vec<&(u64, Instant)> = blocks
        .iter()
        .filter(|(_, at)| *at >= start && *at <= last_final)
        .collect();
    let mut gaps: Vec<(Duration, u64)> = in_load
        .windows(2)
        .map(|pair| (pair[1].1.saturating_duration_since(pair[0].1), pair[1].0))
        .collect();
    gaps.sort_unstable_by(|a, b| b.cmp(a));
    let longest: Vec<String> = gaps
        .iter()
        .take(3)
        .map(|(gap, height)| format!("{:.0} ms before {height}", gap.as_secs_f64() * 1e3))
        .collect();
    println!(
        "blocks              {} finalized under load; longest gaps: {}",
        in_load.len(),
        longest.join(", ")
    );
    let skipped = lagged.load(Ordering::Relaxed);
    if skipped > 0 {
        println!(
            "events missed       {skipped} (node 0's event stream lagged: finality undercounted)"
        );
    }
    println!(
        "sustained finalized {:.0} tx/s",
        latencies.len() as f64 / window.max(1e-9)
    );
    println!(
        "steady finalized    {:.0} tx/s (from 1 s into the load to its end)",
        steady as f64 / steady_s.max(1e-9)
    );
    println!(
        "finality median     {:.0} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "finality p99        {:.0} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "node CPU            {:.2} cores ({:.1} CPU-s over {:.1} s, 4 nodes)",
        (cpu_after - cpu_before) / wall,
        cpu_after - cpu_before,
        wall
    );
}

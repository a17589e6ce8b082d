//! `scripts/bench-job`: the federated job as separate processes, timed end to end. A
//! 4-validator devnet; ten `aifactory agent provider` processes, each holding a tenth of Adult's
//! training rows and reaching the chain through its own byte-counting proxy; one trainer; two
//! validators holding halves of Adult's test rows. A sponsor opens a 5-round job (MLP
//! 108→64→32→1, one local epoch of SGD at 0.1, batch 64, FedAvg), once without and once with
//! secure aggregation, and the bench prints one JSON line per variant:
//!
//! - `model_s`: from just before `job open` to the last round's close seen on node 0's event
//!   stream (the final model is on chain); `settled_s`: to the job's settlement (scored and
//!   paid), which Flower's job has no counterpart for;
//! - `accuracy` of the final model on all of Adult's test rows, and per round;
//! - `sent_per_provider` / `received_per_provider`: bytes through each provider's proxy while
//!   the job ran (HTTP requests and responses: transactions, blobs, queries), the mean of ten;
//! - `chain_bytes_per_round`: bytes of transactions finalized from the opening to the last
//!   round's close, over the rounds; `blob_bytes_per_round`: bytes of blobs stored;
//! - `peak_pss_mb`: the largest sum of proportional memory (PSS: each process's private pages
//!   plus its share of pages it shares, such as the one binary's code all of them map) of every
//!   process (nodes and agents), sampled every 100 ms: what the run takes from the machine;
//!   `peak_rss_mb`: the same with resident memory, which counts shared pages once per process;
//! - `time`: where each round's time went (see `Breakdown`).
//!
//! Settings (environment): `BENCH_VARIANTS` (`plain,secure`), `BENCH_THRESHOLD` secure
//! aggregation's threshold (7 of the 10 providers).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aifactory_client::Client;
use aifactory_client::views::{BlockId, ChainEvent};
use aifactory_types::Event;
use common::proxy::{Traffic, recording_proxy};
use common::{Factory, Terms, adult, final_model, split_rows, test_accuracy};
use futures::StreamExt;
use serde_json::{Value, json};

const PROVIDERS: usize = 10;
const SCORERS: usize = 2;
const ROUNDS: usize = 5;
/// Local SGD's step size, 0.1 (Flower's job is set to the same): at 0.05 five rounds over
/// tenths of Adult leave either stack on the edge of predicting the majority class, so the
/// final accuracy would measure the seed rather than the system.
const LEARNING_RATE_MILLIONTHS: u64 = 100_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let variants = std::env::var("BENCH_VARIANTS").unwrap_or_else(|_| "plain,secure".into());
    let threshold: u16 = std::env::var("BENCH_THRESHOLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    for (i, variant) in variants.split(',').enumerate() {
        let secure = match variant {
            "plain" => None,
            "secure" => Some(threshold),
            other => panic!("BENCH_VARIANTS holds plain and secure, not {other:?}"),
        };
        let result = run(variant, secure, 28_000 + 400 * i as u16).await;
        println!("{result}");
    }
}

/// Runs the job once; returns its figures as JSON.
async fn run(variant: &str, secure: Option<u16>, port: u16) -> Value {
    eprintln!(
        "== {variant}: starting 4 validators, {PROVIDERS} providers, a trainer, {SCORERS} validators"
    );
    let mut f = Factory::start(3 + PROVIDERS + SCORERS, port).await;
    f.agents.args = [
        "--log-format",
        "json",
        "--log-level",
        "info,aifactory_agents::recipe=debug",
    ]
    .map(String::from)
    .to_vec();
    // The secure job measures the standardisation statistics in a first secure round; the
    // plain one has them fitted by the developer (as Flower's job has them computed centrally).
    let rounds = ROUNDS + usize::from(secure.is_some());
    // Every column is a feature, as in Flower's job: 108 inputs.
    f.register_model_with(
        "account-0",
        if secure.is_some() { "secure" } else { "data" },
        &[],
    );
    let mut traffic = Vec::new();
    for (i, rows) in split_rows(&adult("adult.data"), PROVIDERS)
        .iter()
        .enumerate()
    {
        let seen = Arc::new(Traffic::default());
        let upstream = f.nodes[i % f.nodes.len()]
            .trim_start_matches("http://")
            .to_owned();
        let proxy = recording_proxy(upstream, seen.clone()).await;
        f.start_provider(i, rows, &format!("account-{}", 3 + i), "", &[proxy]);
        traffic.push(seen);
    }
    f.start_agent("trainer", "trainer", "account-2", "[trainer]\n");
    f.start_validators(SCORERS, 3 + PROVIDERS, |_| String::new());
    f.wait_datasets(PROVIDERS).await;
    let terms = Terms {
        providers_min: PROVIDERS,
        providers_max: PROVIDERS,
        rounds,
        secure,
        learning_rate: LEARNING_RATE_MILLIONTHS,
        ..Terms::default()
    }
    .write(f.root(), "job");

    let memory = Memory::sample(&f);
    let marks = AgentLogs::mark(&f);
    let before: Vec<(u64, u64)> = traffic
        .iter()
        .map(|t| (t.sent_bytes(), t.received_bytes()))
        .collect();
    let node = Client::new(&f.nodes[0]).unwrap();
    let from = node.status().await.unwrap().height + 1;
    let timeline = Timeline::follow(node.clone(), from).await;
    let opened = Instant::now();
    f.cli.json(&[
        "job",
        "open",
        "--from",
        "account-1",
        "--terms",
        terms.to_str().unwrap(),
    ]);
    let model_at = timeline
        .wait(
            opened,
            "the last round's close",
            |e| matches!(e, Event::RoundClosed { round, .. } if *round as usize == rounds),
        )
        .await;
    let model_s = model_at.duration_since(opened).as_secs_f64();
    let sent: Vec<(u64, u64)> = traffic
        .iter()
        .zip(&before)
        .map(|(t, (s, r))| (t.sent_bytes() - s, t.received_bytes() - r))
        .collect();
    let settled_at = timeline
        .wait(opened, "the settlement", |e| {
            matches!(e, Event::JobSettled { .. })
        })
        .await;
    let [peak_rss_mb, peak_pss_mb] = memory.stop();
    eprintln!("== {variant}: final model after {model_s:.2} s");

    let job = f.cli.json(&["job", "show", "1"]);
    let stored = final_model(&f, &job).await;
    let features = stored
        .features
        .clone()
        .expect("the job's model has a featurizer");
    let accuracy = test_accuracy(&stored.spec, &stored.params, &features);
    let round_accuracy = round_accuracies(&node, rounds).await;
    let (chain_bytes, blocks) =
        chain_bytes(&node, from, timeline.height_of_round_close(rounds)).await;
    let logs = AgentLogs::read(&f, &marks);
    let breakdown = timeline.breakdown(opened, &logs, rounds);
    let mean = |pick: fn(&(u64, u64)) -> u64| sent.iter().map(pick).sum::<u64>() / PROVIDERS as u64;
    let result = json!({
        "variant": format!("aifactory-{variant}"),
        "model_s": model_s,
        "settled_s": settled_at.duration_since(opened).as_secs_f64(),
        "accuracy": accuracy,
        "round_accuracy": round_accuracy,
        "sent_per_provider": mean(|t| t.0),
        "received_per_provider": mean(|t| t.1),
        "rounds": rounds,
        "chain_bytes_per_round": chain_bytes / rounds as u64,
        "blocks_to_model": blocks,
        "blob_bytes_per_round": logs.blob_bytes_stored / rounds as u64,
        "peak_rss_mb": peak_rss_mb,
        "peak_pss_mb": peak_pss_mb,
        "time": breakdown,
    });
    f.stop();
    result
}

/// Accuracy on Adult's test rows of each round's model.
async fn round_accuracies(node: &Client, rounds: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for round in 1..=rounds as u32 {
        let view = node.round(1, round).await.unwrap();
        if let aifactory_types::lifecycle::RoundStage::Closed { model, .. } = view.round.value.stage
        {
            let bytes = node.get_blob(&model).await.unwrap();
            let stored = aifactory_learn::store::StoredModel::from_bytes(&bytes).unwrap();
            let features = stored.features.clone().unwrap();
            out.push(test_accuracy(&stored.spec, &stored.params, &features));
        }
    }
    out
}

/// Bytes of the transactions in blocks `from..=to`, and how many blocks those are.
async fn chain_bytes(node: &Client, from: u64, to: u64) -> (u64, u64) {
    let mut bytes = 0;
    for height in from..=to {
        let block = node.block(BlockId::Height(height)).await.unwrap().block;
        bytes += block
            .txs
            .iter()
            .map(|tx| tx.encoded_len() as u64)
            .sum::<u64>();
    }
    (bytes, to + 1 - from)
}

/// The memory of every process of the run, summed, sampled until stopped.
struct Memory {
    /// Peak sums of RSS and of PSS, in KiB.
    peak_kb: Arc<[AtomicU64; 2]>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Memory {
    fn sample(f: &Factory) -> Memory {
        let mut pids: Vec<u32> = (0..common::VALIDATORS)
            .filter_map(|i| f.supervisor.pid(i))
            .collect();
        pids.extend(f.agents.pids().into_iter().map(|(_, pid)| pid));
        let peak_kb = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak_kb, stop) = (peak_kb.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut total = [0; 2];
                    for pid in &pids {
                        let [rss, pss] = memory_kb(*pid);
                        total[0] += rss;
                        total[1] += pss;
                    }
                    for (peak, total) in peak_kb.iter().zip(total) {
                        peak.fetch_max(total, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Memory {
            peak_kb,
            stop,
            thread,
        }
    }

    /// Stops sampling; returns the peaks of RSS and PSS in MiB.
    fn stop(self) -> [u64; 2] {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak_kb
            .each_ref()
            .map(|peak| peak.load(Ordering::Relaxed) / 1024)
    }
}

/// A process's resident and proportional memory in KiB (0 once it is gone).
fn memory_kb(pid: u32) -> [u64; 2] {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    ["Rss:", "Pss:"].map(|field| {
        rollup
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    })
}

/// The lifecycle events node 0 streams, each with the moment the bench saw it.
#[derive(Clone)]
struct Timeline {
    seen: Arc<Mutex<Vec<(Instant, u64, Event)>>>,
}

impl Timeline {
    /// Follows node 0's events from `height` in the background.
    async fn follow(node: Client, height: u64) -> Timeline {
        let timeline = Timeline {
            seen: Arc::default(),
        };
        let mut stream = node.events_from(height).await.unwrap();
        let seen = timeline.seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                if let ChainEvent::Ledger { height, event, .. } = event {
                    seen.lock().unwrap().push((Instant::now(), height, event));
                }
            }
        });
        timeline
    }

    /// Waits until an event `wanted` holds of has been seen; returns when it was.
    async fn wait(&self, opened: Instant, what: &str, wanted: impl Fn(&Event) -> bool) -> Instant {
        loop {
            if let Some((at, ..)) = self.seen.lock().unwrap().iter().find(|(_, _, e)| wanted(e)) {
                return *at;
            }
            assert!(
                opened.elapsed() < common::TIMEOUT,
                "{what} not seen in {:?}",
                common::TIMEOUT
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The height of round `round`'s close.
    fn height_of_round_close(&self, round: usize) -> u64 {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|(_, _, e)| matches!(e, Event::RoundClosed { round: r, .. } if *r as usize == round))
            .map(|(_, h, _)| *h)
            .expect("the round closed")
    }

    /// When (in seconds from `opened`) the first event `wanted` holds of was seen.
    fn at(&self, opened: Instant, wanted: impl Fn(&Event) -> bool) -> f64 {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|(_, _, e)| wanted(e))
            .map_or(f64::NAN, |(at, ..)| at.duration_since(opened).as_secs_f64())
    }

    /// Where the time went, round by round, from the chain's events and the agents' logs.
    fn breakdown(&self, opened: Instant, logs: &AgentLogs, rounds: usize) -> Value {
        let recruited = self.at(opened, |e| matches!(e, Event::RoundStarted { .. }));
        let mut per_round = Vec::new();
        for round in 1..=rounds as u32 {
            let started = self.at(
                opened,
                |e| matches!(e, Event::RoundStarted { round: r, .. } if *r == round),
            );
            let closed = self.at(
                opened,
                |e| matches!(e, Event::RoundClosed { round: r, .. } if *r == round),
            );
            let phases: Vec<f64> = (0..4u8)
                .map(|p| self.at(opened, |e| matches!(e, Event::PhaseEnded { round: r, phase, .. } if *r == round && *phase == p)))
                .filter(|t| t.is_finite())
                .collect();
            let work = logs.round(round);
            let wall_ms = (closed - started) * 1e3;
            let blob_ms = logs.blob_ms_max / rounds as u64;
            let critical = work.train_ms + work.secagg_ms + work.combine_ms + blob_ms;
            per_round.push(json!({
                "round": round,
                "wall_ms": wall_ms.round(),
                "phase_ends_ms": phases.iter().map(|t| ((t - started) * 1e3).round()).collect::<Vec<_>>(),
                "train_ms": work.train_ms,
                "secagg_ms": work.secagg_ms,
                "combine_ms": work.combine_ms,
                "blob_ms": blob_ms,
                "chain_wait_ms": (wall_ms - critical as f64).max(0.0).round(),
            }));
        }
        json!({ "recruit_s": recruited, "rounds": per_round })
    }
}

/// What the agents' JSON logs say they did while the job ran, by round: the slowest provider's
/// local training and secure-aggregation work (providers run in parallel, so the slowest is on
/// the round's path) and the trainer's combining; and over the job, the blob transfers of the
/// agent that spent longest on them.
#[derive(Default)]
struct AgentLogs {
    by_round: BTreeMap<u32, RoundWork>,
    blob_ms_max: u64,
    blob_bytes_stored: u64,
}

/// One round's work on its critical path, in milliseconds.
#[derive(Default, Clone, Copy)]
struct RoundWork {
    train_ms: u64,
    secagg_ms: u64,
    combine_ms: u64,
}

impl AgentLogs {
    /// Each agent's log length now, so that `read` sees only what follows.
    fn mark(f: &Factory) -> BTreeMap<String, usize> {
        f.agents
            .names()
            .into_iter()
            .map(|name| {
                let len = std::fs::metadata(f.root().join(format!("{name}.log")))
                    .map_or(0, |m| m.len() as usize);
                (name, len)
            })
            .collect()
    }

    /// Reads what the agents logged after `marks`.
    fn read(f: &Factory, marks: &BTreeMap<String, usize>) -> AgentLogs {
        let mut logs = AgentLogs::default();
        let mut secagg: BTreeMap<(u32, u64), u64> = BTreeMap::new();
        for name in f.agents.names() {
            let text = std::fs::read(f.root().join(format!("{name}.log"))).unwrap_or_default();
            let text = String::from_utf8_lossy(&text[marks.get(&name).copied().unwrap_or(0)..]);
            let mut blob_ms = 0;
            for line in text.lines() {
                let Ok(entry) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let fields = &entry["fields"];
                let number = |key: &str| fields[key].as_u64().unwrap_or(0);
                let round = number("round") as u32;
                match fields["message"].as_str().unwrap_or("") {
                    "trained" => {
                        let work = logs.by_round.entry(round).or_default();
                        work.train_ms = work.train_ms.max(number("train_ms"));
                    }
                    "secure message" => {
                        let slot = secagg.entry((round, number("phase"))).or_default();
                        *slot = (*slot).max(number("secagg_ms"));
                    }
                    "closed round" => {
                        logs.by_round.entry(round).or_default().combine_ms += number("combine_ms")
                    }
                    "blob stored" => {
                        logs.blob_bytes_stored += number("bytes");
                        blob_ms += number("ms");
                    }
                    "blob fetched" => blob_ms += number("ms"),
                    _ => {}
                }
            }
            logs.blob_ms_max = logs.blob_ms_max.max(blob_ms);
        }
        for ((round, _), ms) in secagg {
            logs.by_round.entry(round).or_default().secagg_ms += ms;
        }
        logs
    }

    fn round(&self, round: u32) -> RoundWork {
        self.by_round.get(&round).copied().unwrap_or_default()
    }
}

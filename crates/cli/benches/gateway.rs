//! `scripts/bench-gateway`: paid predictions per second through a real gateway process, beside
//! the same gateway with payment checks off and a Python server on the same ONNX model, in one
//! run on one machine.
//!
//! A 4-validator devnet; the Adult MLP (108→64→32→1, every column a feature) registered twice,
//! as our native model and exported to ONNX (by `gateway_python/export_onnx.py`); one gateway
//! (`aifactory agent gateway`) deploying both. For each paid run, `BENCH_CONNECTIONS` keep-alive
//! connections each pay on a channel of their own with vouchers signed before the run, one
//! request in flight per connection, a row of Adult's test set per call. Each run warms up for
//! `BENCH_WARMUP_S` seconds and is measured for `BENCH_MEASURE_S`; it prints one JSON line
//! (calls per second, p50 and p99 latency, errors), then the ratios:
//!
//! - `unpaid / paid` for each model: the same gateway restarted with `unpaid_for_bench` (no
//!   voucher read, checked or written; receipts still signed), so the ratio is what payment
//!   costs;
//! - `ours ONNX paid / python`: onnxruntime behind FastAPI and uvicorn (2 workers) on the same
//!   ONNX file and the same request bodies, unpaid and unsigned (`gateway_python/server.py`),
//!   run when `BENCH_PYTHON` names a Python with those installed (the script makes one).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use aifactory_client::Client;
use aifactory_client::views::gateway::PredictRequest;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::store::StoredModel;
use aifactory_node::devnet::DEVNET_CHAIN_ID;
use aifactory_types::lifecycle::OpenChannel;
use aifactory_types::transaction::ChainId;
use aifactory_types::{Payload, SecretKey, Transaction};
use aifactory_wallet::Keystore;
use common::{Factory, adult_test_row, base_port};
use serde_json::{Value, json};

/// Base units a call costs.
const PRICE: u64 = 1_000;
/// Each channel's deposit, in base units (1 AIF): far more calls than a run makes.
const DEPOSIT: u64 = 1_000_000_000;

/// Where a run is: warming up, measuring, or over.
const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const OVER: u8 = 2;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let connections = setting("BENCH_CONNECTIONS", 64) as usize;
    let warmup = Duration::from_secs(setting("BENCH_WARMUP_S", 3));
    let measure = Duration::from_secs(setting("BENCH_MEASURE_S", 10));
    let calls = setting("BENCH_CALLS_PER_CONNECTION", 4_000);
    let python = std::env::var("BENCH_PYTHON").ok();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gateway_python");
    eprintln!(
        "== {} cores; {connections} connections, {}+{} s a run",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        warmup.as_secs(),
        measure.as_secs()
    );

    let mut f = Factory::start(3, 28_400).await;
    let model_file = f.register_model_with("account-0", "data", &[]);
    let native_input = adult_test_row();
    let features = featurized(&model_file, &native_input);
    let onnx_input = format!(
        "{}\n{}\n",
        (0..features.len())
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join(","),
        features
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let onnx_file = f.root().join("adult.onnx");
    let mut models = vec![("native", 1u64, native_input)];
    if let Some(python) = &python {
        let status = Command::new(python)
            .arg(here.join("export_onnx.py"))
            .args([&model_file, &onnx_file])
            .status()
            .expect("python runs");
        assert!(status.success(), "exporting the model to ONNX failed");
        let stored = f.cli.json(&["blob", "put", onnx_file.to_str().unwrap()]);
        let hash = stored["hash"].as_str().expect("a hash").to_owned();
        f.cli.json(&[
            "model",
            "register",
            "--from",
            "account-0",
            "--onnx",
            &hash,
            "--licence",
            "MIT",
            "--royalty-bps",
            "0",
        ]);
        models.push(("onnx", 2, onnx_input));
    }

    let port = base_port(28_400) + 50;
    let url = format!("http://127.0.0.1:{port}");
    for (_, model, _) in &models {
        f.cli.json(&[
            "gateway",
            "deploy",
            "--from",
            "account-1",
            "--model",
            &model.to_string(),
            "--price",
            "0.000001",
            "--gateway-bps",
            "2000",
            "--stake",
            "100",
            "--endpoint",
            &url,
        ]);
    }
    let keys = Keystore::new(f.root().join("keys"));
    let consumer = keys.load("account-0", None).expect("the devnet's key");
    let first_channel = open_channels(&f, &consumer, models.len(), connections).await;

    // Signed once per model: the unpaid runs and the Python server read the same bodies.
    let signed: Vec<Bodies> = models
        .iter()
        .enumerate()
        .map(|(i, (_, _, input))| {
            let first = first_channel + (i * connections) as u64;
            Arc::new(bodies(&consumer, first, connections, calls, input))
        })
        .collect();
    let mut results: Vec<Value> = Vec::new();
    for unpaid in [false, true] {
        let deployments: Vec<String> = (1..=models.len()).map(|d| d.to_string()).collect();
        let table = format!(
            "[gateway]\nlisten = \"127.0.0.1:{port}\"\ndeployments = [{}]\nclaim_interval_s = 3600\nunpaid_for_bench = {unpaid}\n",
            deployments.join(", ")
        );
        let name = if unpaid { "gateway-unpaid" } else { "gateway" };
        f.start_agent(name, "gateway", "account-1", &table);
        wait_for(&format!("{url}/v1/status")).await;
        for (i, (kind, model, _)) in models.iter().enumerate() {
            let label = format!("{kind} {}", if unpaid { "unpaid" } else { "paid" });
            let path = format!("{url}/v1/predict/{model}");
            let result = run(&label, &path, signed[i].clone(), warmup, measure).await;
            println!("{result}");
            results.push(result);
        }
        f.agents.kill(name);
    }
    if let Some(python) = &python {
        let python_port = port + 1;
        let mut server = python_server(python, &here, &onnx_file, python_port);
        let python_url = format!("http://127.0.0.1:{python_port}");
        wait_for(&format!("{python_url}/health")).await;
        let path = format!("{python_url}/v1/predict/2");
        let result = run(
            "python onnxruntime",
            &path,
            signed[1].clone(),
            warmup,
            measure,
        )
        .await;
        println!("{result}");
        results.push(result);
        // SIGTERM, so that uvicorn stops its workers too.
        let _ = Command::new("kill").arg(server.id().to_string()).status();
        let _ = server.wait();
    }
    report(&results);
    f.stop();
}

/// The features the model's encoder makes of `input`: what the ONNX model is fed.
fn featurized(model_file: &Path, input: &str) -> Vec<f32> {
    let model = StoredModel::load(model_file).expect("the registered model");
    let featurizer = model.features.expect("a model fitted on a table");
    let schema = Schema {
        header: true,
        ..Schema::adult()
    };
    let table = Table::parse_csv(input.as_bytes(), &schema).expect("Adult's row");
    featurizer.encode_x(&table).expect("the row encodes")
}

/// Opens `each` channels from `consumer` to each of deployments `1..=deployments`, in that
/// order, so channel ids run in it; returns the first channel's id.
async fn open_channels(f: &Factory, consumer: &SecretKey, deployments: usize, each: usize) -> u64 {
    let client = Client::new(&f.nodes[0]).unwrap();
    let address = consumer.address();
    let nonce = client.account(&address).await.unwrap().proof.account.nonce;
    let status = client.status().await.unwrap();
    let count = deployments * each;
    for i in 0..count {
        let deployment = 1 + (i / each) as u64;
        let tx = Transaction {
            chain_id: ChainId::new(DEVNET_CHAIN_ID).unwrap(),
            sender: address,
            nonce: nonce + i as u64,
            fee: 1_000,
            expiry_height: u64::MAX,
            payload: Payload::OpenChannel(OpenChannel {
                deployment,
                deposit: DEPOSIT,
                expiry_height: status.height + 1_000_000,
            }),
        }
        .sign(consumer);
        // A node holds a bounded number of one sender's pending transactions: wait for a block.
        while let Err(error) = client.submit_tx(&tx).await {
            assert_eq!(error.status(), Some(503), "{error}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open = client.account_channels(&address).await.unwrap().channels;
        if open.len() >= count {
            return open[0].key;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} channels open",
            open.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Each connection's request bodies, in order.
type Bodies = Arc<Vec<Vec<Vec<u8>>>>;

/// Each connection's request bodies: `calls` vouchers on its own channel, signed now.
fn bodies(
    consumer: &SecretKey,
    first_channel: u64,
    connections: usize,
    calls: u64,
    input: &str,
) -> Vec<Vec<Vec<u8>>> {
    let chain_id = ChainId::new(DEVNET_CHAIN_ID).unwrap();
    let started = Instant::now();
    let bodies: Vec<Vec<Vec<u8>>> = (0..connections as u64)
        .map(|c| {
            (1..=calls)
                .map(|k| {
                    let request = PredictRequest::paid(
                        consumer,
                        &chain_id,
                        first_channel + c,
                        k * PRICE,
                        input.to_owned(),
                    );
                    serde_json::to_vec(&request).unwrap()
                })
                .collect()
        })
        .collect();
    eprintln!(
        "   signed {} vouchers in {:.1} s",
        connections as u64 * calls,
        started.elapsed().as_secs_f64()
    );
    bodies
}

/// Waits until `url` answers 200.
async fn wait_for(url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// onnxruntime behind uvicorn, two workers, serving `onnx` on `port`.
fn python_server(python: &str, here: &Path, onnx: &Path, port: u16) -> Child {
    Command::new(python)
        .args([
            "-m",
            "uvicorn",
            "server:app",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ])
        .args(["--port", &port.to_string(), "--app-dir"])
        .arg(here)
        .env("BENCH_ONNX", onnx)
        .stdout(Stdio::null())
        .spawn()
        .expect("uvicorn starts")
}

/// Runs one load: each connection posts its bodies in order, one at a time, through the
/// warm-up and the measured window; the figures of the calls that ended while measuring.
async fn run(label: &str, url: &str, bodies: Bodies, warmup: Duration, measure: Duration) -> Value {
    eprintln!("== {label}");
    let phase = Arc::new(AtomicU8::new(WARMING));
    let mut tasks = Vec::new();
    for connection in 0..bodies.len() {
        let (phase, url, bodies) = (phase.clone(), url.to_owned(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .unwrap();
            let (mut latencies, mut errors, mut ran_out) = (Vec::new(), 0u64, true);
            for body in &bodies[connection] {
                let now = phase.load(Ordering::Relaxed);
                if now == OVER {
                    ran_out = false;
                    break;
                }
                let started = Instant::now();
                let ok = match http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        ok && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if phase.load(Ordering::Relaxed) == MEASURING && now == MEASURING {
                    match ok {
                        true => latencies.push(started.elapsed().as_micros() as u64),
                        false => errors += 1,
                    }
                }
            }
            (latencies, errors, ran_out)
        }));
    }
    tokio::time::sleep(warmup).await;
    phase.store(MEASURING, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(measure).await;
    phase.store(OVER, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let (mut latencies, mut errors, mut exhausted) = (Vec::new(), 0, 0);
    for task in tasks {
        let (l, e, ran_out) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
        exhausted += usize::from(ran_out);
    }
    latencies.sort_unstable();
    let quantile = |q: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1_000.0)
    };
    assert_eq!(
        exhausted, 0,
        "{exhausted} connections ran out of vouchers: raise BENCH_CALLS_PER_CONNECTION"
    );
    json!({
        "run": label,
        "calls_per_s": (latencies.len() as f64 / elapsed).round(),
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "errors": errors,
    })
}

/// Prints the runs as a table and the ratios the issue asks for.
fn report(results: &[Value]) {
    let rate = |label: &str| {
        results
            .iter()
            .find(|r| r["run"] == label)
            .and_then(|r| r["calls_per_s"].as_f64())
    };
    eprintln!();
    eprintln!(
        "{:<22}{:>10}{:>10}{:>10}{:>8}",
        "run", "calls/s", "p50 ms", "p99 ms", "errors"
    );
    for r in results {
        let number = |key: &str| r[key].as_f64().unwrap_or_default();
        eprintln!(
            "{:<22}{:>10.0}{:>10.2}{:>10.2}{:>8.0}",
            r["run"].as_str().unwrap_or_default(),
            number("calls_per_s"),
            number("p50_ms"),
            number("p99_ms"),
            number("errors")
        );
    }
    for kind in ["native", "onnx"] {
        if let (Some(paid), Some(unpaid)) = (
            rate(&format!("{kind} paid")),
            rate(&format!("{kind} unpaid")),
        ) {
            eprintln!(
                "{kind}: unpaid / paid = {:.2} (goal at most 1.3)",
                unpaid / paid
            );
        }
    }
    if let (Some(ours), Some(python)) = (rate("onnx paid"), rate("python onnxruntime")) {
        eprintln!(
            "ONNX: ours paid / python = {:.2} (goal at least 3)",
            ours / python
        );
    }
}

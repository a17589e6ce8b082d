//! One federated job run by separate agent processes against a real devnet: four validator
//! nodes over loopback TCP; three `aifactory agent provider` processes, each holding a
//! disjoint third of Adult's training rows; one `aifactory agent trainer`; two `aifactory
//! agent validator` processes, each holding half of Adult's test rows. A sponsor opens a
//! five-round FedAvg job with the CLI; the agents register, join, train, close, verify,
//! commit and reveal with nothing else driving them. The test checks the settlement against
//! the split by hand, that `job verify` recomputes every round, and that the model is within
//! two points of centralised training on the pooled rows (both printed).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aifactory_learn::data::features::Featurizer;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::federated::simulation::evaluate_accuracy;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train::{self, Optimizer, TrainConfig};
use aifactory_learn::ModelSpec;
use aifactory_node::devnet::{Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use serde_json::Value;

const VALIDATORS: usize = 4;
/// Developer, sponsor, trainer, three providers, two validators.
const ACCOUNTS: usize = 8;
const PROVIDERS: usize = 3;
const SCORERS: usize = 2;
const ROUNDS: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(240);
/// 1 AIF in base units.
const AIF: u64 = 1_000_000_000;
const SPEC: &str =
    r#"{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1,"activation":"relu","dropout":0.0}"#;
const LEARNING_RATE: f64 = 0.05;

fn base_port() -> u16 {
    23_000 + (std::process::id() % 200) as u16 * 50
}

fn adult(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/adult")
        .join(name)
}

/// The lines of an Adult file that hold rows, split into `parts` contiguous, disjoint parts.
fn split_rows(file: &Path, parts: usize) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('|'))
        .collect();
    let per = rows.len().div_ceil(parts);
    rows.chunks(per).map(|c| c.join("\n") + "\n").collect()
}

/// The `aifactory` binary with the devnet's directory as its home.
struct Cli {
    home: PathBuf,
    node: String,
}

impl Cli {
    fn json(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(args)
            .arg("--json")
            .env("AIFACTORY_HOME", &self.home)
            .env("AIFACTORY_NODE", &self.node)
            .env_remove("AIFACTORY_PASSPHRASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} gave no JSON ({e})"))
    }

    fn address(&self, key: &str) -> String {
        self.json(&["keys", "show", key])["address"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Agent processes, killed when the test ends however it ends.
#[derive(Default)]
struct Agents(Vec<Child>);

impl Agents {
    fn start(&mut self, role: &str, config: &Path, log: &Path) {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(["agent", role, "--config"])
            .arg(config)
            .env_remove("AIFACTORY_PASSPHRASE")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.0.push(child);
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn agent_file(dir: &Path, name: &str, key: &str, nodes: &[String], role: &str) -> PathBuf {
    let nodes: Vec<String> = nodes.iter().map(|n| format!("{n:?}")).collect();
    let text = format!(
        "[agent]\nnodes = [{}]\nhome = {:?}\nkey = {key:?}\nstate_dir = {:?}\npoll_ms = 200\n\n{role}",
        nodes.join(", "),
        dir.display().to_string(),
        dir.join(format!("{name}-state")).display().to_string(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn terms(dir: &Path) -> PathBuf {
    let text = format!(
        r#"model = 1
datasets = []
providers_min = {PROVIDERS}
providers_max = {PROVIDERS}
rounds = {ROUNDS}
round_retries = 1
metric = "accuracy"
target = 750000
tolerance = 20000
group_column = "sex"
validators_min = {SCORERS}
validators_max = {SCORERS}
leave_one_out = false
budget = "100"
trainer_stake = "5"
validator_stake = "1"

[training]
epochs = 1
batch_size = 64
learning_rate = 50000
seed = 11

[aggregation]
rule = "fed_avg"

[server]
learning_rate = 1000000
momentum = 0

[deadlines]
recruit_blocks = 2000
phase_blocks = 2000
aggregate_blocks = 2000
commit_blocks = 2000
reveal_blocks = 2000

[split]
trainer_bps = 3000
providers_bps = 4000
developer_bps = 1000
validators_bps = 1000
treasury_bps = 1000
"#
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Accuracy on Adult's test rows of the same MLP trained centrally on the pooled training rows
/// for as many epochs as the job's rounds, with the job's local settings.
fn centralised_accuracy(features: &Featurizer, spec: &ModelSpec, start: &[f32]) -> f64 {
    let schema = Schema::adult();
    let train_rows = Table::read_csv(&adult("adult.data"), &schema).unwrap();
    let test_rows = Table::read_csv(&adult("adult.test"), &schema).unwrap();
    let data = features.encode(&train_rows).unwrap();
    let config = TrainConfig {
        epochs: ROUNDS,
        batch_size: 64,
        learning_rate: LEARNING_RATE,
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        seed: 11,
        ..TrainConfig::default()
    };
    let trained = train::train(spec, start, &data, &config).unwrap();
    evaluate_accuracy(spec, &trained.params, &features.encode(&test_rows).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_from_registered_data_to_payout_with_agents_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let spec = DevnetSpec {
        validators: VALIDATORS,
        base_port: base_port(),
        accounts: ACCOUNTS,
        full_nodes: 0,
    };
    let devnet = Devnet::init(root, spec).unwrap();
    let nodes: Vec<String> = (0..VALIDATORS)
        .map(|i| format!("http://{}", devnet.spec.api(i)))
        .collect();
    let mut supervisor = Supervisor::new(devnet, env!("CARGO_BIN_EXE_aifactory").as_ref());
    for index in 0..VALIDATORS {
        supervisor.restart(index).unwrap();
    }
    for index in 0..VALIDATORS {
        supervisor.wait_height(index, 2, TIMEOUT).await.unwrap();
    }
    let cli = Cli {
        home: root.to_owned(),
        node: nodes[0].clone(),
    };
    let key = |i: usize| format!("account-{i}");
    let (developer, sponsor, trainer) = (key(0), key(1), key(2));

    // The developer's starting model: seeded weights and the job-wide feature encoding.
    let spec_file = root.join("mlp.json");
    std::fs::write(&spec_file, SPEC).unwrap();
    let model_file = root.join("start.safetensors");
    let init = cli.json(&[
        "model",
        "init",
        "--spec",
        spec_file.to_str().unwrap(),
        "--data",
        adult("adult.data").to_str().unwrap(),
        "--schema",
        "adult",
        "--exclude",
        "sex",
        "--exclude",
        "race",
        "--seed",
        "3",
        "--out",
        model_file.to_str().unwrap(),
    ]);
    for file in [
        init["model_file"].as_str().unwrap(),
        init["spec_file"].as_str().unwrap(),
    ] {
        cli.json(&["blob", "put", file]);
    }
    cli.json(&[
        "model",
        "register",
        "--from",
        &developer,
        "--spec",
        init["spec"].as_str().unwrap(),
        "--weights",
        init["weights"].as_str().unwrap(),
        "--royalty-bps",
        "500",
        "--licence",
        "Apache-2.0",
    ]);

    // The agents, each with its own rows.
    let mut agents = Agents::default();
    for (i, part) in split_rows(&adult("adult.data"), PROVIDERS)
        .iter()
        .enumerate()
    {
        let data = root.join(format!("provider-{i}.csv"));
        std::fs::write(&data, part).unwrap();
        let role = format!(
            "[provider]\ndata = {:?}\nschema = \"adult\"\nlicence = \"CC-BY-4.0\"\nstake = \"1\"\n",
            data.display().to_string()
        );
        let name = format!("provider-{i}");
        let config = agent_file(root, &name, &key(3 + i), &nodes, &role);
        agents.start("provider", &config, &root.join(format!("{name}.log")));
    }
    let config = agent_file(root, "trainer", &trainer, &nodes, "[trainer]\n");
    agents.start("trainer", &config, &root.join("trainer.log"));
    for (i, part) in split_rows(&adult("adult.test"), SCORERS).iter().enumerate() {
        let data = root.join(format!("validator-{i}.csv"));
        std::fs::write(&data, part).unwrap();
        let role = format!(
            "[validator]\ndata = {:?}\nschema = \"adult\"\n",
            data.display().to_string()
        );
        let name = format!("validator-{i}");
        let config = agent_file(root, &name, &key(3 + PROVIDERS + i), &nodes, &role);
        agents.start("validator", &config, &root.join(format!("{name}.log")));
    }

    // Wait for the providers' datasets, then the sponsor opens the job.
    let started = Instant::now();
    while cli.json(&["dataset", "list"])["items"]
        .as_array()
        .map_or(0, Vec::len)
        < PROVIDERS
    {
        assert!(
            started.elapsed() < TIMEOUT,
            "datasets not registered; see {}",
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cli.json(&[
        "job",
        "open",
        "--from",
        &sponsor,
        "--terms",
        terms(root).to_str().unwrap(),
    ]);
    let opened = Instant::now();
    let job = loop {
        let job = cli.json(&["job", "show", "1"]);
        let stage = job["job"]["value"]["status"]["stage"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if ["settled", "failed", "cancelled"].contains(&stage.as_str()) {
            break job;
        }
        if started.elapsed() > TIMEOUT {
            let logs: Vec<String> = ["trainer", "provider-0", "validator-0"]
                .iter()
                .map(|n| std::fs::read_to_string(root.join(format!("{n}.log"))).unwrap_or_default())
                .collect();
            panic!(
                "job not finished in time ({stage}): {job}\n{}",
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!(
        "job 1 finished {:.1} s after it opened",
        opened.elapsed().as_secs_f64()
    );
    let status = &job["job"]["value"]["status"];
    assert_eq!(status["stage"], "settled", "{job}");
    assert_eq!(job["job"]["value"]["escrow"], 0);
    assert_eq!(job["job"]["value"]["rounds_closed"], ROUNDS as u64);

    // Payouts by the split, by hand: trainer 30 AIF, validators 10 AIF shared by equal stakes,
    // providers 40 AIF by samples (each provider's rows, every round).
    let paid = |who: &str| -> u64 {
        let address = cli.address(who);
        job["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"][1] == address.as_str())
            .map_or(0, |p| p["value"]["paid"].as_u64().unwrap())
    };
    assert_eq!(paid(&trainer), 30 * AIF);
    for i in 0..SCORERS {
        assert_eq!(paid(&key(3 + PROVIDERS + i)), 5 * AIF, "validator {i}");
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
        let got = paid(&key(3 + i));
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

    // Anyone can recompute every round from the published blobs.
    let checks = cli.json(&["job", "verify", "1"]);
    let checks = checks.as_array().unwrap();
    assert_eq!(checks.len(), ROUNDS);
    assert!(
        checks
            .iter()
            .all(|c| c["aggregate_matches"] == true && c["model_matches"] == true),
        "{checks:?}"
    );

    // The federated model against centralised training on the pooled rows.
    let model_hash: aifactory_types::Hash = job["job"]["value"]["global_model"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let client = aifactory_client::Client::new(&nodes[1]).unwrap();
    let federated = StoredModel::from_bytes(&client.get_blob(&model_hash).await.unwrap()).unwrap();
    let features = federated.features.clone().unwrap();
    let test_rows = Table::read_csv(&adult("adult.test"), &Schema::adult()).unwrap();
    let federated_accuracy = evaluate_accuracy(
        &federated.spec,
        &federated.params,
        &features.encode(&test_rows).unwrap(),
    )
    .unwrap();
    let start = StoredModel::load(&model_file).unwrap();
    let pooled = centralised_accuracy(&features, &start.spec, &start.params);
    println!("accuracy on adult.test: federated {federated_accuracy:.4}, centralised {pooled:.4}");
    assert!(
        (federated_accuracy - pooled).abs() <= 0.02,
        "federated {federated_accuracy} vs centralised {pooled}"
    );
    drop(agents);
    supervisor.stop_all(Duration::from_secs(10));
}

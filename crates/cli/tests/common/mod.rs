//! What the tests that run a whole factory share: a devnet of validator processes, the
//! `aifactory` binary driven with `--json`, agent processes that can be killed and restarted,
//! Adult's rows split between parties, and job terms.

#![allow(dead_code, unreachable_pub)]

pub(crate) mod proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aifactory_learn::ModelSpec;
use aifactory_learn::data::features::Featurizer;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::federated::simulation::evaluate_accuracy;
use aifactory_learn::store::StoredModel;
use aifactory_node::devnet::{Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use serde_json::Value;

/// Validator nodes of every test devnet.
pub(crate) const VALIDATORS: usize = 4;
/// How long a test waits for anything.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(240);
/// Adult's group columns, which the tests' models leave out of their features (the validators
/// measure fairness over `sex`).
pub(crate) const GROUPS: &[&str] = &["sex", "race"];

/// 1 AIF in base units.
pub(crate) const AIF: u64 = 1_000_000_000;
/// The jobs' model: Adult's 108 inputs, two hidden layers, one logit.
pub(crate) const SPEC: &str =
    r#"{"kind":"mlp","inputs":108,"hidden":[64,32],"outputs":1,"activation":"relu","dropout":0.0}"#;

/// A file of the repository's Adult data set.
pub(crate) fn adult(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/adult")
        .join(name)
}

/// The lines of an Adult file that hold rows, in `parts` contiguous, disjoint parts.
pub(crate) fn split_rows(file: &Path, parts: usize) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('|'))
        .collect();
    let per = rows.len().div_ceil(parts);
    rows.chunks(per).map(|c| c.join("\n") + "\n").collect()
}

/// Adult's first test row as CSV, with the header a native Adult model's encoder reads.
pub(crate) fn adult_test_row() -> String {
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

/// Test `offset`'s base port: each test that starts a devnet has its own `offset`, 400 apart
/// (a devnet takes `base..base + 4` and `base + 100..base + 104`), plus a little of the process
/// id so that a rerun does not bind ports a killed run may still hold. Every port stays below
/// the kernel's ephemeral range (32768 up), where an outgoing connection could already hold it.
pub(crate) fn base_port(offset: u16) -> u16 {
    let port = offset + (std::process::id() % 4) as u16 * 50;
    assert!(
        port + 110 < 32_768,
        "test ports must stay below the ephemeral range"
    );
    port
}

/// The `aifactory` binary with the devnet's directory as its home and one node as its node.
pub(crate) struct Cli {
    /// The home directory (the devnet's keys).
    pub(crate) home: PathBuf,
    /// The node URL.
    pub(crate) node: String,
}

impl Cli {
    /// Runs a command with `--json` that must succeed, and parses its output.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} gave no JSON ({e})"))
    }

    /// Runs a command with `--json`, whatever its outcome.
    pub(crate) fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(args)
            .arg("--json")
            .env("AIFACTORY_HOME", &self.home)
            .env("AIFACTORY_NODE", &self.node)
            .env_remove("AIFACTORY_PASSPHRASE")
            .output()
            .unwrap()
    }

    /// A key's address.
    pub(crate) fn address(&self, key: &str) -> String {
        self.json(&["keys", "show", key])["address"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A devnet, started, with funded accounts `account-0` ... and the CLI pointed at it.
pub(crate) struct Factory {
    /// Where everything lives.
    pub(crate) dir: tempfile::TempDir,
    /// The validator processes.
    pub(crate) supervisor: Supervisor,
    /// Every node's API URL.
    pub(crate) nodes: Vec<String>,
    /// The CLI.
    pub(crate) cli: Cli,
    /// Agent processes by name.
    pub(crate) agents: Agents,
}

impl Factory {
    /// Starts `VALIDATORS` nodes with `accounts` funded accounts; `port` keeps tests apart.
    pub(crate) async fn start(accounts: usize, port: u16) -> Factory {
        Self::start_with(accounts, port, |_| {}).await
    }

    /// `start` with the genesis file's JSON changed by `genesis` before any node reads it
    /// (e.g. a parameter a test needs).
    pub(crate) async fn start_with(
        accounts: usize,
        port: u16,
        genesis: impl FnOnce(&mut Value),
    ) -> Factory {
        let dir = tempfile::tempdir().unwrap();
        let spec = DevnetSpec {
            validators: VALIDATORS,
            base_port: base_port(port),
            accounts,
            full_nodes: 0,
        };
        let devnet = Devnet::init(dir.path(), spec).unwrap();
        let genesis_file = dir.path().join("genesis.json");
        let mut json: Value =
            serde_json::from_str(&std::fs::read_to_string(&genesis_file).unwrap()).unwrap();
        genesis(&mut json);
        std::fs::write(&genesis_file, json.to_string()).unwrap();
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
            home: dir.path().to_owned(),
            node: nodes[0].clone(),
        };
        Factory {
            dir,
            supervisor,
            nodes,
            cli,
            agents: Agents::default(),
        }
    }

    /// The test's directory.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Registers `SPEC` as a model of `developer` with a starting model whose featurizer is
    /// fitted on Adult's training rows, leaving out the groups `sex` and `race`; returns the
    /// starting model's file.
    pub(crate) fn register_model(&self, developer: &str) -> PathBuf {
        self.register_model_with(developer, "data", GROUPS)
    }

    /// `register_model` with the featurizer's numeric statistics from `statistics`: `data`
    /// (fitted on Adult's training rows) or `secure` (left to the job's first secure round),
    /// and the columns `exclude` left out of the features.
    pub(crate) fn register_model_with(
        &self,
        developer: &str,
        statistics: &str,
        exclude: &[&str],
    ) -> PathBuf {
        let root = self.root();
        let spec_file = root.join("mlp.json");
        std::fs::write(&spec_file, SPEC).unwrap();
        let model_file = root.join("start.safetensors");
        let data = adult("adult.data");
        let mut args = vec![
            "model",
            "init",
            "--spec",
            spec_file.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--schema",
            "adult",
            "--statistics",
            statistics,
            "--seed",
            "3",
            "--out",
            model_file.to_str().unwrap(),
        ];
        for column in exclude {
            args.extend(["--exclude", column]);
        }
        let init = self.cli.json(&args);
        for file in ["model_file", "spec_file"] {
            self.cli
                .json(&["blob", "put", init[file].as_str().unwrap()]);
        }
        self.cli.json(&[
            "model",
            "register",
            "--from",
            developer,
            "--spec",
            init["spec"].as_str().unwrap(),
            "--weights",
            init["weights"].as_str().unwrap(),
            "--royalty-bps",
            "500",
            "--licence",
            "Apache-2.0",
        ]);
        model_file
    }

    /// Writes agent `name`'s configuration (key `key`, the role's table `role`) and returns
    /// its path.
    pub(crate) fn agent_config(&self, name: &str, key: &str, role: &str) -> PathBuf {
        self.agent_config_via(name, key, role, &self.nodes)
    }

    /// `agent_config` with the agent talking to `nodes` instead of the devnet's.
    pub(crate) fn agent_config_via(
        &self,
        name: &str,
        key: &str,
        role: &str,
        nodes: &[String],
    ) -> PathBuf {
        let root = self.root();
        let nodes: Vec<String> = nodes.iter().map(|n| format!("{n:?}")).collect();
        let text = format!(
            "[agent]\nnodes = [{}]\nhome = {:?}\nkey = {key:?}\nstate_dir = {:?}\npoll_ms = 200\n\n{role}",
            nodes.join(", "),
            root.display().to_string(),
            root.join(format!("{name}-state")).display().to_string(),
        );
        let path = root.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts agent `name` in `role` with key `key` and role table `table`.
    pub(crate) fn start_agent(&mut self, name: &str, role: &str, key: &str, table: &str) {
        let nodes = self.nodes.clone();
        self.start_agent_via(name, role, key, table, &nodes);
    }

    /// `start_agent` with the agent talking to `nodes` instead of the devnet's.
    pub(crate) fn start_agent_via(
        &mut self,
        name: &str,
        role: &str,
        key: &str,
        table: &str,
        nodes: &[String],
    ) {
        let config = self.agent_config_via(name, key, table, nodes);
        let log = self.root().join(format!("{name}.log"));
        self.agents.start(name, role, &config, &log);
    }

    /// Starts providers `provider-0` ... on disjoint parts of Adult's training rows, with keys
    /// `account-<first_key + i>`; `extra(i)` is appended to provider i's table.
    pub(crate) fn start_providers(
        &mut self,
        count: usize,
        first_key: usize,
        extra: impl Fn(usize) -> String,
    ) {
        let nodes = self.nodes.clone();
        for (i, part) in split_rows(&adult("adult.data"), count).iter().enumerate() {
            let key = format!("account-{}", first_key + i);
            self.start_provider(i, part, &key, &extra(i), &nodes);
        }
    }

    /// Starts `provider-<i>` on `rows` (lines of Adult) with key `key`, talking to `nodes`;
    /// `extra` is appended to its table.
    pub(crate) fn start_provider(
        &mut self,
        i: usize,
        rows: &str,
        key: &str,
        extra: &str,
        nodes: &[String],
    ) {
        let data = self.root().join(format!("provider-{i}.csv"));
        std::fs::write(&data, rows).unwrap();
        let table = provider_table(&data) + extra;
        self.start_agent_via(&format!("provider-{i}"), "provider", key, &table, nodes);
    }

    /// Starts validators `validator-0` ... on disjoint parts of Adult's test rows, with keys
    /// `account-<first_key + i>`; `extra(i)` is appended to validator i's table.
    pub(crate) fn start_validators(
        &mut self,
        count: usize,
        first_key: usize,
        extra: impl Fn(usize) -> String,
    ) {
        for (i, part) in split_rows(&adult("adult.test"), count).iter().enumerate() {
            let data = self.root().join(format!("validator-{i}.csv"));
            std::fs::write(&data, part).unwrap();
            let table = format!(
                "[validator]\ndata = {:?}\nschema = \"adult\"\n{}",
                data.display().to_string(),
                extra(i)
            );
            let key = format!("account-{}", first_key + i);
            self.start_agent(&format!("validator-{i}"), "validator", &key, &table);
        }
    }

    /// Waits until `count` datasets are registered.
    pub(crate) async fn wait_datasets(&self, count: usize) {
        let started = Instant::now();
        while self.cli.json(&["dataset", "list"])["items"]
            .as_array()
            .map_or(0, Vec::len)
            < count
        {
            assert!(
                started.elapsed() < TIMEOUT,
                "{count} datasets not registered; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls job `id` until `done` holds of its JSON view; panics with the agents' logs after
    /// `TIMEOUT`.
    pub(crate) async fn wait_job(
        &self,
        id: u64,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let job = self.cli.json(&["job", "show", &id.to_string()]);
            if done(&job) {
                return job;
            }
            if started.elapsed() > TIMEOUT {
                panic!(
                    "job {id}: {what} not reached in time: {job}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until job `id` has ended (settled, failed or cancelled).
    pub(crate) async fn wait_finished(&self, id: u64) -> Value {
        self.wait_job(id, "the end", |job| {
            let stage = job["job"]["value"]["status"]["stage"]
                .as_str()
                .unwrap_or("");
            ["settled", "failed", "cancelled"].contains(&stage)
        })
        .await
    }

    /// Waits until the ledger has pruned round `round` of finished job `id`'s phase messages
    /// from the state (its blocks keep them).
    pub(crate) async fn wait_pruned(&self, id: u64, round: usize) {
        let started = Instant::now();
        loop {
            let view = self.cli.json(&[
                "job",
                "show",
                &id.to_string(),
                "--round",
                &round.to_string(),
            ]);
            let phases = view["phases"].as_array().unwrap();
            if phases
                .iter()
                .all(|p| p["posts"].as_array().unwrap().is_empty())
            {
                return;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "job {id} round {round} never pruned: {view}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Every agent's log, for a failure message.
    pub(crate) fn logs(&self) -> String {
        let mut out = String::new();
        for name in self.agents.names() {
            let log = std::fs::read_to_string(self.root().join(format!("{name}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("---- {name}\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Stops the agents and the nodes.
    pub(crate) fn stop(mut self) {
        self.agents.stop_all();
        self.supervisor.stop_all(Duration::from_secs(10));
    }
}

/// A provider's `[provider]` table for the rows in `data`, without drill or policy.
pub(crate) fn provider_table(data: &Path) -> String {
    format!(
        "[provider]\ndata = {:?}\nschema = \"adult\"\nlicence = \"CC-BY-4.0\"\nstake = \"1\"\n",
        data.display().to_string()
    )
}

/// What a participant of a job view was paid, by key name.
pub(crate) fn paid(cli: &Cli, job: &Value, key: &str) -> u64 {
    let address = cli.address(key);
    job["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"][1] == address.as_str())
        .map_or(0, |p| p["value"]["paid"].as_u64().unwrap())
}

/// Agent processes by name, killed when dropped however the test ends.
#[derive(Default)]
pub(crate) struct Agents {
    running: BTreeMap<String, (Child, String, PathBuf, PathBuf)>,
    /// Extra arguments for every agent started from now on (`--log-format json`, say).
    pub(crate) args: Vec<String>,
}

impl Agents {
    /// Starts `aifactory agent <role> --config <config>`, its log to `log` (appended).
    pub(crate) fn start(&mut self, name: &str, role: &str, config: &Path, log: &Path) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(["agent", role, "--config"])
            .arg(config)
            .args(&self.args)
            .env_remove("AIFACTORY_PASSPHRASE")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        self.running.insert(
            name.to_owned(),
            (child, role.to_owned(), config.to_owned(), log.to_owned()),
        );
    }

    /// Kills agent `name` with SIGKILL.
    pub(crate) fn kill(&mut self, name: &str) {
        let (child, ..) = self.running.get_mut(name).expect("a started agent");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Whether agent `name` has exited (a drilled crash, say).
    pub(crate) fn exited(&mut self, name: &str) -> bool {
        let (child, ..) = self.running.get_mut(name).expect("a started agent");
        child.try_wait().unwrap().is_some()
    }

    /// Starts agent `name` again with the same role and log, from configuration `config`.
    pub(crate) fn restart(&mut self, name: &str, config: &Path) {
        self.kill(name);
        let (_, role, _, log) = self.running.remove(name).expect("a started agent");
        self.start(name, &role, config, &log);
    }

    /// The process ids of the agents still known, by name.
    pub(crate) fn pids(&self) -> Vec<(String, u32)> {
        self.running
            .iter()
            .map(|(name, (child, ..))| (name.clone(), child.id()))
            .collect()
    }

    /// The agents' names.
    pub(crate) fn names(&self) -> Vec<String> {
        self.running.keys().cloned().collect()
    }

    /// Kills every agent.
    pub(crate) fn stop_all(&mut self) {
        for (child, ..) in self.running.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Job terms as TOML, with the fields a test varies.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    /// The model.
    pub(crate) model: u64,
    /// Fewest providers.
    pub(crate) providers_min: usize,
    /// Most providers.
    pub(crate) providers_max: usize,
    /// Rounds.
    pub(crate) rounds: usize,
    /// Validators settling the job.
    pub(crate) validators_min: usize,
    /// Validators that may commit.
    pub(crate) validators_max: usize,
    /// The `[aggregation]` table's body.
    pub(crate) aggregation: String,
    /// Blocks of each stage's deadline: recruit, phase, aggregate, commit, reveal.
    pub(crate) deadlines: [u64; 5],
    /// A `[privacy]` table, if any.
    pub(crate) privacy: Option<String>,
    /// Secure aggregation's threshold, if the job uses it.
    pub(crate) secure: Option<u16>,
    /// Whether validators measure leave-one-out contributions, which then weight the
    /// providers' pool.
    pub(crate) leave_one_out: bool,
    /// The providers' SGD step size, in millionths.
    pub(crate) learning_rate: u64,
}

impl Default for Terms {
    fn default() -> Self {
        Terms {
            model: 1,
            providers_min: 3,
            providers_max: 3,
            rounds: 5,
            validators_min: 2,
            validators_max: 2,
            aggregation: "rule = \"fed_avg\"".into(),
            deadlines: [2000; 5],
            privacy: None,
            secure: None,
            leave_one_out: false,
            learning_rate: 50_000,
        }
    }
}

impl Terms {
    /// Writes the terms to `dir/<name>.toml` and returns the path.
    pub(crate) fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let [recruit, phase, aggregate, commit, reveal] = self.deadlines;
        let text = format!(
            r#"model = {model}
datasets = []
providers_min = {pmin}
providers_max = {pmax}
rounds = {rounds}
round_retries = 1
metric = "accuracy"
target = 700000
tolerance = 20000
group_column = "sex"
validators_min = {vmin}
validators_max = {vmax}
leave_one_out = {leave_one_out}
budget = "100"
trainer_stake = "5"
validator_stake = "1"

[training]
epochs = 1
batch_size = 64
learning_rate = {learning_rate}
seed = 11

[aggregation]
{aggregation}

[server]
learning_rate = 1000000
momentum = 0

[deadlines]
recruit_blocks = {recruit}
phase_blocks = {phase}
aggregate_blocks = {aggregate}
commit_blocks = {commit}
reveal_blocks = {reveal}

[split]
trainer_bps = 3000
providers_bps = 4000
developer_bps = 1000
validators_bps = 1000
treasury_bps = 1000
{privacy}{secure}"#,
            model = self.model,
            pmin = self.providers_min,
            pmax = self.providers_max,
            rounds = self.rounds,
            vmin = self.validators_min,
            vmax = self.validators_max,
            aggregation = self.aggregation,
            leave_one_out = self.leave_one_out,
            learning_rate = self.learning_rate,
            privacy = self.privacy.clone().unwrap_or_default(),
            secure = self
                .secure
                .map(|t| format!("\n[secure_aggregation]\nthreshold = {t}\n"))
                .unwrap_or_default(),
        );
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Accuracy of a model's parameters on Adult's test rows, encoded with `features`.
pub(crate) fn test_accuracy(spec: &ModelSpec, params: &[f32], features: &Featurizer) -> f64 {
    let test_rows = Table::read_csv(&adult("adult.test"), &Schema::adult()).unwrap();
    evaluate_accuracy(spec, params, &features.encode(&test_rows).unwrap()).unwrap()
}

/// The final model of a job view, from the blob store.
pub(crate) async fn final_model(factory: &Factory, job: &Value) -> StoredModel {
    let hash: aifactory_types::Hash = job["job"]["value"]["global_model"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let client = aifactory_client::Client::new(&factory.nodes[1]).unwrap();
    StoredModel::from_bytes(&client.get_blob(&hash).await.unwrap()).unwrap()
}

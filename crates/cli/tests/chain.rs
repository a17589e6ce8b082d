//! End-to-end tests of the commands that talk to a node (`status`, `account show`, `block show`,
//! `tx transfer`, the staking and candidacy `tx` commands, `tx show`, and the lifecycle's
//! `dataset`, `model` and `job` commands): the real `aifactory`
//! binary, with a real home directory, against the real API served on a loopback socket over a
//! single-process chain (`aifactory_api::testing`).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aifactory_api::testing::{BALANCE, TestNode, TestServer, start, unlimited};
use aifactory_ledger::testing::test_key;
use serde_json::Value;

/// The API over `node`, served by its own runtime for as long as this lives.
struct Served {
    server: TestServer,
    // Declared after `server` so it is dropped after it: the server runs on it.
    _runtime: tokio::runtime::Runtime,
}

impl Served {
    fn new(node: TestNode) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(start(node, unlimited()));
        Served {
            server,
            _runtime: runtime,
        }
    }

    fn node(&self) -> &TestNode {
        &self.server.node
    }

    /// A CLI home whose keys `alice`, `bob` and `carol` are the test chain's keys 1, 2 and 3.
    fn cli(&self) -> Cli {
        let cli = Cli {
            home: tempfile::tempdir().unwrap(),
            node_url: self.server.base_url(),
        };
        for (name, index) in [("alice", 1), ("bob", 2), ("carol", 3)] {
            let secret = hex::encode(test_key(index).to_bytes());
            cli.ok_with_stdin(&["keys", "import", name, "--insecure-plaintext"], &secret);
        }
        cli
    }
}

/// The binary, run with a home directory and `AIFACTORY_NODE` pointing at a served node.
struct Cli {
    home: tempfile::TempDir,
    node_url: String,
}

impl Cli {
    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(args)
            .env("AIFACTORY_HOME", self.home.path())
            .env("AIFACTORY_NODE", &self.node_url)
            .env_remove("AIFACTORY_PASSPHRASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn ok_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must succeed, returning its standard output.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, "")
    }

    /// Runs a command that must fail with exit code 1 and print nothing on standard output,
    /// returning its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed a result and failed"
        );
        stderr
    }

    /// Runs a command with `--json` that must succeed, and parses its output.
    fn json(&self, args: &[&str]) -> Value {
        let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} gave no JSON ({e}): {out}"))
    }
}

fn address(index: usize) -> String {
    test_key(index).address().to_string()
}

/// The arguments of `tx transfer` of `amount` AIF from the key `from` to `to`, then `extra`.
fn transfer<'a>(from: &'a str, to: &'a str, amount: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "tx", "transfer", "--from", from, "--to", to, "--amount", amount,
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs a transaction command whose action must be final but failed: exit status 1, the
/// receipt on standard output. Returns the receipt's text.
fn final_but_failed(cli: &Cli, args: &[&str]) -> String {
    let out = cli.run(args);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.contains("is final but its action failed"),
        "{stderr}"
    );
    stdout
}

/// The balance of `account` as `account show --json` reports it.
fn balance(cli: &Cli, account: &str) -> u64 {
    cli.json(&["account", "show", account])["proof"]["account"]["balance"]
        .as_u64()
        .unwrap()
}

#[test]
fn status_shows_the_nodes_view_of_the_chain() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let state = served.node().chain().state;

    let text = cli.ok(&["status"]);
    for expected in [
        "chain id          aifactory-test".to_owned(),
        "height            0".to_owned(),
        "finalized height  0".to_owned(),
        format!("state root        {}", state.root()),
        format!("last block        {}", state.last_block_hash()),
        "epoch             0".to_owned(),
        format!("validators        {}", state.validators().count()),
        "peers             0".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }

    let json = cli.json(&["status"]);
    assert_eq!(json["chain_id"], "aifactory-test");
    assert_eq!(json["height"], 0);
    assert_eq!(json["state_root"], state.root().to_string());
    assert_eq!(json["peers"], serde_json::json!([]));
    assert_eq!(json["epoch"], 0);
    let first = state.validators().next().unwrap().0;
    assert_eq!(json["validators"][0]["address"], first.to_string());
}

#[test]
fn account_show_prints_an_account_whose_proof_verifies() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let root = served.node().chain().state.root();

    let text = cli.ok(&["account", "show", "alice"]);
    for expected in [
        format!("address    {}", address(1)),
        "balance    1 AIF".to_owned(),
        "nonce      0".to_owned(),
        "bonded     0 AIF".to_owned(),
        format!("proof      verified against state root {root} at height 0"),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }

    let json = cli.json(&["account", "show", &address(1)]);
    assert_eq!(json["state_root"], root.to_string());
    assert_eq!(json["proof"]["address"], address(1));
    assert_eq!(json["proof"]["account"]["balance"], BALANCE);
    assert_eq!(json["proof"]["account"]["nonce"], 0);
}

#[test]
fn a_node_that_forges_an_accounts_proof_is_not_believed() {
    let served = Served::new(TestNode::with_forged_proofs());
    let cli = served.cli();
    let error = cli.fails(&["account", "show", "alice"]);
    assert!(
        error.contains("does not lead to the state root") && error.contains(&address(1)),
        "{error}"
    );
    let error = cli.fails(&["account", "show", "alice", "--json"]);
    assert!(error.contains("does not lead to the state root"), "{error}");

    // Nor is the nonce it would give a transfer.
    let error = cli.fails(&transfer("alice", "bob", "1", &[]));
    assert!(
        error.contains("looking up the sender's next nonce") && error.contains("state root"),
        "{error}"
    );
}

#[test]
fn an_unknown_account_is_an_error_naming_it() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let stranger = test_key(99).address().to_string();
    let error = cli.fails(&["account", "show", &stranger]);
    assert!(
        error.starts_with("error: no such account") && error.contains(&stranger),
        "{error}"
    );
    let error = cli.fails(&["account", "show", "nobody"]);
    assert!(error.contains("neither an address"), "{error}");
}

#[test]
fn transfer_waits_for_a_final_receipt_and_moves_the_tokens() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let error = cli.fails(&["block", "show"]);
    assert!(
        error.contains("no block latest") && error.contains("(block_not_found)"),
        "{error}"
    );

    // No --nonce and no --chain-id: both come from the node.
    let text = cli.ok(&transfer("alice", "bob", "0.25", &[]));
    assert!(text.contains("status       included"), "{text}");
    assert!(text.contains("block        1 ("), "{text}");
    assert!(text.contains("outcome      success"), "{text}");
    assert!(text.contains("fee paid     0.000001 AIF"), "{text}");
    assert_eq!(balance(&cli, "bob"), BALANCE + 250_000_000);
    let alice = cli.json(&["account", "show", "alice"]);
    assert_eq!(alice["proof"]["account"]["nonce"], 1);
    assert_eq!(
        alice["proof"]["account"]["balance"],
        BALANCE - 250_000_000 - 1_000
    );

    // The second transfer picks up nonce 1 by itself; --json prints the transaction's view.
    let json = cli.json(&transfer("alice", &address(3), "0.000000002", &[]));
    assert_eq!(json["status"]["status"], "included");
    assert_eq!(json["status"]["height"], 2);
    assert_eq!(json["status"]["receipt"]["outcome"]["status"], "success");
    let tx_hash = json["tx_hash"].as_str().unwrap().to_owned();
    assert_eq!(balance(&cli, "carol"), BALANCE + 2);

    // The blocks, by `latest`, height and hash, as text and JSON.
    let latest = cli.json(&["block", "show"]);
    let block_hash = json["status"]["block_hash"].as_str().unwrap();
    assert_eq!(latest["hash"], block_hash);
    assert_eq!(cli.json(&["block", "show", "2"]), latest);
    assert_eq!(cli.json(&["block", "show", block_hash]), latest);
    assert_eq!(cli.json(&["block", "show", "latest"]), latest);
    assert_eq!(latest["block"]["header"]["height"], 2);
    assert_eq!(latest["block"]["txs"].as_array().unwrap().len(), 1);

    let text = cli.ok(&["block", "show", "2"]);
    for expected in [
        "block         2".to_owned(),
        format!("hash          {block_hash}"),
        format!("proposer      {}", address(0)),
        "txs           1".to_owned(),
        format!(
            "{tx_hash}  from {}  transfer 0.000000002 AIF to {}  success",
            address(1),
            address(3)
        ),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }
    let first = cli.ok(&["block", "show", "1"]);
    assert!(
        first.contains(&format!("transfer 0.25 AIF to {}", address(2))),
        "{first}"
    );

    let error = cli.fails(&["block", "show", "3"]);
    assert!(error.contains("no block 3"), "{error}");
    // A block id that does not parse is a usage error (clap's exit status 2).
    let out = cli.run(&["block", "show", "yesterday"]);
    let error = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{error}");
    assert!(error.contains("neither a block height"), "{error}");
}

#[test]
fn a_replayed_nonce_is_refused_with_the_nodes_message() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let args = transfer("alice", "bob", "0.5", &["--nonce", "0", "--fee", "5000"]);
    cli.ok(&args);
    let error = cli.fails(&args);
    assert!(
        error.starts_with("error: nonce 0 was already used") && error.contains("(nonce_replayed)"),
        "{error}"
    );
    assert_eq!(
        balance(&cli, "bob"),
        BALANCE + 500_000_000,
        "only the first one moved tokens"
    );

    // A refusal by the ledger's admission checks, also as the node words it.
    let error = cli.fails(&transfer("alice", "bob", "1", &["--chain-id", "other"]));
    assert!(error.contains("(wrong_chain_id)"), "{error}");
}

#[test]
fn an_overdraft_is_final_but_failed_and_exits_non_zero() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    let receipt = final_but_failed(&cli, &transfer("alice", "bob", "5", &[]));
    assert!(
        receipt.contains("outcome      failed: insufficient funds"),
        "{receipt}"
    );
    assert_eq!(balance(&cli, "bob"), BALANCE);
}

#[test]
fn transfer_polls_until_a_block_is_built_or_the_timeout_passes() {
    let served = Served::new(TestNode::manual(100));
    let cli = served.cli();

    // --no-wait returns once the node has it; `tx show` then finds it pending.
    let accepted = cli.json(&transfer("alice", "bob", "0.5", &["--no-wait"]));
    let alice_tx = accepted["tx_hash"].as_str().unwrap().to_owned();
    assert!(
        cli.ok(&["tx", "show", &alice_tx])
            .contains("status       pending")
    );

    // Nobody builds a block: the wait gives up after --timeout seconds.
    let started = std::time::Instant::now();
    let error = cli.fails(&transfer("bob", "alice", "0.5", &["--timeout", "1"]));
    assert!(
        error.contains("was not in a finalized block after 1 s"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A block built while it waits (once its transaction has joined the other two in the
    // mempool): it sees the transaction included and final.
    let node = served.node().clone();
    let sealer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while node.mempool_len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        node.seal();
    });
    let text = cli.ok(&transfer("carol", "alice", "0.5", &[]));
    sealer.join().unwrap();
    assert!(
        text.contains("block        1 (") && text.contains("outcome      success"),
        "{text}"
    );
    let shown = cli.json(&["tx", "show", &alice_tx]);
    assert_eq!(shown["status"]["status"], "included");
    assert_eq!(shown["status"]["height"], 1);
    // Alice sent 0.5 AIF and a fee, and received 0.5 AIF from each of bob and carol.
    assert_eq!(balance(&cli, "alice"), BALANCE + 500_000_000 - 1_000);
}

#[test]
fn an_unreachable_node_gets_a_friendly_error() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["status", "--node", &url],
        vec!["account", "show", "alice", "--node", &url],
        vec!["block", "show", "--node", &url],
        vec!["status", "--json", "--node", &url],
    ] {
        let error = cli.fails(&args);
        assert!(
            error.starts_with(&format!("error: cannot reach the node at {url}: "))
                && error.contains("(is it running? start one with `aifactory devnet`)"),
            "{args:?}: {error}"
        );
    }
    let error = cli.fails(&transfer("alice", "bob", "1", &["--node", &url]));
    assert!(
        error.contains("cannot reach the node") && error.contains("--sign-only"),
        "{error}"
    );
    let error = cli.fails(&["status", "--node", "ftp://example"]);
    assert!(error.contains("invalid node URL"), "{error}");
}

#[test]
fn sign_only_needs_no_node_but_needs_a_nonce() {
    let served = Served::new(TestNode::sealing());
    let mut cli = served.cli();
    cli.node_url = "http://127.0.0.1:1".to_owned();
    let args = transfer("alice", "bob", "1", &["--sign-only"]);
    let error = cli.fails(&args);
    assert!(error.contains("--sign-only needs --nonce"), "{error}");
    let printed: Value =
        serde_json::from_str(&cli.ok(&[&args[..], &["--nonce", "4", "--json"]].concat())).unwrap();
    assert_eq!(printed["transaction"]["nonce"], 4);
    assert_eq!(printed["transaction"]["chain_id"], "aifactory-devnet");
    assert_eq!(printed["transaction"]["sender"], address(1));
}

#[test]
fn staking_and_candidacy_commands_submit_and_wait() {
    let served = Served::new(TestNode::sealing());
    let cli = served.cli();
    // Key 0 is the genesis validator: 100 AIF bonded, 1 AIF spendable.
    let secret = hex::encode(test_key(0).to_bytes());
    cli.ok_with_stdin(
        &["keys", "import", "validator", "--insecure-plaintext"],
        &secret,
    );
    let bonded = |cli: &Cli| {
        cli.json(&["account", "show", "validator"])["proof"]["account"]["bonded"]
            .as_u64()
            .unwrap()
    };
    let stake_before = bonded(&cli);

    let text = cli.ok(&["tx", "stake", "--from", "validator", "--amount", "0.5"]);
    assert!(text.contains("outcome      success"), "{text}");
    assert!(text.contains("event        staked 0.5 AIF"), "{text}");
    assert_eq!(bonded(&cli), stake_before + 500_000_000);

    let json = cli.json(&["tx", "unstake", "--from", "validator", "--amount", "0.5"]);
    assert_eq!(json["status"]["receipt"]["outcome"]["status"], "success");
    assert_eq!(json["status"]["receipt"]["events"][1]["kind"], "unbonding");
    assert_eq!(bonded(&cli), stake_before);

    // Nothing has matured: final, failed, fee paid.
    let text = final_but_failed(&cli, &["tx", "withdraw", "--from", "validator"]);
    assert!(text.contains("failed: nothing to withdraw"), "{text}");

    // Candidacy: the genesis validator already is a candidate; it leaves and comes back.
    let text = final_but_failed(&cli, &["tx", "join-validators", "--from", "validator"]);
    assert!(text.contains("already a validator candidate"), "{text}");
    let text = cli.ok(&["tx", "leave-validators", "--from", "validator"]);
    assert!(
        text.contains("no longer a validator candidate") && text.contains("at epoch 1"),
        "{text}"
    );
    let text = final_but_failed(&cli, &["tx", "leave-validators", "--from", "validator"]);
    assert!(text.contains("not a validator candidate"), "{text}");
    let json = cli.json(&["tx", "join-validators", "--from", "validator"]);
    let event = &json["status"]["receipt"]["events"][1];
    assert_eq!(event["kind"], "candidate_joined");
    assert_eq!(event["from_epoch"], 1);
    let height = json["status"]["height"].as_u64().unwrap().to_string();
    let block = cli.ok(&["block", "show", &height]);
    assert!(block.contains("join validators  success"), "{block}");

    // Alice has no stake: she cannot stand.
    let text = final_but_failed(&cli, &["tx", "join-validators", "--from", "alice"]);
    assert!(text.contains("a validator candidate needs"), "{text}");

    // --no-wait and --sign-only work as for transfers.
    let accepted = cli.json(&[
        "tx",
        "stake",
        "--from",
        "validator",
        "--amount",
        "0.1",
        "--no-wait",
    ]);
    assert!(accepted["tx_hash"].is_string());
    let hex = cli.ok(&[
        "tx",
        "leave-validators",
        "--from",
        "validator",
        "--sign-only",
        "--nonce",
        "9",
    ]);
    let decoded = cli.json(&["tx", "decode", hex.trim()]);
    assert_eq!(
        decoded["transaction"]["payload"]["kind"],
        "leave_validators"
    );
    assert_eq!(decoded["transaction"]["nonce"], 9);
}

#[test]
fn lifecycle_commands_register_open_join_and_show_proven_entries() {
    const AIF: u64 = 1_000_000_000;
    let chain = aifactory_ledger::testing::TestChain::new(8, 10_000 * AIF);
    let served = Served::new(TestNode::sealing_over(chain));
    let cli = served.cli();
    let hash = |byte: u8| hex::encode([byte; 32]);
    let (h1, h2, h3) = (hash(1), hash(2), hash(3));

    let registered = cli.json(&[
        "dataset",
        "register",
        "--from",
        "alice",
        "--schema",
        &h1,
        "--rows",
        "120",
        "--rows-root",
        &h2,
        "--licence",
        "CC-BY-4.0",
        "--price",
        "0.5",
        "--quality-report",
        &h3,
        "--anonymity-report",
        &h3,
        "--stake",
        "1",
    ]);
    assert_eq!(
        registered["status"]["receipt"]["outcome"]["status"],
        "success"
    );
    let shown = cli.json(&["dataset", "show", "1"]);
    assert_eq!(shown["dataset"]["value"]["provider"], address(1));
    assert_eq!(shown["dataset"]["value"]["price"], 500_000_000);
    let text = cli.ok(&["dataset", "show", "1"]);
    assert!(text.contains("verified against state root"), "{text}");
    assert_eq!(
        cli.json(&["dataset", "list"])["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let missing = cli.fails(&["dataset", "show", "99"]);
    assert!(missing.contains("no dataset 99"), "{missing}");

    cli.ok(&[
        "model",
        "register",
        "--from",
        "bob",
        "--spec",
        &h1,
        "--royalty-bps",
        "250",
        "--licence",
        "Apache-2.0",
    ]);
    assert_eq!(
        cli.json(&["model", "show", "1"])["model"]["value"]["developer"],
        address(2)
    );
    let provenance = cli.json(&["model", "provenance", "1"]);
    assert!(provenance["job"].is_null(), "a registered model has no job");

    let terms = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/job.toml");
    cli.ok(&["job", "open", "--from", "bob", "--terms", terms]);
    let refused = cli.fails(&["job", "join", "1", "--dataset", "1", "--from", "alice"]);
    assert!(refused.contains("pass --yes"), "{refused}");
    let joined = cli.ok(&[
        "job",
        "join",
        "1",
        "--dataset",
        "1",
        "--from",
        "alice",
        "--yes",
    ]);
    assert!(joined.contains("outcome      success"), "{joined}");
    let job = cli.json(&["job", "show", "1"]);
    assert_eq!(job["job"]["value"]["sponsor"], address(2));
    let participants = job["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 1);
    assert_eq!(participants[0]["key"][1], address(1));
    let listed = cli.ok(&["job", "list"]);
    assert!(listed.starts_with("1 jobs"), "{listed}");
}

#[test]
fn a_validator_commits_and_reveals_and_the_trained_models_provenance_checks() {
    use aifactory_ledger::testing::TestChain;
    use aifactory_ledger::testing::lifecycle::{Cast, job_terms};

    // A job trained to its last round before the node serves the chain; carol (key 3) is
    // its only validator, so her commit closes commits and her reveal settles it.
    let mut chain = TestChain::new(9, 10_000_000_000_000);
    let cast = Cast {
        developer: 4,
        sponsor: 5,
        trainer: 6,
        providers: vec![(7, 100), (8, 200)],
        validators: vec![],
    };
    let mut terms = job_terms(0, 2, 1_000_000_000);
    (terms.validators_min, terms.validators_max) = (1, 1);
    let scripted = chain.open_and_recruit(&cast, terms);
    for _ in 0..2 {
        chain.run_round(&cast, scripted.job);
    }
    let served = Served::new(TestNode::sealing_over(chain));
    let cli = served.cli();
    let job = scripted.job.to_string();
    assert_eq!(
        cli.json(&["job", "show", &job])["job"]["value"]["status"]["stage"],
        "committing"
    );

    let save = cli.home.path().join("commitment.json");
    let save = save.to_str().unwrap();
    let committed = cli.ok(&[
        "job",
        "commit",
        &job,
        "--metric",
        "0.9",
        "--aggregates-match",
        "true",
        "--stake",
        "0.001",
        "--save",
        save,
        "--from",
        "carol",
    ]);
    assert!(committed.contains("outcome      success"), "{committed}");
    let again = cli.fails(&[
        "job",
        "commit",
        &job,
        "--metric",
        "0.9",
        "--aggregates-match",
        "true",
        "--stake",
        "0.001",
        "--save",
        save,
        "--from",
        "carol",
    ]);
    assert!(again.contains("must not exist"), "{again}");
    let stranger = cli.fails(&["job", "reveal", save, "--from", "alice"]);
    assert!(stranger.contains("was committed by"), "{stranger}");
    let revealed = cli.json(&["job", "reveal", save, "--from", "carol"]);
    assert_eq!(
        revealed["status"]["receipt"]["outcome"]["status"],
        "success"
    );

    let settled = cli.json(&["job", "show", &job]);
    let status = &settled["job"]["value"]["status"];
    assert_eq!(status["stage"], "settled", "{status}");
    assert_eq!(status["score"], 900_000);
    let trained = status["model"].as_u64().unwrap().to_string();
    let provenance = cli.json(&["model", "provenance", &trained]);
    assert_eq!(provenance["job"]["job"]["key"], scripted.job);
    assert_eq!(provenance["datasets"].as_array().unwrap().len(), 2);
    let text = cli.ok(&["model", "provenance", &trained]);
    assert!(
        text.contains("every entry verified against state root"),
        "{text}"
    );
    assert!(
        text.contains(&format!("score          {} revealed 0.9", address(3))),
        "{text}"
    );
}

/// A gateway deploys a settled model, a consumer opens a channel and signs a voucher, the
/// gateway claims it (a replay and a forged voucher are refused), and the channel closes with
/// the rest refunded: every step through the binary, every read with its proofs checked.
#[test]
fn a_gateway_deploys_a_model_and_claims_a_consumers_voucher() {
    use aifactory_ledger::testing::TestChain;
    use aifactory_ledger::testing::lifecycle::{Cast, job_terms};

    // Keys 1 to 3 are alice, bob and carol: carol serves, bob pays.
    let mut chain = TestChain::new(10, 10_000_000_000_000);
    let cast = Cast {
        developer: 4,
        sponsor: 5,
        trainer: 6,
        providers: vec![(7, 100), (8, 200)],
        validators: vec![(9, 900_000)],
    };
    let mut terms = job_terms(0, 2, 1_000_000_000);
    (terms.validators_min, terms.validators_max) = (1, 1);
    let scripted = chain.run_job(&cast, terms);
    let model = chain.state.id_counters().models.to_string();
    assert!(chain.state.job(scripted.job).unwrap().status.is_finished());
    let served = Served::new(TestNode::sealing_over(chain));
    let cli = served.cli();

    let deployed = cli.ok(&[
        "gateway",
        "deploy",
        "--model",
        &model,
        "--price",
        "0.00001",
        "--gateway-bps",
        "2000",
        "--stake",
        "100",
        "--endpoint",
        "http://127.0.0.1:9",
        "--from",
        "carol",
    ]);
    assert!(deployed.contains("outcome      success"), "{deployed}");
    let shown = cli.json(&["gateway", "show", "1"]);
    let table = shown["deployment"]["value"]["royalties"]
        .as_array()
        .unwrap();
    let roles: Vec<&str> = table.iter().map(|s| s["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["gateway", "developer", "provider", "provider", "treasury"]
    );
    let total: u64 = table
        .iter()
        .map(|s| s["weight_ppm"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1_000_000);
    let text = cli.ok(&["gateway", "show", "1"]);
    assert!(text.contains("proof             verified"), "{text}");
    let list = cli.ok(&["gateway", "list", "--model", &model]);
    assert!(list.contains("1 deployments"), "{list}");

    let opened = cli.ok(&[
        "channel",
        "open",
        "--deployment",
        "1",
        "--deposit",
        "0.01",
        "--expires-in",
        "500",
        "--from",
        "bob",
    ]);
    assert!(opened.contains("outcome      success"), "{opened}");
    let bob_after_open = balance(&cli, "bob");
    let voucher = cli.home.path().join("voucher.json");
    let voucher = voucher.to_str().unwrap();
    cli.ok(&[
        "channel",
        "voucher",
        "--channel",
        "1",
        "--amount",
        "0.003",
        "--from",
        "bob",
        "--chain-id",
        aifactory_ledger::testing::TEST_CHAIN_ID,
        "--out",
        voucher,
    ]);
    let claimed = cli.ok(&["gateway", "claim", "--voucher", voucher, "--from", "carol"]);
    assert!(claimed.contains("outcome      success"), "{claimed}");
    assert_eq!(
        cli.json(&["channel", "show", "1"])["channel"]["value"]["claimed"],
        3_000_000
    );
    let replayed = final_but_failed(
        &cli,
        &["gateway", "claim", "--voucher", voucher, "--from", "carol"],
    );
    assert!(
        replayed.contains("not above the 3000000 already claimed"),
        "{replayed}"
    );
    // The gateway raises the voucher it holds: the node refuses the whole transaction.
    let mut forged: Value =
        serde_json::from_str(&std::fs::read_to_string(voucher).unwrap()).unwrap();
    forged["amount"] = 4_000_000.into();
    std::fs::write(voucher, forged.to_string()).unwrap();
    let refused = cli.fails(&["gateway", "claim", "--voucher", voucher, "--from", "carol"]);
    assert!(refused.contains("signature"), "{refused}");

    let listed = cli.ok(&["channel", "list", "bob"]);
    assert!(listed.contains("1 open channels"), "{listed}");
    let early = final_but_failed(&cli, &["channel", "close", "1", "--from", "bob"]);
    assert!(early.contains("open to claims until height"), "{early}");
    let closed = cli.ok(&["channel", "close", "1", "--from", "carol"]);
    assert!(closed.contains("outcome      success"), "{closed}");
    // Bob paid one more fee (the refused close) and got back what was not claimed.
    assert_eq!(balance(&cli, "bob"), bob_after_open - 1_000 + 7_000_000);
    let gone = cli.fails(&["channel", "show", "1"]);
    assert!(gone.contains("no open channel 1"), "{gone}");
}

/// The gateway as a real process (`aifactory agent gateway`) and a consumer using `predict`:
/// paid answers with receipts that `receipt verify` accepts, a `kill -9` of the gateway and a
/// restart that carries on from its voucher log, and a claim that pays exactly the last
/// voucher answered.
#[test]
fn predict_pays_a_gateway_process_that_survives_kill_9_and_claims() {
    use std::io::{BufRead, BufReader};

    use aifactory_ledger::testing::TestChain;
    use aifactory_ledger::testing::lifecycle::spdx;
    use aifactory_types::lifecycle::{Deploy, ModelArtifact, RegisterModel};
    use aifactory_types::{BoundedString, Hash, Payload};

    const ONNX: &[u8] = include_bytes!("../../learn/tests/vectors/tiny_mlp.onnx");
    const PRICE: u64 = 10_000;
    let hash = Hash::from(blake3::hash(ONNX));
    // Carol (key 3) serves the imported model; bob (key 2) pays.
    let mut chain = TestChain::new(4, 10_000_000_000_000);
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
        stake: 100_000_000_000,
        url: BoundedString::new("http://127.0.0.1:1").unwrap(),
    };
    chain.build_ok(vec![chain.tx(3, Payload::Deploy(deploy))]);
    let served = Served::new(TestNode::sealing_over(chain));
    let cli = served.cli();
    let model_file = cli.home.path().join("model.onnx");
    std::fs::write(&model_file, ONNX).unwrap();
    cli.ok(&["blob", "put", model_file.to_str().unwrap()]);

    let config = cli.home.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nnodes = [\"{}\"]\nhome = \"{}\"\nkey = \"carol\"\nstate_dir = \"gateway-state\"\npoll_ms = 200\n\n\
             [gateway]\nlisten = \"127.0.0.1:0\"\ndeployments = [1]\nclaim_interval_s = 1\n",
            cli.node_url,
            cli.home.path().display()
        ),
    )
    .unwrap();
    let start_gateway = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aifactory"))
            .args(["agent", "gateway", "--config", config.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("gateway listening on ")
            .unwrap_or_else(|| panic!("the gateway said {line:?}"))
            .to_owned();
        (child, url)
    };
    let (mut gateway, url) = start_gateway();

    let status = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(
            aifactory_client::Client::new(&url)
                .unwrap()
                .gateway_status(),
        )
        .unwrap();
    let columns = status.models[0].columns.clone();
    let row: Vec<String> = (0..columns.len()).map(|i| format!("0.{i}")).collect();
    let input = cli.home.path().join("row.csv");
    std::fs::write(
        &input,
        format!("{}\n{}\n", columns.join(","), row.join(",")),
    )
    .unwrap();
    let input = input.to_str().unwrap();
    let predict = |url: &str| {
        cli.json(&[
            "predict",
            "--model",
            "1",
            "--input",
            input,
            "--from",
            "bob",
            "--gateway",
            url,
        ])
    };

    let mut saved = String::new();
    for call in 1..=3u64 {
        let answer = predict(&url);
        assert_eq!(answer["paid"], call * PRICE, "{answer}");
        assert_eq!(answer["channel"], 1, "one channel, reused");
        saved = answer["saved"].as_str().unwrap().to_owned();
    }
    let verified = cli.ok(&["receipt", "verify", &saved]);
    assert!(verified.contains("receipt valid"), "{verified}");
    // A tampered answer is caught offline.
    let mut tampered: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    tampered["rows"][0]["probabilities"][0] = 0.5.into();
    let tampered_file = cli.home.path().join("tampered.json");
    std::fs::write(&tampered_file, tampered.to_string()).unwrap();
    let refused = cli.fails(&["receipt", "verify", tampered_file.to_str().unwrap()]);
    assert!(refused.contains("output hash"), "{refused}");

    // kill -9, restart: the gateway still holds what it answered for, and carries on.
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    let (mut gateway, url) = start_gateway();
    let answer = predict(&url);
    assert_eq!(answer["paid"], 4 * PRICE, "{answer}");

    // The claim lands within a few seconds and pays exactly the last voucher.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let claimed = cli.json(&["channel", "show", "1"])["channel"]["value"]["claimed"].clone();
        if claimed == 4 * PRICE {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "claimed {claimed}");
        std::thread::sleep(Duration::from_millis(200));
    }
    gateway.kill().unwrap();
    gateway.wait().unwrap();
}

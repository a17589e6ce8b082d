//! End-to-end tests of the `aifactory` binary: real processes, a real home directory on disk.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn run(&self, args: &[&str], stdin: Option<&str>, passphrase: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aifactory"));
        command
            .args(args)
            .env("AIFACTORY_HOME", self.path())
            .env_remove("AIFACTORY_PASSPHRASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(passphrase) = passphrase {
            command.env("AIFACTORY_PASSPHRASE", passphrase);
        }
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed, returning its standard output.
    fn ok(&self, args: &[&str], stdin: Option<&str>, passphrase: Option<&str>) -> String {
        let out = self.run(args, stdin, passphrase);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail, returning its error text.
    fn fails(&self, args: &[&str], stdin: Option<&str>, passphrase: Option<&str>) -> String {
        let out = self.run(args, stdin, passphrase);
        assert!(!out.status.success(), "{args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self, args: &[&str], passphrase: Option<&str>) -> Value {
        serde_json::from_str(&self.ok(args, None, passphrase)).unwrap()
    }
}

#[test]
fn keys_lifecycle() {
    let home = Home::new();
    let created = home.json(&["keys", "new", "alice", "--json"], Some("s3cret pass"));
    let address = created["address"].as_str().unwrap().to_owned();
    let mnemonic = created["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(mnemonic.split(' ').count(), 24);
    home.json(
        &["keys", "new", "dev", "--insecure-plaintext", "--json"],
        None,
    );

    let listed = home.json(&["keys", "list", "--json"], None);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "dev"]);
    assert_eq!(listed[0]["encrypted"], true);
    assert_eq!(listed[1]["encrypted"], false);

    let file = std::fs::read_to_string(home.path().join("keys/alice.json")).unwrap();
    assert!(file.contains("argon2id-chacha20poly1305"));

    let wrong = home.fails(&["keys", "export", "alice"], None, Some("wrong"));
    assert!(wrong.contains("wrong passphrase"), "{wrong}");
    let secret = home.ok(&["keys", "export", "alice"], None, Some("s3cret pass"));
    assert_eq!(secret.trim().len(), 64);

    let recovered: Value = serde_json::from_str(&home.ok(
        &["keys", "recover", "alice-again", "--json"],
        Some(&mnemonic),
        Some("x"),
    ))
    .unwrap();
    assert_eq!(recovered["address"], address.as_str());
    let imported: Value = serde_json::from_str(&home.ok(
        &[
            "keys",
            "import",
            "alice-hex",
            "--json",
            "--insecure-plaintext",
        ],
        Some(&secret),
        None,
    ))
    .unwrap();
    assert_eq!(imported["address"], address.as_str());
    let missing = home.fails(&["keys", "show", "nobody"], None, None);
    assert!(missing.contains("no key named"), "{missing}");
    let again = home.fails(
        &["keys", "new", "alice", "--insecure-plaintext"],
        None,
        None,
    );
    assert!(again.contains("already exists"), "{again}");
}

#[test]
fn genesis_proofs_and_offline_signing() {
    let home = Home::new();
    home.ok(&["keys", "new", "val", "--insecure-plaintext"], None, None);
    home.ok(
        &["keys", "new", "alice", "--insecure-plaintext"],
        None,
        None,
    );
    let genesis = home.path().join("genesis.json");
    let genesis = genesis.to_str().unwrap();
    home.ok(
        &[
            "genesis",
            "new",
            "--chain-id",
            "test-chain",
            "--validator",
            "val=100",
            "--account",
            "alice=12.5",
            "--genesis-time-ms",
            "1700000000000",
            "--out",
            genesis,
        ],
        None,
        None,
    );
    let summary = home.json(&["genesis", "show", genesis, "--json"], None);
    assert_eq!(summary["chain_id"], "test-chain");
    assert_eq!(summary["total_supply"], 112_500_000_000u64);

    // A proof printed from the genesis state verifies, and a tampered one does not.
    let proof = home.ok(
        &["account", "proof", "alice", "--genesis", genesis],
        None,
        None,
    );
    let proof_path = home.path().join("proof.json");
    std::fs::write(&proof_path, &proof).unwrap();
    let verdict = home.json(
        &[
            "account",
            "verify-proof",
            proof_path.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["account"]["balance"], 12_500_000_000u64);
    let tampered = proof.replace("12500000000", "99500000000");
    std::fs::write(&proof_path, tampered).unwrap();
    let error = home.fails(
        &["account", "verify-proof", proof_path.to_str().unwrap()],
        None,
        None,
    );
    assert!(error.contains("INVALID"), "{error}");

    // Offline signing, then decoding and checking the result.
    let hex = home.ok(
        &[
            "tx",
            "transfer",
            "--from",
            "alice",
            "--to",
            "val",
            "--amount",
            "1.25",
            "--nonce",
            "0",
            "--chain-id",
            "test-chain",
            "--sign-only",
        ],
        None,
        None,
    );
    let decoded = home.json(&["tx", "decode", hex.trim(), "--json"], None);
    assert_eq!(
        decoded["transaction"]["payload"]["amount"],
        1_250_000_000u64
    );
    assert_eq!(decoded["transaction"]["chain_id"], "test-chain");

    let mut flipped = hex.trim().to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let error = home.fails(&["tx", "decode", &flipped], None, None);
    assert!(error.contains("signature"), "{error}");
    let error = home.fails(&["tx", "decode", "00ff"], None, None);
    assert!(error.contains("malformed transaction"), "{error}");

    let error = home.fails(
        &[
            "tx", "transfer", "--from", "alice", "--to", "val", "--amount", "1", "--nonce", "0",
        ],
        None,
        None,
    );
    assert!(error.contains("--sign-only"), "{error}");
}

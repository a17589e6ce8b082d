//! End-to-end: `aifactory secagg simulate` writes a transcript that `aifactory secagg verify`
//! recomputes bit for bit, and a transcript with one byte changed is refused.

use std::process::{Command, Output};

use serde_json::Value;

fn aifactory(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aifactory"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn simulated_transcript_verifies_and_a_changed_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round.bin");
    let path = path.to_str().unwrap();
    let simulate = aifactory(&[
        "--json",
        "secagg",
        "simulate",
        "--clients",
        "8",
        "--params",
        "40",
        "--dropout",
        "0.25",
        "--phase",
        "share-keys",
        "--out",
        path,
    ]);
    assert!(
        simulate.status.success(),
        "{}",
        String::from_utf8_lossy(&simulate.stderr)
    );
    let written: Value = serde_json::from_slice(&simulate.stdout).unwrap();
    assert_eq!(written["survivors"], 6);

    let verify = aifactory(&["--json", "secagg", "verify", path]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let verified: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verified["commitment"], written["commitment"]);

    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(path, bytes).unwrap();
    let refused = aifactory(&["secagg", "verify", path]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not verify"));
}

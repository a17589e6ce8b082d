//! What providers send, byte for byte: every provider reaches the chain only through a
//! recording TCP proxy, a secure-aggregation job runs to the end, and the test checks every byte
//! they sent (transactions, blobs, queries) for their rows and their unmasked updates.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::proxy::{Traffic, recording_proxy};
use common::{Factory, Terms, adult, split_rows};

/// Bytes of the windows `Sent` indexes; every needle searched is at least this long.
const WINDOW: usize = 20;

/// Every `WINDOW`-byte window of what was sent, so that looking for ten thousand rows costs
/// one pass over the capture instead of ten thousand.
struct Sent {
    bytes: Vec<u8>,
    windows: std::collections::HashSet<[u8; WINDOW]>,
}

impl Sent {
    fn new(bytes: Vec<u8>) -> Sent {
        let windows = bytes
            .windows(WINDOW)
            .map(|w| w.try_into().expect("WINDOW bytes"))
            .collect();
        Sent { bytes, windows }
    }

    /// Whether `needle` (at least `WINDOW` bytes) occurs in what was sent.
    fn contains(&self, needle: &[u8]) -> bool {
        assert!(needle.len() >= WINDOW);
        let head: [u8; WINDOW] = needle[..WINDOW].try_into().expect("WINDOW bytes");
        self.windows.contains(&head) && self.bytes.windows(needle.len()).any(|w| w == needle)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_sends_neither_its_rows_nor_an_unmasked_update() {
    const PROVIDERS: usize = 3;
    let mut f = Factory::start(3 + PROVIDERS + 1, 26_200).await;
    f.register_model("account-0");
    let traffic = Arc::new(Traffic::default());
    let upstream = f.nodes[0].trim_start_matches("http://").to_owned();
    let proxy = recording_proxy(upstream, traffic.clone()).await;
    // Every provider reaches the chain only through the proxy.
    let parts = split_rows(&adult("adult.data"), PROVIDERS);
    let nodes = std::mem::replace(&mut f.nodes, vec![proxy]);
    f.start_providers(PROVIDERS, 3, |_| String::new());
    f.nodes = nodes;
    f.start_agent("trainer", "trainer", "account-2", "[trainer]\n");
    f.start_validators(1, 3 + PROVIDERS, |_| String::new());
    f.wait_datasets(PROVIDERS).await;
    let terms = Terms {
        rounds: 3,
        validators_min: 1,
        validators_max: 1,
        secure: Some(2),
        ..Terms::default()
    }
    .write(f.root(), "job");
    f.cli.json(&[
        "job",
        "open",
        "--from",
        "account-1",
        "--terms",
        terms.to_str().unwrap(),
    ]);

    // Keep a copy of each update the providers compute (they delete them when the job ends).
    let mut updates: Vec<Vec<u8>> = Vec::new();
    let started = std::time::Instant::now();
    loop {
        for (provider, seq) in (0..PROVIDERS).flat_map(|p| (1..=3).map(move |s| (p, s))) {
            let state: PathBuf = f.root().join(format!("provider-{provider}-state"));
            if let Ok(bytes) = std::fs::read(state.join(format!("update-1-{seq}.bin")))
                && !updates.contains(&bytes)
            {
                updates.push(bytes);
            }
        }
        let job = f.cli.json(&["job", "show", "1"]);
        let stage = job["job"]["value"]["status"]["stage"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if stage == "settled" || stage == "failed" {
            assert_eq!(
                stage,
                "settled",
                "{}\n{}",
                job["job"]["value"]["status"],
                f.logs()
            );
            break;
        }
        assert!(
            started.elapsed() < common::TIMEOUT,
            "job not settled:\n{}",
            f.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = Sent::new(traffic.sent.lock().unwrap().clone());
    assert!(
        sent.bytes.len() > 10_000,
        "the proxy carried the providers' traffic: {} bytes",
        sent.bytes.len()
    );
    assert!(
        updates.len() >= 3,
        "the providers computed updates: {}",
        updates.len()
    );

    // No row of their data, as written in their files.
    let leaked = parts
        .iter()
        .flat_map(|part| part.lines())
        .filter(|row| row.len() >= WINDOW && sent.contains(row.as_bytes()))
        .count();
    assert_eq!(leaked, 0, "{leaked} rows appear in what the providers sent");
    // No unmasked update: not in its wire format, and no 32 consecutive bytes of its values.
    assert!(
        !sent.bytes.windows(8).any(|w| w == b"AIFVEC01"),
        "an update blob was sent in the clear"
    );
    for update in &updates {
        let values = &update[20..];
        for offset in (0..values.len().saturating_sub(32)).step_by(4096) {
            assert!(
                !sent.contains(&values[offset..offset + 32]),
                "bytes {offset}.. of an unmasked update were sent"
            );
        }
    }
    f.stop();
}

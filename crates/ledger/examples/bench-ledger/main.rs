//! Prints the ledger's throughput figures in one run, side by side with the raw ed25519 batch
//! verification rate of this machine, and the cost of snapshotting the resulting state: run it
//! through `scripts/bench-ledger` (`--only-apply`, `--only-snapshot` or `--only-lifecycle` for
//! one part).

use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

use aifactory_crypto::{Domain, verify_batch};
use aifactory_ledger::testing::{TransferWorkload, with_raw_signatures};
use aifactory_ledger::{SlotTree, SnapshotLimits, State};
use aifactory_types::{Block, VerifiedBlock};

mod lifecycle;

const ACCOUNTS: usize = 1_000_000;
const TXS_PER_BLOCK: usize = 10_000;
const BLOCKS: usize = 5;
const REPEATS_DEFAULT: usize = 3;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The peak resident memory since the last [`reset_peak_resident`], in bytes.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Restarts the peak resident memory from the current one (Linux `clear_refs` 5).
fn reset_peak_resident() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Snapshot figures for `state`: write to a sink and to a synced file, load back, size, and
/// the memory the load needed.
struct SnapshotFigures {
    bytes: u64,
    encode_ms: f64,
    save_ms: f64,
    load_ms: f64,
    state_mib: f64,
    peak_mib: f64,
}

fn snapshot_figures(state: &State) -> SnapshotFigures {
    let ms = |start: Instant| start.elapsed().as_secs_f64() * 1e3;
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let start = Instant::now();
    let bytes = state.write_snapshot(&mut std::io::sink()).unwrap();
    let encode_ms = ms(start);

    let path = std::env::temp_dir().join(format!("bench-ledger-{}.snapshot", std::process::id()));
    let start = Instant::now();
    // The node's save adds a rename and a directory fsync (`aifactory_store::durable`).
    let mut file = std::fs::File::create(&path).unwrap();
    state.write_snapshot(&mut file).unwrap();
    file.sync_all().unwrap();
    let save_ms = ms(start);

    let before = resident_bytes();
    reset_peak_resident();
    let start = Instant::now();
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let loaded = State::read_snapshot_to_end(&mut reader, &SnapshotLimits::default()).unwrap();
    let load_ms = ms(start);
    let (after, peak) = (resident_bytes(), peak_resident_bytes());
    assert_eq!(loaded.root(), state.root());
    std::fs::remove_file(&path).unwrap();
    SnapshotFigures {
        bytes,
        encode_ms,
        save_ms,
        load_ms,
        state_mib: mib(after.saturating_sub(before)),
        peak_mib: mib(peak.saturating_sub(before)),
    }
}

fn print_snapshot_figures(figures: &SnapshotFigures) {
    let row = |label: &str, value: String| println!("{label:<62} {value:>14}");
    row(
        "snapshot size",
        format!("{:.1} MiB", figures.bytes as f64 / 1048576.0),
    );
    row(
        "snapshot write, encode + checksum only (to a sink)",
        format!("{:.0} ms", figures.encode_ms),
    );
    row(
        "write the snapshot to a file, fsync",
        format!("{:.0} ms", figures.save_ms),
    );
    row(
        "read it back (decode, checksum, rebuild trees, root check)",
        format!("{:.0} ms", figures.load_ms),
    );
    row(
        "resident memory of the loaded state",
        format!("{:.0} MiB", figures.state_mib),
    );
    row(
        "peak resident memory while loading",
        format!("{:.0} MiB", figures.peak_mib),
    );
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn raw_batch_verify_rate(block: &Block, threads: usize) -> f64 {
    let pool = pool(threads);
    let rounds = 5;
    with_raw_signatures(block, |messages| {
        let start = Instant::now();
        for _ in 0..rounds {
            pool.install(|| verify_batch(messages)).unwrap();
        }
        rate(messages.len() * rounds, start.elapsed())
    })
}

fn main() {
    if std::env::args().any(|a| a == "--only-lifecycle") {
        lifecycle::print_figures();
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "machine: {cores} cores; state of {ACCOUNTS} accounts; {BLOCKS} blocks of {TXS_PER_BLOCK} transfers"
    );

    let rss_before = resident_bytes();
    let workload = TransferWorkload::new(ACCOUNTS, TXS_PER_BLOCK, BLOCKS);
    let rss_after = resident_bytes();
    let verified: Vec<VerifiedBlock> = workload
        .blocks
        .iter()
        .map(|b| b.clone().verify().unwrap())
        .collect();
    let encoded: Vec<Vec<u8>> = workload.blocks.iter().map(Block::encode).collect();
    let txs = TXS_PER_BLOCK * BLOCKS;

    if std::env::args().any(|a| a == "--only-snapshot") {
        let mut state = workload.genesis_state.clone();
        for block in &verified {
            state.apply_block(block).unwrap();
        }
        drop((workload, verified, encoded));
        print_snapshot_figures(&snapshot_figures(&state));
        return;
    }

    // 1. Pure execution and state-root update, signatures already checked, one core. Timed
    //    by wall clock and by this thread's CPU time (robust to other load on the machine).
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    let repeats: usize = std::env::var("BENCH_REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(REPEATS_DEFAULT);
    for _ in 0..repeats {
        let mut state = workload.genesis_state.clone();
        let (start, start_cpu) = (Instant::now(), ThreadTime::now());
        for block in &verified {
            state.apply_block(block).unwrap();
        }
        (wall, cpu) = (wall + start.elapsed(), cpu + start_cpu.elapsed());
    }
    let pure = rate(txs * repeats, wall);
    let pure_cpu = rate(txs * repeats, cpu);

    if std::env::args().any(|a| a == "--only-apply") {
        println!("pure execution: {pure:.0}/s wall, {pure_cpu:.0}/s of CPU time");
        return;
    }

    // 2. Decode, batch-verify on every core, then execute.
    let mut state = workload.genesis_state.clone();
    let start = Instant::now();
    for bytes in &encoded {
        let block = Block::decode(bytes).unwrap().verify().unwrap();
        state.apply_block(&block).unwrap();
    }
    let full = rate(txs, start.elapsed());

    // 3. Raw ed25519 batch verification on the same signatures.
    let raw_one = raw_batch_verify_rate(&workload.blocks[0], 1);
    let raw_all = raw_batch_verify_rate(&workload.blocks[0], cores);

    // 4. State-root update alone: a block's worth of changed leaves among 1M slots.
    static KEY: Domain = Domain::new("bench key");
    let leaf = |i: u64| KEY.hash(&[&i.to_le_bytes()]);
    let mut tree = SlotTree::new();
    for slot in 0..ACCOUNTS as u32 {
        tree.set(slot, leaf(slot.into()));
    }
    tree.commit();
    let touched = 2 * TXS_PER_BLOCK as u64 + 1;
    let start = Instant::now();
    for round in 1..=BLOCKS as u64 {
        for i in 0..touched {
            tree.set(
                (i * 7919 % ACCOUNTS as u64) as u32,
                leaf(round * touched + i),
            );
        }
        tree.commit();
    }
    let root_ms = start.elapsed().as_secs_f64() * 1e3 / BLOCKS as f64;
    drop(tree);

    // 5. Snapshots of the state after the blocks.
    let snapshot = snapshot_figures(&state);

    let mib_per_million =
        (rss_after.saturating_sub(rss_before)) as f64 / 1048576.0 * (1_000_000.0 / ACCOUNTS as f64);
    let row = |label: &str, value: String| println!("{label:<62} {value:>14}");
    println!();
    row("figure", "value".into());
    row(
        "transfers applied, signatures pre-checked (1 core, wall)",
        format!("{pure:.0}/s"),
    );
    row(
        "  the same per second of the thread's CPU time",
        format!("{pure_cpu:.0}/s"),
    );
    row(
        &format!("transfers decoded+verified+applied ({cores} cores verify)"),
        format!("{full:.0}/s"),
    );
    row(
        "raw ed25519 batch verifications (1 core)",
        format!("{raw_one:.0}/s"),
    );
    row(
        &format!("raw ed25519 batch verifications ({cores} cores)"),
        format!("{raw_all:.0}/s"),
    );
    row(
        "state-root update, 10k transfers (20k leaves) over 1M",
        format!("{root_ms:.1} ms"),
    );
    row(
        "resident memory per million accounts (state + trees)",
        format!("{mib_per_million:.0} MiB"),
    );
    print_snapshot_figures(&snapshot);
    lifecycle::print_figures();
    println!();
    row(
        "ratio: pure execution (CPU time) / 500k target",
        format!("{:.2}", pure_cpu / 500_000.0),
    );
    row(
        &format!("ratio: verified / raw batch verify ({cores} cores) [target 0.7]"),
        format!("{:.2}", full / raw_all),
    );
    row(
        "ratio: raw batch verify (1 core) / 59k reference",
        format!("{:.2}", raw_one / 59_000.0),
    );
}

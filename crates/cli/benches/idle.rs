//! `scripts/bench-idle`: what an idle devnet costs. Four validators run as real `aifactory
//! node` processes on loopback with no load; after a warm-up the bench measures, over a
//! window, the blocks made per second, the CPU the four nodes used together (as a share of
//! one core) and how fast their data directories grow. The goals (issue 11): under 5 % of one
//! core in all and under 1 MB a minute.
//!
//! Settings (environment): `IDLE_WARMUP_SECONDS` (20), `IDLE_SECONDS` measured window (60),
//! `IDLE_BASE_PORT` (27900).

use std::time::{Duration, Instant};

use aifactory_node::devnet::{Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;

mod support;
use support::{setting, start_devnet};

const VALIDATORS: usize = 4;

/// What the four nodes have used and made so far.
struct Reading {
    at: Instant,
    cpu: Duration,
    disk_bytes: u64,
    height: u64,
}

async fn read(supervisor: &Supervisor) -> Reading {
    let height = supervisor
        .client(0)
        .status()
        .await
        .expect("node 0 answers")
        .finalized_height;
    Reading {
        at: Instant::now(),
        cpu: (0..VALIDATORS).filter_map(|i| supervisor.cpu_time(i)).sum(),
        disk_bytes: (0..VALIDATORS).map(|i| supervisor.data_bytes(i)).sum(),
        height,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let warmup = Duration::from_secs(setting("IDLE_WARMUP_SECONDS", 20));
    let window = Duration::from_secs(setting("IDLE_SECONDS", 60));
    let base_port = u16::try_from(setting("IDLE_BASE_PORT", 27_900)).expect("a port");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = DevnetSpec {
        validators: VALIDATORS,
        base_port,
        accounts: 0,
        full_nodes: 0,
    };
    let devnet = Devnet::init(dir.path(), spec).expect("the devnet lays out");
    let mut supervisor = start_devnet(devnet, VALIDATORS).await;
    eprintln!("warming up for {warmup:?}, then measuring for {window:?}");
    tokio::time::sleep(warmup).await;
    let before = read(&supervisor).await;
    tokio::time::sleep(window).await;
    let after = read(&supervisor).await;
    let exited = supervisor.exited();
    supervisor.stop_all(Duration::from_secs(10));
    assert!(exited.is_empty(), "nodes exited: {exited:?}");

    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let cpu_share = (after.cpu - before.cpu).as_secs_f64() / seconds;
    let grown = after.disk_bytes.saturating_sub(before.disk_bytes) as f64;
    let blocks = after.height - before.height;
    println!("idle devnet         {VALIDATORS} validators, measured over {seconds:.0} s");
    println!(
        "blocks              {blocks} ({:.2} per second)",
        blocks as f64 / seconds
    );
    println!(
        "cpu, all nodes      {:.1} % of one core (goal: under 5 %)",
        cpu_share * 100.0
    );
    println!(
        "data growth         {:.3} MB a minute (goal: under 1 MB), {:.1} MB in all",
        grown / 1e6 * 60.0 / seconds,
        after.disk_bytes as f64 / 1e6
    );
}

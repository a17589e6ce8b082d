//! State sync end to end with real processes: four validators run epochs of a few blocks and
//! snapshot at every boundary; a fresh full node configured with `[sync] from_peer` starts
//! from a validator's snapshot (verified from genesis) instead of replaying, then follows the
//! chain.

use std::path::Path;
use std::time::Duration;

use aifactory_api::views::BlockId;
use aifactory_client::ClientError;
use aifactory_node::config::NodeConfig;
use aifactory_node::devnet::{Devnet, DevnetSpec};
use aifactory_node::supervisor::Supervisor;
use aifactory_types::Genesis;

const VALIDATORS: usize = 4;
/// The syncing full node's index: after the validators.
const FULL_NODE: usize = VALIDATORS;
/// Blocks per epoch: short, so a few boundaries pass within seconds.
const EPOCH_BLOCKS: u64 = 5;
const TIMEOUT: Duration = Duration::from_secs(120);

/// A base port below `devnet.rs`'s range (20 000 up) and the `aifactory devnet` default
/// (18 700), so the tests can run at once, and below the ephemeral range, so a restarted node
/// can bind its ports.
fn base_port() -> u16 {
    let spread = u16::try_from(std::process::id() % 38).unwrap();
    10_000 + spread * 220
}

/// Rewrites the config at `path` through `change`.
fn edit_config(path: &Path, change: impl FnOnce(&mut NodeConfig)) {
    let mut config = NodeConfig::load(path).unwrap();
    change(&mut config);
    std::fs::write(path, config.to_toml()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_node_syncs_from_a_peers_snapshot_and_follows() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DevnetSpec {
        validators: VALIDATORS,
        base_port: base_port(),
        accounts: 0,
        full_nodes: 1,
    };
    let devnet = Devnet::init(dir.path(), spec).unwrap();
    let genesis_path = dir.path().join("genesis.json");
    let mut genesis = Genesis::from_json(&std::fs::read(&genesis_path).unwrap()).unwrap();
    genesis.params.epoch_length_blocks = EPOCH_BLOCKS;
    std::fs::write(&genesis_path, genesis.to_json()).unwrap();
    for node in 0..VALIDATORS {
        edit_config(&devnet.config_path(node), |c| c.snapshots.every_blocks = 1);
    }
    edit_config(&devnet.config_path(FULL_NODE), |c| {
        c.sync.from_peer = Some(format!("http://{}", spec.api(0)));
    });

    let program = env!("CARGO_BIN_EXE_aifactory");
    let mut supervisor = Supervisor::new(devnet, program.as_ref());
    for node in 0..VALIDATORS {
        supervisor.restart(node).unwrap();
    }
    // Past the third boundary, so the snapshot is at least two epochs in.
    supervisor
        .wait_height(0, 3 * EPOCH_BLOCKS, TIMEOUT)
        .await
        .unwrap();
    let peer = supervisor.client(0);
    // Snapshots are written on their own thread: wait for one at least two epochs in.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let snapshot_height = loop {
        let (height, _) = peer.sync_snapshot_stream().await.unwrap();
        if height >= 2 * EPOCH_BLOCKS - 1 {
            break height;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot past {height}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((snapshot_height + 1) % EPOCH_BLOCKS, 0, "on a boundary");
    let listed = peer.sync_epochs(0).await.unwrap().epochs;
    assert!(listed.len() >= 2, "{listed:?}");
    assert!(listed.iter().enumerate().all(|(e, b)| b.epoch == e as u64));

    supervisor.restart(FULL_NODE).unwrap();
    // It starts at whatever boundary snapshot the peer had when it asked; compare the blocks
    // it finalized after that.
    let started = supervisor
        .wait_height(FULL_NODE, 1, TIMEOUT)
        .await
        .unwrap()
        .finalized_height;
    let target = started + 2;
    supervisor
        .wait_height(FULL_NODE, target, TIMEOUT)
        .await
        .unwrap();
    let synced = supervisor.client(FULL_NODE);
    for height in [target - 1, target] {
        let ours = synced.block(BlockId::Height(height)).await.unwrap();
        let theirs = peer.block(BlockId::Height(height)).await.unwrap();
        assert_eq!(ours.hash, theirs.hash, "the chains differ at {height}");
    }
    // It started from the snapshot: it never had the blocks below it.
    assert!(matches!(
        synced.block(BlockId::Height(1)).await,
        Err(ClientError::Api { status: 404, .. })
    ));
    supervisor.stop_all(Duration::from_secs(5));
}

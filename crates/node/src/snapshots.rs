//! The ledger state on disk: the node writes a snapshot of its finalized state (crash-safe:
//! `aifactory_ledger::snapshot::save_snapshot`) at the first epoch boundary at least
//! `every_blocks` after the last one it wrote, and at startup it restores the snapshot and
//! replays only the blocks after it from marshal's archive. Snapshots sit on boundaries so
//! that the one a node serves to peers that sync from it (`GET /v1/sync/snapshot`) is always
//! the state after a block whose finalization and validator set proof it also serves.
//!
//! At every boundary the finalizer also records the proof of the next epoch's validator set
//! ([`SnapshotWriter::record_boundary`], `epochs/<epoch>.proof` beside the snapshot), before it
//! acknowledges the block: a crash before the proof is durable means marshal redelivers the
//! block, and the proof is written then.
//!
//! Snapshots are written on their own thread so finalization never waits on the disk; when
//! one is still being written the next is skipped. A snapshot ahead of marshal's processed
//! height is fine: marshal redelivers the blocks in between, and the chain skips any at or
//! below its state's height. A snapshot that does not load (torn, corrupt, another chain) is
//! set aside with a warning and the node replays from genesis instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use aifactory_ledger::State;
use aifactory_ledger::{SnapshotLimits, load_snapshot, save_snapshot};
use aifactory_store::durable::{self, Access};
use tracing::{info, warn};

/// The directory, beside the snapshot file, holding each epoch boundary's validator set proof.
const PROOFS_DIR: &str = "epochs";

/// Where and how often to snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// The snapshot file.
    pub path: PathBuf,
    /// Snapshot at the first epoch boundary at least this many blocks after the last
    /// snapshot (0: never).
    pub every_blocks: u64,
}

/// The file holding the proof of the validator set after epoch `epoch`'s last block.
pub fn proof_path(snapshot_path: &Path, epoch: u64) -> PathBuf {
    proofs_dir(snapshot_path).join(format!("{epoch}.proof"))
}

fn proofs_dir(snapshot_path: &Path) -> PathBuf {
    snapshot_path.with_file_name(PROOFS_DIR)
}

impl SnapshotPolicy {
    /// The state in the snapshot file, if there is one that loads and belongs to `chain_id`.
    pub fn load(&self, chain_id: &str) -> Option<State> {
        if !self.path.exists() {
            return None;
        }
        match load_snapshot(&self.path, &SnapshotLimits::default()) {
            Ok(state) if state.chain_id() == chain_id => {
                info!(height = state.height(), root = %state.root(), "restored the ledger from its snapshot");
                Some(state)
            }
            Ok(state) => {
                warn!(
                    chain = state.chain_id(),
                    "the snapshot is of another chain: ignoring it"
                );
                self.set_aside();
                None
            }
            Err(error) => {
                warn!(%error, "the snapshot does not load: replaying from genesis");
                self.set_aside();
                None
            }
        }
    }

    fn set_aside(&self) {
        let _ = std::fs::rename(&self.path, self.path.with_extension("refused"));
    }

    /// Starts the writer thread; returns what the finalizer hands states to.
    pub fn start_writer(&self) -> SnapshotWriter {
        let (sender, receiver) = sync_channel::<Arc<State>>(1);
        let path = self.path.clone();
        std::thread::Builder::new()
            .name("snapshots".to_owned())
            .spawn(move || {
                while let Ok(state) = receiver.recv() {
                    match save_snapshot(&state, &path) {
                        Ok(bytes) => info!(height = state.height(), bytes, "wrote a ledger snapshot"),
                        Err(error) => warn!(%error, height = state.height(), "could not write a ledger snapshot"),
                    }
                }
            })
            .expect("the snapshot thread starts");
        SnapshotWriter {
            sender,
            every_blocks: self.every_blocks,
            last_height: Arc::new(AtomicU64::new(0)),
            path: self.path.clone(),
        }
    }
}

/// Hands finalized states to the snapshot thread.
#[derive(Debug, Clone)]
pub struct SnapshotWriter {
    sender: SyncSender<Arc<State>>,
    every_blocks: u64,
    /// The height of the last snapshot handed to the thread (0 before any).
    last_height: Arc<AtomicU64>,
    path: PathBuf,
}

impl SnapshotWriter {
    /// Offers the state after a finalized block; snapshots it if it is the first epoch
    /// boundary at least `every_blocks` after the last snapshot and the writer is idle.
    pub fn offer(&self, state: &Arc<State>) {
        let height = state.height();
        let last = self.last_height.load(Ordering::Relaxed);
        if !is_due(height, last, self.every_blocks, epoch_length(state)) {
            return;
        }
        match self.sender.try_send(state.clone()) {
            Ok(()) => self.last_height.store(height, Ordering::Relaxed),
            Err(TrySendError::Full(_)) => warn!(
                height,
                "the previous snapshot is still being written: skipping this one"
            ),
            Err(TrySendError::Disconnected(_)) => {
                panic!("the snapshot thread never stops while the node runs")
            }
        }
    }

    /// Records, durably, the proof of the validator set `state` names, `state` being the
    /// state after an epoch's last block. A failed write is fatal: a node that cannot write
    /// its data directory cannot go on.
    pub fn record_boundary(&self, state: &State) {
        let epoch = state.epoch();
        let path = proof_path(&self.path, epoch);
        let bytes = state.validator_set_proof().encode();
        let dir = path.parent().expect("proof paths have a directory");
        let written = fs::create_dir_all(dir)
            .and_then(|()| durable::write_durably(&path, &bytes, Access::Default));
        if let Err(error) = written {
            panic!("cannot write {}: {error}", path.display());
        }
    }
}

fn epoch_length(state: &State) -> u64 {
    state.params().epoch_length_blocks
}

/// Whether the state at `height` is due for a snapshot: the last of its epoch, and at least
/// `every_blocks` past the last snapshot (taken at `last`, 0 if none).
fn is_due(height: u64, last: u64, every_blocks: u64, epoch_length_blocks: u64) -> bool {
    let boundary = height
        .checked_add(1)
        .is_some_and(|next| next.is_multiple_of(epoch_length_blocks));
    every_blocks != 0 && boundary && height.saturating_sub(last) >= every_blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_land_on_boundaries() {
        // Epochs of 10 blocks: boundaries at 9, 19, 29, ...
        let due = |height, last, every| is_due(height, last, every, 10);
        assert!(due(9, 0, 5), "the first boundary past every_blocks");
        assert!(!due(5, 0, 5), "not a boundary");
        assert!(!due(9, 0, 10), "a boundary, but too soon");
        assert!(due(19, 0, 10));
        assert!(!due(19, 9, 15));
        assert!(due(29, 9, 15));
        assert!(!due(19, 0, 0), "never");
    }

    #[test]
    fn boundary_proofs_are_written_beside_the_snapshot() {
        let dir = std::env::temp_dir().join(format!("aifactory-proofs-{}", std::process::id()));
        let policy = SnapshotPolicy {
            path: dir.join("ledger.snapshot"),
            every_blocks: 1,
        };
        let state = State::from_genesis(&aifactory_ledger::testing::test_genesis(
            &[aifactory_ledger::testing::test_key(0)],
            1_000,
        ))
        .expect("valid genesis");
        policy.start_writer().record_boundary(&state);
        let bytes = fs::read(proof_path(&policy.path, 0)).expect("written");
        let proof = aifactory_ledger::ValidatorSetProof::decode(&bytes).expect("decodes");
        assert_eq!(proof.verify(state.root()).map(|set| set.len()), Ok(1));
        let _ = fs::remove_dir_all(&dir);
    }
}

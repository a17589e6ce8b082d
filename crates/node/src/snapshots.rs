//! The ledger state on disk: every `every_blocks` finalized blocks the node writes a snapshot
//! of its finalized state (crash-safe: `aifactory_ledger::snapshot::save_snapshot`), and at
//! startup it restores the snapshot and replays only the blocks after it from marshal's
//! archive.
//!
//! Snapshots are written on their own thread so finalization never waits on the disk; when
//! one is still being written the next is skipped. A snapshot ahead of marshal's processed
//! height is fine: marshal redelivers the blocks in between, and the chain skips any at or
//! below its state's height. A snapshot that does not load (torn, corrupt, another chain) is
//! set aside with a warning and the node replays from genesis instead.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use aifactory_ledger::State;
use aifactory_ledger::{SnapshotLimits, load_snapshot, save_snapshot};
use tracing::{info, warn};

/// Where and how often to snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// The snapshot file.
    pub path: PathBuf,
    /// Snapshot after every block whose height is a multiple of this (0: never).
    pub every_blocks: u64,
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
        }
    }
}

/// Hands finalized states to the snapshot thread.
#[derive(Debug, Clone)]
pub struct SnapshotWriter {
    sender: SyncSender<Arc<State>>,
    every_blocks: u64,
}

impl SnapshotWriter {
    /// Offers the state after a finalized block; snapshots it if its height is due and the
    /// writer is idle.
    pub fn offer(&self, state: &Arc<State>) {
        if self.every_blocks == 0 || !state.height().is_multiple_of(self.every_blocks) {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.sender.try_send(state.clone()) {
            warn!(
                height = state.height(),
                "the previous snapshot is still being written: skipping this one"
            );
        }
    }
}

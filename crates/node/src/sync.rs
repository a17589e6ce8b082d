//! State sync: a new node starts from a peer's ledger snapshot instead of replaying the chain,
//! trusting nothing the peer says.
//!
//! 1. **Snapshot.** Download the peer's latest snapshot (`GET /v1/sync/snapshot`) to a
//!    temporary file beside ours and read its header: it must be of our chain and sit on an
//!    epoch's last block `H` (the epoch `E` it ends).
//! 2. **Boundaries.** Fetch the epoch boundaries 0..=E (`GET /v1/sync/epochs`) and check them
//!    in order from genesis ([`BoundaryVerifier`]): epoch `e`'s participants are genesis's for
//!    `e = 0`, else what the previous boundary's proof proved. The boundary's finalization
//!    must be of epoch `e`, for the header's hash, and carry a certificate that verifies
//!    against those participants; the header must be at the epoch's last height; its validator
//!    set proof must hash to the header's state root, which gives epoch `e + 1`'s participants.
//! 3. **Match.** The snapshot's header must match the verified header of epoch `E`
//!    ([`SnapshotHeader::matches`]), and the whole snapshot must load (its tables hash to the
//!    root it records, so to the header's). Only then does it replace our snapshot file.
//! 4. **Start.** The engine starts marshal from epoch `E`'s finalization ([`SyncFloor`]), restores
//!    the snapshot, and enters epoch `E + 1` with the boundary block as its anchor.
//!
//! A lying peer gets a [`SyncError`] naming what did not check, and nothing is written but the
//! temporary file, which is removed.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use aifactory_api::views::{SyncEpoch, SyncEpochs};
use aifactory_client::{Client, ClientError};
use aifactory_ledger::{
    SnapshotError, SnapshotLimits, State, ValidatorSetProof, ValidatorSetProofError,
    read_snapshot_header,
};
use aifactory_types::{Genesis, GenesisError, Header};
use commonware_codec::{Copying, Decode, Encode};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Finalization;
use commonware_consensus::types::{Epoch, Epocher, FixedEpocher, Height};
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::ed25519::PublicKey;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;
use futures::StreamExt;
use tracing::info;

use crate::block::{Digest, to_digest};
use crate::engine::CONSENSUS_NAMESPACE;
use crate::keys::{self, KeyError};
use crate::snapshots::load_snapshot;

/// Most bytes of a snapshot we download: a peer cannot fill our disk past this.
pub const SYNC_SNAPSHOT_BYTES_MAX: u64 = 16 << 30;

/// A verified epoch boundary to start marshal from.
#[derive(Debug, Clone)]
pub struct SyncFloor {
    /// The boundary block's finalization, verified against its epoch's participants.
    pub finalization: Finalization<Scheme, Digest>,
    /// The participants of the finalization's epoch (marshal checks the floor with them).
    pub participants: Set<PublicKey>,
}

impl SyncFloor {
    /// The epoch the floor block ends.
    pub fn epoch(&self) -> Epoch {
        self.finalization.proposal.round.epoch()
    }
}

/// Why a node could not sync from a peer. Every variant but [`SyncError::Peer`] and
/// [`SyncError::Disk`] means the peer served something that does not check.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The peer could not be asked, or refused.
    #[error("asking the peer failed: {0}")]
    Peer(#[from] ClientError),
    /// Our own disk failed.
    #[error("writing {path}: {source}")]
    Disk {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Our genesis is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// A validator address is not a consensus key.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// The snapshot does not read, or is of another chain.
    #[error("the peer's snapshot is refused: {0}")]
    Snapshot(#[from] SnapshotError),
    /// The snapshot is of another chain.
    #[error("the peer's snapshot is of chain {got:?}, not {expected:?}")]
    WrongChain {
        /// Our chain.
        expected: String,
        /// The snapshot's.
        got: String,
    },
    /// The snapshot is larger than we download.
    #[error("the peer's snapshot is over {max} bytes")]
    SnapshotTooLarge {
        /// The limit.
        max: u64,
    },
    /// The snapshot is not at an epoch's last block (or is at genesis).
    #[error("the peer's snapshot is at height {height}, not the last block of an epoch")]
    NotABoundary {
        /// Its height.
        height: u64,
    },
    /// The peer stopped listing boundaries before the snapshot's epoch.
    #[error("the peer lists no boundary for epoch {epoch}")]
    MissingEpoch {
        /// The epoch missing.
        epoch: u64,
    },
    /// A boundary is not the one expected next.
    #[error(
        "expected the boundary of epoch {expected} at height {height}, got epoch {got} at height {got_height}"
    )]
    OutOfOrder {
        /// The epoch expected.
        expected: u64,
        /// Its last height.
        height: u64,
        /// The epoch the peer sent.
        got: u64,
        /// The height the peer sent, in the listing or the header.
        got_height: u64,
    },
    /// A boundary's finalization does not decode or is not of its header and epoch.
    #[error("epoch {epoch}'s finalization is refused: {reason}")]
    Finalization {
        /// The epoch.
        epoch: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A boundary's certificate is not signed by the epoch's participants.
    #[error("epoch {epoch}'s finalization is not signed by a quorum of its validators")]
    Certificate {
        /// The epoch.
        epoch: u64,
    },
    /// A boundary's validator set proof does not check against its header.
    #[error("epoch {epoch}'s validator set proof is refused: {source}")]
    Proof {
        /// The epoch.
        epoch: u64,
        /// Why.
        source: ValidatorSetProofError,
    },
    /// A proof is not hex.
    #[error("epoch {epoch}'s {what} is not hex")]
    NotHex {
        /// The epoch.
        epoch: u64,
        /// Which field.
        what: &'static str,
    },
    /// The snapshot is not the state after the verified boundary block.
    #[error("the peer's snapshot at height {height} does not match the verified block there")]
    SnapshotMismatch {
        /// The snapshot's height.
        height: u64,
    },
}

/// Checks epoch boundaries in order from genesis, carrying each epoch's participants forward.
#[derive(Debug)]
pub struct BoundaryVerifier {
    epocher: FixedEpocher,
    next: u64,
    participants: Set<PublicKey>,
}

impl BoundaryVerifier {
    /// A verifier at epoch 0, whose participants are `genesis`'s validators.
    pub fn new(genesis: &State) -> Result<Self, SyncError> {
        let length = std::num::NonZeroU64::new(genesis.params().epoch_length_blocks)
            .expect("genesis checks the epoch length");
        Ok(BoundaryVerifier {
            epocher: FixedEpocher::new(length),
            next: 0,
            participants: keys::validator_set(genesis)?,
        })
    }

    /// The epoch whose boundary is checked next.
    pub fn next_epoch(&self) -> u64 {
        self.next
    }

    /// The last height of `epoch`.
    pub fn last_height(&self, epoch: u64) -> u64 {
        self.epocher
            .last(Epoch::new(epoch))
            .expect("a fixed epocher covers every epoch")
            .get()
    }

    /// Checks the next epoch's boundary; on success returns it as a floor (with its epoch's
    /// participants) and moves on to the next epoch with the participants its proof names.
    pub fn verify(&mut self, boundary: &SyncEpoch) -> Result<SyncFloor, SyncError> {
        let epoch = self.next;
        let height = self.last_height(epoch);
        for got_height in [boundary.height, boundary.header.height] {
            if boundary.epoch != epoch || got_height != height {
                return Err(SyncError::OutOfOrder {
                    expected: epoch,
                    height,
                    got: boundary.epoch,
                    got_height,
                });
            }
        }
        let finalization =
            self.check_finalization(epoch, &boundary.header, &boundary.finalization)?;
        let proof_bytes = hex::decode(&boundary.proof).map_err(|_| SyncError::NotHex {
            epoch,
            what: "proof",
        })?;
        let next = ValidatorSetProof::decode(&proof_bytes)
            .and_then(|proof| proof.verify(boundary.header.state_root))
            .map_err(|source| SyncError::Proof { epoch, source })?;
        let next = next
            .iter()
            .map(keys::public_key)
            .collect::<Result<Vec<_>, _>>()?;
        let participants = std::mem::replace(&mut self.participants, Set::from_iter_dedup(next));
        self.next = epoch + 1;
        Ok(SyncFloor {
            finalization,
            participants,
        })
    }

    fn check_finalization(
        &self,
        epoch: u64,
        header: &Header,
        hex_bytes: &str,
    ) -> Result<Finalization<Scheme, Digest>, SyncError> {
        let refused = |reason: &str| SyncError::Finalization {
            epoch,
            reason: reason.to_owned(),
        };
        let bytes = hex::decode(hex_bytes).map_err(|_| SyncError::NotHex {
            epoch,
            what: "finalization",
        })?;
        let scheme = Scheme::verifier(CONSENSUS_NAMESPACE, self.participants.clone());
        let finalization = Finalization::<Scheme, Digest>::decode_cfg(
            Copying(&bytes[..]),
            &scheme.certificate_codec_config(),
        )
        .map_err(|error| refused(&error.to_string()))?;
        if finalization.proposal.round.epoch() != Epoch::new(epoch) {
            return Err(refused("it is of another epoch"));
        }
        if finalization.proposal.payload != to_digest(header.hash()) {
            return Err(refused("it finalizes another block"));
        }
        let mut rng = commonware_utils::rng::sys_rng();
        if !finalization.verify(&mut rng, &scheme, &Sequential) {
            return Err(SyncError::Certificate { epoch });
        }
        Ok(finalization)
    }
}

/// Syncs from `peer`: downloads its snapshot, verifies it from `genesis` on, and installs it
/// at `snapshot_path`; returns the floor to start the engine from. Nothing is left at
/// `snapshot_path` unless everything checked.
pub async fn sync_from_peer(
    peer: &Client,
    genesis: &Genesis,
    snapshot_path: &Path,
) -> Result<SyncFloor, SyncError> {
    let genesis_state = State::from_genesis(genesis)?;
    let temp = snapshot_path.with_extension("sync");
    let result = fetch_and_verify(peer, &genesis_state, &temp).await;
    match result {
        Ok(floor) => {
            install(&temp, snapshot_path)?;
            info!(epoch = %floor.epoch(), peer = %peer.base_url(), "synced the ledger from a peer's snapshot");
            Ok(floor)
        }
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}

async fn fetch_and_verify(
    peer: &Client,
    genesis: &State,
    temp: &Path,
) -> Result<SyncFloor, SyncError> {
    download_snapshot(peer, temp).await?;
    let header = read_header(temp)?;
    if header.chain_id != genesis.chain_id() {
        return Err(SyncError::WrongChain {
            expected: genesis.chain_id().to_owned(),
            got: header.chain_id,
        });
    }
    let mut verifier = BoundaryVerifier::new(genesis)?;
    let target = genesis.params().epoch_of(header.height);
    if header.height == 0 || verifier.last_height(target) != header.height {
        return Err(SyncError::NotABoundary {
            height: header.height,
        });
    }
    let (floor, boundary_header) = verify_until(peer, &mut verifier, target).await?;
    check_snapshot(temp, genesis, &boundary_header)?;
    Ok(floor)
}

/// Whether the snapshot file at `path` is the state of `genesis`'s chain after the verified
/// block `header`: its header matches, and its tables hash to the root it records.
pub fn check_snapshot(path: &Path, genesis: &State, header: &Header) -> Result<(), SyncError> {
    let snapshot = read_header(path)?;
    if snapshot.chain_id != genesis.chain_id() {
        return Err(SyncError::WrongChain {
            expected: genesis.chain_id().to_owned(),
            got: snapshot.chain_id,
        });
    }
    if !snapshot.matches(header) {
        return Err(SyncError::SnapshotMismatch {
            height: snapshot.height,
        });
    }
    load_snapshot(path, &SnapshotLimits::default())?;
    Ok(())
}

/// Verifies boundaries 0..=`target` as the peer lists them; returns `target`'s floor and
/// header.
async fn verify_until(
    peer: &Client,
    verifier: &mut BoundaryVerifier,
    target: u64,
) -> Result<(SyncFloor, Header), SyncError> {
    loop {
        let from = verifier.next_epoch();
        let SyncEpochs { epochs } = peer.sync_epochs(from).await?;
        if epochs.is_empty() {
            return Err(SyncError::MissingEpoch { epoch: from });
        }
        for boundary in &epochs {
            let floor = verifier.verify(boundary)?;
            if boundary.epoch == target {
                return Ok((floor, boundary.header.clone()));
            }
        }
    }
}

async fn download_snapshot(peer: &Client, temp: &Path) -> Result<(), SyncError> {
    let disk = |source| SyncError::Disk {
        path: temp.to_owned(),
        source,
    };
    let (_, mut chunks) = peer.sync_snapshot_stream().await?;
    let mut file = File::create(temp).map_err(disk)?;
    let mut written: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        written = written.saturating_add(chunk.len() as u64);
        if written > SYNC_SNAPSHOT_BYTES_MAX {
            return Err(SyncError::SnapshotTooLarge {
                max: SYNC_SNAPSHOT_BYTES_MAX,
            });
        }
        file.write_all(&chunk).map_err(disk)?;
    }
    file.sync_all().map_err(disk)
}

fn read_header(path: &Path) -> Result<aifactory_ledger::SnapshotHeader, SyncError> {
    let file = File::open(path).map_err(|source| SyncError::Disk {
        path: path.to_owned(),
        source,
    })?;
    Ok(read_snapshot_header(&mut BufReader::new(file))?)
}

/// Moves the verified snapshot into place durably.
fn install(temp: &Path, path: &Path) -> Result<(), SyncError> {
    let disk = |source| SyncError::Disk {
        path: path.to_owned(),
        source,
    };
    fs::rename(temp, path).map_err(disk)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(disk)
}

/// The hex of a finalization as `GET /v1/sync/epochs` serves it.
pub fn finalization_hex(finalization: &Finalization<Scheme, Digest>) -> String {
    hex::encode(finalization.encode())
}

/// Whether a node with this data directory state should sync: it has no consensus state yet.
pub fn is_fresh(consensus_dir: &Path) -> bool {
    fs::read_dir(consensus_dir).map_or(true, |mut entries| entries.next().is_none())
}

/// The boundary height of `epoch` with `length` blocks per epoch (for the serving side).
pub fn boundary_height(length: u64, epoch: u64) -> Option<u64> {
    let length = std::num::NonZeroU64::new(length)?;
    FixedEpocher::new(length)
        .last(Epoch::new(epoch))
        .map(Height::get)
}

#[cfg(test)]
mod tests;

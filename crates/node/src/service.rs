//! The node behind the HTTP API: [`NodeApi`] implements the API's `NodeService` over the
//! chain (finalized state, recent receipts, mempool), marshal's archive and the recorded
//! outcomes (older blocks and the event history, see [`crate::history`]), the blob store, and
//! transaction gossip.
//!
//! Blobs: the store is synchronous (plain files, fsync); its calls run on the runtime's
//! threads through `block_in_place`, a piece (256 KiB) at a time. A blob a client asks for
//! and this node lacks is fetched from the peers' APIs in turn and stored only if it hashes
//! to its name. Peers are asked with `?local=true`, so they look only in their own stores: a
//! request for a blob nobody has ends after one hop instead of circling between nodes. At
//! most [`BLOB_PEER_FETCHES_MAX`] such fetches run at once; past that a client is told to
//! retry (503), so a flood of requests for made-up hashes costs each node a bounded number of
//! connections.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aifactory_api::views::{
    AccountView, BlobStored, BlockId, BlockView, ChainEvent, EventHeights, PeerView,
    SYNC_EPOCHS_MAX, SYNC_EPOCHS_PROOF_BYTES_BUDGET, StatusView, SyncEpoch, SyncEpochs, TxStatus,
};
use aifactory_api::{
    BlobBody, BlobContent, BlobError, BlobLookup, NodeService, SnapshotContent, SubmitError,
};
use aifactory_client::Client;
use aifactory_ledger::read_snapshot_header;
use aifactory_store::{BlobReader, Store, StoreError};
use aifactory_types::{Address, Hash, TxError, VerifiedTransaction};
use bytes::Bytes;
use commonware_consensus::types::Height;
use commonware_runtime::Clock;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{Semaphore, broadcast};
use tracing::{debug, warn};

use crate::chain::NodeHandle;
use crate::engine::MarshalMailbox;
use crate::gossip::GossipQueue;
use crate::history;
use crate::limits::{BLOB_PEER_FETCHES_MAX, EVENTS_BACKLOG_MAX};
use crate::mempool::Rejection;
use crate::metrics::NodeMetrics;
use crate::outcomes::Outcomes;
use crate::snapshots::proof_path;
use crate::sync;

/// What the API serves besides the chain.
pub struct ApiParts {
    /// The blob store.
    pub store: Arc<Store>,
    /// Where accepted transactions go to be gossiped.
    pub gossip: GossipQueue,
    /// The node's metrics.
    pub metrics: NodeMetrics,
    /// The configured peers, for their socket addresses.
    pub peers: Vec<PeerView>,
    /// The peers connected now (see [`crate::p2p::connected_peers`]); `None` lists the
    /// configured peers instead (a node without a real network).
    pub live_peers: Option<LivePeers>,
    /// Peers' APIs, asked for blobs missing here.
    pub blob_sources: Vec<Client>,
    /// The ledger snapshot file served to peers that sync from this node (the boundary
    /// proofs beside it), if the node keeps snapshots.
    pub snapshot_path: Option<PathBuf>,
    /// The finalized blocks' recorded receipts and events.
    pub outcomes: Outcomes,
}

/// Where the status learns which peers are connected now.
pub type LivePeers = Arc<dyn Fn() -> BTreeSet<Address> + Send + Sync>;

/// The node as the API serves it; cheap to clone.
pub struct NodeApi<E: Clock + Send + Sync + 'static> {
    node: NodeHandle,
    archive: MarshalMailbox,
    store: Arc<Store>,
    gossip: GossipQueue,
    metrics: NodeMetrics,
    clock: Arc<E>,
    peers: Arc<Vec<PeerView>>,
    live_peers: Option<LivePeers>,
    blob_sources: Arc<Vec<Client>>,
    blob_fetches: Arc<Semaphore>,
    events: broadcast::Sender<ChainEvent>,
    snapshot_path: Option<Arc<PathBuf>>,
    outcomes: Outcomes,
}

impl<E: Clock + Send + Sync + 'static> Clone for NodeApi<E> {
    fn clone(&self) -> Self {
        NodeApi {
            node: self.node.clone(),
            archive: self.archive.clone(),
            store: self.store.clone(),
            gossip: self.gossip.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
            peers: self.peers.clone(),
            live_peers: self.live_peers.clone(),
            blob_sources: self.blob_sources.clone(),
            blob_fetches: self.blob_fetches.clone(),
            events: self.events.clone(),
            snapshot_path: self.snapshot_path.clone(),
            outcomes: self.outcomes.clone(),
        }
    }
}

impl<E: Clock + Send + Sync + 'static> NodeApi<E> {
    /// The API's view of a node over `node`, its `archive`, `clock` and the `parts` beside
    /// the chain.
    pub fn new(node: NodeHandle, archive: MarshalMailbox, clock: E, parts: ApiParts) -> Self {
        let (events, _) = broadcast::channel(EVENTS_BACKLOG_MAX);
        NodeApi {
            node,
            archive,
            store: parts.store,
            gossip: parts.gossip,
            metrics: parts.metrics,
            clock: Arc::new(clock),
            peers: Arc::new(parts.peers),
            live_peers: parts.live_peers,
            blob_sources: Arc::new(parts.blob_sources),
            blob_fetches: Arc::new(Semaphore::new(BLOB_PEER_FETCHES_MAX)),
            events,
            snapshot_path: parts.snapshot_path.map(Arc::new),
            outcomes: parts.outcomes,
        }
    }

    /// Turns finalized blocks into events and metrics until the chain stops; spawn it once.
    pub async fn publish_finalized(self) {
        let mut blocks = self.node.subscribe_blocks();
        loop {
            match blocks.recv().await {
                Ok(block) => {
                    self.metrics.finalized(&block, self.clock.as_ref());
                    self.metrics.replayed(self.node.chain().replayed_blocks());
                    self.metrics
                        .mempool_size
                        .set(i64::try_from(self.node.mempool_len()).unwrap_or(i64::MAX));
                    for event in history::events_of(&block) {
                        let _ = self.events.send(event);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    warn!(skipped, "the event publisher lagged behind finalization");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Epoch `epoch`'s boundary as a syncing peer needs it, if this node has all of it: the
    /// block and finalization from marshal's archive, the proof from `epochs/`.
    async fn boundary(&self, snapshot_path: &Path, length: u64, epoch: u64) -> Option<SyncEpoch> {
        let height = sync::boundary_height(length, epoch)?;
        let proof = blocking(|| std::fs::read(proof_path(snapshot_path, epoch))).ok()?;
        let block = self.archive.get_block(Height::new(height)).await?;
        let finalization = self.archive.get_finalization(Height::new(height)).await?;
        Some(SyncEpoch {
            epoch,
            height,
            header: block.inner().header().clone(),
            finalization: sync::finalization_hex(&finalization),
            proof: hex::encode(proof),
        })
    }

    /// The peers connected now, each with its configured socket address if it has one (a
    /// peer that dialled in from outside the configuration has none); without a live source,
    /// the configured peers.
    fn peer_views(&self) -> Vec<PeerView> {
        let Some(live) = &self.live_peers else {
            return self.peers.as_ref().clone();
        };
        live()
            .into_iter()
            .map(|address| {
                let id = address.to_string();
                let addr = self
                    .peers
                    .iter()
                    .find(|peer| peer.id == id)
                    .and_then(|peer| peer.addr.clone());
                PeerView { id, addr }
            })
            .collect()
    }

    /// Stores `body` as blob `hash` (blocking file writes, a chunk at a time).
    async fn write_blob(&self, hash: Hash, mut body: BlobBody) -> Result<u64, BlobError> {
        let mut writer = blocking(|| self.store.writer_expecting(hash)).map_err(store_error)?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            blocking(|| writer.write_bytes(&chunk)).map_err(store_error)?;
        }
        let size = writer.len();
        blocking(|| writer.finish()).map_err(store_error)?;
        Ok(size)
    }

    /// Fetches a missing blob from the peers' stores (never theirs' peers); whether one
    /// delivered it, or `PeersBusy` if as many fetches as allowed are already running.
    async fn fetch_from_peers(&self, hash: Hash) -> Result<bool, BlobError> {
        if self.blob_sources.is_empty() {
            return Ok(false);
        }
        let Ok(_permit) = self.blob_fetches.try_acquire() else {
            return Err(BlobError::PeersBusy);
        };
        for peer in self.blob_sources.iter() {
            let stream = match peer.get_blob_stream(&hash, BlobLookup::Local).await {
                Ok(stream) => stream,
                Err(error) => {
                    debug!(peer = %peer.base_url(), %error, "peer does not serve the blob");
                    continue;
                }
            };
            let body: BlobBody = stream
                .map(|chunk| {
                    chunk.map_err(|e| aifactory_api::BlobBodyError::Interrupted(e.to_string()))
                })
                .boxed();
            match self.write_blob(hash, body).await {
                Ok(size) => {
                    debug!(%hash, size, peer = %peer.base_url(), "fetched a blob from a peer");
                    return Ok(true);
                }
                Err(error) => {
                    warn!(%hash, peer = %peer.base_url(), %error, "a peer's blob was refused")
                }
            }
        }
        Ok(false)
    }
}

fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

fn store_error(error: StoreError) -> BlobError {
    match error {
        StoreError::HashMismatch { expected, got } => {
            BlobError::Body(aifactory_api::BlobBodyError::HashMismatch {
                expected,
                actual: got,
            })
        }
        StoreError::TooLarge { max, .. } => {
            BlobError::Body(aifactory_api::BlobBodyError::TooLarge { max })
        }
        StoreError::QuotaExceeded { .. } => BlobError::StoreFull(error.to_string()),
        other => BlobError::Store(other.to_string()),
    }
}

/// The API's reading of a mempool refusal.
fn submit_error(rejection: Rejection, capacity: usize) -> SubmitError {
    match rejection {
        Rejection::Inadmissible(error) => SubmitError::Rejected(error),
        Rejection::Duplicate(hash) => SubmitError::AlreadyKnown(hash),
        Rejection::NonceTaken { nonce } => SubmitError::NoncePending { nonce },
        Rejection::NonceGap { expected, got } => {
            SubmitError::Rejected(TxError::NonceFromFuture { expected, got })
        }
        Rejection::CannotPayPending { balance, fees } => {
            SubmitError::Rejected(TxError::CannotPayFee { balance, fee: fees })
        }
        Rejection::PoolFull { .. } | Rejection::FutureFull { .. } => {
            SubmitError::MempoolFull { capacity }
        }
        other @ (Rejection::SenderFull { .. }
        | Rejection::SenderFutureFull { .. }
        | Rejection::Decode(_)
        | Rejection::Signature(_)) => SubmitError::Unavailable(other.to_string()),
    }
}

impl<E: Clock + Send + Sync + 'static> NodeService for NodeApi<E> {
    async fn submit(&self, tx: VerifiedTransaction) -> Result<Hash, SubmitError> {
        let mut results = self.submit_batch(vec![tx]).await;
        results.pop().expect("one result per transaction")
    }

    async fn submit_batch(&self, txs: Vec<VerifiedTransaction>) -> Vec<Result<Hash, SubmitError>> {
        let encoded: Vec<Vec<u8>> = txs.iter().map(|tx| tx.signed().encode()).collect();
        let sizes = encoded.iter().map(Vec::len);
        let results = self.node.chain().admit(txs.into_iter().zip(sizes));
        let capacity = self.node.chain().mempool().capacity();
        results
            .into_iter()
            .zip(encoded)
            .map(|(result, bytes)| match result {
                Ok(hash) => {
                    self.metrics.accepted(hash, self.clock.as_ref());
                    self.gossip.offer(bytes);
                    Ok(hash)
                }
                Err(rejection) => {
                    self.metrics.reject(&rejection);
                    Err(submit_error(rejection, capacity))
                }
            })
            .collect()
    }

    async fn tx_status(&self, hash: Hash) -> Option<TxStatus> {
        if let Some((block, index)) = self.node.chain().recent().tx(&hash) {
            let receipt = block.receipts.get(index as usize)?.clone();
            return Some(TxStatus::Included {
                height: block.block.header().height,
                block_hash: block.block.hash(),
                index,
                receipt,
            });
        }
        if self.node.chain().mempool().contains(&hash) {
            return Some(TxStatus::Pending);
        }
        if let Some(included) = history::recorded_tx(&self.outcomes, hash).await {
            return Some(included);
        }
        let error = self.node.chain().mempool().dropped(&hash)?.clone();
        Some(TxStatus::Dropped { error })
    }

    async fn account(&self, address: Address) -> Option<AccountView> {
        let state = self.node.finalized_state();
        let proof = state.account_proof(&address)?;
        Some(AccountView {
            height: state.height(),
            state_root: state.root(),
            proof,
        })
    }

    async fn block(&self, id: BlockId) -> Option<BlockView> {
        history::block_view(&self.node, &self.archive, &self.outcomes, id).await
    }

    fn finalized_state(&self) -> Arc<aifactory_ledger::State> {
        self.node.finalized_state()
    }

    async fn status(&self) -> StatusView {
        StatusView::from_state(&self.node.finalized_state(), self.peer_views())
    }

    async fn put_blob(&self, hash: Hash, body: BlobBody) -> Result<BlobStored, BlobError> {
        if blocking(|| self.store.has(&hash)).map_err(store_error)? {
            let size = blocking(|| self.store.size(&hash)).map_err(store_error)?;
            return Ok(BlobStored {
                hash,
                size,
                created: false,
            });
        }
        let size = self.write_blob(hash, body).await?;
        Ok(BlobStored {
            hash,
            size,
            created: true,
        })
    }

    async fn get_blob(
        &self,
        hash: Hash,
        lookup: BlobLookup,
    ) -> Result<Option<BlobContent>, BlobError> {
        let reader = match blocking(|| self.store.reader(&hash)) {
            Ok(reader) => reader,
            Err(StoreError::NotFound { .. }) => {
                if lookup == BlobLookup::Local || !self.fetch_from_peers(hash).await? {
                    return Ok(None);
                }
                blocking(|| self.store.reader(&hash)).map_err(store_error)?
            }
            Err(error) => return Err(store_error(error)),
        };
        let size = reader.len();
        let body: BoxStream<'static, Result<Bytes, std::io::Error>> =
            futures::stream::unfold(Some(reader), |reader| async move {
                let mut reader: BlobReader = reader?;
                match blocking(|| reader.next_piece().map(|p| p.map(Bytes::copy_from_slice))) {
                    Ok(Some(piece)) => Some((Ok(piece), Some(reader))),
                    Ok(None) => None,
                    Err(error) => Some((Err(error.into_io()), None)),
                }
            })
            .boxed();
        Ok(Some(BlobContent { size, body }))
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    async fn event_heights(&self) -> Option<EventHeights> {
        Some(history::event_heights(&self.node, &self.outcomes))
    }

    async fn block_events(&self, height: u64) -> Option<Vec<ChainEvent>> {
        history::block_events(&self.node, &self.outcomes, height).await
    }

    async fn sync_epochs(&self, from: u64) -> Option<SyncEpochs> {
        let snapshot_path = self.snapshot_path.as_ref()?;
        let state = self.node.finalized_state();
        let length = state.params().epoch_length_blocks;
        let mut epochs = Vec::new();
        let mut proof_bytes: usize = 0;
        for epoch in (from..).take(SYNC_EPOCHS_MAX) {
            if proof_bytes > SYNC_EPOCHS_PROOF_BYTES_BUDGET {
                break;
            }
            let Some(height) = sync::boundary_height(length, epoch) else {
                break;
            };
            if height > state.height() {
                break;
            }
            let Some(boundary) = self.boundary(snapshot_path, length, epoch).await else {
                break;
            };
            proof_bytes = proof_bytes.saturating_add(boundary.proof.len() / 2);
            epochs.push(boundary);
        }
        Some(SyncEpochs { epochs })
    }

    async fn sync_snapshot(&self) -> Option<SnapshotContent> {
        let path = self.snapshot_path.as_ref()?.as_ref().clone();
        let (height, size, file) = blocking(|| open_snapshot(&path)).ok()?;
        Some(SnapshotContent {
            height,
            content: BlobContent {
                size,
                body: file_chunks(file),
            },
        })
    }
}

/// Bytes read from a snapshot file per chunk served.
const SNAPSHOT_CHUNK_BYTES: usize = 256 * 1024;

/// The snapshot file open at its start, with its height and length. The open file stays
/// the same snapshot even if a newer one is renamed over the path meanwhile.
fn open_snapshot(path: &Path) -> std::io::Result<(u64, u64, File)> {
    let mut file = File::open(path)?;
    let header = read_snapshot_header(&mut BufReader::new(&file))
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    file.seek(SeekFrom::Start(0))?;
    let size = file.metadata()?.len();
    Ok((header.height, size, file))
}

/// A file's bytes, a chunk at a time, read on the runtime's blocking path.
fn file_chunks(file: File) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut chunk = vec![0u8; SNAPSHOT_CHUNK_BYTES];
        match blocking(|| file.read(&mut chunk)) {
            Ok(0) => None,
            Ok(read) => {
                chunk.truncate(read);
                Some((Ok(Bytes::from(chunk)), Some(file)))
            }
            Err(error) => Some((Err(error), None)),
        }
    })
    .boxed()
}

//! What the API needs from a node: the trait a node implements to be served over HTTP.
//!
//! The API decodes, size-checks and signature-checks before it calls the node, so every
//! method receives only well-formed input; the node answers from its own state and mempool.
//! Internally the server erases the implementation behind [`DynNode`] so that handlers are
//! ordinary functions (which the OpenAPI macros need), not generic ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

use aifactory_ledger::State;
use aifactory_types::{Address, Hash, TxError, VerifiedTransaction};

use crate::views::BlobLookup;
use crate::views::{
    AccountView, BlobStored, BlockId, BlockView, ChainEvent, EventHeights, StatusView, SyncEpochs,
    TxStatus,
};

/// Why a node would not take a transaction into its mempool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The ledger's admission checks refuse it (wrong chain, replayed nonce, low fee, ...).
    #[error("{0}")]
    Rejected(TxError),
    /// The mempool already holds this exact transaction.
    #[error("transaction {0} is already in the mempool")]
    AlreadyKnown(Hash),
    /// Another pending transaction from the same sender already uses this nonce.
    #[error("a transaction with nonce {nonce} from this sender is already pending")]
    NoncePending {
        /// The nonce.
        nonce: u64,
    },
    /// The mempool is at its limit; try again later.
    #[error("the mempool is full ({capacity} transactions); try again later")]
    MempoolFull {
        /// The mempool's capacity.
        capacity: usize,
    },
    /// The node cannot take transactions now (still syncing, shutting down).
    #[error("the node is not accepting transactions: {0}")]
    Unavailable(String),
}

/// A blob's bytes as they arrive, already capped and hashed by the API.
///
/// The stream ends cleanly (`None`) only after every byte has arrived *and* the content's
/// BLAKE3 equals the hash the client named; otherwise its last item is an error. A store must
/// therefore commit the blob only when the stream ends cleanly, never on an error.
pub type BlobBody = BoxStream<'static, Result<Bytes, BlobBodyError>>;

/// Why a blob upload's stream stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobBodyError {
    /// The body is longer than the API's cap.
    #[error("the blob is larger than the limit of {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: u64,
    },
    /// The content's BLAKE3 is not the hash in the URL.
    #[error("the content hashes to {actual}, not {expected}")]
    HashMismatch {
        /// The hash in the URL.
        expected: Hash,
        /// The content's hash.
        actual: Hash,
    },
    /// The client's connection failed mid-body.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
}

/// Why a blob could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The upload itself was bad; the API reports the reason it put in the stream.
    #[error(transparent)]
    Body(#[from] BlobBodyError),
    /// The node's store has no room for it.
    #[error("the blob store is full: {0}")]
    StoreFull(String),
    /// The node's store failed (disk error); the blob was not stored.
    #[error("the blob store failed: {0}")]
    Store(String),
    /// The blob is not here and the node is already asking its peers for as many blobs as
    /// it allows; the client may retry shortly.
    #[error("the node is busy fetching other blobs from its peers; retry shortly")]
    PeersBusy,
}

/// A stored blob's bytes, as the node streams them out.
pub struct BlobContent {
    /// The blob's length, in bytes (sent as `Content-Length`).
    pub size: u64,
    /// The bytes, in order.
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for BlobContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobContent")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A node as the API sees it. The consensus node implements it over its mempool, chain store
/// and blob store; the API's tests implement it over a single-process ledger.
pub trait NodeService: Clone + Send + Sync + 'static {
    /// Offers a signature-checked transaction to the mempool; returns its id once accepted.
    fn submit(
        &self,
        tx: VerifiedTransaction,
    ) -> impl Future<Output = Result<Hash, SubmitError>> + Send;

    /// Offers signature-checked transactions in order; one result per transaction. The
    /// default submits them one at a time; a node may take them under one lock.
    fn submit_batch(
        &self,
        txs: Vec<VerifiedTransaction>,
    ) -> impl Future<Output = Vec<Result<Hash, SubmitError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(txs.len());
            for tx in txs {
                results.push(self.submit(tx).await);
            }
            results
        }
    }

    /// Where the transaction with this id is, or `None` if the node has never seen it.
    fn tx_status(&self, hash: Hash) -> impl Future<Output = Option<TxStatus>> + Send;

    /// The account with a proof against the latest state root, or `None` if it does not exist.
    fn account(&self, address: Address) -> impl Future<Output = Option<AccountView>> + Send;

    /// A block with its receipts, or `None` if the node has no such block.
    fn block(&self, id: BlockId) -> impl Future<Output = Option<BlockView>> + Send;

    /// The latest finalized ledger state, which the lifecycle's routes (datasets, models,
    /// jobs) read their views and proofs from: one state per request, so one root.
    fn finalized_state(&self) -> Arc<State>;

    /// The node's view of the chain.
    fn status(&self) -> impl Future<Output = StatusView> + Send;

    /// Stores a blob named by its BLAKE3 `hash`, reading `body` to its end (see [`BlobBody`]).
    fn put_blob(
        &self,
        hash: Hash,
        body: BlobBody,
    ) -> impl Future<Output = Result<BlobStored, BlobError>> + Send;

    /// A stored blob's bytes, or `None` if the node does not have it (after asking its
    /// peers, if `lookup` allows).
    fn get_blob(
        &self,
        hash: Hash,
        lookup: BlobLookup,
    ) -> impl Future<Output = Result<Option<BlobContent>, BlobError>> + Send;

    /// A new subscription to the chain's events, from now on. A block's events must be sent
    /// only after [`NodeService::block_events`] can return them (record, then publish): a
    /// resumed stream relies on it to switch from history to live without a gap.
    fn subscribe(&self) -> broadcast::Receiver<ChainEvent>;

    /// The heights whose events [`NodeService::block_events`] returns, or `None` if this
    /// node keeps no history (a resumed stream is then refused). The default keeps none.
    fn event_heights(&self) -> impl Future<Output = Option<EventHeights>> + Send {
        async { None }
    }

    /// The events of the finalized block at `height` as [`ChainEvent::of_block`] orders them,
    /// or `None` if the node does not have them. The default has none.
    fn block_events(&self, height: u64) -> impl Future<Output = Option<Vec<ChainEvent>>> + Send {
        let _ = height;
        async { None }
    }

    /// Epoch boundaries from epoch `from` on (at most `SYNC_EPOCHS_MAX`), or `None` if this
    /// node does not serve state sync. The default serves none.
    fn sync_epochs(&self, from: u64) -> impl Future<Output = Option<SyncEpochs>> + Send {
        let _ = from;
        async { None }
    }

    /// The node's latest ledger snapshot, or `None` if it has none to serve. The default has
    /// none.
    fn sync_snapshot(&self) -> impl Future<Output = Option<SnapshotContent>> + Send {
        async { None }
    }
}

/// A ledger snapshot file as the node serves it.
#[derive(Debug)]
pub struct SnapshotContent {
    /// The height of the state it holds (an epoch's last block).
    pub height: u64,
    /// Its bytes.
    pub content: BlobContent,
}

/// [`NodeService`] made object-safe, so the router holds one `Arc<dyn DynNode>` and its
/// handlers are plain functions.
pub(crate) trait DynNode: Send + Sync {
    fn submit(&self, tx: VerifiedTransaction) -> BoxFuture<'_, Result<Hash, SubmitError>>;
    fn submit_batch(
        &self,
        txs: Vec<VerifiedTransaction>,
    ) -> BoxFuture<'_, Vec<Result<Hash, SubmitError>>>;
    fn tx_status(&self, hash: Hash) -> BoxFuture<'_, Option<TxStatus>>;
    fn account(&self, address: Address) -> BoxFuture<'_, Option<AccountView>>;
    fn block(&self, id: BlockId) -> BoxFuture<'_, Option<BlockView>>;
    fn status(&self) -> BoxFuture<'_, StatusView>;
    fn finalized_state(&self) -> Arc<State>;
    fn put_blob(&self, hash: Hash, body: BlobBody) -> BoxFuture<'_, Result<BlobStored, BlobError>>;
    fn get_blob(
        &self,
        hash: Hash,
        lookup: BlobLookup,
    ) -> BoxFuture<'_, Result<Option<BlobContent>, BlobError>>;
    fn subscribe(&self) -> broadcast::Receiver<ChainEvent>;
    fn event_heights(&self) -> BoxFuture<'_, Option<EventHeights>>;
    fn block_events(&self, height: u64) -> BoxFuture<'_, Option<Vec<ChainEvent>>>;
    fn sync_epochs(&self, from: u64) -> BoxFuture<'_, Option<SyncEpochs>>;
    fn sync_snapshot(&self) -> BoxFuture<'_, Option<SnapshotContent>>;
}

fn boxed<'a, T>(future: impl Future<Output = T> + Send + 'a) -> BoxFuture<'a, T> {
    Box::pin(future) as Pin<Box<dyn Future<Output = T> + Send + 'a>>
}

impl<N: NodeService> DynNode for N {
    fn submit(&self, tx: VerifiedTransaction) -> BoxFuture<'_, Result<Hash, SubmitError>> {
        boxed(NodeService::submit(self, tx))
    }

    fn submit_batch(
        &self,
        txs: Vec<VerifiedTransaction>,
    ) -> BoxFuture<'_, Vec<Result<Hash, SubmitError>>> {
        boxed(NodeService::submit_batch(self, txs))
    }

    fn tx_status(&self, hash: Hash) -> BoxFuture<'_, Option<TxStatus>> {
        boxed(NodeService::tx_status(self, hash))
    }

    fn account(&self, address: Address) -> BoxFuture<'_, Option<AccountView>> {
        boxed(NodeService::account(self, address))
    }

    fn block(&self, id: BlockId) -> BoxFuture<'_, Option<BlockView>> {
        boxed(NodeService::block(self, id))
    }

    fn status(&self) -> BoxFuture<'_, StatusView> {
        boxed(NodeService::status(self))
    }

    fn finalized_state(&self) -> Arc<State> {
        NodeService::finalized_state(self)
    }

    fn put_blob(&self, hash: Hash, body: BlobBody) -> BoxFuture<'_, Result<BlobStored, BlobError>> {
        boxed(NodeService::put_blob(self, hash, body))
    }

    fn get_blob(
        &self,
        hash: Hash,
        lookup: BlobLookup,
    ) -> BoxFuture<'_, Result<Option<BlobContent>, BlobError>> {
        boxed(NodeService::get_blob(self, hash, lookup))
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        NodeService::subscribe(self)
    }

    fn event_heights(&self) -> BoxFuture<'_, Option<EventHeights>> {
        boxed(NodeService::event_heights(self))
    }

    fn block_events(&self, height: u64) -> BoxFuture<'_, Option<Vec<ChainEvent>>> {
        boxed(NodeService::block_events(self, height))
    }

    fn sync_epochs(&self, from: u64) -> BoxFuture<'_, Option<SyncEpochs>> {
        boxed(NodeService::sync_epochs(self, from))
    }

    fn sync_snapshot(&self) -> BoxFuture<'_, Option<SnapshotContent>> {
        boxed(NodeService::sync_snapshot(self))
    }
}

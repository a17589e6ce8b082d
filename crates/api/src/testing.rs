//! A single-process chain to serve the API from in tests (feature `testing`): the real ledger
//! (`aifactory_ledger::State`) behind a mutex, a small mempool, and a block built on demand
//! (or after every submission). [`TestNode`] implements [`NodeService`] the way the consensus
//! node does, so the API, the client and the CLI are exercised against real admission checks,
//! receipts and proofs; [`start`] serves it on 127.0.0.1 with a real socket.
//!
//! Not for production: it stands in for consensus, finalizes every block it builds, and keeps
//! everything in memory. It can also be told to misbehave ([`TestNode::with_status_bug`],
//! [`TestNode::with_forged_proofs`]) so clients can be tested against a faulty or lying node.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{broadcast, oneshot};

use aifactory_ledger::testing::TestChain;
use aifactory_types::{Address, Hash, VerifiedTransaction};

use crate::views::{
    AccountView, BlobStored, BlockId, BlockView, ChainEvent, EventHeights, StatusView, TxStatus,
};
use crate::{ApiConfig, BlobBody, BlobContent, BlobError, BlobLookup, NodeService, SubmitError};

/// Accounts in the test chain (keys `aifactory_ledger::testing::test_key(0..ACCOUNTS)`), each
/// funded with [`BALANCE`]. Key 0 proposes every block.
pub const ACCOUNTS: usize = 8;

/// Each test account's starting balance, in base units.
pub const BALANCE: u64 = 1_000_000_000;

/// How many events a subscriber may fall behind before it is told it lagged.
const EVENTS_BUFFERED_MAX: usize = 1024;

struct Chain {
    chain: TestChain,
    seal_every_tx: bool,
    mempool: Vec<VerifiedTransaction>,
    mempool_max: usize,
    statuses: HashMap<Hash, TxStatus>,
    blocks: Vec<BlockView>,
    /// Each block's stream events, as recorded before they are published.
    history: Vec<Vec<ChainEvent>>,
    /// The lowest height whose events it still serves (see [`TestNode::forget_events_below`]).
    history_lowest: u64,
    blobs: HashMap<Hash, Bytes>,
}

/// Ways a [`TestNode`] can be made to misbehave.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Answering `status` panics (a bug in the node).
    status_panics: bool,
    /// Every account it serves claims one more base unit than the state holds.
    proofs_forged: bool,
}

/// The stand-in node: a [`NodeService`] over a single-process ledger.
#[derive(Clone)]
pub struct TestNode {
    chain: Arc<Mutex<Chain>>,
    events: broadcast::Sender<ChainEvent>,
    faults: Faults,
}

impl std::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNode")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl TestNode {
    /// A node that builds (and finalizes) a block after every accepted transaction.
    pub fn sealing() -> Self {
        Self::sealing_over(TestChain::new(ACCOUNTS, BALANCE))
    }

    /// A sealing node over `chain` (its own keys, balances and parameters): for tests that
    /// need more than [`BALANCE`], such as the lifecycle's stakes and budgets.
    pub fn sealing_over(chain: TestChain) -> Self {
        Self::new(chain, true, 1_000)
    }

    /// A node that builds blocks only on [`TestNode::seal`], with a mempool of `mempool_max`.
    pub fn manual(mempool_max: usize) -> Self {
        Self::new(TestChain::new(ACCOUNTS, BALANCE), false, mempool_max)
    }

    fn new(chain: TestChain, seal_every_tx: bool, mempool_max: usize) -> Self {
        let chain = Chain {
            chain,
            seal_every_tx,
            mempool: Vec::new(),
            mempool_max,
            statuses: HashMap::new(),
            blocks: Vec::new(),
            history: Vec::new(),
            history_lowest: 1,
            blobs: HashMap::new(),
        };
        TestNode {
            chain: Arc::new(Mutex::new(chain)),
            events: broadcast::channel(EVENTS_BUFFERED_MAX).0,
            faults: Faults::default(),
        }
    }

    /// A sealing node with a bug: answering `status` panics.
    pub fn with_status_bug() -> Self {
        let mut node = Self::sealing();
        node.faults.status_panics = true;
        node
    }

    /// A sealing node that lies: each account it serves claims one more base unit than the
    /// state holds, so the proof does not verify against the state root it sends with it.
    pub fn with_forged_proofs() -> Self {
        let mut node = Self::sealing();
        node.faults.proofs_forged = true;
        node
    }

    /// This node with room for only `events_max` live events per subscriber, so a test can
    /// make one fall behind.
    pub fn with_live_events_max(mut self, events_max: usize) -> Self {
        self.events = broadcast::channel(events_max).0;
        self
    }

    /// Forgets the events of heights below `height`, as a node that started from a snapshot
    /// there never had them.
    pub fn forget_events_below(&self, height: u64) {
        self.lock().history_lowest = height;
    }

    /// A copy of the test chain (keys and state), to sign transactions with.
    pub fn chain(&self) -> TestChain {
        self.lock().chain.clone()
    }

    /// How many transactions wait in the mempool for a block.
    pub fn mempool_len(&self) -> usize {
        self.lock().mempool.len()
    }

    /// Builds a block from the mempool.
    pub fn seal(&self) {
        let mut chain = self.lock();
        seal(&mut chain, &self.events);
    }

    fn lock(&self) -> MutexGuard<'_, Chain> {
        self.chain
            .lock()
            .expect("a test that panicked while holding the chain has already failed")
    }
}

fn seal(chain: &mut Chain, events: &broadcast::Sender<ChainEvent>) {
    let txs = std::mem::take(&mut chain.mempool);
    let proposer = chain.chain.address(0);
    let timestamp_ms = chain.chain.next_timestamp_ms();
    let built = chain
        .chain
        .state
        .build_block(proposer, timestamp_ms, txs)
        .expect("the timestamp moves forward");
    let height = built.block.header.height;
    let hash = built.outcome.block_hash;
    for (tx_hash, error) in built.rejected {
        chain.statuses.insert(tx_hash, TxStatus::Dropped { error });
    }
    for (index, receipt) in built.outcome.receipts.iter().enumerate() {
        let status = TxStatus::Included {
            height,
            block_hash: hash,
            index: index as u32,
            receipt: receipt.clone(),
        };
        chain.statuses.insert(receipt.tx_hash, status);
    }
    chain.blocks.push(BlockView {
        hash,
        block: built.block.to_block(),
        receipts: Some(built.outcome.receipts.clone()),
        events: Some(built.outcome.events.clone()),
    });
    let block_events = ChainEvent::of_block(
        height,
        hash,
        built.outcome.state_root,
        &built.outcome.receipts,
        &built.outcome.events,
    );
    // Recorded before published, as `NodeService::subscribe` requires.
    chain.history.push(block_events.clone());
    for event in block_events {
        let _ = events.send(event);
    }
}

impl NodeService for TestNode {
    async fn submit(&self, tx: VerifiedTransaction) -> Result<Hash, SubmitError> {
        let mut chain = self.lock();
        let hash = tx.hash();
        if chain.mempool.iter().any(|pending| pending.hash() == hash) {
            return Err(SubmitError::AlreadyKnown(hash));
        }
        let state = &chain.chain.state;
        let ctx = state
            .next_block_context(chain.chain.address(0), chain.chain.next_timestamp_ms())
            .expect("the timestamp moves forward");
        state.admit(&ctx, tx.tx()).map_err(SubmitError::Rejected)?;
        if chain.mempool.len() >= chain.mempool_max {
            return Err(SubmitError::MempoolFull {
                capacity: chain.mempool_max,
            });
        }
        chain.mempool.push(tx);
        chain.statuses.insert(hash, TxStatus::Pending);
        if chain.seal_every_tx {
            seal(&mut chain, &self.events);
        }
        Ok(hash)
    }

    async fn tx_status(&self, hash: Hash) -> Option<TxStatus> {
        self.lock().statuses.get(&hash).cloned()
    }

    async fn account(&self, address: Address) -> Option<AccountView> {
        let chain = self.lock();
        let state = &chain.chain.state;
        let mut proof = state.account_proof(&address)?;
        if self.faults.proofs_forged {
            proof.account.balance += 1;
        }
        Some(AccountView {
            height: state.height(),
            state_root: state.root(),
            proof,
        })
    }

    async fn block(&self, id: BlockId) -> Option<BlockView> {
        let chain = self.lock();
        match id {
            BlockId::Latest => chain.blocks.last().cloned(),
            BlockId::Height(height) => {
                let index = usize::try_from(height.checked_sub(1)?).ok()?;
                chain.blocks.get(index).cloned()
            }
            BlockId::Hash(hash) => chain.blocks.iter().find(|b| b.hash == hash).cloned(),
        }
    }

    fn finalized_state(&self) -> Arc<aifactory_ledger::State> {
        // Every block this node builds is final; a copy keeps the lock short.
        Arc::new(self.lock().chain.state.clone())
    }

    async fn status(&self) -> StatusView {
        assert!(!self.faults.status_panics, "a bug in the node's status");
        StatusView::from_state(&self.lock().chain.state, Vec::new())
    }

    async fn put_blob(&self, hash: Hash, mut body: BlobBody) -> Result<BlobStored, BlobError> {
        let mut content = Vec::new();
        while let Some(chunk) = body.next().await {
            content.extend_from_slice(&chunk?);
        }
        let size = content.len() as u64;
        let created = self
            .lock()
            .blobs
            .insert(hash, Bytes::from(content))
            .is_none();
        Ok(BlobStored {
            hash,
            size,
            created,
        })
    }

    async fn get_blob(&self, hash: Hash, _: BlobLookup) -> Result<Option<BlobContent>, BlobError> {
        let Some(content) = self.lock().blobs.get(&hash).cloned() else {
            return Ok(None);
        };
        let chunks: Vec<Result<Bytes, std::io::Error>> = content
            .chunks(64 * 1024)
            .map(|c| Ok(content.slice_ref(c)))
            .collect();
        Ok(Some(BlobContent {
            size: content.len() as u64,
            body: futures::stream::iter(chunks).boxed(),
        }))
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    async fn event_heights(&self) -> Option<EventHeights> {
        let chain = self.lock();
        Some(EventHeights {
            lowest: chain.history_lowest,
            tip: chain.history.len() as u64,
        })
    }

    async fn block_events(&self, height: u64) -> Option<Vec<ChainEvent>> {
        let chain = self.lock();
        if height < chain.history_lowest {
            return None;
        }
        let index = usize::try_from(height.checked_sub(1)?).ok()?;
        chain.history.get(index).cloned()
    }
}

/// The API served over a [`TestNode`] on a real socket; dropping it stops the server.
#[derive(Debug)]
pub struct TestServer {
    /// The node behind the API.
    pub node: TestNode,
    /// The server's address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The default config without a rate limit, so tests can send as fast as they like.
pub fn unlimited() -> ApiConfig {
    ApiConfig {
        blob_bytes_max: 1024 * 1024,
        rate_limit: None,
        ..ApiConfig::default()
    }
}

/// Serves the API over `node` on 127.0.0.1:0, with a `/metrics` route merged in, on the
/// current tokio runtime (which must be running for as long as the server is used).
pub async fn start(node: TestNode, config: ApiConfig) -> TestServer {
    let extra = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "aifactory_test_metric 1\n" }),
    );
    let router = crate::router(node.clone(), config, extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(crate::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    TestServer {
        node,
        addr,
        shutdown: Some(shutdown),
    }
}

//! A single-process chain that stands in for consensus in these tests only: the real ledger
//! (`aifactory_ledger::State`) behind a mutex, a small mempool, and a block built on demand
//! (or after every submission). It implements `NodeService` the way the consensus node will,
//! so the API and client are exercised against real admission checks, receipts and proofs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{broadcast, oneshot};

use aifactory_api::views::{
    AccountView, BlobStored, BlockId, BlockView, ChainEvent, StatusView, TxStatus,
};
use aifactory_api::{ApiConfig, BlobBody, BlobContent, BlobError, NodeService, SubmitError};
use aifactory_client::Client;
use aifactory_ledger::testing::TestChain;
use aifactory_types::{Address, Hash, TxOutcome, VerifiedTransaction};

/// Accounts in the test chain, each funded with [`BALANCE`]. Key 0 proposes every block.
pub(crate) const ACCOUNTS: usize = 8;

/// Each test account's starting balance.
pub(crate) const BALANCE: u64 = 1_000_000_000;

struct Chain {
    chain: TestChain,
    seal_every_tx: bool,
    mempool: Vec<VerifiedTransaction>,
    mempool_max: usize,
    statuses: HashMap<Hash, TxStatus>,
    blocks: Vec<BlockView>,
    blobs: HashMap<Hash, Bytes>,
}

/// The stand-in node.
#[derive(Clone)]
pub(crate) struct TestNode {
    chain: Arc<Mutex<Chain>>,
    events: broadcast::Sender<ChainEvent>,
    status_panics: bool,
}

impl TestNode {
    /// A node that builds a block after every accepted transaction.
    pub(crate) fn sealing() -> Self {
        Self::new(true, 1_000)
    }

    /// A node that builds blocks only when told to, with a mempool of `mempool_max`.
    pub(crate) fn manual(mempool_max: usize) -> Self {
        Self::new(false, mempool_max)
    }

    fn new(seal_every_tx: bool, mempool_max: usize) -> Self {
        let chain = Chain {
            chain: TestChain::new(ACCOUNTS, BALANCE),
            seal_every_tx,
            mempool: Vec::new(),
            mempool_max,
            statuses: HashMap::new(),
            blocks: Vec::new(),
            blobs: HashMap::new(),
        };
        TestNode {
            chain: Arc::new(Mutex::new(chain)),
            events: broadcast::channel(1024).0,
            status_panics: false,
        }
    }

    /// A sealing node with a bug: answering `status` panics.
    pub(crate) fn with_status_bug() -> Self {
        TestNode {
            status_panics: true,
            ..Self::sealing()
        }
    }

    /// A copy of the test chain (keys and state), to sign transactions with.
    pub(crate) fn chain(&self) -> TestChain {
        self.chain.lock().unwrap().chain.clone()
    }

    /// Builds a block from the mempool.
    pub(crate) fn seal(&self) {
        let mut chain = self.chain.lock().unwrap();
        seal(&mut chain, &self.events);
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
        chain.statuses.insert(tx_hash, TxStatus::Rejected { error });
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
        receipts: built.outcome.receipts.clone(),
    });
    let _ = events.send(ChainEvent::Block {
        height,
        hash,
        tx_count: built.outcome.receipts.len() as u32,
        state_root: built.outcome.state_root,
    });
    for receipt in built.outcome.receipts {
        let _ = events.send(ChainEvent::TxIncluded {
            tx_hash: receipt.tx_hash,
            height,
            success: receipt.outcome == TxOutcome::Success,
        });
    }
}

impl NodeService for TestNode {
    async fn submit(&self, tx: VerifiedTransaction) -> Result<Hash, SubmitError> {
        let mut chain = self.chain.lock().unwrap();
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
        self.chain.lock().unwrap().statuses.get(&hash).cloned()
    }

    async fn account(&self, address: Address) -> Option<AccountView> {
        let chain = self.chain.lock().unwrap();
        let state = &chain.chain.state;
        Some(AccountView {
            height: state.height(),
            state_root: state.root(),
            proof: state.account_proof(&address)?,
        })
    }

    async fn block(&self, id: BlockId) -> Option<BlockView> {
        let chain = self.chain.lock().unwrap();
        match id {
            BlockId::Latest => chain.blocks.last().cloned(),
            BlockId::Height(height) => {
                let index = usize::try_from(height.checked_sub(1)?).ok()?;
                chain.blocks.get(index).cloned()
            }
            BlockId::Hash(hash) => chain.blocks.iter().find(|b| b.hash == hash).cloned(),
        }
    }

    async fn status(&self) -> StatusView {
        assert!(!self.status_panics, "a bug in the node's status");
        let chain = self.chain.lock().unwrap();
        let state = &chain.chain.state;
        StatusView {
            chain_id: state.chain_id().to_owned(),
            height: state.height(),
            finalized_height: state.height(),
            last_block_hash: state.last_block_hash(),
            state_root: state.root(),
            peers: Vec::new(),
        }
    }

    async fn put_blob(&self, hash: Hash, mut body: BlobBody) -> Result<BlobStored, BlobError> {
        let mut content = Vec::new();
        while let Some(chunk) = body.next().await {
            content.extend_from_slice(&chunk?);
        }
        let size = content.len() as u64;
        let mut chain = self.chain.lock().unwrap();
        let created = chain.blobs.insert(hash, Bytes::from(content)).is_none();
        Ok(BlobStored {
            hash,
            size,
            created,
        })
    }

    async fn get_blob(&self, hash: Hash) -> Result<Option<BlobContent>, BlobError> {
        let Some(content) = self.chain.lock().unwrap().blobs.get(&hash).cloned() else {
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
}

/// A real server on a real socket, and a client of it.
pub(crate) struct TestServer {
    /// The node behind the API.
    pub(crate) node: TestNode,
    /// A client of the API.
    pub(crate) client: Client,
    /// The server's address.
    pub(crate) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// The URL of `path` on this server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
pub(crate) fn unlimited() -> ApiConfig {
    ApiConfig {
        blob_bytes_max: 1024 * 1024,
        rate_limit: None,
    }
}

/// Starts the API over `node` on 127.0.0.1:0 with a `/metrics` route merged in.
pub(crate) async fn start(node: TestNode, config: ApiConfig) -> TestServer {
    let extra = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "aifactory_test_metric 1\n" }),
    );
    let router = aifactory_api::router(node.clone(), config, extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(aifactory_api::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    TestServer {
        node,
        client: Client::new(&format!("http://{addr}")).unwrap(),
        addr,
        shutdown: Some(shutdown),
    }
}

//! The nodes an agent talks to: a list of API URLs, one in use at a time. A call that cannot
//! reach its node (connection refused, timeout) or that the node cannot serve right now (a 5xx)
//! moves to the next node and is tried there, so an agent outlives the node it started on.
//!
//! What can never change once read is kept: blobs (content-addressed, so a copy is never
//! stale) up to [`BLOB_MEMO_BYTES`], and datasets' row counts (fixed at registration). A secure
//! round reads every earlier phase's posts in each phase, and every round its start model and
//! roster; kept, they cross the network once.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aifactory_client::{Client, ClientError};
use aifactory_types::Hash;
use aifactory_types::lifecycle::DatasetId;
use anyhow::{anyhow, bail};
use bytes::Bytes;

/// How long an agent waits for a node to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an agent waits on a silent node mid-answer (blobs of a few megabytes included).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes of blobs an agent keeps: a round's posts and models, a few hundred
/// kilobytes on the jobs we run, with room to spare.
pub const BLOB_MEMO_BYTES: usize = 4 << 20;

/// A set of nodes, any of which will do.
#[derive(Debug)]
pub struct Nodes {
    clients: Vec<Client>,
    current: AtomicUsize,
    memo: Mutex<Memo>,
}

/// What the nodes said that cannot change.
#[derive(Debug, Default)]
struct Memo {
    blobs: BTreeMap<Hash, Bytes>,
    /// Blobs in the order they were kept, the oldest first out.
    order: VecDeque<Hash>,
    blob_bytes: usize,
    rows: BTreeMap<DatasetId, u64>,
}

impl Memo {
    fn keep_blob(&mut self, hash: Hash, bytes: Bytes) {
        if bytes.len() > BLOB_MEMO_BYTES || self.blobs.contains_key(&hash) {
            return;
        }
        while self.blob_bytes + bytes.len() > BLOB_MEMO_BYTES {
            let oldest = self.order.pop_front().expect("kept bytes are in the order");
            let dropped = self.blobs.remove(&oldest).expect("ordered blobs are kept");
            self.blob_bytes -= dropped.len();
        }
        self.blob_bytes += bytes.len();
        self.order.push_back(hash);
        self.blobs.insert(hash, bytes);
    }
}

/// Whether an error says "try another node" rather than "the node refused this".
fn worth_another_node(error: &ClientError) -> bool {
    match error {
        ClientError::Transport(_) => true,
        ClientError::Api { status, .. } | ClientError::UnexpectedError { status, .. } => {
            *status >= 500
        }
        _ => false,
    }
}

impl Nodes {
    /// Clients of every URL, in the order to try them.
    pub fn new(urls: &[String]) -> anyhow::Result<Self> {
        if urls.is_empty() {
            bail!("an agent needs at least one node URL");
        }
        let clients = urls
            .iter()
            .map(|url| Client::with_timeouts(url, CONNECT_TIMEOUT, READ_TIMEOUT))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Nodes {
            clients,
            current: AtomicUsize::new(0),
            memo: Mutex::default(),
        })
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        self.memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The blob `hash`, from what this agent already read or stored, or from a node (whose
    /// bytes the client checks against the hash).
    pub async fn blob(&self, hash: &Hash) -> Result<Bytes, ClientError> {
        if let Some(bytes) = self.memo().blobs.get(hash) {
            return Ok(bytes.clone());
        }
        let bytes = self.call(|c| async move { c.get_blob(hash).await }).await?;
        self.memo().keep_blob(*hash, bytes.clone());
        Ok(bytes)
    }

    /// Stores `bytes` under `hash` (their BLAKE3 hash) on a node, and keeps them.
    pub async fn put_blob(&self, hash: &Hash, bytes: Bytes) -> Result<(), ClientError> {
        self.call(|c| {
            let bytes = bytes.clone();
            async move { c.put_blob(hash, bytes).await.map(|_| ()) }
        })
        .await?;
        self.memo().keep_blob(*hash, bytes);
        Ok(())
    }

    /// How many rows dataset `id` was registered with.
    pub async fn dataset_rows(&self, id: DatasetId) -> Result<u64, ClientError> {
        if let Some(rows) = self.memo().rows.get(&id) {
            return Ok(*rows);
        }
        let rows = self
            .call(|c| async move { c.dataset(id).await })
            .await?
            .dataset
            .value
            .rows;
        self.memo().rows.insert(id, rows);
        Ok(rows)
    }

    /// The client in use.
    pub fn client(&self) -> &Client {
        &self.clients[self.current.load(Ordering::Relaxed) % self.clients.len()]
    }

    /// Runs `call` against the node in use, moving on to the next node (each tried once) while
    /// the error says the node is unreachable or failing.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut tries = self.clients.len();
        loop {
            let index = self.current.load(Ordering::Relaxed) % self.clients.len();
            match call(self.clients[index].clone()).await {
                Err(error) if worth_another_node(&error) && tries > 1 => {
                    tries -= 1;
                    let next = (index + 1) % self.clients.len();
                    tracing::warn!(
                        node = %self.clients[index].base_url(),
                        next = %self.clients[next].base_url(),
                        %error,
                        "node unavailable, switching"
                    );
                    // Another task may have switched already; only move on from this node.
                    let _ = self.current.compare_exchange(
                        index,
                        next,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[tokio::test]
    async fn an_unreachable_node_is_skipped_for_the_next() {
        // Port 9 (discard) on loopback refuses connections on a test machine.
        let nodes =
            Nodes::new(&["http://127.0.0.1:9".into(), "http://127.0.0.1:10".into()]).unwrap();
        let asked = AtomicU32::new(0);
        let result: Result<(), _> = nodes
            .call(|client| {
                asked.fetch_add(1, Ordering::Relaxed);
                async move { client.status().await.map(|_| ()) }
            })
            .await;
        assert!(matches!(result, Err(ClientError::Transport(_))));
        assert_eq!(asked.load(Ordering::Relaxed), 2, "each node tried once");
        assert_eq!(nodes.client().base_url().port(), Some(10));
    }

    #[test]
    fn no_node_is_an_error() {
        assert!(Nodes::new(&[]).is_err());
    }

    #[test]
    fn the_blob_memo_drops_its_oldest_to_stay_within_its_bound() {
        let mut memo = Memo::default();
        let quarter = BLOB_MEMO_BYTES / 4;
        for i in 0..6u8 {
            memo.keep_blob(Hash([i; 32]), Bytes::from(vec![i; quarter]));
        }
        assert_eq!(memo.blob_bytes, BLOB_MEMO_BYTES);
        let kept: Vec<u8> = memo.blobs.keys().map(|h| h.0[0]).collect();
        assert_eq!(kept, [2, 3, 4, 5], "the two oldest went");
        memo.keep_blob(Hash([9; 32]), Bytes::from(vec![0; BLOB_MEMO_BYTES + 1]));
        assert!(!memo.blobs.contains_key(&Hash([9; 32])), "too big to keep");
        assert_eq!(memo.blob_bytes, BLOB_MEMO_BYTES);
    }
}

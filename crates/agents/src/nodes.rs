//! The nodes an agent talks to: a list of API URLs, one in use at a time. A call that cannot
//! reach its node (connection refused, timeout) or that the node cannot serve right now (a 5xx)
//! moves to the next node and is tried there, so an agent outlives the node it started on.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aifactory_client::{Client, ClientError};
use anyhow::{anyhow, bail};

/// How long an agent waits for a node to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an agent waits on a silent node mid-answer (blobs of a few megabytes included).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A set of nodes, any of which will do.
#[derive(Debug)]
pub struct Nodes {
    clients: Vec<Client>,
    current: AtomicUsize,
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
        })
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
}

//! A TCP proxy between agents and a node that keeps every byte the agents send and counts the
//! bytes they receive: what the privacy test searches and what `scripts/bench-job` reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What passed through a proxy.
#[derive(Default)]
pub(crate) struct Traffic {
    /// Every byte clients sent, in arrival order (connections interleaved).
    pub(crate) sent: Mutex<Vec<u8>>,
    /// How many bytes clients received.
    pub(crate) received: AtomicU64,
}

impl Traffic {
    /// Bytes clients sent so far.
    pub(crate) fn sent_bytes(&self) -> u64 {
        self.sent.lock().unwrap().len() as u64
    }

    /// Bytes clients received so far.
    pub(crate) fn received_bytes(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Starts a proxy to `upstream` (`host:port`) on a free loopback port; returns its URL.
pub(crate) async fn recording_proxy(upstream: String, traffic: Arc<Traffic>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let traffic = traffic.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let up = pump(client_read, server_write, |chunk| {
                    traffic.sent.lock().unwrap().extend_from_slice(chunk);
                });
                let down = pump(server_read, client_write, |chunk| {
                    traffic
                        .received
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                });
                tokio::join!(up, down);
            });
        }
    });
    format!("http://{address}")
}

/// Copies `from` to `to` until either side closes, showing each chunk to `seen` first.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut seen: impl FnMut(&[u8]),
) {
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        seen(&buffer[..n]);
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

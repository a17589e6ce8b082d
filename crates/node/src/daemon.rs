//! Running a node for real: the tokio runtime with storage under the data directory, TCP p2p,
//! the consensus engine, transaction gossip, the blob store and the HTTP API with
//! `/metrics` and the explorer at `/`, until SIGINT or SIGTERM.
//!
//! **Shutdown:** on a signal the API stops taking requests (in-flight ones finish), then the
//! runtime is told to stop and every task gets up to [`SHUTDOWN_GRACE`] to drop its handles.
//! Nothing depends on it finishing: every durable write (simplex's journal, marshal's
//! archives, blobs, snapshots) is crash-safe on its own, which `kill -9` tests check.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aifactory_api::views::PeerView;
use aifactory_api::{ApiConfig, RateLimitConfig};
use aifactory_client::Client;
use aifactory_store::{Store, StoreConfig};
use aifactory_types::{Genesis, SecretKey};
use aifactory_wallet::KeyFile;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use commonware_runtime::tokio::{Config as RuntimeConfig, Context, Runner};
use commonware_runtime::{Metrics, Runner as _, Spawner, Supervisor};
use tracing::{error, info};

use crate::config::{LogFormat, LogSection, NodeConfig};
use crate::engine::{self, StartError};
use crate::limits::{BLOB_PEER_CONNECT_TIMEOUT_MS, BLOB_PEER_READ_TIMEOUT_MS};
use crate::metrics::NodeMetrics;
use crate::p2p::{self, Peer};
use crate::service::{ApiParts, NodeApi};
use crate::snapshots::SnapshotPolicy;
use crate::sync::{self, SyncError};
use crate::{gossip, keys};

/// The explorer: one page over the API (status, latest blocks, look-ups), live from
/// `/v1/events`.
const EXPLORER_HTML: &str = include_str!("explorer.html");

/// How long tasks get to wind down after a signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The environment variable an encrypted key file's passphrase is read from.
pub const KEY_PASSPHRASE_ENV: &str = "AIFACTORY_KEY_PASSPHRASE";

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file the configuration names could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The consensus engine refused to start.
    #[error("{0}")]
    Start(#[from] StartError),
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The blob store could not be opened.
    #[error("cannot open the blob store: {0}")]
    Store(#[from] aifactory_store::StoreError),
    /// The peer named in `[sync]` cannot be used.
    #[error("[sync] from_peer: {0}")]
    Sync(aifactory_client::ClientError),
    /// State sync from the peer failed; nothing was written.
    #[error("state sync failed: {0}")]
    SyncFailed(#[from] SyncError),
}

fn file_error(path: &Path, message: impl ToString) -> NodeError {
    NodeError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Reads a key file; an encrypted one is opened with [`KEY_PASSPHRASE_ENV`].
pub fn load_key(path: &Path) -> Result<SecretKey, NodeError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| file_error(path, e))?;
    let passphrase = std::env::var(KEY_PASSPHRASE_ENV).ok();
    file.open(passphrase.as_deref())
        .map_err(|e| file_error(path, e))
}

/// Reads a genesis file.
pub fn load_genesis(path: &Path) -> Result<Genesis, NodeError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    Genesis::from_json(&bytes).map_err(|e| file_error(path, e))
}

/// Installs the global `tracing` subscriber the configuration asks for.
pub fn init_logging(log: &LogSection) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs a node until SIGINT or SIGTERM.
pub fn run(config: NodeConfig) -> Result<(), NodeError> {
    let key = load_key(&config.key_file)?;
    let genesis = load_genesis(&config.genesis_file)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| file_error(&config.data_dir, e))?;
    let store = Store::open(
        config.data_dir.join("blobs"),
        StoreConfig {
            blob_bytes_max: config.blobs.blob_bytes_max,
            store_bytes_max: config.blobs.store_bytes_max,
        },
    )?;
    let api_listener =
        std::net::TcpListener::bind(config.api.listen).map_err(|source| NodeError::Listen {
            addr: config.api.listen,
            source,
        })?;
    api_listener
        .set_nonblocking(true)
        .map_err(|source| NodeError::Listen {
            addr: config.api.listen,
            source,
        })?;
    // Decided before the runtime opens anything under the consensus directory.
    let fresh = sync::is_fresh(&config.data_dir.join("consensus"));
    let runtime = RuntimeConfig::new()
        .with_storage_directory(config.data_dir.join("consensus"))
        .with_catch_panics(false);
    Runner::new(runtime).start(async move |context| {
        serve(context, config, key, genesis, store, api_listener, fresh).await
    })
}

async fn serve(
    context: Context,
    config: NodeConfig,
    key: SecretKey,
    genesis: Genesis,
    store: Store,
    api_listener: std::net::TcpListener,
    fresh: bool,
) -> Result<(), NodeError> {
    let validators: Vec<_> = genesis.validators.iter().map(|v| v.address).collect();
    let mut peers: Vec<Peer> = config
        .p2p
        .peers
        .iter()
        .map(|p| Peer {
            address: p.address,
            socket: p.p2p,
            validator: validators.contains(&p.address),
        })
        .collect();
    peers.push(Peer {
        address: key.address(),
        socket: config.p2p.listen,
        validator: validators.contains(&key.address()),
    });
    let network = p2p::start(&context, keys::private_key(&key), config.p2p.listen, &peers)
        .map_err(StartError::from)?;

    let snapshot_path = config.data_dir.join("ledger.snapshot");
    let floor = match &config.sync.from_peer {
        Some(url) if fresh => {
            let peer = Client::new(url).map_err(NodeError::Sync)?;
            Some(sync::sync_from_peer(&peer, &genesis, &snapshot_path).await?)
        }
        _ => None,
    };
    let node_context = context.child("node");
    let validator = engine::start(
        node_context.child("engine"),
        engine::Config {
            key: key.clone(),
            genesis,
            partition_prefix: "node".to_owned(),
            mempool: config.mempool.into(),
            timeouts: config.consensus.into(),
            snapshots: Some(SnapshotPolicy {
                path: snapshot_path.clone(),
                every_blocks: config.snapshots.every_blocks,
            }),
            floor,
            recent_blocks_bytes_max: crate::limits::RECENT_BLOCKS_BYTES_MAX,
        },
        network.channels,
        network.oracle.clone(),
        network.oracle.clone(),
    )
    .await?;
    node_context.child("peer_sets").spawn({
        let (oracle, states) = (network.oracle.clone(), validator.handle.watch_finalized());
        move |_| p2p::follow_validators(oracle, peers, states)
    });
    let metrics = NodeMetrics::register(&node_context);
    let (gossip_queue, _gossip_out, _gossip_in) = gossip::start(
        node_context.child("gossip"),
        validator.handle.clone(),
        network.txs,
        network.oracle.clone(),
        metrics.clone(),
    );

    let peer_views = config
        .p2p
        .peers
        .iter()
        .map(|p| PeerView {
            id: p.address.to_string(),
            addr: Some(p.p2p.to_string()),
        })
        .collect();
    let blob_sources = config
        .p2p
        .peers
        .iter()
        .filter_map(|p| p.api)
        .filter_map(|addr| {
            let connect = Duration::from_millis(BLOB_PEER_CONNECT_TIMEOUT_MS);
            let read = Duration::from_millis(BLOB_PEER_READ_TIMEOUT_MS);
            Client::with_timeouts(&format!("http://{addr}"), connect, read).ok()
        })
        .collect();
    let api = NodeApi::new(
        validator.handle.clone(),
        validator.archive.clone(),
        node_context.child("clock"),
        ApiParts {
            store: Arc::new(store),
            gossip: gossip_queue,
            metrics,
            peers: peer_views,
            live_peers: Some(Arc::new({
                let registry = context.child("peers");
                move || p2p::connected_peers(&registry.encode())
            })),
            blob_sources,
            snapshot_path: Some(snapshot_path),
            outcomes: validator.outcomes.clone(),
        },
    );
    let publisher = api.clone();
    node_context
        .child("events")
        .spawn(move |_| publisher.publish_finalized());

    let metrics_context = Arc::new(context.child("metrics"));
    let explorer = || async {
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            EXPLORER_HTML,
        )
    };
    let extra = Router::new()
        .route("/", get(explorer))
        .route("/explorer", get(explorer))
        .route(
            "/metrics",
            get(move || {
                let metrics_context = metrics_context.clone();
                async move {
                    let body = metrics_context.encode();
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        );
    let api_config = ApiConfig {
        blob_bytes_max: config.blobs.blob_bytes_max,
        rate_limit: (config.api.rate_limit_per_second > 0).then(|| RateLimitConfig {
            requests_per_s: config.api.rate_limit_per_second,
            burst: config.api.rate_limit_burst.max(1),
            ..RateLimitConfig::default()
        }),
        ..ApiConfig::default()
    };
    let router = aifactory_api::router(api, api_config, extra);
    let listener =
        tokio::net::TcpListener::from_std(api_listener).map_err(|source| NodeError::Listen {
            addr: config.api.listen,
            source,
        })?;
    let stopped = context.stopped();
    let api_server = context.child("api").spawn(move |_| async move {
        if let Err(error) = aifactory_api::serve(listener, router, async move {
            let _ = stopped.await;
        })
        .await
        {
            error!(%error, "the API server failed");
        }
    });
    info!(
        address = %key.address(),
        p2p = %config.p2p.listen,
        api = %config.api.listen,
        height = validator.handle.finalized_state().height(),
        "node running"
    );

    shutdown_signal().await;
    info!("shutting down");
    if let Err(error) = context.stop(0, Some(SHUTDOWN_GRACE)).await {
        error!(?error, "some tasks did not stop in time");
    }
    let _ = api_server.await;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

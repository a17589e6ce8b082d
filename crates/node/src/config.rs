//! A node's configuration: one TOML file (`aifactory node --config node.toml`), every field
//! documented here, with defaults for everything but the identity, the genesis and the peers.
//! Relative paths are resolved against the directory of the file that names them. The CLI
//! overrides the most-used fields with flags and `AIFACTORY_*` environment variables.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aifactory_types::Address;
use serde::{Deserialize, Serialize};

use crate::engine::Timeouts;
use crate::mempool::MempoolConfig;

/// Everything a node needs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the node keeps its consensus journal, block archives, snapshots and blobs.
    pub data_dir: PathBuf,
    /// The node's key file (the wallet's JSON format). A validator's key must be a genesis
    /// validator's; an encrypted file is opened with `AIFACTORY_KEY_PASSPHRASE`.
    pub key_file: PathBuf,
    /// The chain's genesis file (JSON).
    pub genesis_file: PathBuf,
    /// Peer-to-peer networking.
    pub p2p: P2pConfig,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiSection,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusSection,
    /// The blob store.
    #[serde(default)]
    pub blobs: BlobSection,
    /// Ledger snapshots.
    #[serde(default)]
    pub snapshots: SnapshotSection,
    /// State sync from a peer, for a new node.
    #[serde(default)]
    pub sync: SyncSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
}

/// Peer-to-peer networking: authenticated, encrypted TCP to peers named by key and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// The socket address to accept peers on.
    pub listen: SocketAddr,
    /// Every other node of the network: validators and full nodes.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

/// Another node of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its account address, which is also its p2p identity (the same ed25519 key).
    pub address: Address,
    /// Where it accepts peers.
    pub p2p: SocketAddr,
    /// Its HTTP API, if it serves one: blobs missing here are fetched from it.
    #[serde(default)]
    pub api: Option<SocketAddr>,
}

/// The default requests per second per client: enough for a person, an explorer tab or an
/// agent on a public node, not for one client to saturate it.
pub const PUBLIC_RATE_LIMIT_PER_S: u32 = 50;

/// The default burst per client above its rate.
pub const PUBLIC_RATE_LIMIT_BURST: u32 = 200;

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// The socket address to serve the API, `/metrics` and the explorer on.
    pub listen: SocketAddr,
    /// Requests per second each client IP may make (0 turns the limit off).
    pub rate_limit_per_second: u32,
    /// How many requests a client may make at once above its rate.
    pub rate_limit_burst: u32,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8700)),
            rate_limit_per_second: PUBLIC_RATE_LIMIT_PER_S,
            rate_limit_burst: PUBLIC_RATE_LIMIT_BURST,
        }
    }
}

/// Mempool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolSection {
    /// Most transactions held.
    pub txs_max: usize,
    /// Most encoded bytes held.
    pub bytes_max: usize,
    /// Most pending transactions per sender.
    pub sender_txs_max: usize,
}

impl Default for MempoolSection {
    fn default() -> Self {
        let defaults = MempoolConfig::default();
        MempoolSection {
            txs_max: defaults.txs_max,
            bytes_max: defaults.bytes_max,
            sender_txs_max: defaults.sender_txs_max,
        }
    }
}

impl From<MempoolSection> for MempoolConfig {
    fn from(section: MempoolSection) -> Self {
        MempoolConfig {
            txs_max: section.txs_max,
            bytes_max: section.bytes_max,
            sender_txs_max: section.sender_txs_max,
        }
    }
}

/// Consensus timeouts, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// Least time between a block and an empty child (an idle chain's block interval); less
    /// than the leader timeout.
    pub empty_block_interval_ms: u64,
    /// How long to wait for the leader's proposal.
    pub leader_timeout_ms: u64,
    /// How long to wait for a notarization to certify (more than the leader timeout).
    pub certification_timeout_ms: u64,
    /// How often to rebroadcast timeouts while stuck.
    pub timeout_retry_ms: u64,
    /// After this long without progress, skip leaders (more than the two above).
    pub skip_timeout_ms: u64,
    /// How long a fetch of a missing block or certificate may take.
    pub fetch_timeout_ms: u64,
}

impl Default for ConsensusSection {
    fn default() -> Self {
        let defaults = Timeouts::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ConsensusSection {
            empty_block_interval_ms: ms(defaults.empty_block),
            leader_timeout_ms: ms(defaults.leader),
            certification_timeout_ms: ms(defaults.certification),
            timeout_retry_ms: ms(defaults.retry),
            skip_timeout_ms: ms(defaults.skip),
            fetch_timeout_ms: ms(defaults.fetch),
        }
    }
}

impl From<ConsensusSection> for Timeouts {
    fn from(section: ConsensusSection) -> Self {
        Timeouts {
            empty_block: Duration::from_millis(section.empty_block_interval_ms),
            leader: Duration::from_millis(section.leader_timeout_ms),
            certification: Duration::from_millis(section.certification_timeout_ms),
            retry: Duration::from_millis(section.timeout_retry_ms),
            skip: Duration::from_millis(section.skip_timeout_ms),
            fetch: Duration::from_millis(section.fetch_timeout_ms),
        }
    }
}

/// The blob store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobSection {
    /// Largest single blob, in bytes.
    pub blob_bytes_max: u64,
    /// Most bytes the store holds in all.
    pub store_bytes_max: u64,
}

impl Default for BlobSection {
    fn default() -> Self {
        BlobSection {
            blob_bytes_max: aifactory_store::BLOB_BYTES_MAX_DEFAULT,
            store_bytes_max: aifactory_store::STORE_BYTES_MAX_DEFAULT,
        }
    }
}

/// Ledger snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSection {
    /// Write a snapshot of the finalized state at the first epoch boundary at least this many
    /// blocks after the last one (0: never), so that a restart replays at most this many blocks
    /// plus an epoch, and peers that sync from this node get a recent boundary.
    pub every_blocks: u64,
}

impl Default for SnapshotSection {
    fn default() -> Self {
        SnapshotSection {
            every_blocks: 1_000,
        }
    }
}

/// State sync: a node whose data directory holds no consensus state yet starts from a
/// peer's latest snapshot, verified from genesis, instead of replaying the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    /// The peer's API base URL (`http://host:port`); unset, the node replays from genesis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_peer: Option<String>,
}

/// The default log filter: our node at `info`, the consensus engine's per-view chatter at
/// `warn`.
pub const DEFAULT_LOG_LEVEL: &str = "info,commonware_consensus=warn,commonware_p2p=warn,commonware_storage=warn,commonware_broadcast=warn,commonware_resolver=warn";

/// How the node logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` for people, `json` (one object per line) for machines.
    pub format: LogFormat,
    /// A `tracing` filter: `info`, `debug`, `aifactory_node=debug,commonware=warn`, ...
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Text,
            level: DEFAULT_LOG_LEVEL.to_owned(),
        }
    }
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: use `text` or `json`"
            )),
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path} is not a valid node configuration: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl NodeConfig {
    /// Reads and checks a configuration file; relative paths in it become relative to its
    /// directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML, as [`NodeConfig::load`] reads it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a node configuration serialises")
    }

    /// Makes relative paths relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        for path in [
            &mut self.data_dir,
            &mut self.key_file,
            &mut self.genesis_file,
        ] {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// Checks the settings that have no safe value outside a range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.consensus;
        if c.leader_timeout_ms == 0 || c.fetch_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "consensus timeouts must be positive".to_owned(),
            ));
        }
        if c.empty_block_interval_ms >= c.leader_timeout_ms {
            return Err(ConfigError::Invalid(
                "consensus.empty_block_interval_ms must be less than leader_timeout_ms".to_owned(),
            ));
        }
        if c.certification_timeout_ms <= c.leader_timeout_ms {
            return Err(ConfigError::Invalid(
                "consensus.certification_timeout_ms must exceed leader_timeout_ms".to_owned(),
            ));
        }
        if c.skip_timeout_ms <= c.certification_timeout_ms.max(c.timeout_retry_ms) {
            return Err(ConfigError::Invalid(
                "consensus.skip_timeout_ms must exceed certification_timeout_ms and timeout_retry_ms"
                    .to_owned(),
            ));
        }
        let m = &self.mempool;
        if m.txs_max == 0 || m.bytes_max == 0 || m.sender_txs_max == 0 {
            return Err(ConfigError::Invalid(
                "mempool limits must be positive".to_owned(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for peer in &self.p2p.peers {
            if !seen.insert(peer.address) {
                return Err(ConfigError::Invalid(format!(
                    "peer {} is listed twice",
                    peer.address
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NodeConfig {
        NodeConfig {
            data_dir: "data".into(),
            key_file: "key.json".into(),
            genesis_file: "../genesis.json".into(),
            p2p: P2pConfig {
                listen: "127.0.0.1:9700".parse().unwrap(),
                peers: vec![PeerConfig {
                    address: aifactory_ledger::testing::test_key(1).address(),
                    p2p: "127.0.0.1:9701".parse().unwrap(),
                    api: Some("127.0.0.1:8701".parse().unwrap()),
                }],
            },
            api: ApiSection::default(),
            mempool: MempoolSection::default(),
            consensus: ConsensusSection::default(),
            blobs: BlobSection::default(),
            snapshots: SnapshotSection::default(),
            sync: SyncSection::default(),
            log: LogSection::default(),
        }
    }

    #[test]
    fn round_trips_through_toml_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, sample().to_toml()).unwrap();
        let loaded = NodeConfig::load(&path).unwrap();
        let mut expected = sample();
        expected.resolve_paths(dir.path());
        assert_eq!(loaded, expected);
        assert_eq!(loaded.data_dir, dir.path().join("data"));
    }

    #[test]
    fn sections_default_when_left_out() {
        let text = r#"
            data_dir = "/var/lib/aifactory"
            key_file = "/etc/aifactory/key.json"
            genesis_file = "/etc/aifactory/genesis.json"
            [p2p]
            listen = "0.0.0.0:9700"
        "#;
        let config: NodeConfig = toml::from_str(text).unwrap();
        assert_eq!(config.api, ApiSection::default());
        assert_eq!(config.consensus, ConsensusSection::default());
        config.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let text = sample().to_toml().replace("data_dir", "datadir");
        std::fs::write(&path, text).unwrap();
        let error = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("datadir"), "{error}");

        let mut config = sample();
        config.consensus.certification_timeout_ms = config.consensus.leader_timeout_ms;
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));

        let mut config = sample();
        config.p2p.peers.push(config.p2p.peers[0].clone());
        assert!(config.validate().unwrap_err().to_string().contains("twice"));
    }
}

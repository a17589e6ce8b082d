//! A local network for development: `aifactory devnet` lays out keys, a genesis and one node
//! configuration per validator (and per full node, if asked) in a directory, then runs each node as its own process
//! (`aifactory node --config …`) on loopback TCP, and stops them all on Ctrl-C. Run again
//! on the same directory, it resumes: the layout is kept and each node restarts from its own
//! durable state.
//!
//! Layout of `DIR`:
//! - `devnet.toml` — what was laid out (validator count, base port): a resumed run must agree;
//! - `genesis.json` — the chain: a faucet account with [`FAUCET_AIF`] AIF, the validators;
//! - `keys/validator-<i>.json`, `keys/full-<j>.json`, `keys/faucet.json` — plaintext devnet
//!   keys (a full node's key holds no stake; it votes only if it is later elected);
//! - `node-<i>/node.toml`, `node-<i>/data/`, `node-<i>/node.log` — each node: validators
//!   first, then full nodes.
//!
//! Ports: node `i` serves its API on `base_port + i` and p2p on `base_port + 100 + i`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aifactory_store::durable::{self, Access};
use aifactory_types::amount::BASE_UNITS_PER_AIF;
use aifactory_types::{Address, Genesis, GenesisAccount, GenesisValidator, Params};
use aifactory_wallet::{Keystore, Protection};
use serde::{Deserialize, Serialize};

use crate::config::{
    ApiSection, BlobSection, ConsensusSection, LogSection, MempoolSection, NodeConfig, P2pConfig,
    PeerConfig, SnapshotSection, SyncSection,
};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: &str = "aifactory-devnet";

/// The faucet account's genesis balance, in AIF.
pub const FAUCET_AIF: u64 = 1_000_000_000;

/// Each validator's genesis balance (besides its stake), in AIF.
pub const VALIDATOR_AIF: u64 = 1_000;

/// Each extra funded account's genesis balance, in AIF.
pub const ACCOUNT_AIF: u64 = 1_000_000;

/// Offset from the base port to the p2p ports.
pub const P2P_PORT_OFFSET: u16 = 100;

/// What `devnet.toml` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetSpec {
    /// How many validators.
    pub validators: usize,
    /// Node `i`'s API port is `base_port + i`; its p2p port `base_port + 100 + i`.
    pub base_port: u16,
    /// Extra funded accounts (`keys/account-<i>.json`, [`ACCOUNT_AIF`] AIF each), for load
    /// generators that need many senders.
    #[serde(default)]
    pub accounts: usize,
    /// Full nodes after the validators (`keys/full-<j>.json`, node `validators + j`).
    #[serde(default)]
    pub full_nodes: usize,
}

/// Why a devnet could not be laid out or run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A file could not be written or read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The directory holds a devnet laid out differently from what was asked.
    #[error(
        "{dir} holds a devnet of {found_validators} validators on base port {found_port}; \
         run with those flags, or use another --dir"
    )]
    Mismatch {
        /// The directory.
        dir: PathBuf,
        /// Its validator count.
        found_validators: usize,
        /// Its base port.
        found_port: u16,
    },
    /// The flags are out of range.
    #[error("{0}")]
    Invalid(String),
    /// A node process could not be started.
    #[error("cannot start node {index}: {source}")]
    Spawn {
        /// Which node.
        index: usize,
        /// Why.
        source: std::io::Error,
    },
}

fn file_error(path: &Path, error: impl ToString) -> DevnetError {
    DevnetError::File {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// A laid-out devnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devnet {
    /// Its directory.
    pub dir: PathBuf,
    /// Its shape.
    pub spec: DevnetSpec,
    /// Whether this call created it (false: resumed).
    pub created: bool,
}

impl DevnetSpec {
    /// Node `i`'s API address.
    pub fn api(&self, index: usize) -> SocketAddr {
        loopback(self.base_port + port_offset(index))
    }

    /// Node `i`'s p2p address.
    pub fn p2p(&self, index: usize) -> SocketAddr {
        loopback(self.base_port + P2P_PORT_OFFSET + port_offset(index))
    }

    /// How many nodes: validators, then full nodes.
    pub fn nodes(&self) -> usize {
        self.validators.saturating_add(self.full_nodes)
    }

    fn check(&self) -> Result<(), DevnetError> {
        if self.validators == 0 || self.nodes() > usize::from(P2P_PORT_OFFSET) {
            return Err(DevnetError::Invalid(format!(
                "--validators must be at least 1, and validators plus full nodes at most \
                 {P2P_PORT_OFFSET}"
            )));
        }
        if u32::from(self.base_port) + 2 * u32::from(P2P_PORT_OFFSET) > u32::from(u16::MAX) {
            return Err(DevnetError::Invalid(
                "--base-port leaves no room for the p2p ports".to_owned(),
            ));
        }
        Ok(())
    }
}

fn port_offset(index: usize) -> u16 {
    u16::try_from(index).expect("validator counts are checked to fit")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

impl Devnet {
    /// Lays out a devnet in `dir`, or resumes the one there if it has the same shape.
    pub fn init(dir: &Path, spec: DevnetSpec) -> Result<Devnet, DevnetError> {
        spec.check()?;
        let spec_path = dir.join("devnet.toml");
        if spec_path.exists() {
            let text =
                std::fs::read_to_string(&spec_path).map_err(|e| file_error(&spec_path, e))?;
            let found: DevnetSpec = toml::from_str(&text).map_err(|e| file_error(&spec_path, e))?;
            if found != spec {
                return Err(DevnetError::Mismatch {
                    dir: dir.to_owned(),
                    found_validators: found.validators,
                    found_port: found.base_port,
                });
            }
            return Ok(Devnet {
                dir: dir.to_owned(),
                spec,
                created: false,
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        let keystore = Keystore::new(dir.join("keys"));
        let mut validators = Vec::with_capacity(spec.validators);
        for index in 0..spec.validators {
            validators.push(key(&keystore, &format!("validator-{index}"))?);
        }
        let faucet = key(&keystore, "faucet")?;
        let accounts = (0..spec.accounts)
            .map(|index| key(&keystore, &format!("account-{index}")))
            .collect::<Result<Vec<_>, _>>()?;
        let genesis = genesis(&validators, faucet, &accounts);
        write(&dir.join("genesis.json"), genesis.to_json().as_bytes())?;
        let mut nodes = validators;
        for index in 0..spec.full_nodes {
            nodes.push(key(&keystore, &format!("full-{index}"))?);
        }
        for index in 0..spec.nodes() {
            let node_dir = dir.join(format!("node-{index}"));
            std::fs::create_dir_all(&node_dir).map_err(|e| file_error(&node_dir, e))?;
            let config = node_config(&spec, &nodes, index);
            write(&node_dir.join("node.toml"), config.to_toml().as_bytes())?;
        }
        // Written last: its presence means the layout is complete.
        let spec_text = toml::to_string(&spec).expect("the spec serialises");
        write(&spec_path, spec_text.as_bytes())?;
        Ok(Devnet {
            dir: dir.to_owned(),
            spec,
            created: true,
        })
    }

    /// Node `i`'s configuration file.
    pub fn config_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("node-{index}")).join("node.toml")
    }

    /// Node `i`'s data directory (chain, snapshots, blobs).
    pub fn data_dir(&self, index: usize) -> PathBuf {
        self.dir.join(format!("node-{index}")).join("data")
    }

    /// Node `i`'s log file.
    pub fn log_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("node-{index}")).join("node.log")
    }

    /// The faucet's key file.
    pub fn faucet_key_path(&self) -> PathBuf {
        self.dir.join("keys").join("faucet.json")
    }

    /// The key store holding the devnet's keys (`validator-<i>`, `faucet`, `account-<i>`).
    pub fn keystore(&self) -> Keystore {
        Keystore::new(self.dir.join("keys"))
    }

    /// Starts node `i` as a child process of `program` (the `aifactory` binary), logging to
    /// its log file.
    pub fn spawn(&self, program: &Path, index: usize) -> Result<Child, DevnetError> {
        let log_path = self.log_path(index);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| file_error(&log_path, e))?;
        let err = log.try_clone().map_err(|e| file_error(&log_path, e))?;
        Command::new(program)
            .arg("node")
            .arg("--config")
            .arg(self.config_path(index))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|source| DevnetError::Spawn { index, source })
    }
}

fn key(keystore: &Keystore, name: &str) -> Result<Address, DevnetError> {
    let (info, _phrase) = keystore
        .create(name, Protection::InsecurePlaintext)
        .map_err(|e| DevnetError::File {
            path: PathBuf::from(name),
            message: e.to_string(),
        })?;
    Ok(info.address)
}

/// Blocks per epoch on a devnet: short, so validator-set changes show within seconds.
const DEVNET_EPOCH_BLOCKS: u64 = 100;

fn genesis(validators: &[Address], faucet: Address, funded: &[Address]) -> Genesis {
    let params = Params {
        epoch_length_blocks: DEVNET_EPOCH_BLOCKS,
        ..Params::default()
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    let mut accounts = vec![GenesisAccount {
        address: faucet,
        balance: FAUCET_AIF * BASE_UNITS_PER_AIF,
    }];
    accounts.extend(validators.iter().map(|&address| GenesisAccount {
        address,
        balance: VALIDATOR_AIF * BASE_UNITS_PER_AIF,
    }));
    accounts.extend(funded.iter().map(|&address| GenesisAccount {
        address,
        balance: ACCOUNT_AIF * BASE_UNITS_PER_AIF,
    }));
    Genesis {
        chain_id: DEVNET_CHAIN_ID.to_owned(),
        genesis_time_ms: u64::try_from(now_ms).unwrap_or(u64::MAX),
        validators: validators
            .iter()
            .map(|&address| GenesisValidator {
                address,
                stake: params.stake_min,
            })
            .collect(),
        accounts,
        params,
    }
}

/// A devnet node's requests per second per client.
const DEVNET_RATE_LIMIT_PER_S: u32 = 2_000;

/// A devnet node's burst per client.
const DEVNET_RATE_LIMIT_BURST: u32 = 4_000;

/// Node `index`'s configuration; `nodes` holds every node's address (validators first).
fn node_config(spec: &DevnetSpec, nodes: &[Address], index: usize) -> NodeConfig {
    let key_name = match index.checked_sub(spec.validators) {
        None => format!("validator-{index}"),
        Some(full) => format!("full-{full}"),
    };
    NodeConfig {
        data_dir: "data".into(),
        key_file: format!("../keys/{key_name}.json").into(),
        genesis_file: "../genesis.json".into(),
        p2p: P2pConfig {
            listen: spec.p2p(index),
            peers: nodes
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(other, &address)| PeerConfig {
                    address,
                    p2p: spec.p2p(other),
                    api: Some(spec.api(other)),
                })
                .collect(),
        },
        api: ApiSection {
            listen: spec.api(index),
            // Everything on a devnet comes from one machine (the CLI, agents, load tests),
            // so the per-client limit is a public node's many times over.
            rate_limit_per_second: DEVNET_RATE_LIMIT_PER_S,
            rate_limit_burst: DEVNET_RATE_LIMIT_BURST,
        },
        mempool: MempoolSection::default(),
        consensus: ConsensusSection::default(),
        blobs: BlobSection::default(),
        snapshots: SnapshotSection::default(),
        sync: SyncSection::default(),
        log: LogSection::default(),
    }
}

/// Writes a file durably (`store::durable`), so a crash mid-layout never leaves a torn file
/// behind.
fn write(path: &Path, bytes: &[u8]) -> Result<(), DevnetError> {
    durable::write_durably(path, bytes, Access::Default).map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_once_then_resumes_and_refuses_another_shape() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DevnetSpec {
            validators: 4,
            base_port: 18_700,
            accounts: 2,
            full_nodes: 1,
        };
        let devnet = Devnet::init(dir.path(), spec).unwrap();
        assert!(devnet.created);
        let genesis_before = std::fs::read(dir.path().join("genesis.json")).unwrap();
        let genesis = Genesis::from_json(&genesis_before).unwrap();
        for index in 0..5 {
            let config = NodeConfig::load(&devnet.config_path(index)).unwrap();
            assert_eq!(config.api.listen, spec.api(index));
            assert_eq!(config.p2p.peers.len(), 4);
            assert!(config.key_file.exists());
            assert!(config.genesis_file.exists());
        }
        let full = devnet.keystore().load("full-0", None).unwrap();
        assert!(
            genesis
                .validators
                .iter()
                .all(|v| v.address != full.address()),
            "a full node's key is not a genesis validator"
        );
        assert_eq!(genesis.validators.len(), 4);
        assert_eq!(genesis.accounts.len(), 1 + 4 + 2);
        assert!(devnet.keystore().load("account-1", None).is_ok());

        let resumed = Devnet::init(dir.path(), spec).unwrap();
        assert!(!resumed.created);
        assert_eq!(
            std::fs::read(dir.path().join("genesis.json")).unwrap(),
            genesis_before
        );

        let other = DevnetSpec {
            validators: 5,
            ..spec
        };
        assert!(matches!(
            Devnet::init(dir.path(), other),
            Err(DevnetError::Mismatch {
                found_validators: 4,
                ..
            })
        ));
        let empty = DevnetSpec {
            validators: 0,
            ..spec
        };
        assert!(Devnet::init(tempfile::tempdir().unwrap().path(), empty).is_err());
    }
}

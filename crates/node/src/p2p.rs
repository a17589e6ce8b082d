//! The real network: commonware's authenticated `lookup` p2p over TCP. Every peer is named by
//! its ed25519 key (its account address) and reached at the address the configuration gives;
//! connections are mutually authenticated and encrypted (SAKE handshake, ChaCha20-Poly1305
//! stream), and a connection from an unknown key or IP is refused.
//!
//! The current epoch's validators are the *primary* peer set (dialled and favoured); other
//! nodes are *secondary* (accepted, served, sent broadcasts, not dialled). [`follow_validators`]
//! re-tracks the split whenever the finalized state names a new set. Channel numbers and
//! per-peer rate quotas are fixed here, identical on every node.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aifactory_ledger::State;
use aifactory_types::Address;
use commonware_cryptography::ChaCha20Poly1305;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address as PeerAddress, AddressableManager, AddressableTrackedPeers};
use commonware_runtime::tokio::Context;
use commonware_runtime::{Handle, Quota, Supervisor};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::Map;
use commonware_utils::{NZU32, NZUsize};
use tokio::sync::watch;
use tracing::debug;

use crate::engine::{Channels, P2P_NAMESPACE};
use crate::keys::{self, KeyError};
use crate::limits::P2P_MESSAGE_BYTES_MAX;

/// Channel of simplex votes.
pub const CHANNEL_VOTES: u64 = 0;
/// Channel of simplex certificates.
pub const CHANNEL_CERTIFICATES: u64 = 1;
/// Channel of simplex's certificate fetches.
pub const CHANNEL_RESOLVER: u64 = 2;
/// Channel of full blocks pushed by proposers.
pub const CHANNEL_BLOCKS: u64 = 3;
/// Channel of marshal's fetches of missing blocks and finalizations.
pub const CHANNEL_BACKFILL: u64 = 4;
/// Channel of gossiped transactions.
pub const CHANNEL_TXS: u64 = 5;

/// Messages per second each peer may send on a consensus channel.
const CONSENSUS_QUOTA: Quota = Quota::per_second(NZU32!(1_000));
/// Messages per second each peer may send on the block and backfill channels.
const BLOCK_QUOTA: Quota = Quota::per_second(NZU32!(200));
/// Transaction batches per second each peer may gossip.
const TX_QUOTA: Quota = Quota::per_second(NZU32!(200));

/// The network's sender type.
pub type NetSender = lookup::Sender<PublicKey, Context>;
/// The network's receiver type.
pub type NetReceiver = lookup::Receiver<PublicKey>;

/// One node of the network as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its identity.
    pub address: Address,
    /// Where it accepts connections.
    pub socket: SocketAddr,
    /// Whether it is in the current validator set (primary) or not (secondary).
    pub validator: bool,
}

/// The started network: consensus channels, the transaction gossip channel, and the oracle
/// that tells who is connected and blocks misbehaving peers.
pub struct Network {
    /// The five consensus channels.
    pub channels: Channels<NetSender, NetReceiver>,
    /// The transaction gossip channel.
    pub txs: (NetSender, NetReceiver),
    /// Peer management: blocking, the tracked set.
    pub oracle: lookup::Oracle<PublicKey>,
    /// The running network.
    pub handle: Handle<()>,
}

/// Starts the network listening on `listen` as `key`, tracking `peers` (ourselves included).
pub fn start(
    context: &Context,
    key: PrivateKey,
    listen: SocketAddr,
    peers: &[Peer],
) -> Result<Network, KeyError> {
    let tracked = tracked_peers(peers)?;
    let max_peers = NZUsize!(peers.len()).max(NZUsize!(1));

    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: key,
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let config = lookup::Config::local(
        handshake,
        P2P_NAMESPACE,
        listen,
        max_peers,
        u32::try_from(P2P_MESSAGE_BYTES_MAX).expect("the message cap fits in u32"),
        NZUsize!(4_096),
    );
    let (mut network, mut oracle) = lookup::Network::new(context.child("p2p"), config);
    let _ = oracle.track(0, tracked);
    let mut register = |channel, quota| network.register(channel, quota);
    let channels = Channels {
        votes: register(CHANNEL_VOTES, CONSENSUS_QUOTA),
        certificates: register(CHANNEL_CERTIFICATES, CONSENSUS_QUOTA),
        resolver: register(CHANNEL_RESOLVER, CONSENSUS_QUOTA),
        blocks: register(CHANNEL_BLOCKS, BLOCK_QUOTA),
        backfill: register(CHANNEL_BACKFILL, BLOCK_QUOTA),
    };
    let txs = register(CHANNEL_TXS, TX_QUOTA);
    let handle = network.start();
    Ok(Network {
        channels,
        txs,
        oracle,
        handle,
    })
}

fn tracked_peers(peers: &[Peer]) -> Result<AddressableTrackedPeers<PublicKey>, KeyError> {
    let mut primary = Vec::new();
    let mut secondary = Vec::new();
    for peer in peers {
        let entry = (
            keys::public_key(&peer.address)?,
            PeerAddress::Symmetric(peer.socket),
        );
        if peer.validator {
            primary.push(entry);
        } else {
            secondary.push(entry);
        }
    }
    Ok(AddressableTrackedPeers::new(
        Map::from_iter_dedup(primary),
        Map::from_iter_dedup(secondary),
    ))
}

/// Keeps the primary peer set equal to the validator set the finalized state names: after
/// each change, re-tracks `peers` under a new peer-set id (ids only increase).
pub async fn follow_validators(
    mut oracle: lookup::Oracle<PublicKey>,
    mut peers: Vec<Peer>,
    mut states: watch::Receiver<Arc<State>>,
) {
    let mut set_id = 0u64;
    while states.changed().await.is_ok() {
        let validators: BTreeSet<Address> = states
            .borrow_and_update()
            .validators()
            .map(|(address, _)| address)
            .collect();
        let mut changed = false;
        for peer in &mut peers {
            let validator = validators.contains(&peer.address);
            changed |= peer.validator != validator;
            peer.validator = validator;
        }
        if !changed {
            continue;
        }
        let Ok(tracked) = tracked_peers(&peers) else {
            continue;
        };
        set_id += 1;
        let _ = oracle.track(set_id, tracked);
        debug!(
            set_id,
            validators = validators.len(),
            "following the new validator set"
        );
    }
}

/// The peers connected now, read from the p2p layer's `connected` gauges in `metrics` (the
/// Prometheus text of the node's registry): commonware keeps one series per live connection,
/// labelled with the peer's public key, and removes it when the connection drops.
pub fn connected_peers(metrics: &str) -> BTreeSet<Address> {
    metrics
        .lines()
        .filter_map(|line| {
            let (series, _) = line.split_once(' ')?;
            let (name, labels) = series.split_once('{')?;
            if !name.ends_with("_connected") {
                return None;
            }
            let key = labels.split("peer=\"").nth(1)?.split('"').next()?;
            let bytes: [u8; 32] = hex::decode(key).ok()?.try_into().ok()?;
            Some(Address(bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_peers_are_read_from_the_connected_gauges() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        let text = format!(
            "# HELP network_tracker_connected Unix timestamp ...\n\
             network_tracker_connected{{peer=\"{}\"}} 1765000000000\n\
             network_tracker_connected{{peer=\"{}\"}} 1765000000001\n\
             network_tracker_blocked{{peer=\"{}\"}} 1765000000002\n\
             network_tracker_connected{{peer=\"not hex\"}} 1\n\
             node_finalized_height 7\n",
            hex::encode(a.as_bytes()),
            hex::encode(b.as_bytes()),
            hex::encode([3; 32]),
        );
        assert_eq!(connected_peers(&text), BTreeSet::from([a, b]));
    }
}

//! What every simulation shares: the validators' and users' keys, the genesis they start
//! from, the seeded runner, the simulated network and links, and a node that records what it
//! finalizes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aifactory_ledger::testing::{TEST_CHAIN_ID, test_key};
use aifactory_node::block::CHAIN_BLOCK_BYTES_MAX;
use aifactory_node::limits::RECENT_BLOCKS_BYTES_MAX;
use aifactory_node::{
    ChainBlock, Channels, Config, MempoolConfig, Timeouts, Validator, keys, start,
};
use aifactory_types::{Genesis, GenesisAccount, GenesisValidator, Hash, Params, SecretKey};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_p2p::utils::mux::{Muxer, SubReceiver, SubSender};
use commonware_runtime::deterministic::{self, Context};
use commonware_runtime::{Clock, Quota, Spawner, Supervisor};
use commonware_utils::{NZU32, NZUsize, probability};

/// Genesis validators in every simulation.
pub(crate) const VALIDATORS: usize = 4;
/// Funded users who send transfers.
pub(crate) const USERS: usize = 4;
/// The genesis time; the simulated clock starts a second after it.
pub(crate) const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// Each user's genesis balance.
pub(crate) const BALANCE: u64 = 1_000_000_000_000;

/// The validators' account (and consensus) keys.
pub(crate) fn validator_keys() -> Vec<SecretKey> {
    (0..VALIDATORS).map(test_key).collect()
}

/// The users' keys.
pub(crate) fn user_keys() -> Vec<SecretKey> {
    (VALIDATORS..VALIDATORS + USERS).map(test_key).collect()
}

/// The genesis: funded users, validators at the minimum stake.
pub(crate) fn genesis() -> Genesis {
    let params = Params::default();
    Genesis {
        chain_id: TEST_CHAIN_ID.to_owned(),
        genesis_time_ms: GENESIS_TIME_MS,
        accounts: user_keys()
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balance: BALANCE,
            })
            .collect(),
        validators: validator_keys()
            .iter()
            .map(|k| GenesisValidator {
                address: k.address(),
                stake: params.stake_min,
            })
            .collect(),
        params,
    }
}

/// A deterministic runner on `seed` that fails after `timeout` of simulated time.
pub(crate) fn runner(seed: u64, timeout: Duration) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_start_time(UNIX_EPOCH + Duration::from_millis(GENESIS_TIME_MS + 1_000))
            .with_timeout(Some(timeout)),
    )
}

/// The validators' consensus public keys, in index order.
pub(crate) fn public_keys() -> Vec<PublicKey> {
    node_keys()
        .iter()
        .take(VALIDATORS)
        .map(|k| keys::public_key(&k.address()).unwrap())
        .collect()
}

/// Every key a simulated node may run with: the validators', then the users' (a user's node is
/// a full node until its account joins the validator set). Node `i` runs with key `i`.
pub(crate) fn node_keys() -> Vec<SecretKey> {
    (0..VALIDATORS + USERS).map(test_key).collect()
}

fn node_public_key(index: usize) -> PublicKey {
    keys::public_key(&node_keys()[index].address()).unwrap()
}

/// The simulated network's control.
pub(crate) type SimOracle = Oracle<PublicKey, Context>;

/// A simulated network's sender.
pub(crate) type SimSender = simulated::Sender<PublicKey, Context>;

/// Starts a simulated network whose peers are nodes `0..nodes`.
pub(crate) async fn network(context: &Context, nodes: usize) -> SimOracle {
    let peers: Vec<PublicKey> = (0..nodes).map(node_public_key).collect();
    let (network, oracle) = Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: u32::try_from(CHAIN_BLOCK_BYTES_MAX + 1024).unwrap(),
            max_peers_per_set: NZUsize!(nodes),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
        peers,
    )
    .await;
    network.start();
    oracle
}

/// A fast, lossless link.
pub(crate) fn good_link() -> Link {
    Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

/// Links every node in `from` with every one in `to`, both ways, over `link`.
pub(crate) async fn link_with(oracle: &SimOracle, link: &Link, from: &[usize], to: &[usize]) {
    for &a in from {
        for &b in to {
            if a == b {
                continue;
            }
            for (x, y) in [(a, b), (b, a)] {
                // Linking both ways from both sides adds a link twice: the second is refused.
                let _ = oracle
                    .add_link(node_public_key(x), node_public_key(y), link.clone())
                    .await;
            }
        }
    }
}

/// Links every node in `from` with every one in `to`, both ways, over [`good_link`].
pub(crate) async fn link(oracle: &SimOracle, from: &[usize], to: &[usize]) {
    link_with(oracle, &good_link(), from, to).await;
}

/// Cuts every link between `from` and `to`, both ways.
pub(crate) async fn unlink(oracle: &SimOracle, from: &[usize], to: &[usize]) {
    let mut pairs = BTreeSet::new();
    for &a in from {
        for &b in to {
            if a != b {
                pairs.extend([(a, b), (b, a)]);
            }
        }
    }
    for (x, y) in pairs {
        oracle
            .remove_link(node_public_key(x), node_public_key(y))
            .await
            .unwrap();
    }
}

/// Epoch 0's subchannel of consensus channel `channel` for node `index`: nodes multiplex
/// their vote, certificate and resolver channels by epoch, so a hand-written participant
/// must speak on the same subchannel.
pub(crate) async fn epoch_zero_channel(
    context: &Context,
    oracle: &SimOracle,
    index: usize,
    channel: u64,
) -> (SubSender<SimSender>, SubReceiver<PublicKey>) {
    let (sender, receiver) = oracle
        .control(node_public_key(index))
        .register(channel, quota())
        .await
        .unwrap();
    let (mux, mut handle) = Muxer::new(context.child("mux"), sender, receiver);
    mux.start();
    handle.register(0).await.unwrap()
}

/// What one node finalized, by height: the block and the state root it computed.
pub(crate) type Seen = Arc<Mutex<BTreeMap<u64, (ChainBlock, Hash)>>>;

/// A running node and its record of finalized blocks.
pub(crate) struct Node {
    /// The node.
    pub(crate) validator: Validator,
    /// What it finalized.
    pub(crate) seen: Seen,
}

/// Generous per-peer quotas: the simulations test consensus, not rate limits.
pub(crate) fn quota() -> Quota {
    Quota::per_second(NZU32!(100_000))
}

/// The simulations' consensus timings: the defaults without block pacing, so a test waiting
/// for heights does not wait out empty-block intervals (pacing has its own test).
pub(crate) fn unpaced_timeouts() -> Timeouts {
    Timeouts {
        empty_block: Duration::ZERO,
        leader: Duration::from_secs(1),
        certification: Duration::from_secs(2),
        ..Timeouts::default()
    }
}

/// Starts node `index` (key `index` of [`node_keys`]) on `genesis`, without block pacing;
/// its backfill goes over `backfill_channel` (4 for every honest node).
pub(crate) async fn start_node_on(
    context: &Context,
    oracle: &SimOracle,
    index: usize,
    genesis: Genesis,
    backfill_channel: u64,
) -> Node {
    start_node_timed(
        context,
        oracle,
        index,
        genesis,
        backfill_channel,
        unpaced_timeouts(),
    )
    .await
}

/// [`start_node_on`] with the given consensus `timeouts`.
pub(crate) async fn start_node_timed(
    context: &Context,
    oracle: &SimOracle,
    index: usize,
    genesis: Genesis,
    backfill_channel: u64,
    timeouts: Timeouts,
) -> Node {
    let config = node_config(index, genesis, timeouts);
    start_node_configured(context, oracle, index, backfill_channel, config).await
}

/// Node `index`'s configuration: its key and partition, `genesis`, `timeouts`, and the
/// defaults for the rest.
pub(crate) fn node_config(index: usize, genesis: Genesis, timeouts: Timeouts) -> Config {
    Config {
        key: node_keys()[index].clone(),
        genesis,
        partition_prefix: format!("node-{index}"),
        mempool: MempoolConfig::default(),
        timeouts,
        snapshots: None,
        floor: None,
        recent_blocks_bytes_max: RECENT_BLOCKS_BYTES_MAX,
    }
}

/// Starts node `index` with `config`; its backfill goes over `backfill_channel`.
pub(crate) async fn start_node_configured(
    context: &Context,
    oracle: &SimOracle,
    index: usize,
    backfill_channel: u64,
    config: Config,
) -> Node {
    let control = oracle.control(node_public_key(index));
    let register = async |channel| control.register(channel, quota()).await.unwrap();
    let channels = Channels {
        votes: register(0).await,
        certificates: register(1).await,
        resolver: register(2).await,
        blocks: register(3).await,
        backfill: register(backfill_channel).await,
    };
    let validator = start(
        context.child("node").with_attribute("index", index),
        config,
        channels,
        control.clone(),
        oracle.manager(),
    )
    .await
    .expect("the node starts");
    let seen: Seen = Arc::default();
    let mut blocks = validator.handle.subscribe_blocks();
    let record = seen.clone();
    context.child("recorder").spawn(move |_| async move {
        while let Ok(finalized) = blocks.recv().await {
            record.lock().unwrap().insert(
                finalized.block.header().height,
                (finalized.block.clone(), finalized.state_root),
            );
        }
    });
    Node { validator, seen }
}

/// Starts node `index` on the shared [`genesis`], with its backfill on channel 4.
pub(crate) async fn start_node(context: &Context, oracle: &SimOracle, index: usize) -> Node {
    start_node_on(context, oracle, index, genesis(), 4).await
}

/// The node's finalized height.
pub(crate) fn height(node: &Node) -> u64 {
    node.validator.handle.finalized_state().height()
}

/// Waits until every node in `nodes` has finalized `target`.
pub(crate) async fn wait_for_height(context: &Context, nodes: &[&Node], target: u64) {
    while nodes.iter().any(|n| height(n) < target) {
        context.sleep(Duration::from_millis(50)).await;
    }
}

/// After a partition: once in-flight rounds settle (2 s), no node in `nodes` finalizes
/// anything for `wait`. Returns their heights.
pub(crate) async fn assert_frozen(context: &Context, nodes: &[&Node], wait: Duration) -> Vec<u64> {
    context.sleep(Duration::from_secs(2)).await;
    let frozen: Vec<u64> = nodes.iter().map(|n| height(n)).collect();
    context.sleep(wait).await;
    let after: Vec<u64> = nodes.iter().map(|n| height(n)).collect();
    assert_eq!(frozen, after, "no finality without a quorum");
    after
}

//! Validator-set changes at epoch boundaries, on the seeded runtime and simulated network.
//!
//! Four genesis validators and a fifth node run by a funded user, which starts as a full node
//! (it follows and finalizes as a verifier but never votes). The user stakes and joins the
//! candidates while validator 3 leaves them; the next boundary elects {0, 1, 2, user}. Then
//! validators 0 and 3 are cut off: the new set finalizes with validators 1, 2 and the user
//! (three of four), which is only possible if the former full node now votes, and validator 3,
//! no longer in the set, is not needed.

use std::time::Duration;

use aifactory_ledger::testing::TEST_CHAIN_ID;
use aifactory_types::payload::Stake;
use aifactory_types::transaction::ChainId;
use aifactory_types::{Address, Genesis, GenesisAccount, Payload, SecretKey, Transaction};
use commonware_runtime::deterministic::{self, Context};
use commonware_runtime::{Clock, Runner, Storage};

use crate::fixture::{
    BALANCE, Node, SimOracle, VALIDATORS, genesis, height, link, network, node_keys, runner,
    start_node_on, unlink, wait_for_height,
};

/// Blocks per epoch in this simulation.
const EPOCH_LENGTH: u64 = 10;
/// The node run by a funded user (key index [`VALIDATORS`]): a full node, then a validator.
const JOINER: usize = VALIDATORS;
/// The genesis validator that leaves the set.
const LEAVER: usize = VALIDATORS - 1;

/// The shared genesis with short epochs, and a balance for the leaving validator's fee.
fn epoch_genesis() -> Genesis {
    let mut genesis = genesis();
    genesis.params.epoch_length_blocks = EPOCH_LENGTH;
    genesis.accounts.push(GenesisAccount {
        address: node_keys()[LEAVER].address(),
        balance: BALANCE,
    });
    genesis
}

fn signed(key: &SecretKey, nonce: u64, payload: Payload) -> Vec<u8> {
    let genesis = epoch_genesis();
    Transaction {
        chain_id: ChainId::new(TEST_CHAIN_ID).unwrap(),
        sender: key.address(),
        nonce,
        fee: genesis.params.fee_min,
        expiry_height: 1_000,
        payload,
    }
    .sign(key)
    .encode()
}

fn validators(node: &Node) -> Vec<Address> {
    node.validator
        .handle
        .finalized_state()
        .validators()
        .map(|(address, _)| address)
        .collect()
}

/// Every pair of nodes finalized the same block and root at every height both reached.
fn assert_agree(nodes: &[&Node]) {
    let first = nodes[0].seen.lock().unwrap().clone();
    for node in &nodes[1..] {
        for (height, entry) in node.seen.lock().unwrap().iter() {
            if let Some(expected) = first.get(height) {
                assert_eq!(entry, expected, "nodes disagree at height {height}");
            }
        }
    }
}

/// The set after the change: validators 0..3 without the leaver, plus the joiner.
fn new_set() -> Vec<Address> {
    let keys = node_keys();
    let mut after: Vec<Address> = keys[..LEAVER].iter().map(|k| k.address()).collect();
    after.push(keys[JOINER].address());
    after.sort();
    after
}

/// Starts nodes `indices` on the epoch genesis.
async fn start_nodes(context: &Context, oracle: &SimOracle, indices: &[usize]) -> Vec<Node> {
    let mut nodes = Vec::new();
    for &index in indices {
        nodes.push(start_node_on(context, oracle, index, epoch_genesis(), 4).await);
    }
    nodes
}

/// With every node running (`nodes[i]` is node `i`): the joiner stakes and joins, the leaver
/// leaves; waits until the joiner's finalized state names the new set.
async fn change_set(context: &Context, nodes: &[Node]) {
    let keys = node_keys();
    let mut before: Vec<Address> = keys[..VALIDATORS].iter().map(|k| k.address()).collect();
    before.sort();
    assert_eq!(validators(&nodes[JOINER]), before);
    let joiner = &keys[JOINER];
    let stake = epoch_genesis().params.validator_stake_min;
    for tx in [
        signed(joiner, 0, Payload::Stake(Stake { amount: stake })),
        signed(joiner, 1, Payload::JoinValidators),
    ] {
        nodes[0].validator.handle.submit(&tx).expect("admitted");
    }
    let leave = signed(&keys[LEAVER], 0, Payload::LeaveValidators);
    nodes[1].validator.handle.submit(&leave).expect("admitted");
    while validators(&nodes[JOINER]) != new_set() {
        context.sleep(Duration::from_millis(100)).await;
    }
}

fn run(seed: u64) {
    runner(seed, Duration::from_secs(300)).start(|context| async move {
        let oracle = network(&context, VALIDATORS + 1).await;
        let all: Vec<usize> = (0..=JOINER).collect();
        let nodes = start_nodes(&context, &oracle, &all).await;
        link(&oracle, &all, &all).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, 3).await;
        change_set(&context, &nodes).await;

        // The joiner, once a full node, finalized the same chain as the validators.
        let target = height(&nodes[JOINER]) + 2;
        wait_for_height(&context, &refs, target).await;
        assert_agree(&refs);

        // Without validators 0 and 3 the new set still has a quorum only if the joiner votes.
        unlink(&oracle, &[0, LEAVER], &all).await;
        let live = [&nodes[1], &nodes[2], &nodes[JOINER]];
        let cut_at = live.iter().map(|n| height(n)).max().unwrap();
        wait_for_height(&context, &live, cut_at + 2 * EPOCH_LENGTH).await;
        assert_agree(&live);
        assert_eq!(validators(&nodes[JOINER]), new_set(), "no further change");

        // Regression: every epoch's consensus journal stayed on disk forever. Past two
        // boundaries, node 1 keeps only the journal of the epoch it is in.
        let epoch = nodes[1]
            .validator
            .handle
            .finalized_state()
            .validator_set_epoch();
        assert!(epoch >= 2, "only reached epoch {epoch}");
        let journal = |e: u64| format!("node-1-simplex-{e}");
        assert!(
            context.scan(&journal(epoch)).await.is_ok(),
            "the current journal"
        );
        for old in 0..epoch - 1 {
            assert!(
                matches!(
                    context.scan(&journal(old)).await,
                    Err(commonware_runtime::Error::PartitionMissing(_))
                ),
                "epoch {old}'s journal is still there in epoch {epoch}"
            );
        }
    })
}

#[test]
fn a_full_node_joins_the_set_and_a_validator_leaves_at_an_epoch_boundary() {
    run(21);
}

#[test]
fn restart_in_a_later_epoch_and_catch_up_across_boundaries() {
    // First run: the set changes, the chain moves into the next epoch, then everything stops
    // at an arbitrary point; only synced storage survives.
    let all: Vec<usize> = (0..=JOINER).collect();
    let ((), checkpoint) = runner(31, Duration::from_secs(300)).start_and_recover(|context| {
        let all = all.clone();
        async move {
            let oracle = network(&context, VALIDATORS + 1).await;
            let nodes = start_nodes(&context, &oracle, &all).await;
            link(&oracle, &all, &all).await;
            change_set(&context, &nodes).await;
            let refs: Vec<&Node> = nodes.iter().collect();
            let target = height(&nodes[JOINER]) + 3;
            wait_for_height(&context, &refs, target).await;
        }
    });
    // Second run: three of the new set restart and carry on for two more epochs; then
    // validator 0 and the former validator (now a full node), both behind by more than one
    // epoch boundary, restart and must walk forward to the same chain.
    deterministic::Runner::from(checkpoint).start(|context| async move {
        let oracle = network(&context, VALIDATORS + 1).await;
        let mut nodes = start_nodes(&context, &oracle, &[1, 2, JOINER]).await;
        link(&oracle, &[1, 2, JOINER], &[1, 2, JOINER]).await;
        let resumed_at = nodes.iter().map(height).max().unwrap();
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, resumed_at + 2 * EPOCH_LENGTH).await;
        assert_eq!(validators(&nodes[2]), new_set());

        nodes.extend(start_nodes(&context, &oracle, &[0, LEAVER]).await);
        link(&oracle, &[0, LEAVER], &all).await;
        let target = height(&nodes[0]) + 2;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, target).await;
        assert_agree(&refs);
        let roots: Vec<_> = refs
            .iter()
            .map(|n| n.seen.lock().unwrap().get(&target).map(|(_, root)| *root))
            .collect();
        assert!(
            roots.iter().all(|r| r.is_some() && *r == roots[0]),
            "{roots:?}"
        );
    });
}

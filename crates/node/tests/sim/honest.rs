//! Deterministic simulations of four validators: real simplex, real marshal, real ledger
//! execution, on commonware's seeded runtime and simulated network (links with latency,
//! jitter and loss; partitions; an unclean crash of the whole runtime, where only synced
//! storage survives). Each test fails on its own seed with the same trace every time.

use crate::fixture::{
    Node, SimOracle, USERS, VALIDATORS, assert_frozen, genesis, height, link, link_with, network,
    node_config, runner, start_node, start_node_configured, start_node_timed, unlink,
    unpaced_timeouts, user_keys, wait_for_height,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aifactory_api::views::{BlockId, ChainEvent, TxStatus};
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain};
use aifactory_node::{ChainBlock, Timeouts, history};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Event, Hash, Params, Receipt, SignedTransaction, Transaction};
use commonware_p2p::simulated::Link;
use commonware_runtime::deterministic::{self, Context};
use commonware_runtime::{Clock, Runner};
use commonware_utils::probability;

/// `count` transfers from each user, signed at consecutive nonces from `first_nonce`.
fn transfers(first_nonce: u64, count: u64) -> Vec<(usize, SignedTransaction)> {
    let fee = Params::default().fee_min;
    let users = user_keys();
    let mut out = Vec::new();
    for (u, key) in users.iter().enumerate() {
        for nonce in first_nonce..first_nonce + count {
            let tx = Transaction {
                chain_id: ChainId::new(TEST_CHAIN_ID).unwrap(),
                sender: key.address(),
                nonce,
                fee,
                expiry_height: 1_000,
                payload: TestChain::transfer_to(users[(u + 1) % USERS].address(), 1 + nonce),
            };
            out.push((u, tx.sign(key)));
        }
    }
    out
}

/// Submits each user's transfers to one validator (user `u` to validator `u`).
fn submit(nodes: &[Node], txs: &[(usize, SignedTransaction)]) -> BTreeSet<Hash> {
    txs.iter()
        .map(|(u, tx)| {
            nodes[u % nodes.len()]
                .validator
                .handle
                .submit(&tx.encode())
                .expect("a valid transfer is admitted")
        })
        .collect()
}

/// Every validator saw the same block and root at every height both saw; returns the
/// (height → block, root, txs) of the first.
fn assert_agree(nodes: &[&Node]) -> BTreeMap<u64, (ChainBlock, Hash)> {
    let first = nodes[0].seen.lock().unwrap().clone();
    for node in &nodes[1..] {
        for (height, entry) in node.seen.lock().unwrap().iter() {
            if let Some(expected) = first.get(height) {
                assert_eq!(entry, expected, "validators disagree at height {height}");
            }
        }
        let state = node.validator.handle.finalized_state();
        let theirs = nodes[0].validator.handle.finalized_state();
        if state.height() == theirs.height() {
            assert_eq!(state.root(), theirs.root());
        }
    }
    first
}

/// The ids of every transaction finalized, asserting none appears twice.
fn included_once(seen: &BTreeMap<u64, (ChainBlock, Hash)>) -> BTreeSet<Hash> {
    let mut all = BTreeSet::new();
    for (block, _) in seen.values() {
        for tx in block.block().txs.iter() {
            let id = tx.hash();
            assert!(all.insert(id), "transaction {id} included twice");
        }
    }
    all
}

async fn start_all(context: &Context, oracle: &SimOracle) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 0..VALIDATORS {
        nodes.push(start_node(context, oracle, i).await);
    }
    nodes
}

/// Runs four validators on good links, submits transfers, and returns the final root and
/// the runtime's audit of everything that happened.
fn run_all_online(seed: u64) -> (Hash, String) {
    runner(seed, Duration::from_secs(120)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let nodes = start_all(&context, &oracle).await;
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let submitted = submit(&nodes, &transfers(0, 5));
        let refs: Vec<&Node> = nodes.iter().collect();
        // Wait until everything is in, then a few blocks more.
        loop {
            let seen = nodes[0].seen.lock().unwrap().clone();
            if included_once(&seen) == submitted {
                break;
            }
            context.sleep(Duration::from_millis(100)).await;
        }
        let target = height(&nodes[0]) + 3;
        wait_for_height(&context, &refs, target).await;
        let seen = assert_agree(&refs);
        assert_eq!(included_once(&seen), submitted);
        for node in &nodes {
            assert_eq!(
                node.validator.handle.mempool_len(),
                0,
                "included txs leave the mempool"
            );
            let state = node.validator.handle.finalized_state();
            assert_eq!(state.total_supply(), genesis().total_supply().unwrap());
            for user in user_keys() {
                assert_eq!(state.account(&user.address()).unwrap().nonce, 5);
            }
        }
        let root = nodes[0].seen.lock().unwrap()[&target].1;
        (root, context.auditor().state())
    })
}

#[test]
fn all_online_finalize_every_transfer_exactly_once() {
    run_all_online(1);
}

#[test]
fn same_seed_same_outcome() {
    let first = run_all_online(7);
    let second = run_all_online(7);
    assert_eq!(first, second);
}

/// Regression: an idle devnet made about 110 empty blocks a second. With pacing, an idle
/// chain makes one block per empty-block interval, and a transaction still goes into the
/// next block at once instead of waiting out the interval.
#[test]
fn an_idle_chain_makes_one_block_per_interval_and_a_transaction_does_not_wait() {
    const IDLE: Duration = Duration::from_secs(30);
    runner(11, Duration::from_secs(120)).start(|context| async move {
        let timeouts = Timeouts::default();
        let interval = timeouts.empty_block;
        let oracle = network(&context, VALIDATORS).await;
        let mut nodes = Vec::new();
        for i in 0..VALIDATORS {
            nodes.push(start_node_timed(&context, &oracle, i, genesis(), 4, timeouts).await);
        }
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, 2).await;

        let before = height(&nodes[0]);
        context.sleep(IDLE).await;
        let idle_blocks = height(&nodes[0]) - before;
        let intervals = u64::try_from(IDLE.as_millis() / interval.as_millis()).unwrap();
        assert!(
            idle_blocks <= intervals + 1,
            "{idle_blocks} blocks in {IDLE:?} of idling at one per {interval:?}"
        );
        assert!(
            idle_blocks >= intervals / 2,
            "only {idle_blocks} blocks in {IDLE:?}"
        );

        let submitted = submit(&nodes, &transfers(0, 1));
        let start = context.current();
        loop {
            let seen = nodes[0].seen.lock().unwrap().clone();
            if included_once(&seen) == submitted {
                break;
            }
            context.sleep(Duration::from_millis(10)).await;
        }
        let waited = context.current().duration_since(start).unwrap();
        assert!(
            waited < interval,
            "transactions waited {waited:?}, longer than the empty-block interval"
        );
    });
}

#[test]
fn slow_lossy_links_still_finalize() {
    runner(3, Duration::from_secs(300)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let nodes = start_all(&context, &oracle).await;
        let lossy = Link {
            latency: Duration::from_millis(200),
            jitter: Duration::from_millis(150),
            success_rate: probability!(0.75),
        };
        link_with(&oracle, &lossy, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let submitted = submit(&nodes, &transfers(0, 2));
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, 8).await;
        loop {
            let seen = nodes[0].seen.lock().unwrap().clone();
            if included_once(&seen) == submitted {
                break;
            }
            context.sleep(Duration::from_millis(100)).await;
        }
        assert_agree(&refs);
    });
}

#[test]
fn partition_halts_finality_and_healing_resumes_it() {
    runner(5, Duration::from_secs(300)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let nodes = start_all(&context, &oracle).await;
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, 3).await;

        // Two and two: neither side has a quorum of three.
        unlink(&oracle, &[0, 1], &[2, 3]).await;
        let after = assert_frozen(&context, &refs, Duration::from_secs(15)).await;

        link(&oracle, &[0, 1], &[2, 3]).await;
        let target = after.iter().max().unwrap() + 3;
        wait_for_height(&context, &refs, target).await;
        assert_agree(&refs);
    });
}

/// Waits until every user's nonce on `node`'s finalized state reaches `nonce`.
async fn wait_for_nonces(context: &Context, node: &Node, nonce: u64) {
    loop {
        let state = node.validator.handle.finalized_state();
        let done = user_keys().iter().all(|u| {
            state
                .account(&u.address())
                .is_some_and(|a| a.nonce >= nonce)
        });
        if done {
            return;
        }
        context.sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn unclean_crash_recovers_and_a_lagging_validator_catches_up() {
    // First run: all four finalize transfers, then the runtime stops at an arbitrary point;
    // only synced storage survives.
    let ((), checkpoint) =
        runner(11, Duration::from_secs(120)).start_and_recover(|context| async move {
            let oracle = network(&context, VALIDATORS).await;
            let nodes = start_all(&context, &oracle).await;
            link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
            submit(&nodes, &transfers(0, 3));
            wait_for_nonces(&context, &nodes[0], 3).await;
            let refs: Vec<&Node> = nodes.iter().collect();
            let target = height(&nodes[0]) + 1;
            wait_for_height(&context, &refs, target).await;
        });
    // Second run: three restart at once, rebuild their state from their archives and
    // continue; the fourth restarts later and must catch up from peers to the same roots.
    deterministic::Runner::from(checkpoint).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let mut nodes = Vec::new();
        for i in 0..VALIDATORS - 1 {
            nodes.push(start_node(&context, &oracle, i).await);
        }
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        wait_for_nonces(&context, &nodes[0], 3).await;
        submit(&nodes, &transfers(3, 2));
        wait_for_nonces(&context, &nodes[0], 5).await;

        nodes.push(start_node(&context, &oracle, VALIDATORS - 1).await);
        let target = height(&nodes[0]) + 2;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, target).await;
        let lagging = &nodes[VALIDATORS - 1];
        let root = lagging.seen.lock().unwrap()[&target].1;
        assert_eq!(nodes[0].seen.lock().unwrap()[&target].1, root);
        assert_agree(&refs);
        wait_for_nonces(&context, lagging, 5).await;
    });
}

/// Node 0 of four, keeping only its newest block in memory (a one-byte recent window), so
/// every older block's receipts and events must come from disk.
async fn start_forgetful(context: &Context, oracle: &SimOracle) -> Vec<Node> {
    let mut config = node_config(0, genesis(), unpaced_timeouts());
    config.recent_blocks_bytes_max = 1;
    let mut nodes = vec![start_node_configured(context, oracle, 0, 4, config).await];
    for i in 1..VALIDATORS {
        nodes.push(start_node(context, oracle, i).await);
    }
    nodes
}

type Outcomes = BTreeMap<u64, (Vec<Receipt>, Vec<Event>)>;

/// What node 0 serves for heights `1..=tip`: each block's receipts and events, and its
/// replayable stream events, checked against each other and the block.
async fn served(node: &Node, tip: u64) -> Outcomes {
    let v = &node.validator;
    let heights = history::event_heights(&v.handle, &v.outcomes);
    assert_eq!(heights.lowest, 1, "a node from genesis has every height");
    assert!(heights.tip >= tip);
    let mut out = BTreeMap::new();
    for h in 1..=tip {
        assert!(
            v.chain.recent().by_height(h).is_none(),
            "height {h} is still in the recent window"
        );
        let view = history::block_view(&v.handle, &v.archive, &v.outcomes, BlockId::Height(h))
            .await
            .expect("the node has the block");
        let receipts = view.receipts.expect("receipts are served for an old block");
        let events = view.events.expect("events are served for an old block");
        let ids: Vec<Hash> = view.block.txs.iter().map(|tx| tx.hash()).collect();
        let receipt_ids: Vec<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
        assert_eq!(
            receipt_ids, ids,
            "one receipt per transaction at height {h}"
        );
        for (index, receipt) in (0u32..).zip(&receipts) {
            let status = history::recorded_tx(&v.outcomes, receipt.tx_hash).await;
            let expected = TxStatus::Included {
                height: h,
                block_hash: view.hash,
                index,
                receipt: receipt.clone(),
            };
            assert_eq!(
                status,
                Some(expected),
                "transaction {index} of height {h} is found"
            );
        }
        let replayed = history::block_events(&v.handle, &v.outcomes, h).await;
        let expected = ChainEvent::of_block(
            h,
            view.hash,
            view.block.header.state_root,
            &receipts,
            &events,
        );
        assert_eq!(replayed.expect("replayable"), expected);
        out.insert(h, (receipts, events));
    }
    out
}

/// Regression for agents following the chain: a block's receipts and events were served only
/// while it was in the node's recent window in memory, and never after a restart.
#[test]
fn block_outcomes_survive_an_unclean_crash_and_are_served_outside_the_recent_window() {
    let (before, checkpoint) =
        runner(12, Duration::from_secs(120)).start_and_recover(|context| async move {
            let oracle = network(&context, VALIDATORS).await;
            let nodes = start_forgetful(&context, &oracle).await;
            link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
            submit(&nodes, &transfers(0, 3));
            wait_for_nonces(&context, &nodes[0], 3).await;
            let tip = height(&nodes[0]);
            let refs: Vec<&Node> = nodes.iter().collect();
            wait_for_height(&context, &refs, tip + 1).await;
            served(&nodes[0], tip).await
        });
    let with_txs = before.values().filter(|(r, _)| !r.is_empty()).count();
    assert!(with_txs > 0, "some block carried the transfers");
    let transferred = before
        .values()
        .flat_map(|(receipts, _)| receipts)
        .flat_map(|r| &r.events)
        .filter(|e| matches!(e, Event::Transferred { .. }))
        .count();
    assert_eq!(transferred, 3 * USERS, "every transfer's event is served");

    deterministic::Runner::from(checkpoint).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let nodes = start_forgetful(&context, &oracle).await;
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let tip = *before.keys().last().unwrap();
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, tip + 1).await;
        let after = served(&nodes[0], tip).await;
        assert_eq!(after, before, "the same outcomes after the restart");
    });
}

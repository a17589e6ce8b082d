//! Deterministic simulations with one Byzantine validator among four. Three honest validators
//! run the real node ([`aifactory_node::start`]: simplex, marshal, ledger execution) on
//! commonware's seeded runtime and simulated network; the fourth holds a genesis validator key
//! and attacks them:
//!
//! - **equivocation**: commonware's own Byzantine simplex actors (the `mocks` feature). The
//!   equivocator, when it leads, notarizes one proposal towards one victim and another towards
//!   the rest; alone, and with the conflicter, which signs two notarize (or finalize) votes in
//!   every round and must get blocked.
//! - **invalid blocks**: a leader, written here from simplex's public types, that broadcasts a
//!   well-formed ledger block failing exactly one ledger check (state root, timestamp order,
//!   a transaction signature, an overdraw) and votes for it.
//! - **bad sync data**: a validator that votes honestly but answers every backfill request
//!   (marshal's resolver, channel 4) with garbage or with a genuine block or finalization for
//!   the wrong key, while an honest validator that was offline catches up.
//! - **partition and heal** with the invalid leader present.
//!
//! Every test checks the honest validators against one invariant: at every height any two of
//! them finalized, the same block and the same state root, and every finalized block
//! re-executes on its parent's state to the root the validator recorded; where the Byzantine
//! validator proposes nothing valid, no block of its is among them. Views it leads are skipped
//! (simplex's `timeouts` metric shows why), and no honest validator is ever blocked. Each seed
//! runs twice and must give the same [`Outcome`].

use crate::fixture::{
    Node, SimOracle, USERS, VALIDATORS, assert_frozen, epoch_zero_channel, genesis, height, link,
    network, public_keys, quota, runner, start_node_on, unlink, user_keys, validator_keys,
    wait_for_height,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aifactory_crypto::merkle;
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain};
use aifactory_ledger::{BlockError, State};
use aifactory_node::chain::{ExecuteError, execute};
use aifactory_node::engine::MarshalMailbox;
use aifactory_node::{CONSENSUS_NAMESPACE, ChainBlock, Digest, keys};
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Address, Block, BoundedVec, Hash, Params, SecretKey, SignedTransaction, Transaction, TxError,
};
use bytes::Bytes;
use commonware_codec::{Decode, Encode, ReadExt, Write};
use commonware_consensus::Viewable;
use commonware_consensus::marshal::resolver::handler::Key;
use commonware_consensus::simplex::elector::{
    Config as _, Elector as _, RoundRobin, RoundRobinElector,
};
use commonware_consensus::simplex::mocks::{conflicter, equivocator, relay::Relay};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Certificate, Notarize, Proposal, Vote};
use commonware_consensus::types::{Epoch, Height, Round};
use commonware_cryptography::certificate::{Scheme as _, Verifier as _};
use commonware_cryptography::ed25519::PublicKey;
use commonware_cryptography::{Blake3, Digestible, Sha256};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::deterministic::Context;
use commonware_runtime::{Clock, Metrics, Runner, Spawner, Supervisor};

/// The index of the Byzantine validator; the others are honest.
const BYZANTINE: usize = 3;
const HONEST: [usize; 3] = [0, 1, 2];
/// The user whose transfers the Byzantine leader forges; honest workloads never use it, so
/// its nonce and balance stay at genesis.
const FORGED_USER: usize = USERS - 1;
/// A channel no honest validator registers: what the Byzantine validator's own marshal
/// backfills over while its channel 4 belongs to the liar, and a receiver the equivocator
/// needs but never reads.
const UNUSED_CHANNEL: u64 = 9;

fn byzantine_address() -> Address {
    validator_keys()[BYZANTINE].address()
}

/// The Byzantine validator's consensus signer: a genuine participant's key.
fn byzantine_scheme() -> Scheme {
    let state = State::from_genesis(&genesis()).unwrap();
    let participants = keys::validator_set(&state).unwrap();
    let private_key = keys::private_key(&validator_keys()[BYZANTINE]);
    Scheme::signer(CONSENSUS_NAMESPACE, participants, private_key).unwrap()
}

/// Starts validator `index` with the real node; its backfill goes over `backfill_channel`
/// (4 for every honest validator).
async fn start_validator(
    context: &Context,
    oracle: &SimOracle,
    index: usize,
    backfill_channel: u64,
) -> Node {
    start_node_on(context, oracle, index, genesis(), backfill_channel).await
}

async fn start_honest(context: &Context, oracle: &SimOracle, index: usize) -> Node {
    assert_ne!(index, BYZANTINE);
    start_validator(context, oracle, index, 4).await
}

/// One transfer from each honest user, at `nonce`.
fn transfers(nonce: u64) -> Vec<SignedTransaction> {
    let users = user_keys();
    (0..FORGED_USER)
        .map(|u| transfer(&users[u], nonce, users[(u + 1) % FORGED_USER].address(), 1))
        .collect()
}

fn transfer(from: &SecretKey, nonce: u64, to: Address, amount: u64) -> SignedTransaction {
    transfer_with_fee(from, nonce, to, amount, Params::default().fee_min)
}

fn transfer_with_fee(
    from: &SecretKey,
    nonce: u64,
    to: Address,
    amount: u64,
    fee: u64,
) -> SignedTransaction {
    Transaction {
        chain_id: ChainId::new(TEST_CHAIN_ID).unwrap(),
        sender: from.address(),
        nonce,
        fee,
        expiry_height: 1_000,
        payload: TestChain::transfer_to(to, amount),
    }
    .sign(from)
}

/// Submits each transaction to one honest validator, round robin.
fn submit(nodes: &[&Node], txs: &[SignedTransaction]) -> BTreeSet<Hash> {
    txs.iter()
        .enumerate()
        .map(|(i, tx)| {
            nodes[i % nodes.len()]
                .validator
                .handle
                .submit(&tx.encode())
                .expect("a valid transfer is admitted")
        })
        .collect()
}

/// Waits until every transaction in `ids` is finalized on `node`.
async fn wait_for_txs(context: &Context, node: &Node, ids: &BTreeSet<Hash>) {
    loop {
        let included: BTreeSet<Hash> = node
            .seen
            .lock()
            .unwrap()
            .values()
            .flat_map(|(block, _)| block.block().txs.iter().map(|t| t.hash()))
            .collect();
        if ids.is_subset(&included) {
            return;
        }
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// Whose blocks the honest validators may finalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proposers {
    /// Only honest validators' (the Byzantine one proposes only blocks that must be refused).
    HonestOnly,
    /// Anyone's (the Byzantine one proposes honestly and misbehaves elsewhere).
    Any,
}

/// The honest validators never diverged: at every height two of them finalized, the same
/// block and root; and each one's finalized blocks, replayed from genesis, re-execute on their
/// parent to the root it recorded. With [`Proposers::HonestOnly`], no finalized block is the
/// Byzantine validator's. Returns the agreed chain (height → block hash, state root).
fn check_honest(nodes: &[&Node], proposers: Proposers) -> BTreeMap<u64, (Hash, Hash)> {
    let genesis_state = State::from_genesis(&genesis()).unwrap();
    let mut agreed = BTreeMap::new();
    for node in nodes {
        let seen = node.seen.lock().unwrap().clone();
        let heights: Vec<u64> = seen.keys().copied().collect();
        let expected: Vec<u64> = (1..=heights.len() as u64).collect();
        assert_eq!(
            heights, expected,
            "a validator recorded every height from 1"
        );
        let mut state = genesis_state.clone();
        for (height, (block, root)) in &seen {
            let entry = (block.hash(), *root);
            if let Some(other) = agreed.insert(*height, entry) {
                assert_eq!(
                    other, entry,
                    "honest validators disagree at height {height}"
                );
            }
            assert!(
                proposers == Proposers::Any || block.header().proposer != byzantine_address(),
                "the Byzantine validator's block was finalized at height {height}"
            );
            let (next, _) = execute(&state, block)
                .unwrap_or_else(|e| panic!("finalized block {height} does not re-execute: {e}"));
            assert_eq!(
                next.root(),
                *root,
                "height {height} re-executes to another root"
            );
            state = next;
        }
    }
    agreed
}

/// The pairs (blocker, blocked) the network recorded, each an honest validator blocking the
/// Byzantine one.
async fn blocked(oracle: &SimOracle) -> Vec<(PublicKey, PublicKey)> {
    let byzantine = &public_keys()[BYZANTINE];
    let blocked = oracle.blocked().await.unwrap();
    for (by, whom) in &blocked {
        assert_ne!(
            by, byzantine,
            "only honest validators' blocks are recorded here"
        );
        assert_eq!(whom, byzantine, "an honest validator was blocked");
    }
    blocked
}

/// One series of simplex's `timeouts` metric: views a validator timed out, by leader and reason.
#[derive(Debug)]
struct ViewTimeouts {
    /// The index of the validator that timed out.
    index: usize,
    /// Whether the view's leader was the Byzantine validator.
    byzantine_leader: bool,
    /// Why (simplex's `TimeoutReason`, e.g. `InvalidProposal`).
    reason: String,
    count: u64,
}

/// The value of label `name` in a metric line.
fn label<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(&format!("{name}=\"")[..])
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no label {name}: {line}"))
}

/// Every series of simplex's `timeouts` metric, from the runtime's metrics.
fn timeouts(context: &Context) -> Vec<ViewTimeouts> {
    let byzantine = public_keys()[BYZANTINE].to_string();
    context
        .encode()
        .lines()
        .filter(|line| line.contains("_timeouts_total{") && !line.starts_with('#'))
        .map(|line| ViewTimeouts {
            index: label(line, "index").parse().unwrap(),
            byzantine_leader: label(line, "leader") == byzantine,
            reason: label(line, "reason").to_owned(),
            count: line.rsplit(' ').next().unwrap().parse().unwrap(),
        })
        .collect()
}

/// What a run produced; two runs of one seed must produce equal ones.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The honest validators' agreed chain: height → (block hash, state root).
    chain: BTreeMap<u64, (Hash, Hash)>,
    /// (blocker, blocked) pairs the simulated network recorded.
    blocked: Vec<(PublicKey, PublicKey)>,
    /// What the Byzantine validator did, by kind.
    attacks: BTreeMap<&'static str, u64>,
    /// The runtime's audit of everything that happened.
    audit: String,
}

fn assert_deterministic(seed: u64, run: impl Fn(u64) -> Outcome) {
    let first = run(seed);
    let second = run(seed);
    assert_eq!(first, second, "seed {seed} gave two outcomes");
}

type Attacks = Arc<Mutex<BTreeMap<&'static str, u64>>>;

fn count(attacks: &Attacks, kind: &'static str) {
    *attacks.lock().unwrap().entry(kind).or_default() += 1;
}

// ---------------------------------------------------------------------------------------
// 1. Equivocation: commonware's equivocator (and conflicter) as the fourth validator.

/// Runs the equivocator on the Byzantine key's vote and certificate channels: when it leads, it
/// notarizes one proposal towards a victim and another towards the rest (payloads nobody can
/// fetch). With `double_votes`, the conflicter too: for every notarize or finalize vote it
/// receives, it signs one for a random payload and one for the received proposal.
async fn start_equivocator(context: &Context, oracle: &SimOracle, double_votes: bool) {
    let control = oracle.control(public_keys()[BYZANTINE].clone());
    let (vote_sender, vote_receiver) = epoch_zero_channel(context, oracle, BYZANTINE, 0).await;
    let certificates = epoch_zero_channel(context, oracle, BYZANTINE, 1).await;
    let (_, unused_receiver) = control.register(UNUSED_CHANNEL, quota()).await.unwrap();
    let scheme = byzantine_scheme();
    if double_votes {
        let conflicter = conflicter::Conflicter::<_, _, Blake3>::new(
            context.child("conflicter"),
            conflicter::Config {
                scheme: scheme.clone(),
            },
        );
        conflicter.start((vote_sender.clone(), vote_receiver));
    }
    let equivocator = equivocator::Equivocator::new(
        context.child("equivocator"),
        equivocator::Config::<_, _, Blake3> {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            epoch: Epoch::zero(),
            relay: Arc::new(Relay::new()),
        },
    );
    equivocator.start((vote_sender, unused_receiver), certificates);
}

fn run_equivocation(seed: u64, double_votes: bool) -> Outcome {
    runner(seed, Duration::from_secs(120)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let mut nodes = Vec::new();
        for index in HONEST {
            nodes.push(start_honest(&context, &oracle, index).await);
        }
        start_equivocator(&context, &oracle, double_votes).await;
        link(&oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        let submitted = submit(&refs, &transfers(0));
        wait_for_height(&context, &refs, 12).await;
        wait_for_txs(&context, &nodes[0], &submitted).await;
        let chain = check_honest(&refs, Proposers::HonestOnly);

        // The views it led timed out at every honest validator: no proposal in them could be
        // fetched, let alone finalized.
        let skipped: BTreeMap<usize, u64> = timeouts(&context)
            .into_iter()
            .filter(|t| t.byzantine_leader)
            .fold(BTreeMap::new(), |mut by_index, t| {
                *by_index.entry(t.index).or_default() += t.count;
                by_index
            });
        assert_eq!(
            skipped.keys().copied().collect::<Vec<_>>(),
            HONEST,
            "every honest validator skipped its views"
        );
        let blocked = blocked(&oracle).await;
        if double_votes {
            // Two signed votes of one key for one round are proof: each honest validator
            // that receives them blocks the sender.
            let blockers: BTreeSet<&PublicKey> = blocked.iter().map(|(by, _)| by).collect();
            assert_eq!(
                blockers.len(),
                HONEST.len(),
                "every honest validator blocks it"
            );
        }
        let skipped_views = skipped.values().sum();
        Outcome {
            chain,
            blocked,
            attacks: BTreeMap::from([("views skipped by honest validators", skipped_views)]),
            audit: context.auditor().state(),
        }
    })
}

#[test]
fn equivocating_leader_views_are_skipped_and_honest_ones_agree() {
    assert_deterministic(20, |seed| run_equivocation(seed, false));
}

#[test]
fn double_voting_validator_is_blocked_and_honest_ones_agree() {
    assert_deterministic(21, |seed| run_equivocation(seed, true));
}

// ---------------------------------------------------------------------------------------
// 2. Invalid blocks: a leader that proposes well-formed blocks failing one ledger check.

/// How the Byzantine leader breaks a block, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forgery {
    /// The header commits to a state root the block does not produce.
    StateRoot,
    /// The timestamp equals the parent's instead of following it.
    Timestamp,
    /// A transfer whose signature does not check.
    Signature,
    /// A correctly signed transfer whose fee is more than the sender holds. (A transfer of
    /// more than the balance is not one: it is included as failed and still pays its fee.)
    Overdraw,
}

const FORGERIES: [Forgery; 4] = [
    Forgery::StateRoot,
    Forgery::Timestamp,
    Forgery::Signature,
    Forgery::Overdraw,
];

impl Forgery {
    fn name(self) -> &'static str {
        match self {
            Forgery::StateRoot => "wrong state root",
            Forgery::Timestamp => "timestamp not after parent",
            Forgery::Signature => "bad transaction signature",
            Forgery::Overdraw => "overdraw",
        }
    }

    /// Whether `error` is the check this forgery targets (and not an earlier one).
    fn caught_by(self, error: &ExecuteError) -> bool {
        matches!(
            (self, error),
            (
                Forgery::StateRoot,
                ExecuteError::Block(BlockError::StateRootMismatch { .. })
            ) | (
                Forgery::Timestamp,
                ExecuteError::Block(BlockError::TimestampNotAfterParent { .. })
            ) | (Forgery::Signature, ExecuteError::Signature(_))
                | (
                    Forgery::Overdraw,
                    ExecuteError::Block(BlockError::InadmissibleTransaction {
                        index: 0,
                        error: TxError::CannotPayFee { .. },
                    })
                )
        )
    }
}

fn build(state: &State, timestamp_ms: u64, txs: Vec<SignedTransaction>) -> Block {
    let verified = txs.into_iter().map(|t| t.verify().unwrap());
    let built = state
        .clone()
        .build_block(byzantine_address(), timestamp_ms, verified)
        .unwrap();
    assert!(built.rejected.is_empty());
    built.block.to_block()
}

/// Replaces a block's transactions and recomputes its transactions root, so only the
/// transactions themselves are wrong.
fn with_txs(mut block: Block, txs: Vec<SignedTransaction>) -> Block {
    let ids: Vec<Hash> = txs.iter().map(SignedTransaction::hash).collect();
    block.header.txs_root = merkle::list_root(&ids);
    block.txs = BoundedVec::new(txs).unwrap();
    block
}

/// A block extending `parent` (the state after the block it builds on) that fails
/// `forgery`'s check and only that one.
fn forge(parent: &State, forgery: Forgery, now_ms: u64) -> ChainBlock {
    let timestamp_ms = now_ms.max(parent.timestamp_ms() + 1);
    let spender = &user_keys()[FORGED_USER];
    let account = parent.account(&spender.address()).unwrap();
    let to = user_keys()[0].address();
    let block = match forgery {
        Forgery::StateRoot => {
            let mut block = build(parent, timestamp_ms, Vec::new());
            block.header.state_root = Hash([0xab; 32]);
            block
        }
        Forgery::Timestamp => {
            let mut block = build(parent, parent.timestamp_ms() + 1, Vec::new());
            block.header.timestamp_ms = parent.timestamp_ms();
            block
        }
        Forgery::Signature => {
            let mut tx = transfer(spender, account.nonce, to, 1);
            let block = build(parent, timestamp_ms, vec![tx.clone()]);
            tx.signature.0[0] ^= 1;
            with_txs(block, vec![tx])
        }
        Forgery::Overdraw => {
            let tx = transfer_with_fee(spender, account.nonce, to, 1, account.balance + 1);
            with_txs(build(parent, timestamp_ms, Vec::new()), vec![tx])
        }
    };
    let block = ChainBlock::new(block);
    let error = execute(parent, &block).expect_err("a forged block does not execute");
    assert!(
        forgery.caught_by(&error),
        "{forgery:?} was caught by: {error}"
    );
    block
}

/// A Byzantine leader. It reads honest certificates to learn when it leads the next view (the
/// same round-robin election the honest validators run), forges a block on the certified
/// parent, broadcasts it on the blocks channel as a proposer does, and sends its notarize vote
/// for it (which is a proposal). It never votes for anyone else's block. Parent states come from
/// an honest validator's chain: an omniscient adversary, so each forgery fails exactly the
/// check it targets.
async fn run_invalid_leader(
    context: Context,
    mut votes: impl Sender<PublicKey = PublicKey>,
    mut certificates: impl Receiver<PublicKey = PublicKey>,
    mut blocks: impl Sender<PublicKey = PublicKey>,
    parents: aifactory_node::Chain,
    attacks: Attacks,
) {
    let scheme = byzantine_scheme();
    let me = scheme.me().and_then(|m| m.signer()).unwrap();
    let elector: RoundRobinElector<Scheme> =
        RoundRobin::<Sha256>::default().build(scheme.participants());
    let mut seen_views = BTreeSet::new();
    let mut proposed = 0usize;
    while let Ok((_, message)) = certificates.recv().await {
        let Ok(certificate) =
            Certificate::<Scheme, Digest>::decode_cfg(message, &scheme.certificate_codec_config())
        else {
            continue;
        };
        let (view, parent) = match certificate {
            Certificate::Notarization(n) => (n.view(), n.proposal.payload),
            Certificate::Finalization(f) => (f.view(), f.proposal.payload),
            _ => continue,
        };
        if !seen_views.insert(view) {
            continue;
        }
        let round = Round::new(Epoch::zero(), view.next());
        if elector.elect(round, ()) != me {
            continue;
        }
        let Some(parent_state) = parents.state_after(&parent) else {
            count(&attacks, "parent state unknown");
            continue;
        };
        let forgery = FORGERIES[proposed % FORGERIES.len()];
        proposed += 1;
        let now_ms = u64::try_from(
            context
                .current()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let block = forge(&parent_state, forgery, now_ms);
        blocks.send(Recipients::All, block.encode(), true);
        let proposal = Proposal::new(round, view, block.digest());
        let notarize = Notarize::<Scheme, Digest>::sign(&scheme, proposal).unwrap();
        votes.send(Recipients::All, Vote::Notarize(notarize).encode(), true);
        count(&attacks, forgery.name());
    }
}

async fn start_invalid_leader(
    context: &Context,
    oracle: &SimOracle,
    parents: aifactory_node::Chain,
) -> Attacks {
    let control = oracle.control(public_keys()[BYZANTINE].clone());
    let (votes, _) = epoch_zero_channel(context, oracle, BYZANTINE, 0).await;
    let (_, certificates) = epoch_zero_channel(context, oracle, BYZANTINE, 1).await;
    let (blocks, _) = control.register(3, quota()).await.unwrap();
    let attacks = Attacks::default();
    let recorded = attacks.clone();
    context.child("invalid_leader").spawn(move |context| {
        run_invalid_leader(context, votes, certificates, blocks, parents, recorded)
    });
    attacks
}

/// Every forgery was proposed, honest validators refused the Byzantine leader's proposals as
/// invalid (not merely late), and never an honest leader's.
fn check_refusals(context: &Context, attacks: &Attacks) {
    let mut attacks = attacks.lock().unwrap();
    for forgery in FORGERIES {
        assert!(
            attacks.get(forgery.name()).is_some_and(|&n| n > 0),
            "the Byzantine leader never proposed a block with a {}",
            forgery.name()
        );
    }
    let proposals: u64 = FORGERIES.iter().map(|f| attacks[f.name()]).sum();
    let invalid: Vec<ViewTimeouts> = timeouts(context)
        .into_iter()
        .filter(|t| t.reason == "InvalidProposal")
        .collect();
    let refusers: BTreeSet<usize> = invalid.iter().map(|t| t.index).collect();
    assert_eq!(
        refusers,
        BTreeSet::from(HONEST),
        "every honest validator refused forged proposals"
    );
    let refused: u64 = invalid
        .iter()
        .filter(|t| t.byzantine_leader)
        .map(|t| t.count)
        .sum();
    let refused_honest: u64 = invalid
        .iter()
        .filter(|t| !t.byzantine_leader)
        .map(|t| t.count)
        .sum();
    assert!(
        refused >= proposals,
        "{proposals} forged proposals, {refused} refusals"
    );
    assert_eq!(refused_honest, 0, "an honest proposal failed verification");
    attacks.insert("refusals by honest validators", refused);
}

/// The three honest validators and the invalid leader, all linked.
async fn start_with_invalid_leader(context: &Context, oracle: &SimOracle) -> (Vec<Node>, Attacks) {
    let mut nodes = Vec::new();
    for index in HONEST {
        nodes.push(start_honest(context, oracle, index).await);
    }
    let attacks = start_invalid_leader(context, oracle, nodes[0].validator.chain.clone()).await;
    link(oracle, &[0, 1, 2, 3], &[0, 1, 2, 3]).await;
    (nodes, attacks)
}

/// Once `submitted` is finalized: the honest validators agree and never finalized the
/// invalid leader's blocks, which they refused as invalid.
async fn invalid_leader_outcome(
    context: &Context,
    oracle: &SimOracle,
    nodes: &[&Node],
    submitted: &BTreeSet<Hash>,
    attacks: &Attacks,
) -> Outcome {
    wait_for_txs(context, nodes[0], submitted).await;
    let chain = check_honest(nodes, Proposers::HonestOnly);
    check_refusals(context, attacks);
    let attacks = attacks.lock().unwrap().clone();
    Outcome {
        chain,
        blocked: blocked(oracle).await,
        attacks,
        audit: context.auditor().state(),
    }
}

fn run_invalid_blocks(seed: u64) -> Outcome {
    runner(seed, Duration::from_secs(120)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let (nodes, attacks) = start_with_invalid_leader(&context, &oracle).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        let submitted = submit(&refs, &transfers(0));
        // Enough views for the Byzantine leader to try every forgery.
        wait_for_height(&context, &refs, 16).await;
        invalid_leader_outcome(&context, &oracle, &refs, &submitted, &attacks).await
    })
}

#[test]
fn invalid_blocks_are_refused_and_their_views_skipped() {
    assert_deterministic(22, run_invalid_blocks);
}

// ---------------------------------------------------------------------------------------
// 3. Bad sync data: a validator that lies to backfill requests.

/// Bytes of a resolver message before its payload: the request id and a tag.
const TAG_REQUEST: u8 = 0;
const TAG_RESPONSE: u8 = 1;

/// Decodes a resolver request (`id`, tag 0, key); `None` for anything else.
fn decode_request(mut message: impl commonware_codec::Buf) -> Option<(u64, Key<Digest>)> {
    let id = u64::read(&mut message).ok()?;
    if u8::read(&mut message).ok()? != TAG_REQUEST {
        return None;
    }
    let key = Key::<Digest>::read(&mut message).ok()?;
    Some((id, key))
}

/// A resolver response to request `id` carrying `value`.
fn encode_response(id: u64, value: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    id.write(&mut out);
    TAG_RESPONSE.write(&mut out);
    Bytes::from(value).write(&mut out);
    out
}

/// A genuine answer to the wrong question, from the liar's own finalized chain (heights 1
/// and 2): for a block, another block; for a finalization, the finalization and block of
/// another height; for a notarization, a finalization of another round with its block (the
/// same shape, signed for another purpose). `None` if it has none yet.
async fn wrong_answer(archive: &MarshalMailbox, key: &Key<Digest>) -> Option<Vec<u8>> {
    for height in [1, 2].map(Height::new) {
        let block = archive.get_block(height).await?;
        let finalization = archive.get_finalization(height).await?;
        let answer = match key {
            Key::Block(digest) => (block.digest() != *digest).then(|| block.inner().encode()),
            Key::Finalized { height: asked } => {
                (*asked != height).then(|| (finalization, block.inner().clone()).encode())
            }
            Key::Notarized { round } => (finalization.proposal.round != *round)
                .then(|| (finalization, block.inner().clone()).encode()),
        };
        if let Some(answer) = answer {
            return Some(answer.to_vec());
        }
    }
    None
}

/// What the liar answers backfill requests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lie {
    /// Bytes that decode as nothing.
    Garbage,
    /// Genuine data for another key than the one asked for (see [`wrong_answer`]; garbage when
    /// it has none yet).
    WrongKey,
}

const GARBAGE: &str = "garbage";
const WRONG_KEY: &str = "genuine data for the wrong key";

/// Answers every backfill request on the Byzantine key's channel 4 with a `lie`.
async fn run_liar(
    lie: Lie,
    mut sender: impl Sender<PublicKey = PublicKey>,
    mut receiver: impl Receiver<PublicKey = PublicKey>,
    archive: MarshalMailbox,
    attacks: Attacks,
) {
    while let Ok((peer, message)) = receiver.recv().await {
        let Some((id, key)) = decode_request(message) else {
            continue;
        };
        let wrong = match lie {
            Lie::Garbage => None,
            Lie::WrongKey => wrong_answer(&archive, &key).await,
        };
        let (kind, value) = match wrong {
            Some(value) => (WRONG_KEY, value),
            None => (GARBAGE, id.to_be_bytes().repeat(5)),
        };
        sender.send(Recipients::One(peer), encode_response(id, value), false);
        count(&attacks, kind);
    }
}

fn run_bad_sync(seed: u64, lie: Lie) -> Outcome {
    runner(seed, Duration::from_secs(180)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        // Two honest validators and the Byzantine one, which votes honestly (a quorum needs
        // it while the third honest validator is away) but lies to every backfill request.
        let mut nodes = vec![
            start_honest(&context, &oracle, 0).await,
            start_honest(&context, &oracle, 1).await,
        ];
        let byzantine = start_validator(&context, &oracle, BYZANTINE, UNUSED_CHANNEL).await;
        let control = oracle.control(public_keys()[BYZANTINE].clone());
        let (sender, receiver) = control.register(4, quota()).await.unwrap();
        let attacks = Attacks::default();
        let (archive, recorded) = (byzantine.validator.archive.clone(), attacks.clone());
        context
            .child("liar")
            .spawn(move |_| run_liar(lie, sender, receiver, archive, recorded));
        link(&oracle, &[0, 1, 3], &[0, 1, 3]).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        let submitted = submit(&refs, &transfers(0));
        wait_for_txs(&context, &nodes[0], &submitted).await;
        wait_for_height(&context, &refs, 10).await;

        // The third honest validator joins late and must backfill everything.
        nodes.push(start_honest(&context, &oracle, 2).await);
        link(&oracle, &[2], &[0, 1, 3]).await;
        let target = height(&nodes[0]) + 3;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, target).await;
        let chain = check_honest(&refs, Proposers::Any);
        // check_honest saw its heights contiguous from 1 and equal to the others'.
        let late_heights = nodes[2].seen.lock().unwrap().len() as u64;
        assert!(
            late_heights >= target,
            "the late validator recorded {late_heights} blocks, not {target}"
        );

        let attacks = attacks.lock().unwrap().clone();
        let kind = match lie {
            Lie::Garbage => GARBAGE,
            Lie::WrongKey => WRONG_KEY,
        };
        assert!(
            attacks.get(kind).is_some_and(|&n| n > 0),
            "the liar answered with {kind}: {attacks:?}"
        );
        let blocked = blocked(&oracle).await;
        let late_key = public_keys()[2].clone();
        assert!(
            blocked.iter().any(|(by, _)| *by == late_key),
            "the late validator blocks the liar"
        );
        Outcome {
            chain,
            blocked,
            attacks,
            audit: context.auditor().state(),
        }
    })
}

#[test]
fn garbage_backfill_is_refused_and_late_validator_catches_up() {
    assert_deterministic(24, |seed| run_bad_sync(seed, Lie::Garbage));
}

#[test]
fn wrong_key_backfill_is_refused_and_late_validator_catches_up() {
    assert_deterministic(25, |seed| run_bad_sync(seed, Lie::WrongKey));
}

// ---------------------------------------------------------------------------------------
// 4. Partition and heal with the invalid leader present.

fn run_partition(seed: u64) -> Outcome {
    runner(seed, Duration::from_secs(180)).start(|context| async move {
        let oracle = network(&context, VALIDATORS).await;
        let (nodes, attacks) = start_with_invalid_leader(&context, &oracle).await;
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_for_height(&context, &refs, 4).await;

        // Two and two: the Byzantine validator never votes for an honest block, so neither
        // side holds a quorum of three honest votes.
        unlink(&oracle, &[0, 3], &[1, 2]).await;
        let after = assert_frozen(&context, &refs, Duration::from_secs(20)).await;

        link(&oracle, &[0, 3], &[1, 2]).await;
        let submitted = submit(&refs, &transfers(0));
        let target = after.iter().max().unwrap() + 12;
        wait_for_height(&context, &refs, target).await;
        invalid_leader_outcome(&context, &oracle, &refs, &submitted, &attacks).await
    })
}

#[test]
fn partition_with_invalid_leader_heals_and_finality_resumes() {
    assert_deterministic(24, run_partition);
}

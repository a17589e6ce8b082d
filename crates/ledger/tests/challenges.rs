//! Challenges of gateways' answers on the ledger alone: an upheld challenge slashes and pays
//! to the base unit, a rejected one shares the bond, an undecided one returns it; every
//! refusal; an undeploying gateway's stake waits for open challenges; and a property test
//! that challenges conserve tokens whatever the votes, with a replica agreeing.

use proptest::prelude::*;

use aifactory_ledger::State;
use aifactory_ledger::testing::lifecycle::{blob, spdx};
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain, test_genesis, test_key};
use aifactory_types::lifecycle::{
    ChallengeError, ChallengeId, ChallengeReceipt, ChallengeRole, ChallengeStatus, ChannelError,
    Deploy, DeploymentId, DeploymentStatus, InferenceReceipt, ModelArtifact, OpenChannel,
    RegisterModel, SignedInferenceReceipt, Undeploy, Verdict, VoteChallenge,
};
use aifactory_types::limits::CHALLENGE_VOTERS_MAX;
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    BoundedString, Event, Hash, Payload, SignedTransaction, SlashReason, TREASURY, TxError,
    TxOutcome,
};

const BALANCE: u64 = 1_000_000_000_000;
/// The deployment's stake: an upheld challenge slashes half of it.
const STAKE: u64 = 100_000_000_001;
const BOND: u64 = 1_000_001;
const GATEWAY: usize = 1;
const CHALLENGER: usize = 2;
/// The first voter's key; voters are keys `VOTER..`.
const VOTER: usize = 3;
const KEYS: usize = VOTER + CHALLENGE_VOTERS_MAX + 1;
const WINDOW: u64 = 30;
const VOTE_BLOCKS: u64 = 10;

fn chain() -> TestChain {
    let keys: Vec<_> = (0..KEYS).map(test_key).collect();
    let mut genesis = test_genesis(&keys, BALANCE);
    let inference = &mut genesis.params.inference;
    inference.challenge_window_blocks = WINDOW;
    inference.challenge_vote_blocks = VOTE_BLOCKS;
    inference.channel_expiry_blocks_min = 10;
    inference.challenge_bond_min = 1_000_000;
    inference.challenge_vote_stake_min = 1_000_000;
    TestChain::from_genesis(keys, genesis)
}

fn refused(chain: &mut TestChain, index: usize, payload: Payload) -> ChallengeError {
    match chain.fails(index, payload) {
        TxError::Challenge { problem } => problem,
        other => panic!("expected a challenge error, got {other:?}"),
    }
}

/// An imported ONNX model deployed by the gateway.
fn deployed(chain: &mut TestChain) -> DeploymentId {
    let register = Payload::RegisterModel(RegisterModel {
        artifact: ModelArtifact::Onnx(blob("model.onnx")),
        royalty_bps: 0,
        licence: spdx("MIT"),
        parent: None,
    });
    chain.ok(0, register);
    let model = chain.state.id_counters().models;
    let deploy = Payload::Deploy(Deploy {
        model,
        price_per_call: 10,
        gateway_bps: 1_000,
        stake: STAKE,
        url: BoundedString::new("http://127.0.0.1:9000").unwrap(),
    });
    chain.ok(GATEWAY, deploy);
    chain.state.id_counters().deployments
}

/// A receipt the gateway signs for an answer at the current height.
fn receipt(chain: &TestChain, deployment: DeploymentId, salt: &str) -> SignedInferenceReceipt {
    let d = chain.state.deployment(deployment).unwrap();
    InferenceReceipt {
        chain_id: ChainId::new(TEST_CHAIN_ID).unwrap(),
        deployment,
        model: d.model,
        model_hash: d.model_hash,
        channel: 1,
        amount: 10,
        input_hash: blob(salt),
        output_hash: blob("output"),
        height: chain.state.height(),
    }
    .sign(&test_key(GATEWAY))
}

fn challenge_payload(receipt: SignedInferenceReceipt, bond: u64) -> Payload {
    Payload::Challenge(ChallengeReceipt { receipt, bond })
}

fn challenge(chain: &mut TestChain, receipt: SignedInferenceReceipt) -> ChallengeId {
    chain.ok(CHALLENGER, challenge_payload(receipt, BOND));
    chain.state.id_counters().challenges
}

fn vote(challenge: ChallengeId, verdict: Verdict, stake: u64) -> Payload {
    Payload::VoteChallenge(VoteChallenge {
        challenge,
        verdict,
        stake,
    })
}

/// Builds blocks until `challenge` resolves; the events of the block that resolved it.
fn resolve(chain: &mut TestChain, challenge: ChallengeId) -> Vec<Event> {
    let vote_until = chain.state.challenge(challenge).unwrap().vote_until;
    chain.build_until(vote_until);
    let built = chain.build(vec![]);
    assert_ne!(
        chain.state.challenge(challenge).unwrap().status,
        ChallengeStatus::Voting
    );
    built.outcome.events
}

fn balance(chain: &TestChain, index: usize) -> u64 {
    chain.state.account(&chain.address(index)).unwrap().balance
}

fn treasury(chain: &TestChain) -> u64 {
    chain.state.account(&TREASURY).map_or(0, |a| a.balance)
}

fn supply_is_kept(chain: &TestChain) {
    assert_eq!(
        chain.state.total_supply(),
        KEYS as u64 * BALANCE + chain.genesis.validators[0].stake
    );
}

/// What the events paid each `(account index or treasury, role)`, summed.
fn paid(chain: &TestChain, events: &[Event], index: Option<usize>, role: ChallengeRole) -> u64 {
    let who = index.map_or(TREASURY, |i| chain.address(i));
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChallengePaid {
                account,
                role: r,
                amount,
                ..
            } if *account == who && *r == role => Some(*amount),
            _ => None,
        })
        .sum()
}

/// Two of three voters, holding 5 of 8 units of stake, find the gateway wrong: half its stake
/// (50,000,000,000 of 100,000,000,001, rounded down for the gateway) is slashed and shared
/// 5:2:3, the voters' part 3:2 by stake; the bond and every vote stake go back; the deployment
/// is suspended and takes no new channel; the supply never moves.
#[test]
fn an_upheld_challenge_slashes_the_gateway_and_pays_each_share() {
    let mut chain = chain();
    let deployment = deployed(&mut chain);
    let receipt = receipt(&chain, deployment, "input");
    let id = challenge(&mut chain, receipt);
    let before = |chain: &TestChain, i| balance(chain, i);
    let (challenger0, treasury0) = (before(&chain, CHALLENGER), treasury(&chain));
    let voters0: Vec<u64> = (0..3).map(|v| before(&chain, VOTER + v)).collect();
    chain.ok(VOTER, vote(id, Verdict::GatewayWrong, 3_000_000));
    chain.ok(VOTER + 1, vote(id, Verdict::GatewayWrong, 2_000_000));
    chain.ok(VOTER + 2, vote(id, Verdict::GatewayRight, 3_000_000));
    supply_is_kept(&chain);
    let events = resolve(&mut chain, id);
    supply_is_kept(&chain);

    // split(100_000_000_001, [5000, 5000]) gives the earlier part the odd unit.
    let slashed = 50_000_000_001;
    assert!(events.contains(&Event::Slashed {
        account: chain.address(GATEWAY),
        amount: slashed,
        reason: SlashReason::WrongInference,
        job: None,
    }));
    // 5:2:3 of 50,000,000,001: 25,000,000,000 (+1 for the largest remainder), 10,000,000,000,
    // 15,000,000,000.
    let (to_challenger, to_voters, to_treasury) = (25_000_000_001, 10_000_000_000, 15_000_000_000);
    assert_eq!(to_challenger + to_voters + to_treasury, slashed, "whole");
    assert_eq!(
        paid(&chain, &events, Some(CHALLENGER), ChallengeRole::Challenger),
        to_challenger
    );
    assert_eq!(
        paid(
            &chain,
            &events,
            Some(CHALLENGER),
            ChallengeRole::BondReturned
        ),
        BOND
    );
    assert_eq!(
        paid(&chain, &events, None, ChallengeRole::Treasury),
        to_treasury
    );
    assert_eq!(
        paid(&chain, &events, Some(VOTER), ChallengeRole::Voter),
        6_000_000_000
    );
    assert_eq!(
        paid(&chain, &events, Some(VOTER + 1), ChallengeRole::Voter),
        4_000_000_000
    );
    assert_eq!(
        paid(&chain, &events, Some(VOTER + 2), ChallengeRole::Voter),
        0,
        "the minority gets nothing"
    );
    assert_eq!(
        balance(&chain, CHALLENGER),
        challenger0 + BOND + to_challenger
    );
    assert_eq!(treasury(&chain), treasury0 + to_treasury);
    let fee = chain.state.params().fee_min;
    assert_eq!(balance(&chain, VOTER), voters0[0] - fee + 6_000_000_000);
    assert_eq!(
        balance(&chain, VOTER + 2),
        voters0[2] - fee,
        "its stake came back, and only the fee is gone"
    );

    let d = chain.state.deployment(deployment).unwrap();
    assert_eq!(d.stake, STAKE - slashed);
    assert_eq!(d.status, DeploymentStatus::Suspended);
    assert_eq!(d.challenges_open, 0);
    let c = chain.state.challenge(id).unwrap();
    assert_eq!(c.status, ChallengeStatus::Upheld);
    assert_eq!(
        (c.voters, c.wrong_stake, c.right_stake),
        (3, 5_000_000, 3_000_000)
    );
    assert!(events.contains(&Event::ChallengeResolved {
        challenge: id,
        outcome: ChallengeStatus::Upheld,
    }));

    let open = Payload::OpenChannel(OpenChannel {
        deployment,
        deposit: BALANCE / 1_000,
        expiry_height: chain.state.height() + 50,
    });
    assert_eq!(
        chain.run_one(CHALLENGER, open).0,
        TxOutcome::Failed(TxError::Channel {
            problem: ChannelError::DeploymentNotActive { deployment }
        }),
        "a suspended deployment takes no new channel"
    );
    // A suspended gateway can still undeploy, and gets the rest back after the window.
    chain.ok(GATEWAY, Payload::Undeploy(Undeploy { deployment }));
    let gateway0 = balance(&chain, GATEWAY);
    chain.build_until(chain.state.height() + WINDOW + 1);
    assert_eq!(balance(&chain, GATEWAY), gateway0 + STAKE - slashed);
    supply_is_kept(&chain);
}

/// Most of the stake finds the gateway right (a missing blob counts with it): the bond is
/// shared 4:4:2 between the gateway, the majority's voters and the treasury.
#[test]
fn a_rejected_challenge_shares_the_bond() {
    let mut chain = chain();
    let deployment = deployed(&mut chain);
    let receipt = receipt(&chain, deployment, "input");
    let id = challenge(&mut chain, receipt);
    let challenger0 = balance(&chain, CHALLENGER);
    chain.ok(VOTER, vote(id, Verdict::GatewayRight, 1_000_000));
    chain.ok(VOTER + 1, vote(id, Verdict::BlobsMissing, 1_000_000));
    chain.ok(VOTER + 2, vote(id, Verdict::GatewayWrong, 1_500_000));
    let events = resolve(&mut chain, id);
    supply_is_kept(&chain);
    assert_eq!(
        chain.state.challenge(id).unwrap().status,
        ChallengeStatus::Rejected
    );
    // 4:4:2 of 1,000,001: 400,000 (+1), 400,000, 200,000; the voters' part 1:1.
    assert_eq!(
        paid(&chain, &events, Some(GATEWAY), ChallengeRole::Gateway),
        400_001
    );
    assert_eq!(
        paid(&chain, &events, Some(VOTER), ChallengeRole::Voter),
        200_000
    );
    assert_eq!(
        paid(&chain, &events, Some(VOTER + 1), ChallengeRole::Voter),
        200_000
    );
    assert_eq!(
        paid(&chain, &events, None, ChallengeRole::Treasury),
        200_000
    );
    assert_eq!(balance(&chain, CHALLENGER), challenger0, "the bond is lost");
    let d = chain.state.deployment(deployment).unwrap();
    assert_eq!((d.stake, d.status), (STAKE, DeploymentStatus::Active));
    assert!(!events.iter().any(|e| matches!(e, Event::Slashed { .. })));
}

/// One voter is fewer than `challenge_voters_min`, and an even split is no majority: either
/// way the bond goes back and nothing is slashed.
#[test]
fn too_few_voters_or_a_tie_leave_it_undecided() {
    for votes in [
        vec![(Verdict::GatewayWrong, 5_000_000)],
        vec![
            (Verdict::GatewayWrong, 2_000_000),
            (Verdict::GatewayRight, 2_000_000),
        ],
        vec![],
    ] {
        let mut chain = chain();
        let deployment = deployed(&mut chain);
        let receipt = receipt(&chain, deployment, "input");
        let id = challenge(&mut chain, receipt);
        let challenger0 = balance(&chain, CHALLENGER);
        for (i, (verdict, stake)) in votes.iter().enumerate() {
            chain.ok(VOTER + i, vote(id, *verdict, *stake));
        }
        let events = resolve(&mut chain, id);
        supply_is_kept(&chain);
        assert_eq!(
            chain.state.challenge(id).unwrap().status,
            ChallengeStatus::Undecided,
            "{votes:?}"
        );
        assert_eq!(balance(&chain, CHALLENGER), challenger0 + BOND);
        assert_eq!(chain.state.deployment(deployment).unwrap().stake, STAKE);
        assert!(!events.iter().any(|e| matches!(e, Event::Slashed { .. })));
    }
}

#[test]
fn challenge_refusals() {
    let mut chain = chain();
    let deployment = deployed(&mut chain);
    let good = receipt(&chain, deployment, "input");
    let min = chain.state.params().inference.challenge_bond_min;
    assert_eq!(
        refused(
            &mut chain,
            CHALLENGER,
            challenge_payload(good.clone(), min - 1)
        ),
        ChallengeError::BondTooLow { min }
    );

    let mut other_chain = good.receipt.clone();
    other_chain.chain_id = ChainId::new("elsewhere").unwrap();
    assert_eq!(
        refused(
            &mut chain,
            CHALLENGER,
            challenge_payload(other_chain.sign(&test_key(GATEWAY)), BOND)
        ),
        ChallengeError::WrongChain {
            got: "elsewhere".into()
        }
    );

    let mut other_model = good.receipt.clone();
    other_model.model_hash = Hash([7; 32]);
    let mut by_another = good.receipt.clone();
    by_another.input_hash = blob("another");
    for mismatched in [
        other_model.sign(&test_key(GATEWAY)),
        by_another.sign(&test_key(CHALLENGER)),
    ] {
        assert_eq!(
            refused(&mut chain, CHALLENGER, challenge_payload(mismatched, BOND)),
            ChallengeError::ReceiptMismatch { deployment }
        );
    }

    let mut unknown = good.receipt.clone();
    unknown.deployment = 99;
    assert_eq!(
        refused(
            &mut chain,
            CHALLENGER,
            challenge_payload(unknown.sign(&test_key(GATEWAY)), BOND)
        ),
        ChallengeError::DeploymentGone { deployment: 99 }
    );

    let mut future = good.receipt.clone();
    future.height = chain.state.height() + 5;
    assert!(matches!(
        refused(
            &mut chain,
            CHALLENGER,
            challenge_payload(future.sign(&test_key(GATEWAY)), BOND)
        ),
        ChallengeError::OutsideWindow { .. }
    ));

    // A forged signature keeps the transaction out of blocks altogether.
    let mut forged = good.clone();
    forged.receipt.amount += 1;
    let tx: SignedTransaction = chain.tx(CHALLENGER, challenge_payload(forged, BOND));
    assert!(tx.verify().is_err(), "a forged receipt is inadmissible");

    let id = challenge(&mut chain, good.clone());
    assert_eq!(
        refused(&mut chain, VOTER, challenge_payload(good.clone(), BOND)),
        ChallengeError::AlreadyChallenged { challenge: id },
        "anyone's second challenge of a receipt"
    );

    // Votes.
    let stake_min = chain.state.params().inference.challenge_vote_stake_min;
    assert_eq!(
        refused(
            &mut chain,
            VOTER,
            vote(id + 1, Verdict::GatewayWrong, stake_min)
        ),
        ChallengeError::UnknownChallenge { challenge: id + 1 }
    );
    for party in [CHALLENGER, GATEWAY] {
        assert_eq!(
            refused(
                &mut chain,
                party,
                vote(id, Verdict::GatewayWrong, stake_min)
            ),
            ChallengeError::PartyCannotVote { challenge: id }
        );
    }
    assert_eq!(
        refused(
            &mut chain,
            VOTER,
            vote(id, Verdict::GatewayWrong, stake_min - 1)
        ),
        ChallengeError::VoteStakeTooLow { min: stake_min }
    );
    chain.ok(VOTER, vote(id, Verdict::GatewayWrong, stake_min));
    assert_eq!(
        refused(
            &mut chain,
            VOTER,
            vote(id, Verdict::GatewayRight, stake_min)
        ),
        ChallengeError::AlreadyVoted { challenge: id }
    );
    let poor = KEYS - 1;
    let all = chain.state.account(&chain.address(poor)).unwrap().balance;
    assert!(matches!(
        chain.run_one(poor, vote(id, Verdict::GatewayWrong, all)).0,
        TxOutcome::Failed(TxError::InsufficientFunds { .. })
    ));

    // Fill the challenge to its last voter; one more is refused.
    let txs: Vec<SignedTransaction> = (1..CHALLENGE_VOTERS_MAX)
        .map(|i| chain.tx(VOTER + i, vote(id, Verdict::GatewayRight, stake_min)))
        .collect();
    let built = chain.build(txs);
    assert!(
        built
            .outcome
            .receipts
            .iter()
            .all(|r| r.outcome == TxOutcome::Success)
    );
    assert_eq!(
        usize::from(chain.state.challenge(id).unwrap().voters),
        CHALLENGE_VOTERS_MAX
    );
    assert_eq!(
        refused(&mut chain, poor, vote(id, Verdict::GatewayRight, stake_min)),
        ChallengeError::VotersFull {
            challenge: id,
            max: CHALLENGE_VOTERS_MAX
        }
    );

    let vote_until = chain.state.challenge(id).unwrap().vote_until;
    chain.build_until(vote_until + 1);
    assert_eq!(
        refused(&mut chain, poor, vote(id, Verdict::GatewayRight, stake_min)),
        ChallengeError::VotingClosed {
            challenge: id,
            vote_until
        }
    );

    // Past the window, a receipt is too old to challenge.
    let old = receipt(&chain, deployment, "old");
    chain.build_until(old.receipt.height + WINDOW + 1);
    assert_eq!(
        refused(&mut chain, CHALLENGER, challenge_payload(old, BOND)),
        ChallengeError::OutsideWindow {
            receipt_height: chain.state.height() - WINDOW - 2,
            last: chain.state.height() - 2,
        }
    );
    supply_is_kept(&chain);
}

/// An undeploying gateway's stake is held past its window while a challenge of it is open,
/// and a retired deployment's receipts can no longer be challenged.
#[test]
fn an_open_challenge_holds_an_undeploying_stake() {
    let mut chain = chain();
    let deployment = deployed(&mut chain);
    chain.ok(GATEWAY, Payload::Undeploy(Undeploy { deployment }));
    let DeploymentStatus::Undeploying { until } =
        chain.state.deployment(deployment).unwrap().status
    else {
        panic!("undeploying");
    };
    chain.build_until(until - 2);
    let late = receipt(&chain, deployment, "late");
    let id = challenge(&mut chain, late);
    chain.build_until(until + 1);
    assert!(
        matches!(
            chain.state.deployment(deployment).unwrap().status,
            DeploymentStatus::Undeploying { .. }
        ),
        "held while challenge {id} is open"
    );
    chain.ok(VOTER, vote(id, Verdict::GatewayWrong, 1_000_000));
    chain.ok(VOTER + 1, vote(id, Verdict::GatewayWrong, 1_000_000));
    let gateway0 = balance(&chain, GATEWAY);
    resolve(&mut chain, id);
    // Upheld: not suspended (it was already leaving), and the rest returns at the retry.
    chain.build_until(chain.state.height() + VOTE_BLOCKS + 1);
    let d = chain.state.deployment(deployment).unwrap();
    assert_eq!(d.status, DeploymentStatus::Retired);
    assert_eq!(balance(&chain, GATEWAY), gateway0 + STAKE - 50_000_000_001);
    let again = receipt(&chain, deployment, "after");
    assert_eq!(
        refused(&mut chain, CHALLENGER, challenge_payload(again, BOND)),
        ChallengeError::DeploymentGone { deployment }
    );
    supply_is_kept(&chain);
}

#[derive(Debug, Clone)]
enum Step {
    Vote(usize, Verdict, u64),
    Challenge(u64),
    Idle(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let verdict = prop_oneof![
        Just(Verdict::GatewayWrong),
        Just(Verdict::GatewayRight),
        Just(Verdict::BlobsMissing),
    ];
    prop_oneof![
        4 => (0usize..6, verdict, 1_000_000u64..50_000_000).prop_map(|(v, d, s)| Step::Vote(v, d, s)),
        1 => (1_000_000u64..9_000_000).prop_map(Step::Challenge),
        1 => (1u64..8).prop_map(Step::Idle),
    ]
}

/// Random challenges of one deployment and random votes on the latest: after every block the
/// supply is unchanged and a replica agrees; at the end, with everything resolved, every
/// resolved challenge paid out exactly its bond and what it slashed, and nothing is locked
/// but the deployment's stake.
fn play(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut chain = chain();
    let deployment = deployed(&mut chain);
    let mut replica: State = chain.state.clone();
    let supply = chain.state.total_supply();
    let mut events: Vec<Event> = Vec::new();
    let mut salt = 0;
    let mut latest: Option<ChallengeId> = None;
    let mut run =
        |chain: &mut TestChain, txs: Vec<SignedTransaction>| -> Result<(), TestCaseError> {
            let built = chain.build(txs);
            prop_assert!(built.rejected.is_empty());
            prop_assert_eq!(
                replica.apply_block(&built.block).unwrap(),
                built.outcome.clone()
            );
            prop_assert_eq!(chain.state.total_supply(), supply);
            events.extend(built.outcome.events.clone());
            for r in built.outcome.receipts {
                events.extend(r.events);
            }
            Ok(())
        };
    for step in steps {
        match step {
            Step::Challenge(bond) => {
                salt += 1;
                let receipt = receipt(&chain, deployment, &format!("input {salt}"));
                let tx = chain.tx(CHALLENGER, challenge_payload(receipt, bond));
                run(&mut chain, vec![tx])?;
                latest = Some(chain.state.id_counters().challenges);
            }
            Step::Vote(voter, verdict, stake) => {
                if let Some(id) = latest {
                    let tx = chain.tx(VOTER + voter, vote(id, verdict, stake));
                    run(&mut chain, vec![tx])?;
                }
            }
            Step::Idle(blocks) => {
                for _ in 0..blocks {
                    run(&mut chain, vec![])?;
                }
            }
        }
    }
    for _ in 0..=VOTE_BLOCKS {
        run(&mut chain, vec![])?;
    }
    let d = chain.state.deployment(deployment).unwrap();
    prop_assert_eq!(d.challenges_open, 0);
    let slashed: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::Slashed { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    prop_assert_eq!(d.stake, STAKE - slashed);
    let bonds: u64 = chain.state.challenges().map(|(_, c)| c.bond).sum();
    let staked: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::ChallengeVoted { stake, .. } => Some(*stake),
            _ => None,
        })
        .sum();
    let paid_out: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::ChallengePaid { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    prop_assert_eq!(
        paid_out,
        bonds + staked + slashed,
        "every locked unit paid once"
    );
    prop_assert!(
        chain
            .state
            .challenges()
            .all(|(_, c)| c.status != ChallengeStatus::Voting)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn challenges_conserve_tokens(steps in prop::collection::vec(step(), 1..30)) {
        play(steps)?;
    }
}

//! The ledger target: arbitrary bytes become a block's worth of signed transactions of every
//! payload kind (valid, inadmissible and failing alike) from a test chain that already holds
//! jobs in every stage (settled, recruiting, training, committing) and a deployment of the
//! settled job's model with an open payment channel; the block is built,
//! encoded, decoded and applied on a replica, then a few empty blocks run whatever deadlines
//! fall due. Nothing may panic, the replica must agree, and no token may appear or vanish.
//! Bytes that decode as a transaction are thrown in as well. Epochs are two blocks long, so
//! validator elections run too.

use std::sync::OnceLock;

use aifactory_ledger::testing::lifecycle::{
    Cast, blob, dataset_terms, job_terms, model_terms, report, salt,
};
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain, test_genesis, test_key};
use aifactory_types::lifecycle::{
    CancelJob, ChallengeReceipt, ClaimChannels, ClaimJob, CloseChannel, CloseRound, CommitScore,
    Contribution, Deploy, ExtendChannel, InferenceReceipt, JoinJob, Licence, OpenChannel,
    PhaseData, PostPhase, RetireDataset, RevealScore, SecureAggregation, TopUpChannel, Undeploy,
    UpdateDataset, Verdict, VoteChallenge, sign_voucher,
};
use aifactory_types::limits::DUE_DEADLINES_PER_BLOCK_MAX;
use aifactory_types::payload::{Stake, Unstake};
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Block, BoundedString, BoundedVec, Payload, SignedTransaction, VerifiedTransaction,
};

const ACCOUNTS: usize = 12;
const OP_BYTES: usize = 12;
const OPS_MAX: usize = 64;
/// How many payload kinds there are; every one is reachable from a fuzzed op.
const KINDS: u8 = 27;

/// Developer 1, sponsor 2, trainer 3, providers 4 to 6, validators 7 to 9.
fn cast() -> Cast {
    Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300), (6, 600)],
        validators: vec![(7, 800_000), (8, 810_000), (9, 900_000)],
    }
}

/// A chain with job 1 settled, its model deployed by key 10 with a channel open from key 11,
/// job 2 training with secure aggregation, job 3 committing and job 4 recruiting.
fn genesis_chain() -> &'static TestChain {
    static CHAIN: OnceLock<TestChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let keys: Vec<_> = (0..ACCOUNTS).map(test_key).collect();
        let mut genesis = test_genesis(&keys, 1_000_000_000_000);
        genesis.params.epoch_length_blocks = 2;
        genesis.params.validators_max = 2;
        genesis.params.inference.channel_expiry_blocks_min = 2;
        genesis.params.inference.channel_deposit_min = 1;
        genesis.params.inference.challenge_window_blocks = 3;
        genesis.params.inference.challenge_vote_blocks = 2;
        genesis.params.inference.challenge_bond_min = 1;
        genesis.params.inference.challenge_vote_stake_min = 1;
        genesis.params.inference.challenge_voters_min = 1;
        let mut chain = TestChain::from_genesis(keys, genesis);
        let cast = cast();
        let long = |mut terms: aifactory_types::lifecycle::JobTerms| {
            terms.deadlines.recruit_blocks = 1_000;
            terms.deadlines.phase_blocks = 1_000;
            terms.deadlines.commit_blocks = 1_000;
            terms
        };
        chain.run_job(&cast, job_terms(0, 3, 1_000_003));
        let trained = chain.state.id_counters().models;
        chain.build_ok(vec![
            chain.tx(10, deploy(trained, 2_000, 100_000_000_000, true)),
        ]);
        let expiry_height = chain.state.height() + 50;
        chain.build_ok(vec![chain.tx(
            11,
            Payload::OpenChannel(OpenChannel {
                deployment: 1,
                deposit: 1_000_000,
                expiry_height,
            }),
        )]);
        let mut secure = long(job_terms(0, 3, 2_000_000));
        secure.secure_aggregation = Some(SecureAggregation { threshold: 2 });
        chain.open_and_recruit(&cast, secure);
        let committing = chain.open_and_recruit(&cast, long(job_terms(0, 3, 3_000_000)));
        chain.run_round(&cast, committing.job);
        chain.run_round(&cast, committing.job);
        let model = chain.state.id_counters().models;
        chain.build_ok(vec![
            chain.tx(2, Payload::OpenJob(long(job_terms(model, 2, 1_000)))),
        ]);
        chain
    })
}

fn deploy(model: u64, gateway_bps: u16, stake: u64, good_url: bool) -> Payload {
    let url = if good_url { "http://gw" } else { "ftp://gw" };
    Payload::Deploy(Deploy {
        model,
        price_per_call: 10,
        gateway_bps,
        stake,
        url: BoundedString::new(url).expect("short"),
    })
}

fn op(chain: &TestChain, bytes: &[u8]) -> SignedTransaction {
    let sender = bytes[0] as usize % ACCOUNTS;
    let small = bytes[2];
    let amount = u64::from_le_bytes(bytes[3..11].try_into().expect("8 bytes"));
    let id = 1 + u64::from(small % 6);
    let to = chain.address(small as usize % ACCOUNTS);
    let job = chain.state.job(id);
    let round = job.map_or(u32::from(small), |j| j.rounds_started);
    let height = chain.state.height();
    let payload = match bytes[1] % KINDS {
        0 => TestChain::transfer_to(to, amount),
        1 => Payload::Stake(Stake { amount }),
        2 => Payload::Unstake(Unstake { amount }),
        3 => Payload::Withdraw,
        4 => Payload::JoinValidators,
        5 => Payload::LeaveValidators,
        6 => {
            let mut terms = dataset_terms("fuzzed", amount % 1_000);
            terms.stake = amount % 3_000_000_000;
            Payload::RegisterDataset(terms)
        }
        7 => Payload::UpdateDataset(UpdateDataset {
            dataset: id,
            licence: Licence::Text(blob("licence")),
            price: amount,
        }),
        8 => Payload::RetireDataset(RetireDataset { dataset: id }),
        9 => {
            let mut terms = model_terms();
            terms.royalty_bps = (amount % 12_000) as u16;
            terms.parent = (small & 1 == 1).then_some(id);
            Payload::RegisterModel(terms)
        }
        10 => {
            let mut terms = job_terms(id, 1 + u16::from(small % 4), amount % 4_000_000_000);
            terms.providers_min = 1 + (bytes[11] % 3) as u16;
            terms.split.trainer_bps = (amount % 4_000) as u16;
            terms.split.treasury_bps = 4_000 - terms.split.trainer_bps;
            terms.deadlines.phase_blocks = 1 + amount % 4;
            terms.deadlines.recruit_blocks = 1 + amount % 3;
            Payload::OpenJob(terms)
        }
        11 => Payload::CancelJob(CancelJob { job: id }),
        12 => Payload::ClaimJob(ClaimJob { job: id }),
        13 => Payload::JoinJob(JoinJob {
            job: id,
            dataset: u64::from(small % 7),
            terms_hash: job.map_or(blob("none"), |j| j.terms_hash),
        }),
        14 => Payload::PostPhase(PostPhase {
            job: id,
            round,
            phase: bytes[11] % 6,
            data: PhaseData::Blob(blob("post")),
        }),
        15 => {
            let contributions = chain
                .state
                .participants(id)
                .take(small as usize % 5)
                .map(|(provider, _)| Contribution {
                    provider,
                    samples: amount % 700,
                })
                .collect();
            Payload::CloseRound(CloseRound {
                job: id,
                round,
                aggregate: blob("aggregate"),
                model: blob("model"),
                contributions: BoundedVec::new(contributions).expect("at most 4"),
            })
        }
        16 => Payload::CommitScore(CommitScore {
            job: id,
            commitment: report(800_000 + u64::from(bytes[11])).commitment(
                id,
                &chain.address(sender),
                &salt(sender),
            ),
            stake: amount % 2_000_000,
        }),
        17 => Payload::RevealScore(RevealScore {
            job: id,
            salt: salt(sender),
            report: report(800_000 + u64::from(bytes[11])),
        }),
        18 => deploy(
            id,
            (amount % 6_000) as u16,
            amount % 200_000_000_000,
            bytes[11] & 32 == 0,
        ),
        19 => Payload::Undeploy(Undeploy { deployment: id % 3 }),
        20 => Payload::OpenChannel(OpenChannel {
            deployment: id % 3,
            deposit: amount % 10_000,
            expiry_height: height + u64::from(small),
        }),
        21 => Payload::TopUpChannel(TopUpChannel {
            channel: id % 4,
            amount: amount % 1_000,
        }),
        22 => Payload::ExtendChannel(ExtendChannel {
            channel: id % 4,
            expiry_height: height + u64::from(small),
        }),
        23 => {
            let chain_id = ChainId::new(TEST_CHAIN_ID).expect("short");
            let claims = (0..1 + small % 3)
                .map(|i| {
                    let consumer = test_key((usize::from(small) + usize::from(i)) % ACCOUNTS);
                    let channel = (id + u64::from(i)) % 4;
                    sign_voucher(&consumer, &chain_id, channel, amount % 5_000)
                })
                .collect();
            Payload::ClaimChannels(ClaimChannels {
                claims: BoundedVec::new(claims).expect("at most 3"),
            })
        }
        24 => Payload::CloseChannel(CloseChannel { channel: id % 4 }),
        25 => {
            let deployment = id % 3;
            let served = chain.state.deployment(deployment);
            let receipt = InferenceReceipt {
                chain_id: ChainId::new(TEST_CHAIN_ID).expect("short"),
                deployment,
                model: served.map_or(id, |d| d.model),
                model_hash: served.map_or(blob("none"), |d| d.model_hash),
                channel: 1,
                amount: amount % 1_000,
                input_hash: blob(&format!("input {amount}")),
                output_hash: blob("output"),
                height: height.saturating_sub(u64::from(small % 5)),
            };
            let gateway = if bytes[11] & 64 == 0 { 10 } else { sender };
            Payload::Challenge(ChallengeReceipt {
                receipt: receipt.sign(&test_key(gateway)),
                bond: amount % 3_000,
            })
        }
        _ => Payload::VoteChallenge(VoteChallenge {
            challenge: id % 4,
            verdict: match small % 3 {
                0 => Verdict::GatewayWrong,
                1 => Verdict::GatewayRight,
                _ => Verdict::BlobsMissing,
            },
            stake: amount % 5_000,
        }),
    };
    let mut tx = chain.unsigned(sender, payload);
    let flags = bytes[11];
    tx.nonce = tx.nonce.wrapping_add(u64::from(flags & 3)).wrapping_sub(1);
    if flags & 4 != 0 {
        tx.fee = amount % 3_000;
    }
    if flags & 8 != 0 {
        tx.expiry_height = 0;
    }
    if flags & 16 != 0 {
        tx.chain_id = ChainId::new("other").expect("short");
    }
    chain.sign(sender, tx)
}

/// Builds the next block from `candidates`, applies it on `replica`, and checks they agree,
/// the supply is kept, every finished job's escrow is empty, and the block ran at most
/// `DUE_DEADLINES_PER_BLOCK_MAX` deadlines, leaving none due unless it hit that cap.
fn step(
    chain: &mut TestChain,
    replica: &mut aifactory_ledger::State,
    candidates: Vec<VerifiedTransaction>,
) {
    let supply = chain.state.total_supply();
    let proposer = chain.address(0);
    let built = chain
        .state
        .build_block(proposer, chain.next_timestamp_ms(), candidates)
        .expect("time moves forward");
    assert_eq!(chain.state.total_supply(), supply, "tokens conserved");
    for (_, job) in chain.state.jobs() {
        if job.status.is_finished() {
            assert_eq!(job.escrow, 0, "a finished job holds nothing");
        }
    }

    let bytes = built.block.to_block().encode();
    let block = Block::decode(&bytes)
        .expect("a built block decodes")
        .verify()
        .expect("a built block verifies");
    let outcome = replica.apply_block(&block).expect("a built block applies");
    assert_eq!(outcome, built.outcome, "replicas agree");
    assert!(
        outcome.deadlines_run <= DUE_DEADLINES_PER_BLOCK_MAX,
        "a block's deadline work is bounded"
    );
    if outcome.deadlines_run < DUE_DEADLINES_PER_BLOCK_MAX {
        let height = block.header.height;
        assert!(
            replica
                .next_deadline_height()
                .is_none_or(|due| due > height),
            "a block under the cap leaves nothing due"
        );
    }
    if let Some(transition) = outcome.epoch_transition {
        assert!(!transition.validators.is_empty(), "the set is never empty");
        assert!(replica.validators().eq(transition.validators.into_iter()));
    }
}

/// Runs the ledger target on `data`.
pub fn ledger(data: &[u8]) {
    let mut chain = genesis_chain().clone();
    let mut replica = chain.state.clone();
    let mut candidates: Vec<VerifiedTransaction> = data
        .chunks_exact(OP_BYTES)
        .take(OPS_MAX)
        .filter_map(|bytes| op(&chain, bytes).verify().ok())
        .collect();
    if let Ok(tx) = SignedTransaction::decode(data) {
        candidates.extend(tx.verify().ok());
    }
    step(&mut chain, &mut replica, candidates);
    // Let some deadlines fall due: short jobs opened above end within a few blocks.
    let empty_blocks = data.first().map_or(0, |b| b % 8);
    for _ in 0..empty_blocks {
        step(&mut chain, &mut replica, Vec::new());
    }
}

//! Deployments and payment channels on the ledger alone: a settled model deployed and paid by
//! its settlement to the base unit, every refusal, expiry and undeploying, and property tests
//! that channels conserve tokens, never pay a voucher twice, and replicas agree.

use std::collections::BTreeMap;

use proptest::prelude::*;

use aifactory_ledger::State;
use aifactory_ledger::testing::lifecycle::{Cast, blob, job_terms, spdx};
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain, test_genesis, test_key};
use aifactory_types::lifecycle::{
    ChannelError, ChannelId, ClaimChannels, CloseChannel, Deploy, DeploymentError, DeploymentId,
    DeploymentStatus, ExtendChannel, JobStatus, ModelArtifact, ModelId, OpenChannel, RegisterModel,
    TopUpChannel, Undeploy, sign_voucher,
};
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Address, BoundedString, BoundedVec, Event, Payload, PayoutRole, SignedTransaction, TREASURY,
    TxError, TxOutcome,
};

const BALANCE: u64 = 1_000_000_000_000;
const STAKE: u64 = 100_000_000_000;
const GATEWAY: usize = 10;
const CONSUMER: usize = 11;
const OTHER: usize = 2;
/// Blocks an undeployed gateway's stake stays locked, in these tests.
const WINDOW: u64 = 20;
/// Soonest a channel may expire, in these tests.
const EXPIRY_MIN: u64 = 10;

fn chain() -> TestChain {
    let keys: Vec<_> = (0..12).map(test_key).collect();
    let mut genesis = test_genesis(&keys, BALANCE);
    genesis.params.inference.challenge_window_blocks = WINDOW;
    genesis.params.inference.channel_expiry_blocks_min = EXPIRY_MIN;
    genesis.params.inference.channel_deposit_min = 100;
    TestChain::from_genesis(keys, genesis)
}

/// Developer 1, sponsor 2, trainer 3, providers 4, 5, 6 (100, 300, 600 rows), validators 7,
/// 8, 9: the job of the lifecycle tests, settled at 0.81.
fn cast() -> Cast {
    Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300), (6, 600)],
        validators: vec![(7, 800_000), (8, 810_000), (9, 900_000)],
    }
}

/// Runs the job to settlement and returns the trained model and the base spec.
fn settled_model(chain: &mut TestChain) -> (ModelId, ModelId) {
    let scripted = chain.run_job(&cast(), job_terms(0, 3, 1_000_003));
    let JobStatus::Settled { model, .. } = chain.state.job(scripted.job).unwrap().status else {
        panic!("the job settles");
    };
    (model, scripted.model)
}

fn deploy_terms(model: ModelId, gateway_bps: u16) -> Payload {
    Payload::Deploy(Deploy {
        model,
        price_per_call: 10,
        gateway_bps,
        stake: STAKE,
        url: BoundedString::new("http://127.0.0.1:9000").unwrap(),
    })
}

fn deploy(chain: &mut TestChain, model: ModelId, gateway_bps: u16) -> DeploymentId {
    let events = chain.ok(GATEWAY, deploy_terms(model, gateway_bps));
    match events.iter().find(|e| matches!(e, Event::Deployed { .. })) {
        Some(Event::Deployed { deployment, .. }) => *deployment,
        _ => panic!("no Deployed event in {events:?}"),
    }
}

fn open(
    chain: &mut TestChain,
    consumer: usize,
    deployment: DeploymentId,
    deposit: u64,
) -> ChannelId {
    let expiry_height = chain.state.height() + 100;
    let events = chain.ok(
        consumer,
        Payload::OpenChannel(OpenChannel {
            deployment,
            deposit,
            expiry_height,
        }),
    );
    match events
        .iter()
        .find(|e| matches!(e, Event::ChannelOpened { .. }))
    {
        Some(Event::ChannelOpened { channel, .. }) => *channel,
        _ => panic!("no ChannelOpened event in {events:?}"),
    }
}

/// The settled model deployed by the gateway at 2,000 bps, and a channel of 1,000 from the
/// consumer: the starting point of most tests here.
fn with_channel() -> (TestChain, DeploymentId, ChannelId) {
    let mut chain = chain();
    let (model, _) = settled_model(&mut chain);
    let deployment = deploy(&mut chain, model, 2_000);
    let channel = open(&mut chain, CONSUMER, deployment, 1_000);
    (chain, deployment, channel)
}

/// A claim of each `(consumer key, channel, amount)` voucher, signed by the consumer.
fn claim(vouchers: &[(usize, ChannelId, u64)]) -> Payload {
    let chain_id = &ChainId::new(TEST_CHAIN_ID).unwrap();
    let claims = vouchers
        .iter()
        .map(|&(consumer, channel, amount)| {
            sign_voucher(&test_key(consumer), chain_id, channel, amount)
        })
        .collect();
    Payload::ClaimChannels(ClaimChannels {
        claims: BoundedVec::new(claims).unwrap(),
    })
}

fn balance(chain: &TestChain, index: usize) -> u64 {
    chain.state.account(&chain.address(index)).unwrap().balance
}

fn supply_is_kept(chain: &TestChain) {
    assert_eq!(
        chain.state.total_supply(),
        12 * BALANCE + chain.genesis.validators[0].stake
    );
}

fn channel_error(error: TxError) -> ChannelError {
    match error {
        TxError::Channel { problem } => problem,
        other => panic!("not a channel error: {other:?}"),
    }
}

fn deployment_error(error: TxError) -> DeploymentError {
    match error {
        TxError::Deployment { problem } => problem,
        other => panic!("not a deployment error: {other:?}"),
    }
}

/// The settlement is recorded, the royalty table follows it to the millionth, and a claim of
/// 1,000,003 units is paid to the base unit by hand-computed numbers.
#[test]
fn a_settled_model_is_deployed_and_each_claim_is_split_by_its_settlement() {
    let mut chain = chain();
    let (model, _) = settled_model(&mut chain);
    let job = chain
        .state
        .model(model)
        .unwrap()
        .trained_by
        .clone()
        .unwrap()
        .job;
    let settlement = chain.state.settlement(job).unwrap().clone();
    assert_eq!(
        settlement.pools,
        [300_001, 400_001, 100_001, 100_000, 100_000]
    );
    let provider = |key: usize| test_key(key).address();
    let by_provider: BTreeMap<Address, u64> = settlement.providers.iter().copied().collect();
    assert_eq!(
        by_provider,
        BTreeMap::from([
            (provider(4), 40_000),
            (provider(5), 120_000),
            (provider(6), 240_001)
        ])
    );

    let deployment = deploy(&mut chain, model, 2_000);
    let deployed = chain.state.deployment(deployment).unwrap().clone();
    assert!(deployed.validated);
    assert_eq!(deployed.status, DeploymentStatus::Active);
    let ModelArtifact::Trained { weights, .. } = chain.state.model(model).unwrap().artifact else {
        panic!("a trained model");
    };
    assert_eq!(deployed.model_hash, weights);
    // Gateway 20 %; of the rest, developer : providers : treasury = 10 : 40 : 10, the
    // providers' part by what each was paid at settlement.
    let table: BTreeMap<(Address, PayoutRole), u32> = deployed
        .royalties
        .iter()
        .map(|s| ((s.account, s.role), s.weight_ppm))
        .collect();
    let expected_table = BTreeMap::from([
        ((chain.address(GATEWAY), PayoutRole::Gateway), 200_000),
        ((chain.address(1), PayoutRole::Developer), 133_334),
        ((provider(4), PayoutRole::Provider), 53_333),
        ((provider(5), PayoutRole::Provider), 160_000),
        ((provider(6), PayoutRole::Provider), 320_000),
        ((TREASURY, PayoutRole::Treasury), 133_333),
    ]);
    assert_eq!(table, expected_table);
    supply_is_kept(&chain);

    let consumer_before = balance(&chain, CONSUMER);
    let channel = open(&mut chain, CONSUMER, deployment, 2_000_000);
    let treasury_before = chain.state.account(&TREASURY).map_or(0, |a| a.balance);
    let events = chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 1_000_003)]));
    let paid: BTreeMap<(Address, PayoutRole), u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::RoyaltyPaid {
                deployment: d,
                account,
                role,
                amount,
            } if *d == deployment => Some(((*account, *role), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        BTreeMap::from([
            ((chain.address(GATEWAY), PayoutRole::Gateway), 200_001),
            ((chain.address(1), PayoutRole::Developer), 133_334),
            ((provider(4), PayoutRole::Provider), 53_333),
            ((provider(5), PayoutRole::Provider), 160_001),
            ((provider(6), PayoutRole::Provider), 320_001),
            ((TREASURY, PayoutRole::Treasury), 133_333),
        ])
    );
    assert_eq!(
        chain.state.account(&TREASURY).unwrap().balance - treasury_before,
        133_333
    );
    assert!(events.contains(&Event::ChannelClaimed {
        channel,
        deployment,
        claimed: 1_000_003,
        paid: 1_000_003,
    }));
    assert_eq!(chain.state.channel(channel).unwrap().claimed, 1_000_003);
    assert_eq!(
        chain.state.deployment(deployment).unwrap().claimed_total,
        1_000_003
    );
    supply_is_kept(&chain);

    // The gateway closes the channel: the consumer gets back exactly what was not claimed.
    let events = chain.ok(GATEWAY, Payload::CloseChannel(CloseChannel { channel }));
    assert!(events.contains(&Event::ChannelClosed {
        channel,
        claimed: 1_000_003,
        refunded: 999_997,
    }));
    assert_eq!(
        consumer_before - balance(&chain, CONSUMER),
        1_000_003 + 1_000,
        "the claim and the fee to open"
    );
    assert!(chain.state.channel(channel).is_none());
    assert_eq!(
        chain
            .state
            .consumer_channels(&chain.address(CONSUMER))
            .count(),
        0
    );
    supply_is_kept(&chain);
}

/// Vouchers are cumulative: each claim pays the difference, a replayed or stale voucher and
/// one above the deposit are refused, a top-up makes room, and the last voucher is paid.
#[test]
fn vouchers_pay_the_difference_and_never_twice() {
    let (mut chain, deployment, channel) = with_channel();
    let gateway_before = balance(&chain, GATEWAY);
    let events = chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 300)]));
    assert!(events.contains(&Event::ChannelClaimed {
        channel,
        deployment,
        claimed: 300,
        paid: 300
    }));
    let events = chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 700)]));
    assert!(events.contains(&Event::ChannelClaimed {
        channel,
        deployment,
        claimed: 700,
        paid: 400
    }));
    // The gateway's 20 % of 300 and of 400, less two fees.
    assert_eq!(balance(&chain, GATEWAY) + 2_000 - gateway_before, 60 + 80);
    for (amount, expected) in [
        (
            700,
            ChannelError::NotAboveClaimed {
                channel,
                claimed: 700,
            },
        ),
        (
            500,
            ChannelError::NotAboveClaimed {
                channel,
                claimed: 700,
            },
        ),
        (
            1_001,
            ChannelError::AboveDeposit {
                channel,
                deposit: 1_000,
            },
        ),
    ] {
        let error = chain.fails(GATEWAY, claim(&[(CONSUMER, channel, amount)]));
        assert_eq!(channel_error(error), expected, "voucher for {amount}");
    }
    let events = chain.ok(
        CONSUMER,
        Payload::TopUpChannel(TopUpChannel {
            channel,
            amount: 500,
        }),
    );
    assert!(events.contains(&Event::ChannelToppedUp {
        channel,
        deposit: 1_500
    }));
    chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 1_500)]));
    assert_eq!(chain.state.channel(channel).unwrap().claimed, 1_500);
    supply_is_kept(&chain);
}

/// Every refusal of the channel actions, each leaving the state as it was but for the fee.
#[test]
fn channel_refusals() {
    let (mut chain, deployment, channel) = with_channel();
    let other = open(&mut chain, OTHER, deployment, 1_000);
    let height = chain.state.height();
    let min = chain.genesis.params.inference.channel_deposit_min;
    let open_with = |deployment, deposit, expiry_height| {
        Payload::OpenChannel(OpenChannel {
            deployment,
            deposit,
            expiry_height,
        })
    };
    let cases: Vec<(usize, Payload, TxError)> = vec![
        // First: it runs at the next height, which its range is reckoned from.
        (
            CONSUMER,
            open_with(deployment, min, height + 1),
            ChannelError::ExpiryOutOfRange {
                min: height + 1 + EXPIRY_MIN,
                max: height + 1 + aifactory_types::limits::CHANNEL_EXPIRY_BLOCKS_MAX,
            }
            .into(),
        ),
        (
            CONSUMER,
            open_with(99, min, height + 50),
            ChannelError::DeploymentNotActive { deployment: 99 }.into(),
        ),
        (
            CONSUMER,
            open_with(deployment, min - 1, height + 50),
            ChannelError::DepositTooLow { min }.into(),
        ),
        (
            CONSUMER,
            open_with(deployment, BALANCE * 2, height + 50),
            TxError::InsufficientFunds {
                needed: BALANCE * 2,
                available: 0,
            },
        ),
        (
            CONSUMER,
            Payload::TopUpChannel(TopUpChannel {
                channel: 99,
                amount: 1,
            }),
            ChannelError::UnknownChannel { channel: 99 }.into(),
        ),
        (
            CONSUMER,
            Payload::TopUpChannel(TopUpChannel {
                channel: other,
                amount: 1,
            }),
            ChannelError::NotConsumer { channel: other }.into(),
        ),
        (
            CONSUMER,
            Payload::TopUpChannel(TopUpChannel { channel, amount: 0 }),
            TxError::ZeroAmount,
        ),
        (
            CONSUMER,
            Payload::ExtendChannel(ExtendChannel {
                channel,
                expiry_height: height,
            }),
            ChannelError::ExpiryNotLater {
                channel,
                current: chain.state.channel(channel).unwrap().expiry_height,
            }
            .into(),
        ),
        (GATEWAY, claim(&[]), ChannelError::EmptyClaims.into()),
        (
            GATEWAY,
            claim(&[(CONSUMER, channel, 5), (CONSUMER, channel, 6)]),
            ChannelError::DuplicateClaim { channel }.into(),
        ),
        (
            OTHER,
            claim(&[(CONSUMER, channel, 5)]),
            ChannelError::NotChannelGateway { channel }.into(),
        ),
        (
            GATEWAY,
            // A voucher honestly signed by someone who does not own the channel.
            claim(&[(OTHER, channel, 5)]),
            ChannelError::ConsumerMismatch { channel }.into(),
        ),
        (
            GATEWAY,
            // One good claim and one bad: nothing is paid.
            claim(&[(OTHER, other, 5), (CONSUMER, channel, 1_001)]),
            ChannelError::AboveDeposit {
                channel,
                deposit: 1_000,
            }
            .into(),
        ),
        (
            CONSUMER,
            Payload::CloseChannel(CloseChannel { channel }),
            ChannelError::NotExpired {
                channel,
                expiry_height: chain.state.channel(channel).unwrap().expiry_height,
            }
            .into(),
        ),
        (
            OTHER,
            Payload::CloseChannel(CloseChannel { channel }),
            ChannelError::NotParty { channel }.into(),
        ),
    ];
    for (sender, payload, expected) in cases {
        let before = chain.state.clone();
        let error = chain.fails(sender, payload.clone());
        let mut expected = expected;
        if let TxError::InsufficientFunds { available, .. } = &mut expected {
            *available = balance(&chain, sender);
        }
        assert_eq!(error, expected, "{payload:?}");
        assert_eq!(chain.state.channel(channel), before.channel(channel));
        assert_eq!(chain.state.channel(other), before.channel(other));
        supply_is_kept(&chain);
    }
}

/// A channel nobody closes closes itself the block after it expires and refunds its consumer;
/// after expiry the gateway can no longer claim, and an extension before it moves the close.
#[test]
fn an_expired_channel_closes_itself_and_refunds() {
    let (mut chain, _, channel) = with_channel();
    let expiry = chain.state.channel(channel).unwrap().expiry_height;
    chain.ok(
        CONSUMER,
        Payload::ExtendChannel(ExtendChannel {
            channel,
            expiry_height: expiry + 5,
        }),
    );
    chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 250)]));
    chain.build_until(expiry + 5);
    assert!(
        chain.state.channel(channel).is_some(),
        "open through its expiry height"
    );
    let before = balance(&chain, CONSUMER);
    let built = chain.build(vec![chain.tx(GATEWAY, claim(&[(CONSUMER, channel, 400)]))]);
    assert!(built.outcome.events.contains(&Event::ChannelClosed {
        channel,
        claimed: 250,
        refunded: 750,
    }));
    assert_eq!(
        built.outcome.receipts[0].outcome,
        TxOutcome::Failed(ChannelError::UnknownChannel { channel }.into()),
        "closed before the block's transactions"
    );
    assert_eq!(balance(&chain, CONSUMER), before + 750);
    assert_eq!(chain.state.deadline_count(), 0);
    supply_is_kept(&chain);
}

/// Every refusal of `Deploy` and `Undeploy`, then an undeploy that keeps paying claims until
/// the window ends, returns the stake, and frees the gateway to deploy the model again.
#[test]
fn deploy_refusals_and_undeploying() {
    let mut chain = chain();
    let (model, spec) = settled_model(&mut chain);
    let with = |change: fn(&mut Deploy)| {
        let Payload::Deploy(mut deploy) = deploy_terms(model, 2_000) else {
            unreachable!()
        };
        change(&mut deploy);
        Payload::Deploy(deploy)
    };
    let cases: Vec<(Payload, TxError)> = vec![
        (deploy_terms(99, 0), TxError::UnknownModel { model: 99 }),
        (
            deploy_terms(spec, 0),
            DeploymentError::ModelNotServable { model: spec }.into(),
        ),
        (
            with(|d| d.stake = STAKE - 1),
            DeploymentError::StakeTooLow {
                min: STAKE,
                offered: STAKE - 1,
            }
            .into(),
        ),
        (
            with(|d| d.price_per_call = 0),
            DeploymentError::ZeroPrice.into(),
        ),
        (
            with(|d| d.gateway_bps = 5_001),
            DeploymentError::GatewayShareTooHigh {
                got: 5_001,
                max_bps: 5_000,
            }
            .into(),
        ),
        (
            with(|d| d.url = BoundedString::new("ftp://x").unwrap()),
            DeploymentError::UrlInvalid.into(),
        ),
    ];
    for (payload, expected) in cases {
        assert_eq!(
            chain.fails(GATEWAY, payload.clone()),
            expected,
            "{payload:?}"
        );
    }
    let deployment = deploy(&mut chain, model, 2_000);
    assert_eq!(
        deployment_error(chain.fails(GATEWAY, deploy_terms(model, 0))),
        DeploymentError::AlreadyDeployed { deployment }
    );
    assert_eq!(
        chain.state.model_deployments(model).collect::<Vec<_>>(),
        [(chain.address(GATEWAY), deployment)]
    );
    let channel = open(&mut chain, CONSUMER, deployment, 1_000);
    for (sender, id, expected) in [
        (
            GATEWAY,
            99,
            DeploymentError::UnknownDeployment { deployment: 99 },
        ),
        (
            OTHER,
            deployment,
            DeploymentError::NotGateway { deployment },
        ),
    ] {
        let error = chain.fails(sender, Payload::Undeploy(Undeploy { deployment: id }));
        assert_eq!(deployment_error(error), expected);
    }
    let stake_before = balance(&chain, GATEWAY);
    let events = chain.ok(GATEWAY, Payload::Undeploy(Undeploy { deployment }));
    let until = chain.state.height() + WINDOW;
    assert!(events.contains(&Event::Undeploying { deployment, until }));
    assert_eq!(
        deployment_error(chain.fails(GATEWAY, Payload::Undeploy(Undeploy { deployment }))),
        DeploymentError::NotActive {
            deployment,
            status: DeploymentStatus::Undeploying { until }
        }
    );
    // No new channels or deposits; vouchers already signed are still paid.
    let height = chain.state.height();
    assert_eq!(
        channel_error(chain.fails(
            OTHER,
            Payload::OpenChannel(OpenChannel {
                deployment,
                deposit: 1_000,
                expiry_height: height + 50,
            })
        )),
        ChannelError::DeploymentNotActive { deployment }
    );
    assert_eq!(
        channel_error(chain.fails(
            CONSUMER,
            Payload::TopUpChannel(TopUpChannel { channel, amount: 1 })
        )),
        ChannelError::DeploymentNotActive { deployment }
    );
    chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 100)]));
    chain.build_until(until - 1);
    assert_eq!(chain.state.deployment(deployment).unwrap().stake, STAKE);
    let built = chain.build(vec![]);
    assert!(built.outcome.events.contains(&Event::Undeployed {
        deployment,
        stake_returned: STAKE,
    }));
    let retired = chain.state.deployment(deployment).unwrap();
    assert_eq!(
        (retired.status, retired.stake),
        (DeploymentStatus::Retired, 0)
    );
    // Three fees (undeploy, the refused undeploy, the claim) and 20 % of the claim.
    assert_eq!(
        balance(&chain, GATEWAY),
        stake_before + STAKE - 3 * 1_000 + 20
    );
    assert_eq!(
        channel_error(chain.fails(GATEWAY, claim(&[(CONSUMER, channel, 200)]))),
        ChannelError::DeploymentRetired { deployment }
    );
    assert_eq!(chain.state.model_deployments(model).count(), 0);
    let again = deploy(&mut chain, model, 0);
    assert_ne!(again, deployment);
    supply_is_kept(&chain);
}

/// A model registered directly (an imported ONNX file) pays its developer and the treasury
/// by `direct_treasury_bps`, and the developer's royalty is a floor no gateway can dilute.
#[test]
fn a_directly_registered_model_pays_developer_and_treasury() {
    let mut chain = chain();
    let register = Payload::RegisterModel(RegisterModel {
        artifact: ModelArtifact::Onnx(blob("model.onnx")),
        royalty_bps: 6_000,
        licence: spdx("MIT"),
        parent: None,
    });
    chain.ok(1, register);
    let model = chain.state.id_counters().models;
    // The developer keeps 90 % of what the gateway leaves: at most 3,333 bps keeps 60 %.
    assert_eq!(
        deployment_error(chain.fails(GATEWAY, deploy_terms(model, 3_334))),
        DeploymentError::GatewayShareTooHigh {
            got: 3_334,
            max_bps: 3_333
        }
    );
    let deployment = deploy(&mut chain, model, 3_333);
    let deployed = chain.state.deployment(deployment).unwrap();
    assert!(!deployed.validated);
    let table: Vec<(PayoutRole, u32)> = deployed
        .royalties
        .iter()
        .map(|s| (s.role, s.weight_ppm))
        .collect();
    assert_eq!(
        table,
        [
            (PayoutRole::Gateway, 333_300),
            (PayoutRole::Developer, 600_030),
            (PayoutRole::Treasury, 66_670),
        ]
    );
}

/// A snapshot taken with a deployment, an open claimed channel and an undeploy pending reads
/// back to the same root, and the restored state goes on to close and retire exactly as the
/// original does.
#[test]
fn a_snapshot_keeps_deployments_channels_and_their_deadlines() {
    let (mut chain, deployment, channel) = with_channel();
    chain.ok(GATEWAY, claim(&[(CONSUMER, channel, 400)]));
    chain.ok(GATEWAY, Payload::Undeploy(Undeploy { deployment }));
    let mut bytes = Vec::new();
    chain.state.write_snapshot(&mut bytes).unwrap();
    let mut restored = State::read_snapshot_to_end(
        &mut bytes.as_slice(),
        &aifactory_ledger::SnapshotLimits::default(),
    )
    .unwrap();
    assert_eq!(restored.root(), chain.state.root());
    assert_eq!(restored.channel(channel), chain.state.channel(channel));
    let model = chain.state.deployment(deployment).unwrap().model;
    let settlement = chain
        .state
        .model(model)
        .unwrap()
        .trained_by
        .clone()
        .unwrap()
        .job;
    assert_eq!(
        restored.settlement(settlement),
        chain.state.settlement(settlement)
    );
    let until = chain.state.channel(channel).unwrap().expiry_height + 1;
    while chain.state.height() < until {
        let built = chain.build(vec![]);
        assert_eq!(restored.apply_block(&built.block).unwrap(), built.outcome);
    }
    assert_eq!(restored.root(), chain.state.root());
    assert!(restored.channel(channel).is_none());
    assert_eq!(
        restored.deployment(deployment).unwrap().status,
        DeploymentStatus::Retired
    );
}

/// One action of the property test.
#[derive(Debug, Clone)]
enum Action {
    /// The gateway claims vouchers: (consumer 0 or 1, amount).
    Claim(Vec<(usize, u64)>),
    /// A consumer tops up.
    TopUp(usize, u64),
    /// A consumer extends by some blocks.
    Extend(usize, u64),
    /// The gateway closes a consumer's channel.
    GatewayCloses(usize),
    /// A consumer tries to close.
    ConsumerCloses(usize),
    /// Empty blocks pass.
    Idle(u64),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => prop::collection::vec((0usize..2, 0u64..3_000), 1..4).prop_map(Action::Claim),
        1 => (0usize..2, 0u64..1_000).prop_map(|(c, a)| Action::TopUp(c, a)),
        1 => (0usize..2, 0u64..40).prop_map(|(c, b)| Action::Extend(c, b)),
        1 => (0usize..2).prop_map(Action::GatewayCloses),
        1 => (0usize..2).prop_map(Action::ConsumerCloses),
        1 => (1u64..40).prop_map(Action::Idle),
    ]
}

/// Channels of two consumers under random claims (above the deposit, equal to or below what
/// was claimed, or fine), top-ups, extensions, closes and expiry: after every block the supply
/// is unchanged and `claimed ≤ deposit`; at the end every channel paid in all exactly its last
/// claimed voucher and refunded the rest; a replica agrees on every root and outcome.
fn play(actions: Vec<Action>) -> Result<u64, TestCaseError> {
    let mut chain = chain();
    let (model, _) = settled_model(&mut chain);
    let deployment = deploy(&mut chain, model, 2_000);
    let consumers = [CONSUMER, OTHER];
    let channels = [
        open(&mut chain, CONSUMER, deployment, 2_000),
        open(&mut chain, OTHER, deployment, 2_000),
    ];
    let mut deposited: BTreeMap<ChannelId, u64> = channels.iter().map(|&c| (c, 2_000)).collect();
    let mut replica: State = chain.state.clone();
    let supply = chain.state.total_supply();
    let mut events: Vec<Event> = Vec::new();
    let mut build =
        |chain: &mut TestChain, txs: Vec<SignedTransaction>| -> Result<(), TestCaseError> {
            let built = chain.build(txs);
            prop_assert!(built.rejected.is_empty());
            let outcome = replica
                .apply_block(&built.block)
                .expect("a built block applies");
            prop_assert_eq!(&outcome, &built.outcome);
            prop_assert_eq!(chain.state.total_supply(), supply);
            prop_assert_eq!(replica.root(), chain.state.root());
            for &channel in &channels {
                if let Some(c) = chain.state.channel(channel) {
                    prop_assert!(c.claimed <= c.deposit);
                }
            }
            events.extend(outcome.events);
            for receipt in outcome.receipts {
                events.extend(receipt.events);
            }
            Ok(())
        };
    for action in actions {
        let height = chain.state.height();
        let txs = match action {
            Action::Claim(vouchers) => {
                let mut seen = std::collections::BTreeSet::new();
                let vouchers: Vec<(usize, ChannelId, u64)> = vouchers
                    .into_iter()
                    .filter(|&(c, _)| seen.insert(c))
                    .map(|(c, amount)| (consumers[c], channels[c], amount))
                    .collect();
                vec![chain.tx(GATEWAY, claim(&vouchers))]
            }
            Action::TopUp(c, amount) => {
                if chain
                    .state
                    .channel(channels[c])
                    .is_some_and(|ch| height < ch.expiry_height)
                    && amount > 0
                {
                    *deposited.get_mut(&channels[c]).unwrap() += amount;
                }
                vec![chain.tx(
                    consumers[c],
                    Payload::TopUpChannel(TopUpChannel {
                        channel: channels[c],
                        amount,
                    }),
                )]
            }
            Action::Extend(c, blocks) => {
                let expiry_height = chain
                    .state
                    .channel(channels[c])
                    .map_or(0, |ch| ch.expiry_height)
                    + blocks;
                vec![chain.tx(
                    consumers[c],
                    Payload::ExtendChannel(ExtendChannel {
                        channel: channels[c],
                        expiry_height,
                    }),
                )]
            }
            Action::GatewayCloses(c) => {
                vec![chain.tx(
                    GATEWAY,
                    Payload::CloseChannel(CloseChannel {
                        channel: channels[c],
                    }),
                )]
            }
            Action::ConsumerCloses(c) => {
                vec![chain.tx(
                    consumers[c],
                    Payload::CloseChannel(CloseChannel {
                        channel: channels[c],
                    }),
                )]
            }
            Action::Idle(blocks) => {
                for _ in 0..blocks {
                    build(&mut chain, vec![])?;
                }
                continue;
            }
        };
        build(&mut chain, txs)?;
    }
    // Let every channel expire.
    let last = channels
        .iter()
        .filter_map(|&c| chain.state.channel(c).map(|ch| ch.expiry_height))
        .max()
        .unwrap_or(0);
    while chain.state.height() <= last {
        build(&mut chain, vec![])?;
    }
    for &channel in &channels {
        prop_assert!(chain.state.channel(channel).is_none());
        let paid: u64 = events
            .iter()
            .filter_map(|e| match e {
                Event::ChannelClaimed {
                    channel: c, paid, ..
                } if *c == channel => Some(*paid),
                _ => None,
            })
            .sum();
        let closed = events.iter().find_map(|e| match e {
            Event::ChannelClosed {
                channel: c,
                claimed,
                refunded,
            } if *c == channel => Some((*claimed, *refunded)),
            _ => None,
        });
        let (claimed, refunded) = closed.expect("every channel closed once");
        prop_assert_eq!(paid, claimed, "no voucher paid twice");
        prop_assert_eq!(claimed + refunded, deposited[&channel]);
    }
    let royalties: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::RoyaltyPaid { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    let claimed: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelClaimed { paid, .. } => Some(*paid),
            _ => None,
        })
        .sum();
    prop_assert_eq!(
        royalties,
        claimed,
        "every claimed unit paid to exactly one account"
    );
    Ok(claimed)
}

/// The actions reach the paths that pay: a fixed play claims, tops up and closes.
#[test]
fn the_actions_can_pay() {
    let claimed = play(vec![
        Action::Claim(vec![(0, 500), (1, 700)]),
        Action::TopUp(0, 300),
        Action::Claim(vec![(0, 2_300)]),
        Action::GatewayCloses(1),
    ])
    .unwrap();
    assert_eq!(claimed, 2_300 + 700);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn channels_conserve_tokens_and_never_pay_a_voucher_twice(
        actions in prop::collection::vec(action(), 1..25),
    ) {
        play(actions)?;
    }
}

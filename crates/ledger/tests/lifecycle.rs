//! The factory's lifecycle on the ledger alone: a scripted job with payouts checked against
//! hand-computed numbers, every failure path, and the refusals of every kind.

use aifactory_ledger::testing::TestChain;
use aifactory_ledger::testing::lifecycle::{
    Cast, blob, dataset_terms, job_terms, model_terms, report, salt,
};
use aifactory_types::lifecycle::{
    Aggregation, CancelJob, ClaimJob, CloseRound, CommitScore, Contribution, JobFailure, JobStage,
    JobStatus, JobTerms, JobTermsError, JoinJob, Licence, ModelArtifact, PhaseData, PostPhase,
    RegisterModel, RetireDataset, RevealScore, RoundStage, SecureAggregation, UpdateDataset,
};
use aifactory_types::limits::DUE_DEADLINES_PER_BLOCK_MAX;
use aifactory_types::{
    Address, BoundedString, BoundedVec, Event, Payload, PayoutRole, SlashReason, TREASURY, TxError,
    TxOutcome,
};

const BALANCE: u64 = 1_000_000_000_000;
const FEE: u64 = 1_000;

fn chain() -> TestChain {
    TestChain::new(12, BALANCE)
}

/// Developer 1, sponsor 2, trainer 3, providers 4, 5, 6 (100, 300, 600 rows), validators 7,
/// 8, 9 reporting 0.80, 0.81 and 0.90.
fn cast() -> Cast {
    Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300), (6, 600)],
        validators: vec![(7, 800_000), (8, 810_000), (9, 900_000)],
    }
}

fn balance(chain: &TestChain, index: usize) -> u64 {
    chain.state.account(&chain.address(index)).unwrap().balance
}

fn spent_on_fees(chain: &TestChain, index: usize) -> u64 {
    chain.nonce(index) * FEE
}

fn supply_is_kept(chain: &TestChain) {
    assert_eq!(
        chain.state.total_supply(),
        12 * BALANCE + chain.genesis.validators[0].stake
    );
}

#[test]
fn a_whole_job_pays_everyone_by_hand_computed_numbers() {
    let mut chain = chain();
    let cast = cast();
    // An odd budget, so rounding has work to do.
    let scripted = chain.run_job(&cast, job_terms(0, 3, 1_000_003));
    let job = chain.state.job(scripted.job).unwrap().clone();
    // Accepted score: the stake-weighted median of 0.80, 0.81, 0.90 with equal stakes.
    let trained = 2;
    assert_eq!(
        job.status,
        JobStatus::Settled {
            score: 810_000,
            model: trained
        }
    );
    assert_eq!(job.escrow, 0);

    // Pools of 1,000,003 by 30/40/10/10/10 %: floors 300000, 400001, 100000 ×3 leave 2 units,
    // to the largest remainders: the trainer's (0.9) and the developer's (0.3, first of three).
    // Providers' 400,001 by samples 200/600/1200: 40000.1, 120000.3, 240000.6 → the last gets
    // the unit. Validators' 100,000: 7 and 8 are within 0.02 of 0.81, 9 is not.
    let paid = |i: usize| {
        chain
            .state
            .participant(scripted.job, &chain.address(i))
            .unwrap()
            .paid
    };
    assert_eq!(paid(3), 300_001);
    assert_eq!([paid(4), paid(5), paid(6)], [40_000, 120_000, 240_001]);
    assert_eq!([paid(7), paid(8), paid(9)], [50_000, 50_000, 0]);
    assert_eq!(chain.state.account(&TREASURY).unwrap().balance, 100_000);
    assert_eq!(
        balance(&chain, 1),
        BALANCE + 100_001 - spent_on_fees(&chain, 1)
    );
    assert_eq!(
        balance(&chain, 2),
        BALANCE - 1_000_003 - spent_on_fees(&chain, 2)
    );
    assert_eq!(
        balance(&chain, 3),
        BALANCE + 300_001 - spent_on_fees(&chain, 3)
    );
    assert_eq!(
        balance(&chain, 9),
        BALANCE - spent_on_fees(&chain, 9),
        "stake returned"
    );
    let scores: Vec<bool> = chain
        .state
        .scores(scripted.job)
        .map(|(_, s)| s.within_tolerance)
        .collect();
    assert_eq!(scores.iter().filter(|&&w| w).count(), 2);

    // The trained model is registered with its lineage; datasets are free to retire.
    let model = chain.state.model(trained).unwrap();
    assert_eq!(model.parent, Some(scripted.model));
    assert_eq!(model.trained_by.as_ref().unwrap().job, scripted.job);
    assert!(matches!(
        model.artifact,
        ModelArtifact::Trained { weights, .. } if weights == job.global_model
    ));
    for &dataset in &scripted.datasets {
        assert_eq!(chain.state.dataset(dataset).unwrap().active_jobs, 0);
    }
    chain.build_ok(vec![chain.tx(
        4,
        Payload::RetireDataset(RetireDataset {
            dataset: scripted.datasets[0],
        }),
    )]);
    assert_eq!(
        balance(&chain, 4),
        BALANCE + 40_000 - spent_on_fees(&chain, 4)
    );
    // The retirement's block pruned the job's phase messages; its rounds stay.
    assert_eq!(chain.state.phase_posts(scripted.job, 1, 0).count(), 0);
    assert_eq!(chain.state.rounds(scripted.job).count(), 2);
    supply_is_kept(&chain);
}

#[test]
fn a_finished_jobs_phase_messages_are_pruned_a_bounded_batch_per_block() {
    use aifactory_types::limits::PRUNED_POSTS_PER_DEADLINE_MAX;
    let mut chain = TestChain::new(30, BALANCE);
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: (4..24).map(|p| (p, 100)).collect(),
        validators: vec![(24, 800_000), (25, 800_000)],
    };
    let mut terms = job_terms(0, 20, 1_000_000);
    terms.secure_aggregation = Some(SecureAggregation { threshold: 2 });
    terms.rounds = 3;
    terms.validators_max = 2;
    let scripted = chain.run_job(&cast, terms);
    let job = scripted.job;
    let posts = |chain: &TestChain| -> usize {
        (1..=3)
            .flat_map(|round| (0..5).map(move |phase| (round, phase)))
            .map(|(round, phase)| chain.state.phase_posts(job, round, phase).count())
            .sum()
    };
    assert!(matches!(
        chain.state.job(job).unwrap().status,
        JobStatus::Settled { .. }
    ));
    assert_eq!(posts(&chain), 3 * 5 * 20);
    chain.build(vec![]);
    assert_eq!(posts(&chain), 300 - PRUNED_POSTS_PER_DEADLINE_MAX);
    chain.build(vec![]);
    assert_eq!(posts(&chain), 0);
    chain.build(vec![]);
    assert_eq!(chain.state.deadline_count(), 0);
}

#[test]
fn every_entry_of_a_job_proves_against_the_root() {
    use aifactory_ledger::{
        DatasetsTable, JobsTable, ModelsTable, ParticipantsTable, RoundsTable, ScoresTable,
        TableDef,
    };
    let mut chain = chain();
    let scripted = chain.run_job(&cast(), job_terms(0, 3, 1_000_000));
    let state = &chain.state;
    let root = state.root();
    let job = state.proof::<JobsTable>(&scripted.job).unwrap();
    assert!(JobsTable::verify(&job, &root));
    assert!(ModelsTable::verify(
        &state.proof::<ModelsTable>(&2).unwrap(),
        &root
    ));
    let dataset = state.proof::<DatasetsTable>(&scripted.datasets[1]).unwrap();
    assert!(DatasetsTable::verify(&dataset, &root));
    let round = state.proof::<RoundsTable>(&(scripted.job, 2)).unwrap();
    assert!(RoundsTable::verify(&round, &root));
    let key = (scripted.job, chain.address(7));
    assert!(ScoresTable::verify(
        &state.proof::<ScoresTable>(&key).unwrap(),
        &root
    ));
    let mut participant = state.proof::<ParticipantsTable>(&key).unwrap();
    assert!(ParticipantsTable::verify(&participant, &root));
    participant.value.paid += 1;
    assert!(
        !ParticipantsTable::verify(&participant, &root),
        "a forged payout"
    );
}

/// Two chains running the same job from the same genesis end with the same root: nothing in
/// the lifecycle depends on anything but the blocks (every block is also replayed on a
/// replica in `lifecycle_properties`).
#[test]
fn two_chains_running_the_same_job_agree() {
    let mut one = chain();
    let mut two = chain();
    one.run_job(&cast(), job_terms(0, 3, 1_000_000));
    two.run_job(&cast(), job_terms(0, 3, 1_000_000));
    assert_eq!(one.state.root(), two.state.root());
    assert_eq!(one.state.height(), two.state.height());
}

#[test]
fn registries_refuse_bad_entries() {
    let mut chain = chain();
    let mut empty = dataset_terms("d", 0);
    assert_eq!(
        chain.fails(4, Payload::RegisterDataset(empty.clone())),
        TxError::EmptyDataset
    );
    empty.rows = 5;
    empty.stake = 1;
    assert!(matches!(
        chain.fails(4, Payload::RegisterDataset(empty.clone())),
        TxError::DatasetStakeTooLow { .. }
    ));
    empty.stake = 2 * BALANCE;
    assert!(matches!(
        chain.fails(4, Payload::RegisterDataset(empty.clone())),
        TxError::InsufficientFunds { .. }
    ));
    empty.stake = 1_000_000_000;
    empty.licence = Licence::Spdx(BoundedString::new(" ").unwrap());
    assert_eq!(
        chain.fails(4, Payload::RegisterDataset(empty)),
        TxError::EmptyLicence
    );

    chain.build_ok(vec![
        chain.tx(4, Payload::RegisterDataset(dataset_terms("d", 5))),
    ]);
    let update = UpdateDataset {
        dataset: 1,
        licence: Licence::Text(blob("terms")),
        price: 9,
    };
    assert_eq!(
        chain.fails(5, Payload::UpdateDataset(update.clone())),
        TxError::NotDatasetProvider { dataset: 1 }
    );
    assert_eq!(
        chain.fails(
            4,
            Payload::UpdateDataset(UpdateDataset {
                dataset: 9,
                ..update.clone()
            })
        ),
        TxError::UnknownDataset { dataset: 9 }
    );
    chain.build_ok(vec![chain.tx(4, Payload::UpdateDataset(update))]);
    assert_eq!(chain.state.dataset(1).unwrap().price, 9);
    chain.build_ok(vec![
        chain.tx(4, Payload::RetireDataset(RetireDataset { dataset: 1 })),
    ]);
    assert_eq!(
        chain.fails(4, Payload::RetireDataset(RetireDataset { dataset: 1 })),
        TxError::DatasetRetired { dataset: 1 }
    );

    let mut model = model_terms();
    model.royalty_bps = 10_001;
    assert_eq!(
        chain.fails(1, Payload::RegisterModel(model.clone())),
        TxError::RoyaltyTooHigh {
            royalty_bps: 10_001
        }
    );
    model.royalty_bps = 100;
    model.parent = Some(3);
    assert_eq!(
        chain.fails(1, Payload::RegisterModel(model)),
        TxError::UnknownModel { model: 3 }
    );
    supply_is_kept(&chain);
}

fn open_error(chain: &mut TestChain, terms: JobTerms) -> TxError {
    chain.fails(2, Payload::OpenJob(terms))
}

fn terms_problem(chain: &mut TestChain, terms: JobTerms) -> JobTermsError {
    match open_error(chain, terms) {
        TxError::InvalidJobTerms { problem } => problem,
        other => panic!("not a terms problem: {other:?}"),
    }
}

#[test]
fn open_job_refuses_terms_that_break_a_rule() {
    let mut chain = chain();
    chain.build_ok(vec![chain.tx(1, Payload::RegisterModel(model_terms()))]);
    let good = job_terms(1, 3, 1_000_000);

    let mut t = good.clone();
    t.split.treasury_bps += 1;
    assert_eq!(
        terms_problem(&mut chain, t),
        JobTermsError::SplitNotWhole { total: 10_001 }
    );
    let mut t = good.clone();
    t.split.developer_bps = 100;
    t.split.trainer_bps += 900;
    assert_eq!(
        terms_problem(&mut chain, t),
        JobTermsError::DeveloperBelowRoyalty {
            royalty_bps: 500,
            developer_bps: 100
        }
    );
    let mut t = good.clone();
    t.providers_min = 4;
    assert!(matches!(
        terms_problem(&mut chain, t),
        JobTermsError::ProvidersRange { .. }
    ));
    let mut t = good.clone();
    t.validators_max = 33;
    assert!(matches!(
        terms_problem(&mut chain, t),
        JobTermsError::ValidatorsRange { .. }
    ));
    let mut t = good.clone();
    t.rounds = 0;
    assert!(matches!(
        terms_problem(&mut chain, t),
        JobTermsError::Rounds { .. }
    ));
    let mut t = good.clone();
    t.secure_aggregation = Some(SecureAggregation { threshold: 2 });
    t.aggregation = Aggregation::Median;
    assert_eq!(
        terms_problem(&mut chain, t),
        JobTermsError::SecureAggregationRule
    );
    let mut t = good.clone();
    t.secure_aggregation = Some(SecureAggregation { threshold: 4 });
    assert!(matches!(
        terms_problem(&mut chain, t),
        JobTermsError::Threshold { .. }
    ));
    let mut t = good.clone();
    t.aggregation = Aggregation::Krum { byzantine: 1 };
    assert_eq!(
        terms_problem(&mut chain, t),
        JobTermsError::AggregationParameter
    );
    let mut t = good.clone();
    t.deadlines.phase_blocks = 0;
    assert!(matches!(
        terms_problem(&mut chain, t),
        JobTermsError::Deadline { .. }
    ));
    let mut t = good.clone();
    t.datasets = BoundedVec::new(vec![1, 1]).unwrap();
    assert_eq!(
        terms_problem(&mut chain, t),
        JobTermsError::DuplicateDataset { dataset: 1 }
    );
    let mut t = good.clone();
    t.budget = 0;
    assert_eq!(terms_problem(&mut chain, t), JobTermsError::ZeroBudget);
    let mut t = good.clone();
    t.training.epochs = 0;
    assert_eq!(terms_problem(&mut chain, t), JobTermsError::Training);

    let mut t = good.clone();
    t.model = 9;
    assert_eq!(
        open_error(&mut chain, t),
        TxError::UnknownModel { model: 9 }
    );
    let mut t = good.clone();
    t.datasets = BoundedVec::new(vec![4]).unwrap();
    assert_eq!(
        open_error(&mut chain, t),
        TxError::UnknownDataset { dataset: 4 }
    );
    let mut t = good.clone();
    t.budget = 2 * BALANCE;
    assert!(matches!(
        open_error(&mut chain, t),
        TxError::InsufficientFunds { .. }
    ));
    assert_eq!(chain.state.id_counters().jobs, 0, "nothing opened");
    supply_is_kept(&chain);
}

#[test]
fn recruiting_refuses_wrong_claims_and_joins() {
    let mut chain = chain();
    let cast = cast();
    chain.build_ok(vec![chain.tx(1, Payload::RegisterModel(model_terms()))]);
    let registrations = (4..=7)
        .map(|p| {
            chain.tx(
                p,
                Payload::RegisterDataset(dataset_terms(&format!("{p}"), 100)),
            )
        })
        .collect();
    chain.build_ok(registrations);
    let mut terms = job_terms(1, 2, 1_000_000);
    terms.datasets = BoundedVec::new(vec![1, 2, 4]).unwrap();
    terms.trainer_stake = BALANCE;
    terms.deadlines.recruit_blocks = 100;
    let hash = terms.hash();
    chain.build_ok(vec![chain.tx(cast.sponsor, Payload::OpenJob(terms))]);
    let join = |job, dataset, terms_hash| {
        Payload::JoinJob(JoinJob {
            job,
            dataset,
            terms_hash,
        })
    };

    assert_eq!(
        chain.fails(3, Payload::ClaimJob(ClaimJob { job: 7 })),
        TxError::UnknownJob { job: 7 }
    );
    assert!(matches!(
        chain.fails(3, Payload::ClaimJob(ClaimJob { job: 1 })),
        TxError::JobStakeTooLow {
            needed: BALANCE,
            ..
        }
    ));
    assert_eq!(
        chain.fails(4, join(1, 1, blob("other terms"))),
        TxError::TermsMismatch { job: 1 }
    );
    assert_eq!(
        chain.fails(4, join(1, 2, hash)),
        TxError::NotDatasetProvider { dataset: 2 }
    );
    assert_eq!(
        chain.fails(6, join(1, 3, hash)),
        TxError::DatasetNotAllowed { job: 1, dataset: 3 }
    );
    chain.build_ok(vec![chain.tx(4, join(1, 1, hash))]);
    assert_eq!(
        chain.fails(4, join(1, 1, hash)),
        TxError::AlreadyParticipant { job: 1 }
    );
    chain.build_ok(vec![chain.tx(5, join(1, 2, hash))]);
    assert_eq!(
        chain.fails(7, join(1, 4, hash)),
        TxError::JobFull { job: 1, max: 2 }
    );
    assert_eq!(chain.state.dataset(1).unwrap().active_jobs, 1);
    assert_eq!(
        chain.fails(4, Payload::RetireDataset(RetireDataset { dataset: 1 })),
        TxError::DatasetInUse {
            dataset: 1,
            active_jobs: 1
        }
    );
    assert_eq!(
        chain.fails(3, Payload::CancelJob(CancelJob { job: 1 })),
        TxError::NotSponsor { job: 1 }
    );

    // A dataset asking more than the job's even share of the providers' pool.
    let mut pricey = job_terms(1, 2, 1_000_000);
    pricey.budget = 1_000;
    let pricey_hash = pricey.hash();
    chain.build_ok(vec![chain.tx(cast.sponsor, Payload::OpenJob(pricey))]);
    chain.build_ok(vec![chain.tx(
        7,
        Payload::UpdateDataset(UpdateDataset {
            dataset: 4,
            licence: Licence::Text(blob("l")),
            price: 201,
        }),
    )]);
    assert_eq!(
        chain.fails(7, join(2, 4, pricey_hash)),
        TxError::DatasetPriceAboveOffer {
            price: 201,
            offer: 200
        }
    );

    // Cancelling returns the escrow and frees the datasets.
    let sponsor_before = balance(&chain, cast.sponsor);
    chain.build_ok(vec![
        chain.tx(cast.sponsor, Payload::CancelJob(CancelJob { job: 1 })),
    ]);
    assert_eq!(chain.state.job(1).unwrap().status, JobStatus::Cancelled);
    assert_eq!(
        balance(&chain, cast.sponsor),
        sponsor_before + 1_000_000 - FEE
    );
    assert_eq!(chain.state.dataset(1).unwrap().active_jobs, 0);
    assert_eq!(
        chain.fails(cast.sponsor, Payload::CancelJob(CancelJob { job: 1 })),
        TxError::WrongStage {
            job: 1,
            stage: JobStage::Finished,
            needed: JobStage::Recruiting
        }
    );
    supply_is_kept(&chain);
}

#[test]
fn a_job_nobody_recruits_fails_and_refunds() {
    let mut chain = chain();
    chain.build_ok(vec![chain.tx(1, Payload::RegisterModel(model_terms()))]);
    chain.build_ok(vec![
        chain.tx(2, Payload::OpenJob(job_terms(1, 3, 1_000_000))),
    ]);
    chain.build_ok(vec![chain.tx(3, Payload::ClaimJob(ClaimJob { job: 1 }))]);
    let until = chain.state.job(1).unwrap().stage_deadline;
    assert!(matches!(
        chain.fails(3, Payload::ClaimJob(ClaimJob { job: 1 })),
        TxError::AlreadyClaimed { job: 1 }
    ));
    chain.build_until(until);
    let built = chain.build(vec![]);
    assert!(built.outcome.events.contains(&Event::JobFailed {
        job: 1,
        reason: JobFailure::NotRecruited
    }));
    assert_eq!(balance(&chain, 2), BALANCE - spent_on_fees(&chain, 2));
    assert_eq!(balance(&chain, 3), BALANCE - spent_on_fees(&chain, 3));
    assert_eq!(
        chain.state.deadline_count(),
        1,
        "the pruning of its (no) phase messages"
    );
    chain.build(vec![]);
    assert_eq!(chain.state.deadline_count(), 0);
    supply_is_kept(&chain);
}

/// A secure-aggregation job: the ledger decides the survivors of each phase.
#[test]
fn secure_rounds_follow_the_survivors_the_ledger_recorded() {
    let mut chain = chain();
    let cast = cast();
    let mut terms = job_terms(0, 3, 1_000_000);
    terms.secure_aggregation = Some(SecureAggregation { threshold: 2 });
    terms.providers_min = 2;
    let scripted = chain.open_and_recruit(&cast, terms);
    let job = scripted.job;
    let post = |phase: u8| {
        move |round: u32| {
            Payload::PostPhase(PostPhase {
                job,
                round,
                phase,
                data: PhaseData::Blob(blob("x")),
            })
        }
    };
    // Phase 0: everyone. Phase 1: provider 6 drops out; the phase waits out its deadline.
    chain.build_ok((4..=6).map(|p| chain.tx(p, post(0)(1))).collect());
    assert_eq!(chain.state.round(job, 1).unwrap().phase, 1);
    assert_eq!(
        chain.fails(4, post(0)(1)),
        TxError::WrongPhase {
            job,
            round: 1,
            got: 0
        }
    );
    assert_eq!(
        chain.fails(4, post(1)(2)),
        TxError::WrongRound {
            job,
            current: 1,
            got: 2
        }
    );
    assert_eq!(
        chain.fails(9, post(1)(1)),
        TxError::NotExpected {
            job,
            round: 1,
            phase: 1
        }
    );
    chain.build_ok(vec![chain.tx(4, post(1)(1)), chain.tx(5, post(1)(1))]);
    assert_eq!(
        chain.fails(4, post(1)(1)),
        TxError::AlreadyPosted { round: 1, phase: 1 }
    );
    let until = chain.state.round(job, 1).unwrap().deadline;
    chain.build_until(until);
    let built = chain.build(vec![]);
    assert!(built.outcome.events.iter().any(|e| matches!(
        e,
        Event::PhaseEnded {
            phase: 1,
            survivors: 2,
            ..
        }
    )));
    let survivors: Vec<Address> = chain.state.phase_posts(job, 1, 1).map(|(a, _)| a).collect();
    let mut expected = vec![chain.address(4), chain.address(5)];
    expected.sort();
    assert_eq!(survivors, expected);
    // Provider 6 dropped: it is not expected in phase 2, whatever it posts.
    assert_eq!(
        chain.fails(6, post(2)(1)),
        TxError::NotExpected {
            job,
            round: 1,
            phase: 2
        }
    );
    for phase in 2..5 {
        chain.build_ok(vec![
            chain.tx(4, post(phase)(1)),
            chain.tx(5, post(phase)(1)),
        ]);
    }
    assert_eq!(
        chain.state.round(job, 1).unwrap().stage,
        RoundStage::Aggregating
    );
    let close = |contributions: Vec<(usize, u64)>| {
        let contributions = contributions
            .into_iter()
            .map(|(p, samples)| Contribution {
                provider: chain.address(p),
                samples,
            })
            .collect();
        Payload::CloseRound(CloseRound {
            job,
            round: 1,
            aggregate: blob("sum"),
            model: blob("model 1"),
            contributions: BoundedVec::new(contributions).unwrap(),
        })
    };
    let dropped = close(vec![(4, 10), (6, 10)]);
    let twice = close(vec![(4, 10), (4, 10)]);
    let too_many = close(vec![(4, 101)]);
    let fine = close(vec![(4, 100), (5, 300)]);
    assert_eq!(chain.fails(4, fine.clone()), TxError::NotTrainer { job });
    assert_eq!(
        chain.fails(3, dropped),
        TxError::BadContribution {
            provider: chain.address(6)
        }
    );
    assert_eq!(
        chain.fails(3, twice),
        TxError::BadContribution {
            provider: chain.address(4)
        }
    );
    assert!(matches!(
        chain.fails(3, too_many),
        TxError::SamplesExceedRows {
            samples: 101,
            rows: 100,
            ..
        }
    ));
    chain.build_ok(vec![chain.tx(3, fine.clone())]);
    assert_eq!(
        chain.fails(3, fine),
        TxError::WrongRound {
            job,
            current: 2,
            got: 1
        }
    );
    assert_eq!(chain.state.job(job).unwrap().global_model, blob("model 1"));
    supply_is_kept(&chain);
}

#[test]
fn rounds_without_enough_survivors_are_retried_then_fail_the_job() {
    let mut chain = chain();
    let cast = cast();
    let scripted = chain.open_and_recruit(&cast, job_terms(0, 3, 1_000_000));
    let job = scripted.job;
    // Nobody posts: round 1 fails, round 2 (a retry of index 0) fails, and the job with it.
    for seq in 1..=2u32 {
        let until = chain.state.round(job, seq).unwrap().deadline;
        chain.build_until(until);
        let built = chain.build(vec![]);
        assert!(
            built
                .outcome
                .events
                .iter()
                .any(|e| matches!(e, Event::RoundFailed { round, .. } if *round == seq))
        );
    }
    assert_eq!(chain.state.round(job, 2).unwrap().index, 0);
    assert_eq!(
        chain.state.job(job).unwrap().status,
        JobStatus::Failed {
            reason: JobFailure::RoundsFailed
        }
    );
    assert_eq!(
        balance(&chain, 3),
        BALANCE - spent_on_fees(&chain, 3),
        "not the trainer's fault"
    );
    assert_eq!(balance(&chain, 2), BALANCE - spent_on_fees(&chain, 2));
    supply_is_kept(&chain);
}

#[test]
fn a_trainer_that_vanishes_is_slashed_and_the_sponsor_refunded() {
    let mut chain = chain();
    let cast = cast();
    let scripted = chain.open_and_recruit(&cast, job_terms(0, 3, 1_000_000));
    let job = scripted.job;
    let posts = (4..=6)
        .map(|p| {
            chain.tx(
                p,
                Payload::PostPhase(PostPhase {
                    job,
                    round: 1,
                    phase: 0,
                    data: PhaseData::Blob(blob("u")),
                }),
            )
        })
        .collect();
    chain.build_ok(posts);
    let until = chain.state.round(job, 1).unwrap().deadline;
    chain.build_until(until);
    let built = chain.build(vec![]);
    assert!(built.outcome.events.contains(&Event::Slashed {
        account: chain.address(3),
        amount: 5_000_000,
        reason: SlashReason::TrainerVanished,
        job: Some(job)
    }));
    assert_eq!(
        chain.state.round(job, 1).unwrap().stage,
        RoundStage::Abandoned
    );
    assert_eq!(chain.state.account(&TREASURY).unwrap().balance, 5_000_000);
    assert_eq!(
        balance(&chain, 3),
        BALANCE - 5_000_000 - spent_on_fees(&chain, 3)
    );
    assert_eq!(balance(&chain, 2), BALANCE - spent_on_fees(&chain, 2));
    supply_is_kept(&chain);
}

/// Runs the cast's job to the end of its rounds, ready for validators.
fn trained(chain: &mut TestChain, terms: JobTerms) -> u64 {
    let cast = cast();
    let scripted = chain.open_and_recruit(&cast, terms);
    let rounds = chain.state.job(scripted.job).unwrap().terms.rounds;
    for _ in 0..rounds {
        chain.run_round(&cast, scripted.job);
    }
    assert_eq!(
        chain.state.job(scripted.job).unwrap().status,
        JobStatus::Committing
    );
    scripted.job
}

fn commit(job: u64, v: usize, chain: &TestChain, metric: u64) -> Payload {
    Payload::CommitScore(CommitScore {
        job,
        commitment: report(metric).commitment(job, &chain.address(v), &salt(v)),
        stake: 1_000_000,
    })
}

fn reveal(job: u64, v: usize, metric: u64) -> Payload {
    Payload::RevealScore(RevealScore {
        job,
        salt: salt(v),
        report: report(metric),
    })
}

#[test]
fn commit_and_reveal_refuse_what_they_must() {
    let mut chain = chain();
    let job = trained(&mut chain, job_terms(0, 3, 1_000_000));
    let by_trainer = commit(job, 3, &chain, 1);
    assert_eq!(
        chain.fails(3, by_trainer),
        TxError::AlreadyParticipant { job }
    );
    let mut low = commit(job, 7, &chain, 1);
    if let Payload::CommitScore(c) = &mut low {
        c.stake = 999_999;
    }
    assert_eq!(
        chain.fails(7, low),
        TxError::JobStakeTooLow {
            needed: 1_000_000,
            offered: 999_999
        }
    );
    assert!(matches!(
        chain.fails(7, reveal(job, 7, 1)),
        TxError::WrongStage { .. }
    ));
    // Validator 8 copies 7's commitment.
    let honest = commit(job, 7, &chain, 800_000);
    let Payload::CommitScore(copied) = honest.clone() else {
        unreachable!()
    };
    chain.build_ok(vec![
        chain.tx(7, honest),
        chain.tx(8, Payload::CommitScore(copied)),
        chain.tx(9, commit(job, 9, &chain, 810_000)),
    ]);
    assert_eq!(
        chain.state.job(job).unwrap().status,
        JobStatus::Revealing,
        "closed early: full"
    );
    let late = commit(job, 10, &chain, 1);
    assert_eq!(
        chain.fails(10, late),
        TxError::WrongStage {
            job,
            stage: JobStage::Revealing,
            needed: JobStage::Committing
        }
    );
    assert_eq!(
        chain.fails(10, reveal(job, 10, 1)),
        TxError::NoCommitment { job }
    );
    // The copier cannot reveal 7's report: the address is inside the hash.
    assert_eq!(
        chain.fails(8, reveal(job, 7, 800_000)),
        TxError::RevealMismatch { job }
    );
    assert_eq!(
        chain.fails(9, reveal(job, 9, 810_001)),
        TxError::RevealMismatch { job }
    );
    let mut loo = report(810_000);
    loo.contributions = BoundedVec::new(vec![1, 2, 3]).unwrap();
    assert_eq!(
        chain.fails(
            9,
            Payload::RevealScore(RevealScore {
                job,
                salt: salt(9),
                report: loo
            })
        ),
        TxError::ContributionsLength {
            expected: 0,
            got: 3
        }
    );
    chain.build_ok(vec![
        chain.tx(7, reveal(job, 7, 800_000)),
        chain.tx(9, reveal(job, 9, 810_000)),
    ]);
    assert_eq!(
        chain.fails(7, reveal(job, 7, 800_000)),
        TxError::AlreadyRevealed { job }
    );
    // The copier never reveals: slashed when reveals close; the job settles with two.
    let until = chain.state.job(job).unwrap().stage_deadline;
    chain.build_until(until);
    let built = chain.build(vec![]);
    assert!(built.outcome.events.contains(&Event::Slashed {
        account: chain.address(8),
        amount: 1_000_000,
        reason: SlashReason::ScoreNotRevealed,
        job: Some(job)
    }));
    assert!(matches!(
        chain.state.job(job).unwrap().status,
        JobStatus::Settled { score: 800_000, .. }
    ));
    supply_is_kept(&chain);
}

#[test]
fn too_few_validators_fail_the_job() {
    let mut chain = chain();
    let job = trained(&mut chain, job_terms(0, 3, 1_000_000));
    chain.build_ok(vec![chain.tx(7, commit(job, 7, &chain, 800_000))]);
    let until = chain.state.job(job).unwrap().stage_deadline;
    chain.build_until(until + 1);
    assert_eq!(
        chain.state.job(job).unwrap().status,
        JobStatus::Failed {
            reason: JobFailure::TooFewValidators
        }
    );
    assert_eq!(balance(&chain, 7), BALANCE - spent_on_fees(&chain, 7));
    assert_eq!(balance(&chain, 2), BALANCE - spent_on_fees(&chain, 2));
    supply_is_kept(&chain);
}

#[test]
fn a_quorum_reporting_a_wrong_aggregate_slashes_the_trainer() {
    let mut chain = chain();
    let job = trained(&mut chain, job_terms(0, 3, 1_000_000));
    let mut wrong = report(800_000);
    wrong.aggregates_match = false;
    let commit_wrong = |v: usize, chain: &TestChain| {
        Payload::CommitScore(CommitScore {
            job,
            commitment: wrong.commitment(job, &chain.address(v), &salt(v)),
            stake: 1_000_000,
        })
    };
    chain.build_ok(vec![
        chain.tx(7, commit_wrong(7, &chain)),
        chain.tx(8, commit_wrong(8, &chain)),
        chain.tx(9, commit(job, 9, &chain, 800_000)),
    ]);
    let reveal_wrong = |v| {
        Payload::RevealScore(RevealScore {
            job,
            salt: salt(v),
            report: wrong.clone(),
        })
    };
    chain.build_ok(vec![
        chain.tx(7, reveal_wrong(7)),
        chain.tx(8, reveal_wrong(8)),
        chain.tx(9, reveal(job, 9, 800_000)),
    ]);
    assert_eq!(
        chain.state.job(job).unwrap().status,
        JobStatus::Failed {
            reason: JobFailure::AggregateMismatch
        }
    );
    assert_eq!(chain.state.account(&TREASURY).unwrap().balance, 5_000_000);
    assert_eq!(balance(&chain, 2), BALANCE - spent_on_fees(&chain, 2));
    supply_is_kept(&chain);
}

#[test]
fn a_missed_target_pays_only_the_validators() {
    let mut chain = chain();
    let job = trained(&mut chain, job_terms(0, 3, 1_000_000));
    chain.build_ok(vec![
        chain.tx(7, commit(job, 7, &chain, 600_000)),
        chain.tx(8, commit(job, 8, &chain, 600_000)),
    ]);
    let until = chain.state.job(job).unwrap().stage_deadline;
    chain.build_until(until + 1);
    let built = chain.build_ok(vec![
        chain.tx(7, reveal(job, 7, 600_000)),
        chain.tx(8, reveal(job, 8, 600_000)),
    ]);
    let events = &built.outcome.receipts[1].events;
    assert!(events.contains(&Event::JobFailed {
        job,
        reason: JobFailure::TargetMissed
    }));
    let paid: Vec<(PayoutRole, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::JobPaid { role, amount, .. } if *role != PayoutRole::StakeReturned => {
                Some((*role, *amount))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        [
            (PayoutRole::Validator, 50_000),
            (PayoutRole::Validator, 50_000),
            (PayoutRole::Sponsor, 900_000)
        ]
    );
    supply_is_kept(&chain);
}

#[test]
fn leave_one_out_pays_providers_by_measured_contribution() {
    let mut chain = chain();
    let mut terms = job_terms(0, 3, 1_000_000);
    terms.leave_one_out = true;
    let job = trained(&mut chain, terms);
    // Providers by join position: 4, 5, 6. Both validators measure 1 : 1 : 2.
    let mut measured = report(800_000);
    measured.contributions = BoundedVec::new(vec![10_000, 10_000, 20_000]).unwrap();
    let txs = [7, 8]
        .iter()
        .map(|&v| {
            chain.tx(
                v,
                Payload::CommitScore(CommitScore {
                    job,
                    commitment: measured.commitment(job, &chain.address(v), &salt(v)),
                    stake: 1_000_000,
                }),
            )
        })
        .collect();
    chain.build_ok(txs);
    let until = chain.state.job(job).unwrap().stage_deadline;
    chain.build_until(until + 1);
    let txs = [7, 8]
        .iter()
        .map(|&v| {
            chain.tx(
                v,
                Payload::RevealScore(RevealScore {
                    job,
                    salt: salt(v),
                    report: measured.clone(),
                }),
            )
        })
        .collect();
    chain.build_ok(txs);
    let paid = |i: usize| {
        chain
            .state
            .participant(job, &chain.address(i))
            .unwrap()
            .paid
    };
    // The providers' pool of 400,000 by 1 : 1 : 2, not by samples (100 : 300 : 600).
    assert_eq!([paid(4), paid(5), paid(6)], [100_000, 100_000, 200_000]);
    supply_is_kept(&chain);
}

#[test]
fn a_model_with_a_parent_and_an_onnx_artifact_registers() {
    let mut chain = chain();
    chain.build_ok(vec![chain.tx(1, Payload::RegisterModel(model_terms()))]);
    let child = RegisterModel {
        artifact: ModelArtifact::Onnx(blob("model.onnx")),
        royalty_bps: 0,
        licence: Licence::Text(blob("licence")),
        parent: Some(1),
    };
    let built = chain.build_ok(vec![chain.tx(2, Payload::RegisterModel(child))]);
    assert!(
        built.outcome.receipts[0]
            .events
            .contains(&Event::ModelRegistered {
                model: 2,
                developer: chain.address(2),
                parent: Some(1)
            })
    );
}

/// Everything the lifecycle holds, as the public getters show it: ids, registries, jobs and
/// each job's participants, rounds, phase messages and scores, and the deadline queue's size.
fn lifecycle_view(chain: &TestChain) -> String {
    let state = &chain.state;
    let mut view = format!(
        "{:?}\n{} deadlines\n",
        state.id_counters(),
        state.deadline_count()
    );
    view += &format!("{:?}\n", state.datasets().collect::<Vec<_>>());
    view += &format!("{:?}\n", state.models().collect::<Vec<_>>());
    for (id, job) in state.jobs() {
        view += &format!("{id}: {job:?}\n");
        view += &format!("{:?}\n", state.participants(id).collect::<Vec<_>>());
        view += &format!("{:?}\n", state.scores(id).collect::<Vec<_>>());
        for (seq, round) in state.rounds(id) {
            view += &format!("{seq}: {round:?}\n");
            for phase in 0..=round.phase {
                view += &format!(
                    "{:?}\n",
                    state.phase_posts(id, seq, phase).collect::<Vec<_>>()
                );
            }
        }
    }
    view
}

/// Builds a block with one transaction from key `index` and returns why it failed, checking
/// the failure cost the sender its fee and changed nothing else: a copy of the chain that
/// built the same block empty ran the same deadline work and holds the same lifecycle state,
/// and every balance but the sender's and the proposer's (key 0, paid the fee) agrees.
fn fails_alone(chain: &mut TestChain, index: usize, payload: Payload) -> TxError {
    let mut without = chain.clone();
    let empty = without.build(vec![]);
    let nonce = chain.nonce(index);
    let built = chain.build(vec![chain.tx(index, payload)]);
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);
    let TxOutcome::Failed(error) = built.outcome.receipts[0].outcome.clone() else {
        panic!("expected a failure");
    };
    assert_eq!(
        built.outcome.events, empty.outcome.events,
        "same block work"
    );
    assert_eq!(lifecycle_view(chain), lifecycle_view(&without));
    assert_eq!(chain.nonce(index), nonce + 1, "the nonce is spent");
    for i in 0..12 {
        let expected = match i {
            _ if i == index => balance(&without, i) - FEE,
            0 => balance(&without, i) + FEE,
            _ => balance(&without, i),
        };
        assert_eq!(balance(chain, i), expected, "key {i}'s balance");
    }
    supply_is_kept(chain);
    error
}

/// A dataset once retired can be neither updated nor joined to a job.
#[test]
fn a_retired_dataset_can_be_neither_updated_nor_joined() {
    let mut chain = chain();
    chain.build_ok(vec![
        chain.tx(1, Payload::RegisterModel(model_terms())),
        chain.tx(4, Payload::RegisterDataset(dataset_terms("d", 100))),
    ]);
    chain.build_ok(vec![
        chain.tx(4, Payload::RetireDataset(RetireDataset { dataset: 1 })),
    ]);
    let update = UpdateDataset {
        dataset: 1,
        licence: Licence::Text(blob("new terms")),
        price: 5,
    };
    assert_eq!(
        fails_alone(&mut chain, 4, Payload::UpdateDataset(update)),
        TxError::DatasetRetired { dataset: 1 }
    );

    let terms = job_terms(1, 1, 1_000_000);
    let terms_hash = terms.hash();
    chain.build_ok(vec![chain.tx(2, Payload::OpenJob(terms))]);
    let join = JoinJob {
        job: 1,
        dataset: 1,
        terms_hash,
    };
    assert_eq!(
        fails_alone(&mut chain, 4, Payload::JoinJob(join)),
        TxError::DatasetRetired { dataset: 1 }
    );
    assert_eq!(chain.state.job(1).unwrap().providers, 0);
}

/// Closing a round whose providers are still posting is refused: there is nothing to
/// aggregate yet.
#[test]
fn closing_a_round_still_posting_is_refused() {
    let mut chain = chain();
    let cast = cast();
    let scripted = chain.open_and_recruit(&cast, job_terms(0, 3, 1_000_000));
    let job = scripted.job;
    let round = chain.state.job(job).unwrap().rounds_started;
    assert_eq!(
        chain.state.round(job, round).unwrap().stage,
        RoundStage::Posting
    );
    let close = CloseRound {
        job,
        round,
        aggregate: blob("early aggregate"),
        model: blob("early model"),
        contributions: BoundedVec::default(),
    };
    assert_eq!(
        fails_alone(&mut chain, cast.trainer, Payload::CloseRound(close)),
        TxError::NotAggregating { job, round }
    );
}

/// More deadlines than a block may run fall due with a round's phase deadline, ahead of it in
/// the queue: the phase's end rolls over to the next block, and a post in between, past the
/// phase's last height but before the ledger ended the phase, is refused as late.
#[test]
fn a_post_after_the_phase_deadline_is_refused_while_its_end_is_deferred() {
    let mut chain = chain();
    let cast = cast();
    let scripted = chain.open_and_recruit(&cast, job_terms(0, 3, 1_000_000));
    let job = scripted.job;
    let seq = chain.state.job(job).unwrap().rounds_started;
    let phase_until = chain.state.round(job, seq).unwrap().deadline;
    // The phase ends in block `phase_until + 1`. Recruiting deadlines sort before round
    // deadlines at the same height: more of them than a block runs, due in that block.
    let crowd = DUE_DEADLINES_PER_BLOCK_MAX + 1;
    let opened = chain.state.height() + 1;
    let mut terms = job_terms(scripted.model, 1, 1);
    terms.deadlines.recruit_blocks = phase_until - opened;
    let sponsor = 10;
    let first_nonce = chain.nonce(sponsor);
    let opens = (0..crowd as u64)
        .map(|n| {
            let mut tx = chain.unsigned(sponsor, Payload::OpenJob(terms.clone()));
            tx.nonce = first_nonce + n;
            chain.sign(sponsor, tx)
        })
        .collect();
    chain.build_ok(opens);
    assert_eq!(chain.state.height(), opened);
    chain.build_until(phase_until);

    let post = PostPhase {
        job,
        round: seq,
        phase: 0,
        data: PhaseData::Blob(blob("late post")),
    };
    assert_eq!(
        fails_alone(&mut chain, 4, Payload::PostPhase(post)),
        TxError::PastDeadline {
            deadline: phase_until,
            height: phase_until + 1
        }
    );
    assert_eq!(
        chain.state.round(job, seq).unwrap().stage,
        RoundStage::Posting,
        "the phase's end rolled over"
    );
    chain.build(vec![]);
    assert_eq!(
        chain.state.round(job, seq).unwrap().stage,
        RoundStage::Failed,
        "the next block ends the phase, with no one posted"
    );
}

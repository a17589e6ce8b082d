//! Jobs: `OpenJob` escrows a sponsor's budget under terms fixed for the job's whole life;
//! `CancelJob` returns it before training; `ClaimJob` (a trainer, locking the trainer stake)
//! and `JoinJob` (providers, each with a dataset the job allows) recruit.
//!
//! ## Recruiting
//!
//! A job recruits until `recruit_blocks` after it opened (inclusive). Training starts at once
//! when a trainer has claimed and `providers_max` providers have joined; otherwise, when
//! recruiting closes, it starts if a trainer claimed and at least `providers_min` joined, and
//! the job fails as `NotRecruited` if not: the escrow goes back to the sponsor and the
//! trainer's stake to the trainer.
//!
//! ## Prices and consent
//!
//! A provider joins by naming the hash of the terms it read ([`JobTerms::hash`]), so its
//! consent on chain names exactly what it agreed to. A dataset's price is a reservation price:
//! it may join only if the job's providers' pool divided by its most providers is at least
//! the price.

use aifactory_types::lifecycle::{
    Aggregation, BASIS_POINTS_WHOLE, CancelJob, ClaimJob, Job, JobFailure, JobId, JobStage,
    JobStatus, JobTerms, JobTermsError, JoinJob, Participant, PrivacyUnit, Role,
};
use aifactory_types::limits::{
    JOB_ROUNDS_MAX, JOB_STAGE_BLOCKS_MAX, PROVIDERS_PER_JOB_MAX, ROUND_RETRIES_MAX,
    VALIDATORS_PER_JOB_MAX,
};
use aifactory_types::{Address, Amount, Event, Payload, TxError};

use super::{
    Module, deadline_after, deadline_kind, deadline_subject, registry, rounds, settlement, treasury,
};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// Opening, cancelling, claiming and joining jobs.
pub(crate) struct Jobs;

impl Module for Jobs {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        Some(match payload {
            Payload::OpenJob(terms) => open(state, ctx, sender, terms, events),
            Payload::CancelJob(cancel) => self::cancel(state, ctx, sender, cancel, events),
            Payload::ClaimJob(claim) => self::claim(state, ctx, sender, claim, events),
            Payload::JoinJob(join) => self::join(state, ctx, sender, join, events),
            _ => return None,
        })
    }

    fn on_due(
        state: &mut State,
        ctx: &BlockContext,
        deadline: &Deadline,
        events: &mut Vec<Event>,
    ) -> Option<()> {
        match deadline_subject(deadline) {
            (deadline_kind::RECRUIT, job, _) => close_recruiting(state, ctx, job, events),
            _ => return None,
        }
        Some(())
    }
}

/// Ends a stage before its deadline, everyone it waited for having acted: unschedules
/// `deadline`, which would have ended it, then runs `end`, the work it would have done.
pub(crate) fn end_early(state: &mut State, deadline: &Deadline, end: impl FnOnce(&mut State)) {
    state.unschedule(deadline);
    end(state);
}

/// The last height of a stage that starts at `height` and lasts `blocks`.
pub(crate) fn stage_end(height: u64, blocks: u64) -> u64 {
    height
        .checked_add(blocks)
        .expect("heights never reach 2^64")
}

/// The job, or `UnknownJob`.
pub(crate) fn job(state: &State, id: JobId) -> Result<&Job, TxError> {
    state.job(id).ok_or(TxError::UnknownJob { job: id })
}

/// The job, if it is still in `status`: a stage's deadline finds nothing to do once the stage
/// ended early or the job ended otherwise.
pub(crate) fn still_in(state: &State, id: JobId, status: JobStatus) -> Option<&Job> {
    state.job(id).filter(|job| job.status == status)
}

/// Checks the job is in `needed` and `ctx` is not past its stage's deadline.
pub(crate) fn check_stage(
    job: &Job,
    id: JobId,
    needed: JobStage,
    ctx: &BlockContext,
) -> Result<(), TxError> {
    let stage = job.status.stage();
    if stage != needed {
        return Err(TxError::WrongStage {
            job: id,
            stage,
            needed,
        });
    }
    if needed != JobStage::Training && ctx.height > job.stage_deadline {
        return Err(TxError::PastDeadline {
            deadline: job.stage_deadline,
            height: ctx.height,
        });
    }
    Ok(())
}

/// Checks `terms` against every rule that does not depend on other state.
fn check_terms(terms: &JobTerms) -> Result<(), JobTermsError> {
    if !terms.split.is_whole() {
        return Err(JobTermsError::SplitNotWhole {
            total: terms.split.total(),
        });
    }
    let cap = PROVIDERS_PER_JOB_MAX as u16;
    if terms.providers_min == 0
        || terms.providers_min > terms.providers_max
        || terms.providers_max > cap
    {
        return Err(JobTermsError::ProvidersRange {
            min: terms.providers_min,
            max: terms.providers_max,
            cap,
        });
    }
    let cap = VALIDATORS_PER_JOB_MAX as u16;
    if terms.validators_min == 0
        || terms.validators_min > terms.validators_max
        || terms.validators_max > cap
    {
        return Err(JobTermsError::ValidatorsRange {
            min: terms.validators_min,
            max: terms.validators_max,
            cap,
        });
    }
    if terms.rounds == 0 || terms.rounds > JOB_ROUNDS_MAX {
        return Err(JobTermsError::Rounds {
            rounds: terms.rounds,
            max: JOB_ROUNDS_MAX,
        });
    }
    if terms.round_retries > ROUND_RETRIES_MAX {
        return Err(JobTermsError::Retries {
            retries: terms.round_retries,
            max: ROUND_RETRIES_MAX,
        });
    }
    let training = &terms.training;
    if training.epochs == 0 || training.batch_size == 0 || training.learning_rate == 0 {
        return Err(JobTermsError::Training);
    }
    if let Some(secure) = terms.secure_aggregation {
        if terms.aggregation != Aggregation::FedAvg || terms.leave_one_out {
            return Err(JobTermsError::SecureAggregationRule);
        }
        if secure.threshold < 2 || secure.threshold > terms.providers_min {
            return Err(JobTermsError::Threshold {
                threshold: secure.threshold,
                providers_min: terms.providers_min,
            });
        }
    }
    match terms.aggregation {
        Aggregation::TrimmedMean { trim_bps } if trim_bps >= BASIS_POINTS_WHOLE / 2 => {
            return Err(JobTermsError::AggregationParameter);
        }
        // Krum needs more than 2f + 2 updates to pick from.
        Aggregation::Krum { byzantine }
            if u32::from(byzantine) * 2 + 2 >= u32::from(terms.providers_min) =>
        {
            return Err(JobTermsError::AggregationParameter);
        }
        _ => {}
    }
    if let Some(privacy) = terms.privacy
        && (privacy.clip_norm == 0
            || privacy.noise_multiplier == 0
            || privacy.delta_pico == 0
            || privacy.delta_pico >= 1_000_000_000_000)
    {
        return Err(JobTermsError::Privacy);
    }
    if terms
        .privacy
        .is_some_and(|p| p.unit == PrivacyUnit::Provider && terms.secure_aggregation.is_none())
    {
        return Err(JobTermsError::PrivacyUnit);
    }
    let d = &terms.deadlines;
    let stages = [
        d.recruit_blocks,
        d.phase_blocks,
        d.aggregate_blocks,
        d.commit_blocks,
        d.reveal_blocks,
    ];
    if stages.iter().any(|&b| b == 0 || b > JOB_STAGE_BLOCKS_MAX) {
        return Err(JobTermsError::Deadline {
            max: JOB_STAGE_BLOCKS_MAX,
        });
    }
    let mut seen = terms.datasets.to_vec();
    seen.sort_unstable();
    if let Some(pair) = seen.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(JobTermsError::DuplicateDataset { dataset: pair[0] });
    }
    if terms.budget == 0 {
        return Err(JobTermsError::ZeroBudget);
    }
    if terms.validator_stake == 0 {
        return Err(JobTermsError::ZeroValidatorStake);
    }
    Ok(())
}

fn open(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    terms: &JobTerms,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    check_terms(terms).map_err(|problem| TxError::InvalidJobTerms { problem })?;
    let model = state
        .model(terms.model)
        .ok_or(TxError::UnknownModel { model: terms.model })?;
    if terms.split.developer_bps < model.royalty_bps {
        return Err(TxError::InvalidJobTerms {
            problem: JobTermsError::DeveloperBelowRoyalty {
                royalty_bps: model.royalty_bps,
                developer_bps: terms.split.developer_bps,
            },
        });
    }
    let global_model = model.artifact.starting_blob();
    for &dataset in terms.datasets.iter() {
        match state.dataset(dataset) {
            None => return Err(TxError::UnknownDataset { dataset }),
            Some(d) if d.retired => return Err(TxError::DatasetRetired { dataset }),
            Some(_) => {}
        }
    }
    treasury::lock(state, sender, terms.budget)?;
    let id = registry::next_id(state, |c| &mut c.jobs);
    let recruit_until = stage_end(ctx.height, terms.deadlines.recruit_blocks);
    state.tables.jobs.insert(
        id,
        Job {
            sponsor: sender,
            terms: terms.clone(),
            terms_hash: terms.hash(),
            opened_height: ctx.height,
            status: JobStatus::Recruiting,
            stage_deadline: recruit_until,
            escrow: terms.budget,
            trainer: None,
            providers: 0,
            commits: 0,
            reveals: 0,
            rounds_closed: 0,
            rounds_started: 0,
            global_model,
        },
    );
    state.schedule(deadline_after(recruit_until, deadline_kind::RECRUIT, id, 0));
    events.push(Event::JobOpened {
        job: id,
        sponsor: sender,
        model: terms.model,
        budget: terms.budget,
        recruit_until,
    });
    Ok(())
}

fn cancel(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    cancel: &CancelJob,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = cancel.job;
    let job = job(state, id)?;
    if job.sponsor != sender {
        return Err(TxError::NotSponsor { job: id });
    }
    let stage = job.status.stage();
    if stage != JobStage::Recruiting {
        return Err(TxError::WrongStage {
            job: id,
            stage,
            needed: JobStage::Recruiting,
        });
    }
    let deadline = deadline_after(job.stage_deadline, deadline_kind::RECRUIT, id, 0);
    events.push(Event::JobCancelled { job: id });
    end_early(state, &deadline, |state| {
        settlement::end(state, ctx, id, JobStatus::Cancelled, events);
    });
    Ok(())
}

/// Checks `sender` takes no part in `job` yet.
fn check_newcomer(state: &State, id: JobId, sender: &Address) -> Result<(), TxError> {
    if state.participant(id, sender).is_some() {
        return Err(TxError::AlreadyParticipant { job: id });
    }
    Ok(())
}

fn claim(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    claim: &ClaimJob,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = claim.job;
    let job = job(state, id)?;
    check_stage(job, id, JobStage::Recruiting, ctx)?;
    if job.trainer.is_some() {
        return Err(TxError::AlreadyClaimed { job: id });
    }
    check_newcomer(state, id, &sender)?;
    let stake = job.terms.trainer_stake;
    lock_stake(state, sender, stake)?;
    state.tables.participants.insert(
        (id, sender),
        Participant {
            role: Role::Trainer,
            stake,
            joined_height: ctx.height,
            samples: 0,
            paid: 0,
        },
    );
    state.tables.jobs.upsert(id, |j| j.trainer = Some(sender));
    events.push(Event::JobClaimed {
        job: id,
        trainer: sender,
        stake,
    });
    start_if_full(state, ctx, id, events);
    Ok(())
}

/// Locks a stake the job asks for, or says it is missing.
pub(crate) fn lock_stake(state: &mut State, sender: Address, stake: Amount) -> Result<(), TxError> {
    treasury::lock(state, sender, stake).map_err(|error| match error {
        TxError::InsufficientFunds { needed, available } => TxError::JobStakeTooLow {
            needed,
            offered: available,
        },
        other => other,
    })
}

fn join(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    join: &JoinJob,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = join.job;
    let job = job(state, id)?;
    check_stage(job, id, JobStage::Recruiting, ctx)?;
    if join.terms_hash != job.terms_hash {
        return Err(TxError::TermsMismatch { job: id });
    }
    let dataset = state.dataset(join.dataset).ok_or(TxError::UnknownDataset {
        dataset: join.dataset,
    })?;
    if dataset.provider != sender {
        return Err(TxError::NotDatasetProvider {
            dataset: join.dataset,
        });
    }
    if dataset.retired {
        return Err(TxError::DatasetRetired {
            dataset: join.dataset,
        });
    }
    let terms = &job.terms;
    if !terms.datasets.is_empty() && !terms.datasets.contains(&join.dataset) {
        return Err(TxError::DatasetNotAllowed {
            job: id,
            dataset: join.dataset,
        });
    }
    check_newcomer(state, id, &sender)?;
    if job.providers >= terms.providers_max {
        return Err(TxError::JobFull {
            job: id,
            max: terms.providers_max,
        });
    }
    let offer = offer_per_provider(terms);
    if dataset.price > offer {
        return Err(TxError::DatasetPriceAboveOffer {
            price: dataset.price,
            offer,
        });
    }
    let position = job.providers;
    state.tables.participants.insert(
        (id, sender),
        Participant {
            role: Role::Provider {
                dataset: join.dataset,
                position,
            },
            stake: 0,
            joined_height: ctx.height,
            samples: 0,
            paid: 0,
        },
    );
    state.tables.jobs.upsert(id, |j| j.providers += 1);
    state.tables.datasets.upsert(join.dataset, |d| {
        d.active_jobs += 1;
        d.jobs_joined += 1;
    });
    events.push(Event::JobJoined {
        job: id,
        provider: sender,
        dataset: join.dataset,
    });
    start_if_full(state, ctx, id, events);
    Ok(())
}

/// The providers' pool divided evenly among the most providers the job allows.
pub(crate) fn offer_per_provider(terms: &JobTerms) -> Amount {
    let pool = u128::from(terms.budget) * u128::from(terms.split.providers_bps)
        / u128::from(BASIS_POINTS_WHOLE);
    let offer = pool / u128::from(terms.providers_max.max(1));
    Amount::try_from(offer).expect("a share of the budget fits in an amount")
}

/// Starts training at once if the job has a trainer and all the providers it allows.
fn start_if_full(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    let job = state.job(id).expect("the caller found the job");
    if job.trainer.is_some() && job.providers == job.terms.providers_max {
        let deadline = deadline_after(job.stage_deadline, deadline_kind::RECRUIT, id, 0);
        end_early(state, &deadline, |state| {
            start_training(state, ctx, id, events)
        });
    }
}

/// Recruiting closed: training starts if the job has a trainer and enough providers, or the
/// job fails as `NotRecruited`.
fn close_recruiting(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    let Some(job) = still_in(state, id, JobStatus::Recruiting) else {
        return;
    };
    if job.trainer.is_some() && job.providers >= job.terms.providers_min {
        start_training(state, ctx, id, events);
    } else {
        settlement::fail(state, ctx, id, JobFailure::NotRecruited, events);
    }
}

fn start_training(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    state
        .tables
        .jobs
        .upsert(id, |j| j.status = JobStatus::Training);
    rounds::start(state, ctx, id, 0, events);
}

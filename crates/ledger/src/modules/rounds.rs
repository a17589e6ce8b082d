//! Rounds: the providers' phases (`PostPhase`) and the trainer's close (`CloseRound`).
//!
//! A round's phases run in order (`aifactory_types::lifecycle::phase_names`). Phase 0 expects
//! every provider of the job; each later phase expects exactly the posters of the phase
//! before. A phase ends as soon as everyone expected has posted, or when its deadline passes;
//! its posters, as the ledger recorded them, are its survivors, the same for every party. If
//! they are fewer than the round needs (the secure-aggregation threshold, or `providers_min`
//! without it), the round fails; the job retries with a new round (a new sequence number,
//! same index) while it has retries left (`round_retries`, counted over the whole job), and
//! fails as `RoundsFailed` after.
//!
//! After the last phase the trainer has `aggregate_blocks` to `CloseRound` with the
//! aggregate's hash, the new global model's hash and the samples each survivor of the update
//! phase contributed. A trainer that misses it has vanished: its stake is slashed and the job
//! fails as `TrainerVanished`. After the job's last round, validation opens (`scores`).
//!
//! Once a job has ended, its phase messages are pruned from the state, at most
//! `PRUNED_POSTS_PER_DEADLINE_MAX` a block: they stay provable in the roots of the blocks
//! before, and in the blocks that carried them. The rounds themselves (start model, aggregate,
//! new model, contributions) stay, for provenance.

use aifactory_types::lifecycle::{
    CloseRound, JobFailure, JobId, JobStage, JobStatus, PhaseKey, PostPhase, Role, Round,
    RoundStage, phase_names, update_phase,
};
use aifactory_types::limits::PRUNED_POSTS_PER_DEADLINE_MAX;
use aifactory_types::{Address, Event, Payload, SlashReason, TxError};

use super::jobs::{check_stage, end_early, job, stage_end};
use super::{Module, deadline_kind, scores, settlement, treasury};
use super::{deadline_after, deadline_subject};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// Phase messages and closing rounds.
pub(crate) struct Rounds;

impl Module for Rounds {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        Some(match payload {
            Payload::PostPhase(post) => self::post(state, ctx, sender, post, events),
            Payload::CloseRound(close) => self::close(state, ctx, sender, close, events),
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
            (deadline_kind::ROUND, job, round) => round_deadline(state, ctx, job, round, events),
            (deadline_kind::PRUNE, job, _) => prune(state, ctx, job),
            _ => return None,
        }
        Some(())
    }
}

fn round_deadline_of(job: JobId, seq: u32, round: &Round) -> Deadline {
    deadline_after(round.deadline, deadline_kind::ROUND, job, seq)
}

/// Starts the job's round `index` under a new sequence number, its first phase open.
pub(crate) fn start(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    index: u16,
    events: &mut Vec<Event>,
) {
    let job = state.job(id).expect("the caller found the job");
    let seq = job
        .rounds_started
        .checked_add(1)
        .expect("rounds are capped far below 2^32");
    let round = Round {
        index,
        start_model: job.global_model,
        phase: 0,
        deadline: stage_end(ctx.height, job.terms.deadlines.phase_blocks),
        expected: job.providers,
        posted: 0,
        stage: RoundStage::Posting,
        contributions: Default::default(),
    };
    state.tables.jobs.upsert(id, |j| j.rounds_started = seq);
    state.schedule(round_deadline_of(id, seq, &round));
    events.push(Event::RoundStarted {
        job: id,
        round: seq,
        index,
        start_model: round.start_model,
        phase_until: round.deadline,
    });
    state.tables.rounds.insert((id, seq), round);
}

/// The job's current round, if `seq` names it.
fn current_round(state: &State, id: JobId, seq: u32) -> Result<&Round, TxError> {
    let current = job(state, id)?.rounds_started;
    if seq != current {
        return Err(TxError::WrongRound {
            job: id,
            current,
            got: seq,
        });
    }
    Ok(state
        .round(id, seq)
        .expect("the current round of a training job exists"))
}

fn post(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    post: &PostPhase,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = post.job;
    check_stage(job(state, id)?, id, JobStage::Training, ctx)?;
    let round = current_round(state, id, post.round)?;
    if round.stage != RoundStage::Posting || round.phase != post.phase {
        return Err(TxError::WrongPhase {
            job: id,
            round: post.round,
            got: post.phase,
        });
    }
    if ctx.height > round.deadline {
        return Err(TxError::PastDeadline {
            deadline: round.deadline,
            height: ctx.height,
        });
    }
    let not_expected = TxError::NotExpected {
        job: id,
        round: post.round,
        phase: post.phase,
    };
    let is_provider = matches!(
        state.participant(id, &sender).map(|p| p.role),
        Some(Role::Provider { .. })
    );
    if !is_provider {
        return Err(not_expected);
    }
    let key = |phase| PhaseKey {
        job: id,
        round: post.round,
        phase,
        poster: sender,
    };
    if post.phase > 0 && state.tables.phase_posts.get(&key(post.phase - 1)).is_none() {
        return Err(not_expected);
    }
    if state.tables.phase_posts.get(&key(post.phase)).is_some() {
        return Err(TxError::AlreadyPosted {
            round: post.round,
            phase: post.phase,
        });
    }
    state
        .tables
        .phase_posts
        .insert(key(post.phase), post.data.clone());
    let (posted, expected) = state.tables.rounds.upsert((id, post.round), |r| {
        r.posted += 1;
        (r.posted, r.expected)
    });
    events.push(Event::PhasePosted {
        job: id,
        round: post.round,
        phase: post.phase,
        provider: sender,
    });
    if posted == expected {
        let round = state.round(id, post.round).expect("just updated");
        let deadline = round_deadline_of(id, post.round, round);
        end_early(state, &deadline, |state| {
            end_phase(state, ctx, id, post.round, events);
        });
    }
    Ok(())
}

/// Ends the current phase of round `seq`: the next phase or aggregation opens, or the round
/// fails if too few posted.
fn end_phase(state: &mut State, ctx: &BlockContext, id: JobId, seq: u32, events: &mut Vec<Event>) {
    let job = state.job(id).expect("the caller found the job");
    let terms = &job.terms;
    let needed = terms
        .secure_aggregation
        .map_or(terms.providers_min, |s| s.threshold);
    let phases = phase_names(terms.secure_aggregation.is_some()).len();
    let (phase_blocks, aggregate_blocks) = (
        terms.deadlines.phase_blocks,
        terms.deadlines.aggregate_blocks,
    );
    let round = state
        .round(id, seq)
        .expect("the caller found the round")
        .clone();
    let survivors = round.posted;
    if survivors < needed {
        state
            .tables
            .rounds
            .upsert((id, seq), |r| r.stage = RoundStage::Failed);
        events.push(Event::RoundFailed {
            job: id,
            round: seq,
            phase: round.phase,
            survivors,
            needed,
        });
        retry_or_fail(state, ctx, id, round.index, events);
        return;
    }
    let last = usize::from(round.phase) + 1 == phases;
    let next_until = stage_end(
        ctx.height,
        if last { aggregate_blocks } else { phase_blocks },
    );
    let updated = state.tables.rounds.upsert((id, seq), |r| {
        if last {
            r.stage = RoundStage::Aggregating;
        } else {
            r.phase += 1;
            r.expected = survivors;
            r.posted = 0;
        }
        r.deadline = next_until;
        r.clone()
    });
    state.schedule(round_deadline_of(id, seq, &updated));
    events.push(Event::PhaseEnded {
        job: id,
        round: seq,
        phase: round.phase,
        survivors,
        next_until,
    });
}

/// After a failed round: the same round again under a new sequence number if the job has
/// retries left, else the job fails.
fn retry_or_fail(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    index: u16,
    events: &mut Vec<Event>,
) {
    let job = state.job(id).expect("the caller found the job");
    // Every started round closed or failed; the failures include this one.
    let failures = job.rounds_started - u32::from(job.rounds_closed);
    if failures > u32::from(job.terms.round_retries) {
        settlement::fail(state, ctx, id, JobFailure::RoundsFailed, events);
    } else {
        start(state, ctx, id, index, events);
    }
}

/// A round's deadline passed: its phase ends with whoever posted, or, if it was aggregating,
/// the trainer has vanished.
fn round_deadline(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    seq: u32,
    events: &mut Vec<Event>,
) {
    let Some(job) = state.job(id) else { return };
    if job.status != JobStatus::Training || job.rounds_started != seq {
        return;
    }
    let trainer = job.trainer.expect("a training job has a trainer");
    let round = state.round(id, seq).expect("the current round exists");
    match round.stage {
        RoundStage::Posting => end_phase(state, ctx, id, seq, events),
        RoundStage::Aggregating => {
            state
                .tables
                .rounds
                .upsert((id, seq), |r| r.stage = RoundStage::Abandoned);
            treasury::slash_job_stake(state, id, trainer, SlashReason::TrainerVanished, events);
            settlement::fail(state, ctx, id, JobFailure::TrainerVanished, events);
        }
        _ => {}
    }
}

fn close(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    close: &CloseRound,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = close.job;
    let job = job(state, id)?;
    check_stage(job, id, JobStage::Training, ctx)?;
    if job.trainer != Some(sender) {
        return Err(TxError::NotTrainer { job: id });
    }
    let update = update_phase(job.terms.secure_aggregation.is_some());
    let rounds = job.terms.rounds;
    let round = current_round(state, id, close.round)?;
    if round.stage != RoundStage::Aggregating {
        return Err(TxError::NotAggregating {
            job: id,
            round: close.round,
        });
    }
    if ctx.height > round.deadline {
        return Err(TxError::PastDeadline {
            deadline: round.deadline,
            height: ctx.height,
        });
    }
    let deadline = round_deadline_of(id, close.round, round);
    let index = round.index;
    let mut seen = Vec::with_capacity(close.contributions.len());
    for c in close.contributions.iter() {
        let key = PhaseKey {
            job: id,
            round: close.round,
            phase: update,
            poster: c.provider,
        };
        if state.tables.phase_posts.get(&key).is_none() || seen.contains(&c.provider) {
            return Err(TxError::BadContribution {
                provider: c.provider,
            });
        }
        seen.push(c.provider);
        let participant = state
            .participant(id, &c.provider)
            .expect("posters are providers");
        let Role::Provider { dataset, .. } = participant.role else {
            unreachable!("posters are providers")
        };
        let rows = state.dataset(dataset).map_or(0, |d| d.rows);
        if c.samples > rows {
            return Err(TxError::SamplesExceedRows {
                provider: c.provider,
                samples: c.samples,
                rows,
            });
        }
    }
    state.unschedule(&deadline);
    for c in close.contributions.iter() {
        state.tables.participants.upsert((id, c.provider), |p| {
            p.samples = p
                .samples
                .checked_add(c.samples)
                .expect("samples are capped by rows times rounds");
        });
    }
    state.tables.rounds.upsert((id, close.round), |r| {
        r.stage = RoundStage::Closed {
            aggregate: close.aggregate,
            model: close.model,
        };
        r.contributions = close.contributions.clone();
    });
    let closed = state.tables.jobs.upsert(id, |j| {
        j.rounds_closed += 1;
        j.global_model = close.model;
        j.rounds_closed
    });
    events.push(Event::RoundClosed {
        job: id,
        round: close.round,
        aggregate: close.aggregate,
        model: close.model,
    });
    if closed == rounds {
        scores::open_commits(state, ctx, id, events);
    } else {
        start(state, ctx, id, index + 1, events);
    }
    Ok(())
}

/// Schedules the pruning of a finished job's phase messages, from the next block.
pub(crate) fn schedule_prune(state: &mut State, ctx_height: u64, id: JobId) {
    state.schedule(deadline_after(ctx_height, deadline_kind::PRUNE, id, 0));
}

/// Removes a batch of a finished job's phase messages; schedules the next batch if any remain.
fn prune(state: &mut State, ctx: &BlockContext, id: JobId) {
    let batch: Vec<PhaseKey> = state
        .job_phase_keys(id)
        .take(PRUNED_POSTS_PER_DEADLINE_MAX + 1)
        .collect();
    for key in batch.iter().take(PRUNED_POSTS_PER_DEADLINE_MAX) {
        state.tables.phase_posts.remove(key);
    }
    if batch.len() > PRUNED_POSTS_PER_DEADLINE_MAX {
        schedule_prune(state, ctx.height, id);
    }
}

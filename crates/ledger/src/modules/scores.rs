//! Validation by commit and reveal: `CommitScore` then `RevealScore`.
//!
//! When a job's last round closes, validators have `commit_blocks` to commit (at most
//! `validators_max`; an account that trained or provided for the job cannot validate it), each
//! locking at least `validator_stake`, its weight. Commits close early when `validators_max`
//! have committed. With fewer than `validators_min` commits the job fails as
//! `TooFewValidators`. Otherwise reveals open for `reveal_blocks`, and close early once every
//! committer has revealed; then the job settles (`settlement`).
//!
//! A reveal must hash to its commitment ([`ScoreReport::commitment`], which binds the
//! validator's address, so a copied commitment cannot be revealed by the copier); one that
//! does not is refused and may be retried. A committer without a matching reveal when reveals
//! close is slashed.
//!
//! [`ScoreReport::commitment`]: aifactory_types::lifecycle::ScoreReport::commitment

use aifactory_types::lifecycle::{
    CommitScore, JobFailure, JobId, JobStage, JobStatus, Participant, RevealScore, Role, Score,
};
use aifactory_types::{Address, Event, Payload, TxError};

use super::jobs::{check_stage, end_early, job, lock_stake, stage_end, still_in};
use super::{Module, deadline_after, deadline_kind, deadline_subject, settlement};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// Committing and revealing scores.
pub(crate) struct Scores;

impl Module for Scores {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        Some(match payload {
            Payload::CommitScore(commit) => self::commit(state, ctx, sender, commit, events),
            Payload::RevealScore(reveal) => self::reveal(state, ctx, sender, reveal, events),
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
            (deadline_kind::COMMIT, job, _) => close_commits(state, ctx, job, events),
            (deadline_kind::REVEAL, job, _) => close_reveals(state, ctx, job, events),
            _ => return None,
        }
        Some(())
    }
}

/// The last round closed: validators may commit.
pub(crate) fn open_commits(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    events: &mut Vec<Event>,
) {
    let job = state.job(id).expect("the caller found the job");
    let commit_until = stage_end(ctx.height, job.terms.deadlines.commit_blocks);
    let model = job.global_model;
    state.tables.jobs.upsert(id, |j| {
        j.status = JobStatus::Committing;
        j.stage_deadline = commit_until;
    });
    state.schedule(deadline_after(commit_until, deadline_kind::COMMIT, id, 0));
    events.push(Event::ValidationOpened {
        job: id,
        model,
        commit_until,
    });
}

fn commit(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    commit: &CommitScore,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = commit.job;
    let job = job(state, id)?;
    check_stage(job, id, JobStage::Committing, ctx)?;
    if state.participant(id, &sender).is_some() {
        return Err(TxError::AlreadyParticipant { job: id });
    }
    let max = job.terms.validators_max;
    if job.commits >= max {
        return Err(TxError::JobFull { job: id, max });
    }
    let needed = job.terms.validator_stake;
    if commit.stake < needed {
        return Err(TxError::JobStakeTooLow {
            needed,
            offered: commit.stake,
        });
    }
    let deadline = deadline_after(job.stage_deadline, deadline_kind::COMMIT, id, 0);
    lock_stake(state, sender, commit.stake)?;
    state.tables.participants.insert(
        (id, sender),
        Participant {
            role: Role::Validator,
            stake: commit.stake,
            joined_height: ctx.height,
            samples: 0,
            paid: 0,
        },
    );
    state.tables.scores.insert(
        (id, sender),
        Score {
            commitment: commit.commitment,
            committed_height: ctx.height,
            revealed: None,
            within_tolerance: false,
        },
    );
    let commits = state.tables.jobs.upsert(id, |j| {
        j.commits += 1;
        j.commits
    });
    events.push(Event::ScoreCommitted {
        job: id,
        validator: sender,
        stake: commit.stake,
    });
    if commits == max {
        end_early(state, &deadline, |state| {
            close_commits(state, ctx, id, events)
        });
    }
    Ok(())
}

/// Commits closed: reveals open, or the job fails with too few validators.
fn close_commits(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    let Some(job) = still_in(state, id, JobStatus::Committing) else {
        return;
    };
    if job.commits < job.terms.validators_min {
        settlement::fail(state, ctx, id, JobFailure::TooFewValidators, events);
        return;
    }
    let commits = job.commits;
    let reveal_until = stage_end(ctx.height, job.terms.deadlines.reveal_blocks);
    state.tables.jobs.upsert(id, |j| {
        j.status = JobStatus::Revealing;
        j.stage_deadline = reveal_until;
    });
    state.schedule(deadline_after(reveal_until, deadline_kind::REVEAL, id, 0));
    events.push(Event::RevealOpened {
        job: id,
        commits,
        reveal_until,
    });
}

fn reveal(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    reveal: &RevealScore,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = reveal.job;
    let job = job(state, id)?;
    check_stage(job, id, JobStage::Revealing, ctx)?;
    let score = state
        .score(id, &sender)
        .ok_or(TxError::NoCommitment { job: id })?;
    if score.revealed.is_some() {
        return Err(TxError::AlreadyRevealed { job: id });
    }
    let expected = if job.terms.leave_one_out {
        job.providers
    } else {
        0
    };
    let got = reveal.report.contributions.len() as u16;
    if got != expected {
        return Err(TxError::ContributionsLength { expected, got });
    }
    if reveal.report.commitment(id, &sender, &reveal.salt) != score.commitment {
        return Err(TxError::RevealMismatch { job: id });
    }
    let deadline = deadline_after(job.stage_deadline, deadline_kind::REVEAL, id, 0);
    state
        .tables
        .scores
        .upsert((id, sender), |s| s.revealed = Some(reveal.report.clone()));
    let (reveals, commits) = state.tables.jobs.upsert(id, |j| {
        j.reveals += 1;
        (j.reveals, j.commits)
    });
    events.push(Event::ScoreRevealed {
        job: id,
        validator: sender,
        metric: reveal.report.metric,
    });
    if reveals == commits {
        end_early(state, &deadline, |state| {
            settlement::settle(state, ctx, id, events)
        });
    }
    Ok(())
}

/// Reveals closed: the job settles with whoever revealed.
fn close_reveals(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    if still_in(state, id, JobStatus::Revealing).is_some() {
        settlement::settle(state, ctx, id, events);
    }
}

//! How a job ends, and who gets what: every base unit of the escrow ends in exactly one place.
//!
//! ## Settling (reveals closed)
//!
//! 1. Every committer without a matching reveal is slashed: its stake goes to the treasury.
//! 2. Fewer reveals than `validators_min`: the job fails as `TooFewValidators`.
//! 3. If validators holding more than half the revealed stake report that the published
//!    aggregates do not match, the trainer's stake is slashed and the job fails as
//!    `AggregateMismatch`.
//! 4. The accepted score is the stake-weighted (lower) median of the revealed metrics: sort
//!    the reveals by (metric, address) and take the first whose running stake reaches half the
//!    total. Validators within `tolerance` of it share the validators' pool by stake; the rest
//!    get no reward (their stake is returned).
//! 5. If the accepted score meets the target, the budget is split into the five pools of the
//!    job's split, then the providers' pool among providers by samples in closed rounds (or, for
//!    a leave-one-out job, by the stake-weighted median of each provider's measured
//!    contribution, falling back to samples if every one is zero), and the validators' pool as
//!    above. A pool nobody can claim goes to the treasury. The trained model is registered,
//!    with the job's model as parent, and what each pool and provider got is kept (the
//!    settlements table) for the royalty tables of its deployments. If the score misses the
//!    target, only the validators' pool is paid, and the job fails as `TargetMissed`.
//!
//! ## Rounding: largest remainder
//!
//! Each split of an amount `A` by weights `w_i` (summing to `W`) gives everyone
//! `floor(A·w_i / W)`, then hands the units left over, one each, to the largest remainders
//! `A·w_i mod W`, the earlier recipient first on a tie (pools in split order, participants in
//! address order). Nobody gets more than one unit above their exact share, and the parts sum
//! to `A` exactly.
//!
//! ## Ending, however it ends
//!
//! Whatever is left of the escrow goes back to the sponsor, every stake still locked goes back
//! to its owner, and the job's datasets are released (they may retire once no unfinished job
//! holds them).

use aifactory_types::lifecycle::{
    BASIS_POINTS_WHOLE, JobFailure, JobId, JobStatus, Micros, Model, ModelArtifact, Role,
    Settlement, TrainedBy,
};
use aifactory_types::{Address, Amount, BoundedVec, Event, PayoutRole, SlashReason, TREASURY};

use super::{registry, rounds, treasury};
use crate::execute::BlockContext;
use crate::state::State;

/// `amount` split by `weights` with largest-remainder rounding (see the module docs), or
/// `None` if every weight is zero. Each product of the amount and a weight fits 128 bits, and
/// the weights' sum does for any number of weights a block can name.
pub(crate) fn split(amount: Amount, weights: &[u64]) -> Option<Vec<Amount>> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if total == 0 {
        return None;
    }
    let amount_wide = u128::from(amount);
    let mut parts: Vec<Amount> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        // Two 64-bit factors: the product fits 128 bits.
        let exact = amount_wide * u128::from(w);
        parts.push(Amount::try_from(exact / total).expect("a part is at most the whole"));
        remainders.push((exact % total, i));
    }
    let given: Amount = parts.iter().sum();
    let left = usize::try_from(amount - given).expect("fewer units left than recipients");
    // Largest remainder first; on a tie, the earlier recipient.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left) {
        parts[i] += 1;
    }
    Some(parts)
}

/// The stake-weighted lower median of `(value, stake)` pairs already sorted by value.
pub(crate) fn weighted_median(sorted: &[(Micros, Amount)]) -> Micros {
    let total: u128 = sorted.iter().map(|&(_, s)| u128::from(s)).sum();
    let mut running = 0u128;
    for &(value, stake) in sorted {
        running += u128::from(stake);
        if running * 2 >= total {
            return value;
        }
    }
    sorted.last().map_or(0, |&(value, _)| value)
}

/// Pays `amount` out of the job's escrow.
fn pay_from_escrow(
    state: &mut State,
    id: JobId,
    to: Address,
    role: PayoutRole,
    amount: Amount,
    events: &mut Vec<Event>,
) {
    state.tables.jobs.upsert(id, |j| {
        j.escrow = j
            .escrow
            .checked_sub(amount)
            .expect("payouts never exceed the escrow");
    });
    treasury::pay(state, id, to, role, amount, events);
}

/// Pays `pool` to `recipients` by weight, or to the treasury if no weight is positive;
/// returns what each recipient got (nothing if the treasury took the pool).
fn pay_pool(
    state: &mut State,
    id: JobId,
    pool: Amount,
    recipients: &[(Address, u64)],
    role: PayoutRole,
    events: &mut Vec<Event>,
) -> Vec<(Address, Amount)> {
    let weights: Vec<u64> = recipients.iter().map(|&(_, w)| w).collect();
    match split(pool, &weights) {
        Some(parts) => recipients
            .iter()
            .zip(parts)
            .map(|(&(to, _), part)| {
                pay_from_escrow(state, id, to, role, part, events);
                (to, part)
            })
            .collect(),
        None => {
            pay_from_escrow(state, id, TREASURY, PayoutRole::Treasury, pool, events);
            Vec::new()
        }
    }
}

/// A revealed score: the validator, its report's metric and contributions, its stake.
struct Reveal {
    validator: Address,
    metric: Micros,
    aggregates_match: bool,
    contributions: Vec<Micros>,
    stake: Amount,
}

/// Settles a job whose reveals closed (see the module docs).
pub(crate) fn settle(state: &mut State, ctx: &BlockContext, id: JobId, events: &mut Vec<Event>) {
    let job = state.job(id).expect("the caller found the job").clone();
    let scores: Vec<_> = state.scores(id).map(|(a, s)| (a, s.clone())).collect();
    let mut reveals = Vec::with_capacity(scores.len());
    for (validator, score) in scores {
        match score.revealed {
            None => {
                treasury::slash_job_stake(
                    state,
                    id,
                    validator,
                    SlashReason::ScoreNotRevealed,
                    events,
                );
            }
            Some(report) => reveals.push(Reveal {
                validator,
                metric: report.metric,
                aggregates_match: report.aggregates_match,
                contributions: report.contributions.to_vec(),
                stake: state.participant(id, &validator).map_or(0, |p| p.stake),
            }),
        }
    }
    if reveals.len() < usize::from(job.terms.validators_min) {
        fail(state, ctx, id, JobFailure::TooFewValidators, events);
        return;
    }
    let total_stake: u128 = reveals.iter().map(|r| u128::from(r.stake)).sum();
    let mismatch: u128 = reveals
        .iter()
        .filter(|r| !r.aggregates_match)
        .map(|r| u128::from(r.stake))
        .sum();
    let trainer = job.trainer.expect("a settling job has a trainer");
    if mismatch * 2 > total_stake {
        treasury::slash_job_stake(state, id, trainer, SlashReason::AggregateMismatch, events);
        fail(state, ctx, id, JobFailure::AggregateMismatch, events);
        return;
    }
    let mut by_metric: Vec<(Micros, Amount, Address)> = reveals
        .iter()
        .map(|r| (r.metric, r.stake, r.validator))
        .collect();
    by_metric.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
    let sorted: Vec<(Micros, Amount)> = by_metric.iter().map(|&(m, s, _)| (m, s)).collect();
    let accepted = weighted_median(&sorted);
    let tolerance = job.terms.tolerance;
    let mut honest = Vec::new();
    for r in &reveals {
        if r.metric.abs_diff(accepted) <= tolerance {
            state
                .tables
                .scores
                .upsert((id, r.validator), |s| s.within_tolerance = true);
            honest.push((r.validator, r.stake));
        }
    }
    let shares = job.terms.split.shares().map(u64::from);
    debug_assert_eq!(shares.iter().sum::<u64>(), u64::from(BASIS_POINTS_WHOLE));
    let pools = split(job.terms.budget, &shares).expect("a split is whole");
    let [
        trainer_pool,
        providers_pool,
        developer_pool,
        validators_pool,
        treasury_pool,
    ] = pools[..]
    else {
        unreachable!("five pools")
    };
    if !job.terms.metric.meets(accepted, job.terms.target) {
        pay_pool(
            state,
            id,
            validators_pool,
            &honest,
            PayoutRole::Validator,
            events,
        );
        fail(state, ctx, id, JobFailure::TargetMissed, events);
        return;
    }
    let base = state
        .model(job.terms.model)
        .expect("a job's model exists")
        .clone();
    pay_from_escrow(
        state,
        id,
        trainer,
        PayoutRole::Trainer,
        trainer_pool,
        events,
    );
    let providers = provider_weights(state, id, job.terms.leave_one_out, &reveals);
    let provider_parts = pay_pool(
        state,
        id,
        providers_pool,
        &providers,
        PayoutRole::Provider,
        events,
    );
    // Kept for deployments: their royalty tables follow what this settlement paid.
    state.tables.settlements.insert(
        id,
        Settlement {
            pools: [
                trainer_pool,
                providers_pool,
                developer_pool,
                validators_pool,
                treasury_pool,
            ],
            providers: BoundedVec::new(provider_parts)
                .expect("one part per provider, within the cap"),
        },
    );
    pay_from_escrow(
        state,
        id,
        base.developer,
        PayoutRole::Developer,
        developer_pool,
        events,
    );
    pay_pool(
        state,
        id,
        validators_pool,
        &honest,
        PayoutRole::Validator,
        events,
    );
    pay_from_escrow(
        state,
        id,
        TREASURY,
        PayoutRole::Treasury,
        treasury_pool,
        events,
    );

    let model = registry::next_id(state, |c| &mut c.models);
    state.tables.models.insert(
        model,
        Model {
            developer: base.developer,
            artifact: ModelArtifact::Trained {
                spec: base.artifact.starting_blob(),
                weights: job.global_model,
            },
            royalty_bps: base.royalty_bps,
            licence: base.licence.clone(),
            parent: Some(job.terms.model),
            registered_height: ctx.height,
            trained_by: Some(TrainedBy {
                job: id,
                score: accepted,
            }),
        },
    );
    events.push(Event::ModelRegistered {
        model,
        developer: base.developer,
        parent: Some(job.terms.model),
    });
    events.push(Event::JobSettled {
        job: id,
        score: accepted,
        model,
    });
    end(
        state,
        ctx,
        id,
        JobStatus::Settled {
            score: accepted,
            model,
        },
        events,
    );
}

/// Each provider with its weight in the providers' pool, in address order.
fn provider_weights(
    state: &State,
    id: JobId,
    leave_one_out: bool,
    reveals: &[Reveal],
) -> Vec<(Address, u64)> {
    let providers: Vec<(Address, u16, u64)> = state
        .participants(id)
        .filter_map(|(address, p)| match p.role {
            Role::Provider { position, .. } => Some((address, position, p.samples)),
            _ => None,
        })
        .collect();
    let by_samples = || {
        providers
            .iter()
            .map(|&(a, _, samples)| (a, samples))
            .collect()
    };
    if !leave_one_out {
        return by_samples();
    }
    let measured: Vec<(Address, u64)> = providers
        .iter()
        .map(|&(address, position, _)| {
            let mut values: Vec<(Micros, Amount)> = reveals
                .iter()
                .filter_map(|r| {
                    r.contributions
                        .get(usize::from(position))
                        .map(|&c| (c, r.stake))
                })
                .collect();
            values.sort_unstable();
            (address, weighted_median(&values))
        })
        .collect();
    if measured.iter().all(|&(_, w)| w == 0) {
        by_samples()
    } else {
        measured
    }
}

/// Ends a job as failed for `reason`.
pub(crate) fn fail(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    reason: JobFailure,
    events: &mut Vec<Event>,
) {
    events.push(Event::JobFailed { job: id, reason });
    end(state, ctx, id, JobStatus::Failed { reason }, events);
}

/// Ends a job with `status`: the rest of the escrow to the sponsor, stakes back to their
/// owners, datasets released, and its phase messages queued for pruning.
pub(crate) fn end(
    state: &mut State,
    ctx: &BlockContext,
    id: JobId,
    status: JobStatus,
    events: &mut Vec<Event>,
) {
    let participants: Vec<(Address, Role)> =
        state.participants(id).map(|(a, p)| (a, p.role)).collect();
    for (address, role) in participants {
        treasury::return_job_stake(state, id, address, events);
        if let Role::Provider { dataset, .. } = role {
            state.tables.datasets.upsert(dataset, |d| {
                d.active_jobs = d.active_jobs.checked_sub(1).expect("enlisted once per job")
            });
        }
    }
    let job = state.job(id).expect("the caller found the job");
    let (sponsor, rest) = (job.sponsor, job.escrow);
    pay_from_escrow(state, id, sponsor, PayoutRole::Sponsor, rest, events);
    state.tables.jobs.upsert(id, |j| j.status = status);
    rounds::schedule_prune(state, ctx.height, id);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn split_hands_leftover_units_to_the_largest_remainders() {
        // 10 by 1 : 1 : 1 is 3.33 each: the first on the tie gets the unit.
        assert_eq!(split(10, &[1, 1, 1]), Some(vec![4, 3, 3]));
        // 1,000,003 by the 30/40/10/10/10 split of the lifecycle test.
        assert_eq!(
            split(1_000_003, &[3_000, 4_000, 1_000, 1_000, 1_000]),
            Some(vec![300_001, 400_001, 100_001, 100_000, 100_000])
        );
        assert_eq!(split(5, &[0, 0]), None);
        assert_eq!(split(0, &[1, 2]), Some(vec![0, 0]));
        assert_eq!(
            split(u64::MAX, &[u64::MAX, 1]).unwrap().iter().sum::<u64>(),
            u64::MAX
        );
    }

    #[test]
    fn weighted_median_is_the_lower_median_by_stake() {
        assert_eq!(weighted_median(&[(1, 1), (2, 1), (3, 1)]), 2);
        assert_eq!(weighted_median(&[(1, 1), (2, 1)]), 1, "lower median");
        assert_eq!(
            weighted_median(&[(1, 1), (2, 1), (9, 5)]),
            9,
            "stake outweighs count"
        );
        assert_eq!(weighted_median(&[(1, 5), (2, 1), (9, 1)]), 1);
    }

    proptest! {
        /// Every unit lands somewhere, and nobody is more than one unit from the exact share.
        #[test]
        fn split_is_exact_and_fair(amount in any::<u64>(), weights in prop::collection::vec(any::<u64>(), 1..40)) {
            let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
            match split(amount, &weights) {
                None => prop_assert_eq!(total, 0),
                Some(parts) => {
                    prop_assert_eq!(parts.iter().map(|&p| u128::from(p)).sum::<u128>(), u128::from(amount));
                    for (&part, &w) in parts.iter().zip(&weights) {
                        let floor = u128::from(amount) * u128::from(w) / total;
                        prop_assert!(u128::from(part) == floor || u128::from(part) == floor + 1);
                    }
                }
            }
        }

        /// The median is a reported value, with at least half the stake at or below it and
        /// at least half at or above it.
        #[test]
        fn weighted_median_splits_the_stake(mut values in prop::collection::vec((0u64..1_000, 1u64..1_000), 1..30)) {
            values.sort_unstable();
            let median = weighted_median(&values);
            prop_assert!(values.iter().any(|&(v, _)| v == median));
            let total: u64 = values.iter().map(|&(_, s)| s).sum();
            let below: u64 = values.iter().filter(|&&(v, _)| v <= median).map(|&(_, s)| s).sum();
            let above: u64 = values.iter().filter(|&&(v, _)| v >= median).map(|&(_, s)| s).sum();
            prop_assert!(below * 2 >= total && above * 2 >= total);
        }
    }
}

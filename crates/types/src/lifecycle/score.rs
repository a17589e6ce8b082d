//! Validators' scores, by commit and reveal: a commitment binds the validator's address, the
//! job, a salt and the whole report, so a copied commitment cannot be revealed by the copier.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{JobId, Micros};
use crate::limits::PROVIDERS_PER_JOB_MAX;
use crate::{Address, Amount, BoundedVec, Hash};

/// Domain of a score commitment.
pub static SCORE_COMMITMENT_DOMAIN: aifactory_crypto::Domain =
    aifactory_crypto::Domain::new("aifactory 2026-12 score commitment v1");

/// What a validator measured on its own held-out data.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct ScoreReport {
    /// The job's metric, in millionths.
    pub metric: Micros,
    /// Expected calibration error, in millionths.
    pub calibration_error: Micros,
    /// Largest gap of the metric between groups of the job's group column, in millionths.
    pub fairness_gap: Micros,
    /// Whether the validator recomputed every round's aggregate from the published blobs and
    /// every one matched.
    pub aggregates_match: bool,
    /// For a leave-one-out job: each provider's measured contribution, in millionths, in the
    /// providers' join order; empty otherwise.
    pub contributions: BoundedVec<Micros, PROVIDERS_PER_JOB_MAX>,
}

impl ScoreReport {
    /// The commitment `validator` makes to this report for `job` with `salt`.
    pub fn commitment(&self, job: JobId, validator: &Address, salt: &Hash) -> Hash {
        let bytes = crate::codec::encode(&(job, validator, salt, self));
        SCORE_COMMITMENT_DOMAIN.hash(&[&bytes])
    }
}

/// `CommitScore`: a validator commits to its report and locks stake in the job.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitScore {
    /// The job.
    pub job: JobId,
    /// [`ScoreReport::commitment`].
    pub commitment: Hash,
    /// Tokens to lock: at least the job's `validator_stake`; the validator's weight.
    pub stake: Amount,
}

/// `RevealScore`: the report and salt behind a commitment.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevealScore {
    /// The job.
    pub job: JobId,
    /// The salt committed to.
    pub salt: Hash,
    /// The report committed to.
    pub report: ScoreReport,
}

/// A validator's score: key `(job, validator)` in the scores table.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Score {
    /// The commitment.
    pub commitment: Hash,
    /// When it was committed.
    pub committed_height: u64,
    /// The report, once revealed and matched.
    pub revealed: Option<ScoreReport>,
    /// Whether it was within the job's tolerance of the accepted score (set at settlement).
    pub within_tolerance: bool,
}

//! Jobs: a sponsor's escrowed budget and every rule of one federated training run, fixed when
//! the job opens, and where the job stands.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{BASIS_POINTS_WHOLE, BasisPoints, DatasetId, JobId, Micros, ModelId};
use crate::limits::{DATASETS_PER_JOB_MAX, GROUP_COLUMN_BYTES_MAX};
use crate::{Address, Amount, BoundedString, BoundedVec, Hash};

/// How the trainer combines the round's updates.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean weighted by samples (FedAvg); the only rule secure aggregation allows.
    #[default]
    FedAvg,
    /// FedAvg with a proximal term of weight `mu` in local training.
    FedProx {
        /// The proximal weight, in millionths.
        mu: Micros,
    },
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise mean after dropping a fraction from each end.
    TrimmedMean {
        /// The fraction dropped from each end, in basis points (below 5,000).
        trim_bps: BasisPoints,
    },
    /// Krum: the update closest to its neighbours, tolerating `byzantine` bad updates.
    Krum {
        /// How many updates may be adversarial.
        byzantine: u16,
    },
}

/// Local training on each provider's rows, every round.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct LocalTraining {
    /// Passes over the local rows per round.
    pub epochs: u16,
    /// Rows per step.
    pub batch_size: u32,
    /// The learning rate, in millionths.
    pub learning_rate: Micros,
    /// The seed every party derives its randomness from (with its own secret for DP noise).
    pub seed: u64,
}

/// How the trainer moves the global model by the aggregate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct ServerOptimiser {
    /// The server learning rate, in millionths (1,000,000 applies the aggregate as is).
    pub learning_rate: Micros,
    /// Server momentum, in millionths (0 for none).
    pub momentum: Micros,
}

/// Whose privacy a job's noise protects.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyUnit {
    /// One row of a provider's data: each provider trains with DP-SGD (per-example clipping
    /// and noise at every step), and ε is charged per dataset for its rows and batches.
    #[default]
    Example,
    /// One provider's whole dataset: each provider clips its round update and adds its share of
    /// Gaussian noise inside the secure sum (distributed DP), so no party ever sees an
    /// un-noised sum; ε is charged for the rounds, with every provider in every round. Needs
    /// secure aggregation, and many providers for a usable model.
    Provider,
}

/// Differential privacy for the job's updates. The ledger stores the settings exactly; the
/// epsilon they imply is computed off the ledger by the RDP accountant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct PrivacyTerms {
    /// Each update is clipped to this L2 norm, in millionths.
    pub clip_norm: Micros,
    /// Noise standard deviation as a multiple of the clip norm, in millionths.
    pub noise_multiplier: Micros,
    /// Delta, in units of 10^-12 (1e-5 is 10,000,000).
    pub delta_pico: u64,
    /// Whose privacy the noise protects (a row, or a provider's whole dataset).
    #[serde(default)]
    pub unit: PrivacyUnit,
}

/// The metric validators report and the job's target for it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Fraction of correct predictions; higher is better.
    #[default]
    Accuracy,
    /// Macro F1; higher is better.
    F1,
    /// Area under the ROC curve; higher is better.
    Auc,
    /// Root mean squared error; lower is better.
    Rmse,
}

impl Metric {
    /// Whether a higher value is better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Rmse)
    }

    /// Whether `score` meets `target` for this metric.
    pub fn meets(self, score: Micros, target: Micros) -> bool {
        if self.higher_is_better() {
            score >= target
        } else {
            score <= target
        }
    }
}

/// How the escrowed budget is shared on success, in basis points summing to 10,000.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct BudgetSplit {
    /// The trainer's share.
    pub trainer_bps: BasisPoints,
    /// The providers' pool, shared by samples (or measured contribution).
    pub providers_bps: BasisPoints,
    /// The model developer's share (at least the model's royalty).
    pub developer_bps: BasisPoints,
    /// The validators' pool, shared by stake among those within tolerance.
    pub validators_bps: BasisPoints,
    /// The treasury's share.
    pub treasury_bps: BasisPoints,
}

impl BudgetSplit {
    /// The shares in payout order: trainer, providers, developer, validators, treasury.
    pub fn shares(&self) -> [BasisPoints; 5] {
        [
            self.trainer_bps,
            self.providers_bps,
            self.developer_bps,
            self.validators_bps,
            self.treasury_bps,
        ]
    }

    /// The shares' sum (10,000 in a valid split), without overflow.
    pub fn total(&self) -> u32 {
        self.shares().iter().map(|&s| u32::from(s)).sum()
    }

    /// Whether the shares sum to the whole.
    pub fn is_whole(&self) -> bool {
        self.total() == u32::from(BASIS_POINTS_WHOLE)
    }
}

/// Deadlines of each stage, in blocks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct JobDeadlines {
    /// Blocks after opening in which a trainer claims and providers join.
    pub recruit_blocks: u64,
    /// Blocks for each phase of a round (it ends sooner once everyone expected has posted).
    pub phase_blocks: u64,
    /// Blocks the trainer has to close a round once its providers' phases are over.
    pub aggregate_blocks: u64,
    /// Blocks for validators to commit scores once the final model is in.
    pub commit_blocks: u64,
    /// Blocks for validators to reveal once commits close.
    pub reveal_blocks: u64,
}

/// Secure aggregation for the job's rounds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct SecureAggregation {
    /// Least survivors of every phase for the round to go on (the Shamir threshold).
    pub threshold: u16,
}

/// `OpenJob`: every rule of a job, and its budget, escrowed from the sponsor.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct JobTerms {
    /// The model to train.
    pub model: ModelId,
    /// The datasets that may join; empty lets any registered dataset join.
    pub datasets: BoundedVec<DatasetId, DATASETS_PER_JOB_MAX>,
    /// Fewest providers for training to start (and for a plain round to go on).
    pub providers_min: u16,
    /// Most providers; training starts as soon as this many joined and a trainer claimed.
    pub providers_max: u16,
    /// Rounds to train.
    pub rounds: u16,
    /// How many times a failed round is tried again before the job fails.
    pub round_retries: u8,
    /// Local training settings.
    pub training: LocalTraining,
    /// The aggregation rule.
    pub aggregation: Aggregation,
    /// The server optimiser.
    pub server: ServerOptimiser,
    /// Secure aggregation, or `None` for plain updates the trainer sees.
    pub secure_aggregation: Option<SecureAggregation>,
    /// Differential privacy, or `None`.
    pub privacy: Option<PrivacyTerms>,
    /// What validators measure.
    pub metric: Metric,
    /// The score the accepted median must meet, in millionths.
    pub target: Micros,
    /// How far from the accepted score a validator may be and still be paid, in millionths.
    pub tolerance: Micros,
    /// The column validators report fairness gaps over.
    pub group_column: BoundedString<GROUP_COLUMN_BYTES_MAX>,
    /// Fewest validators whose reveals settle the job.
    pub validators_min: u16,
    /// Most validators that may commit.
    pub validators_max: u16,
    /// Pay providers by validators' leave-one-out measurements rather than samples (only
    /// without secure aggregation, which hides single updates).
    pub leave_one_out: bool,
    /// Stage deadlines.
    pub deadlines: JobDeadlines,
    /// How the budget is shared.
    pub split: BudgetSplit,
    /// Tokens the trainer locks when it claims.
    pub trainer_stake: Amount,
    /// Least tokens a validator locks when it commits (its weight is what it locks).
    pub validator_stake: Amount,
    /// The budget, escrowed from the sponsor.
    pub budget: Amount,
}

/// `CancelJob`: the sponsor takes its escrow back before training starts.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CancelJob {
    /// Which job.
    pub job: JobId,
}

/// `ClaimJob`: a trainer takes the job, locking `trainer_stake`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimJob {
    /// Which job.
    pub job: JobId,
}

/// `JoinJob`: a provider enlists its dataset, consenting on chain to the job's terms.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct JoinJob {
    /// Which job.
    pub job: JobId,
    /// Which of the sender's datasets.
    pub dataset: DatasetId,
    /// The hash of the job's terms the provider read (`borsh(JobTerms)` in [`JOB_TERMS_DOMAIN`]):
    /// the join fails if they are not the job's, so consent names exactly what it agrees to.
    pub terms_hash: Hash,
}

/// Domain of [`JobTerms::hash`].
pub static JOB_TERMS_DOMAIN: aifactory_crypto::Domain =
    aifactory_crypto::Domain::new("aifactory 2026-12 job terms v1");

impl JobTerms {
    /// The hash a provider's [`JoinJob`] consents to.
    pub fn hash(&self) -> Hash {
        JOB_TERMS_DOMAIN.hash(&[&crate::codec::encode(self)])
    }
}

/// Why a job ended without paying out its whole budget.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum JobFailure {
    /// No trainer claimed it, or too few providers joined, before recruiting closed.
    NotRecruited,
    /// A round failed more often than the job allows retries.
    RoundsFailed,
    /// The trainer did not close a round in time; its stake was slashed.
    TrainerVanished,
    /// Fewer validators revealed than the job's quorum.
    TooFewValidators,
    /// Validators holding most of the revealed stake found the published aggregate wrong; the
    /// trainer's stake was slashed.
    AggregateMismatch,
    /// The accepted score missed the target.
    TargetMissed,
}

/// Where a job stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a trainer and providers until `until` (inclusive).
    #[default]
    Recruiting,
    /// A round is running (see the rounds table for its phase).
    Training,
    /// Validators commit scores until the deadline.
    Committing,
    /// Validators reveal until the deadline.
    Revealing,
    /// Paid out; the trained model is registered.
    Settled {
        /// The accepted score, in millionths.
        score: Micros,
        /// The trained model's id.
        model: ModelId,
    },
    /// Ended without success; see the failure for who was paid what.
    Failed {
        /// Why.
        reason: JobFailure,
    },
    /// The sponsor cancelled it before training; the escrow went back.
    Cancelled,
}

/// The stage of a job, without its details: what a refusal says a transaction needed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum JobStage {
    /// Recruiting a trainer and providers.
    Recruiting,
    /// Training.
    Training,
    /// Validators committing.
    Committing,
    /// Validators revealing.
    Revealing,
    /// Settled, failed or cancelled.
    Finished,
}

impl std::fmt::Display for JobStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobStage::Recruiting => "recruiting",
            JobStage::Training => "training",
            JobStage::Committing => "committing",
            JobStage::Revealing => "revealing",
            JobStage::Finished => "finished",
        })
    }
}

impl JobStatus {
    /// The stage, without details.
    pub fn stage(&self) -> JobStage {
        match self {
            JobStatus::Recruiting => JobStage::Recruiting,
            JobStatus::Training => JobStage::Training,
            JobStatus::Committing => JobStage::Committing,
            JobStatus::Revealing => JobStage::Revealing,
            JobStatus::Settled { .. } | JobStatus::Failed { .. } | JobStatus::Cancelled => {
                JobStage::Finished
            }
        }
    }

    /// Whether the job has ended (settled, failed or cancelled).
    pub fn is_finished(&self) -> bool {
        self.stage() == JobStage::Finished
    }
}

/// Why `OpenJob` terms were refused.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    thiserror::Error,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum JobTermsError {
    /// The budget split does not sum to 10,000 basis points.
    #[error("the budget split sums to {total} basis points; it must sum to 10000")]
    SplitNotWhole {
        /// What it sums to.
        total: u32,
    },
    /// The developer's share is below the model's royalty.
    #[error(
        "the developer's share is {developer_bps} bps, below the model's royalty of {royalty_bps}"
    )]
    DeveloperBelowRoyalty {
        /// The model's royalty.
        royalty_bps: BasisPoints,
        /// The split's developer share.
        developer_bps: BasisPoints,
    },
    /// The providers' range is empty or above the cap.
    #[error("providers_min {min} and providers_max {max} must satisfy 1 <= min <= max <= {cap}")]
    ProvidersRange {
        /// The minimum given.
        min: u16,
        /// The maximum given.
        max: u16,
        /// The cap.
        cap: u16,
    },
    /// The validators' range is empty or above the cap.
    #[error("validators_min {min} and validators_max {max} must satisfy 1 <= min <= max <= {cap}")]
    ValidatorsRange {
        /// The minimum given.
        min: u16,
        /// The maximum given.
        max: u16,
        /// The cap.
        cap: u16,
    },
    /// No rounds, or more than the cap.
    #[error("rounds is {rounds}; it must be 1 to {max}")]
    Rounds {
        /// The rounds given.
        rounds: u16,
        /// The cap.
        max: u16,
    },
    /// More round retries than the cap.
    #[error("round_retries is {retries}; it may be at most {max}")]
    Retries {
        /// The retries given.
        retries: u8,
        /// The cap.
        max: u8,
    },
    /// Local training that does nothing: zero epochs, batch size or learning rate.
    #[error("local training needs positive epochs, batch size and learning rate")]
    Training,
    /// Secure aggregation with a rule other than FedAvg, or leave-one-out with it.
    #[error("secure aggregation hides single updates: it allows only fed_avg and no leave-one-out")]
    SecureAggregationRule,
    /// A secure-aggregation threshold below 2 or above the least providers.
    #[error(
        "secure aggregation threshold {threshold} must be 2 to providers_min ({providers_min})"
    )]
    Threshold {
        /// The threshold given.
        threshold: u16,
        /// `providers_min`.
        providers_min: u16,
    },
    /// A trimmed mean that trims half or more, or Krum tolerating too many.
    #[error("the aggregation rule's parameter is out of range for the job's providers")]
    AggregationParameter,
    /// Differential privacy with a zero clip norm, noise or delta, or delta of 1 or more.
    #[error("differential privacy needs a positive clip norm, noise multiplier and delta below 1")]
    Privacy,
    /// Privacy per provider without secure aggregation, which is where its noise is added.
    #[error(
        "privacy per provider adds its noise inside the secure sum: it needs secure aggregation"
    )]
    PrivacyUnit,
    /// A stage deadline of zero blocks or above the cap.
    #[error("every stage deadline must be 1 to {max} blocks")]
    Deadline {
        /// The cap.
        max: u64,
    },
    /// A dataset listed twice.
    #[error("dataset {dataset} is listed twice")]
    DuplicateDataset {
        /// The dataset.
        dataset: DatasetId,
    },
    /// A zero budget.
    #[error("the budget must be positive")]
    ZeroBudget,
    /// A zero validator stake: anyone could commit for free.
    #[error("validator_stake must be positive")]
    ZeroValidatorStake,
}

/// A job as the ledger keeps it.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Job {
    /// Who funded it.
    pub sponsor: Address,
    /// Its rules.
    pub terms: JobTerms,
    /// The hash of its terms (what providers consent to).
    pub terms_hash: Hash,
    /// The height it opened at.
    pub opened_height: u64,
    /// Where it stands.
    pub status: JobStatus,
    /// The last height of the current stage (recruiting, committing, revealing); rounds keep
    /// their own phase deadlines.
    pub stage_deadline: u64,
    /// Tokens still held for it: the unpaid budget plus every locked stake.
    pub escrow: Amount,
    /// The trainer, once one claimed it.
    pub trainer: Option<Address>,
    /// How many providers joined.
    pub providers: u16,
    /// How many validators committed, and how many revealed.
    pub commits: u16,
    /// How many validators revealed.
    pub reveals: u16,
    /// Rounds closed so far.
    pub rounds_closed: u16,
    /// Rounds started, retries included: the current (last started) round's sequence number,
    /// since sequences start at 1 (0 before training).
    pub rounds_started: u32,
    /// The model the next round starts from: the base model's artifact hash, then each closed
    /// round's global model.
    pub global_model: Hash,
}

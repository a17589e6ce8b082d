//! Who takes part in a job, and its rounds: each round runs the providers' phases (the ledger
//! records who posted in each before its deadline, so every party sees the same survivors),
//! then the trainer closes it with the aggregate and the new global model.
//!
//! Phases of a round: with secure aggregation, five (advertise keys, share keys, masked input,
//! consistency check, unmasking; Bonawitz et al. 2017); without, one (the update). Phase 0
//! expects every provider of the job; each later phase expects the survivors of the one before.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{DatasetId, JobId};
use crate::limits::{PHASE_INLINE_BYTES_MAX, PROVIDERS_PER_JOB_MAX};
use crate::{Address, Amount, BoundedBytes, BoundedVec, Hash};

/// The phases of a round with secure aggregation, in order.
pub const SECURE_PHASES: [&str; 5] = [
    "advertise_keys",
    "share_keys",
    "masked_input",
    "consistency_check",
    "unmasking",
];

/// The phases of a round without secure aggregation.
pub const PLAIN_PHASES: [&str; 1] = ["update"];

/// The phase whose posters' updates are summed: the masked inputs, or the plain updates.
pub fn update_phase(secure: bool) -> u8 {
    if secure { 2 } else { 0 }
}

/// The names of a round's phases.
pub fn phase_names(secure: bool) -> &'static [&'static str] {
    if secure {
        &SECURE_PHASES
    } else {
        &PLAIN_PHASES
    }
}

/// What a participant does in a job.
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
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Runs the rounds and aggregates.
    #[default]
    Trainer,
    /// Trains on its dataset's rows.
    Provider {
        /// The dataset it enlisted.
        dataset: DatasetId,
        /// Its position among the job's providers (the order of leave-one-out reports).
        position: u16,
    },
    /// Scores the final model.
    Validator,
}

/// A participant of a job: key `(job, address)` in the participants table.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Participant {
    /// Its role.
    pub role: Role,
    /// Tokens it locked in the job (a trainer's or validator's stake), returned at the end
    /// unless slashed.
    pub stake: Amount,
    /// When it joined.
    pub joined_height: u64,
    /// For a provider: samples it contributed over the job's closed rounds.
    pub samples: u64,
    /// What the job paid it when it ended.
    pub paid: Amount,
}

/// Where a round stands.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum RoundStage {
    /// Providers post in phase `phase` until the round's deadline.
    #[default]
    Posting,
    /// Every phase is over; the trainer closes the round before the deadline.
    Aggregating,
    /// Closed by the trainer.
    Closed {
        /// Hash of the aggregate (the unmasked sum, or the combined update), in the blob store.
        aggregate: Hash,
        /// Hash of the new global model, in the blob store.
        model: Hash,
    },
    /// Too few survivors in a phase.
    Failed,
    /// The trainer did not close it in time.
    Abandoned,
}

/// A round: key `(job, sequence)` in the rounds table; a retried round gets a new sequence
/// number and the same index.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Round {
    /// Which of the job's rounds it is (0-based).
    pub index: u16,
    /// The global model it starts from.
    pub start_model: Hash,
    /// The phase being posted (meaningful while posting; the last one after).
    pub phase: u8,
    /// The last height of the current phase or of aggregation.
    pub deadline: u64,
    /// How many participants the current phase expects.
    pub expected: u16,
    /// How many posted in it so far.
    pub posted: u16,
    /// Where it stands.
    pub stage: RoundStage,
    /// Samples per provider, as the trainer closed it.
    pub contributions: BoundedVec<Contribution, PROVIDERS_PER_JOB_MAX>,
}

/// Samples one provider contributed to a round.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Contribution {
    /// The provider.
    pub provider: Address,
    /// How many of its rows trained this round.
    pub samples: u64,
}

/// What a phase message carries: small data inline, anything larger by blob hash.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseData {
    /// Bytes on chain (public keys).
    Inline(BoundedBytes<PHASE_INLINE_BYTES_MAX>),
    /// A blob's hash (sealed shares, a masked update, unmasking shares).
    Blob(Hash),
}

impl Default for PhaseData {
    fn default() -> Self {
        PhaseData::Inline(BoundedBytes::default())
    }
}

/// The key of a phase message: job, round sequence, phase, poster. Ordered, so that a phase's
/// posters are one prefix.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct PhaseKey {
    /// The job.
    pub job: JobId,
    /// The round's sequence number.
    pub round: u32,
    /// The phase.
    pub phase: u8,
    /// Who posted.
    pub poster: Address,
}

/// `PostPhase`: a provider's message in the current phase of a round.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PostPhase {
    /// The job.
    pub job: JobId,
    /// The round's sequence number.
    pub round: u32,
    /// The phase (must be the current one).
    pub phase: u8,
    /// The message.
    pub data: PhaseData,
}

/// `CloseRound`: the trainer publishes the round's aggregate and the new global model.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CloseRound {
    /// The job.
    pub job: JobId,
    /// The round's sequence number.
    pub round: u32,
    /// Hash of the aggregate, in the blob store.
    pub aggregate: Hash,
    /// Hash of the new global model, in the blob store.
    pub model: Hash,
    /// Samples per provider: each a survivor of the update phase, at most once.
    pub contributions: BoundedVec<Contribution, PROVIDERS_PER_JOB_MAX>,
}

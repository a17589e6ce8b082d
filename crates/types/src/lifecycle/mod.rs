//! The factory's objects as the ledger stores them, and the payloads that create and move
//! them: datasets and models (the registries), jobs with their terms and status, rounds and
//! their phase messages, validators' scores, and deployments with their payment channels and
//! the challenges of their answers.
//!
//! Numbers that are decimals off the ledger (learning rates, clip norms, scores) are stored as
//! exact integers in millionths ([`Micros`]), so no float ever enters the state. Ids are
//! sequential per kind, starting at 1, assigned by the ledger in execution order.

mod challenge;
mod channel;
mod deployment;
mod inference;
mod job;
mod registry;
mod round;
mod score;

pub use challenge::*;
pub use channel::*;
pub use deployment::*;
pub use inference::*;
pub use job::*;
pub use registry::*;
pub use round::*;
pub use score::*;

/// A decimal stored as an exact integer number of millionths: 0.85 is `850_000`.
pub type Micros = u64;

/// One whole, in [`Micros`].
pub const MICROS_PER_UNIT: Micros = 1_000_000;

/// Basis points: hundredths of a percent; 10,000 is the whole.
pub type BasisPoints = u16;

/// The whole, in basis points.
pub const BASIS_POINTS_WHOLE: BasisPoints = 10_000;

/// A dataset's id.
pub type DatasetId = u64;

/// A model's id.
pub type ModelId = u64;

/// A job's id.
pub type JobId = u64;

/// The last id issued of each kind (0 before the first): ids are sequential, from 1.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct IdCounters {
    /// Datasets.
    pub datasets: DatasetId,
    /// Models.
    pub models: ModelId,
    /// Jobs.
    pub jobs: JobId,
    /// Deployments.
    pub deployments: DeploymentId,
    /// Payment channels.
    pub channels: ChannelId,
    /// Challenges of inference receipts.
    pub challenges: ChallengeId,
}

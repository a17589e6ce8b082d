//! Events: what a transaction did, for indexers, explorers and agents to follow.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::lifecycle::{
    ChallengeId, ChallengeRole, ChallengeStatus, ChannelId, DatasetId, DeploymentId, JobFailure,
    JobId, Micros, ModelId, Verdict,
};
use crate::{Address, Amount, Hash};

/// Why tokens were slashed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SlashReason {
    /// A trainer did not close a round before its deadline.
    TrainerVanished,
    /// Validators holding most of the revealed stake found a trainer's aggregate wrong.
    AggregateMismatch,
    /// A validator committed a score and did not reveal a matching one in time.
    ScoreNotRevealed,
    /// Voters holding most of a challenge's stake found a gateway's signed answer was not the
    /// deployed model's.
    WrongInference,
}

/// In what capacity a job paid an account.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PayoutRole {
    /// The trainer's share.
    Trainer,
    /// A provider's share of the providers' pool.
    Provider,
    /// The model developer's share.
    Developer,
    /// A validator's share of the validators' pool.
    Validator,
    /// The treasury's share, with any pool nobody could claim.
    #[default]
    Treasury,
    /// The sponsor's refund.
    Sponsor,
    /// A locked stake returned.
    StakeReturned,
    /// A gateway's share of a channel claim.
    Gateway,
}

/// Something that happened while executing a transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The sender paid the fee to the proposer.
    FeePaid {
        /// Who paid.
        payer: Address,
        /// Who received it.
        proposer: Address,
        /// How much.
        amount: Amount,
    },
    /// Tokens moved between accounts.
    Transferred {
        /// From.
        from: Address,
        /// To.
        to: Address,
        /// How much.
        amount: Amount,
    },
    /// Tokens were bonded.
    Staked {
        /// Whose.
        account: Address,
        /// How much.
        amount: Amount,
    },
    /// Stake began unbonding.
    Unbonding {
        /// Whose.
        account: Address,
        /// How much.
        amount: Amount,
        /// When it can be withdrawn.
        release_height: u64,
    },
    /// Matured unbonding stake returned to the balance.
    Withdrawn {
        /// Whose.
        account: Address,
        /// How much.
        amount: Amount,
    },
    /// An account became a candidate for the validator set.
    CandidateJoined {
        /// Whose.
        account: Address,
        /// Its bonded stake when it joined.
        bonded: Amount,
        /// The first epoch it can validate in, if elected at the boundary before it.
        from_epoch: u64,
    },
    /// An account stopped being a candidate.
    CandidateLeft {
        /// Whose.
        account: Address,
        /// The first epoch it no longer validates in (it keeps its seat until then).
        from_epoch: u64,
    },
    /// A dataset was registered.
    DatasetRegistered {
        /// Its id.
        dataset: DatasetId,
        /// Its provider.
        provider: Address,
        /// The stake locked behind it.
        stake: Amount,
    },
    /// A dataset's licence or price changed.
    DatasetUpdated {
        /// Which.
        dataset: DatasetId,
    },
    /// A dataset was retired and its stake returned.
    DatasetRetired {
        /// Which.
        dataset: DatasetId,
        /// The stake returned to the provider.
        stake_returned: Amount,
    },
    /// A model was registered, by a developer or by a job that trained it.
    ModelRegistered {
        /// Its id.
        model: ModelId,
        /// Its developer.
        developer: Address,
        /// The model it derives from.
        parent: Option<ModelId>,
    },
    /// A job opened and its budget went into escrow.
    JobOpened {
        /// Its id.
        job: JobId,
        /// Who funded it.
        sponsor: Address,
        /// The model it trains.
        model: ModelId,
        /// The escrowed budget.
        budget: Amount,
        /// The last height of recruiting.
        recruit_until: u64,
    },
    /// The sponsor cancelled a job before training.
    JobCancelled {
        /// Which.
        job: JobId,
    },
    /// A trainer claimed a job.
    JobClaimed {
        /// Which.
        job: JobId,
        /// The trainer.
        trainer: Address,
        /// The stake it locked.
        stake: Amount,
    },
    /// A provider enlisted a dataset in a job.
    JobJoined {
        /// Which.
        job: JobId,
        /// The provider.
        provider: Address,
        /// Its dataset.
        dataset: DatasetId,
    },
    /// A round started: its first phase is open.
    RoundStarted {
        /// The job.
        job: JobId,
        /// The round's sequence number.
        round: u32,
        /// Which of the job's rounds it is.
        index: u16,
        /// The global model it starts from.
        start_model: Hash,
        /// The last height of its first phase.
        phase_until: u64,
    },
    /// A provider posted in a phase.
    PhasePosted {
        /// The job.
        job: JobId,
        /// The round's sequence number.
        round: u32,
        /// The phase.
        phase: u8,
        /// The poster.
        provider: Address,
    },
    /// A phase ended; its posters are the survivors the next phase expects.
    PhaseEnded {
        /// The job.
        job: JobId,
        /// The round's sequence number.
        round: u32,
        /// The phase.
        phase: u8,
        /// How many posted in it.
        survivors: u16,
        /// The last height of what comes next (the next phase, or aggregation).
        next_until: u64,
    },
    /// The trainer closed a round.
    RoundClosed {
        /// The job.
        job: JobId,
        /// The round's sequence number.
        round: u32,
        /// The aggregate's hash.
        aggregate: Hash,
        /// The new global model's hash.
        model: Hash,
    },
    /// A round failed: a phase ended with fewer survivors than it needs.
    RoundFailed {
        /// The job.
        job: JobId,
        /// The round's sequence number.
        round: u32,
        /// The phase that fell short.
        phase: u8,
        /// How many posted.
        survivors: u16,
        /// How many it needed.
        needed: u16,
    },
    /// Training ended; validators may commit scores.
    ValidationOpened {
        /// The job.
        job: JobId,
        /// The final model's hash.
        model: Hash,
        /// The last height for commits.
        commit_until: u64,
    },
    /// A validator committed a score.
    ScoreCommitted {
        /// The job.
        job: JobId,
        /// The validator.
        validator: Address,
        /// The stake it locked.
        stake: Amount,
    },
    /// Commits closed; validators reveal.
    RevealOpened {
        /// The job.
        job: JobId,
        /// How many committed.
        commits: u16,
        /// The last height for reveals.
        reveal_until: u64,
    },
    /// A validator revealed a score matching its commitment.
    ScoreRevealed {
        /// The job.
        job: JobId,
        /// The validator.
        validator: Address,
        /// The metric it reported, in millionths.
        metric: Micros,
    },
    /// A job paid out: its score met the target and the trained model is registered.
    JobSettled {
        /// The job.
        job: JobId,
        /// The accepted score, in millionths.
        score: Micros,
        /// The trained model.
        model: ModelId,
    },
    /// A job ended without success.
    JobFailed {
        /// The job.
        job: JobId,
        /// Why.
        reason: JobFailure,
    },
    /// A job paid an account from its escrow.
    JobPaid {
        /// The job.
        job: JobId,
        /// Who.
        account: Address,
        /// In what capacity.
        role: PayoutRole,
        /// How much.
        amount: Amount,
    },
    /// Tokens were slashed: sent to the treasury, or for a challenge shared out as its
    /// `ChallengePaid` events say.
    Slashed {
        /// Whose.
        account: Address,
        /// How much.
        amount: Amount,
        /// Why.
        reason: SlashReason,
        /// The job it concerns.
        job: Option<JobId>,
    },
    /// A gateway deployed a model.
    Deployed {
        /// The deployment's id.
        deployment: DeploymentId,
        /// The model.
        model: ModelId,
        /// The gateway.
        gateway: Address,
        /// What one call costs.
        price_per_call: Amount,
        /// The stake locked behind it.
        stake: Amount,
    },
    /// A gateway undeployed; its stake returns at `until`.
    Undeploying {
        /// The deployment.
        deployment: DeploymentId,
        /// The height its stake returns at.
        until: u64,
    },
    /// A deployment retired and its stake was returned.
    Undeployed {
        /// The deployment.
        deployment: DeploymentId,
        /// The stake returned to the gateway.
        stake_returned: Amount,
    },
    /// A consumer opened a payment channel.
    ChannelOpened {
        /// The channel's id.
        channel: ChannelId,
        /// The deployment it pays.
        deployment: DeploymentId,
        /// The consumer.
        consumer: Address,
        /// The deposit locked.
        deposit: Amount,
        /// The last height the gateway may claim at.
        expiry_height: u64,
    },
    /// A consumer added to a channel's deposit.
    ChannelToppedUp {
        /// The channel.
        channel: ChannelId,
        /// Its deposit now, in all.
        deposit: Amount,
    },
    /// A consumer moved a channel's expiry later.
    ChannelExtended {
        /// The channel.
        channel: ChannelId,
        /// The new expiry height.
        expiry_height: u64,
    },
    /// A gateway claimed a channel's latest voucher.
    ChannelClaimed {
        /// The channel.
        channel: ChannelId,
        /// The deployment it pays.
        deployment: DeploymentId,
        /// The voucher's cumulative amount: what the channel has paid in all.
        claimed: Amount,
        /// What this claim paid (the voucher minus the claim before it).
        paid: Amount,
    },
    /// A deployment's royalty table paid an account its part of a claim.
    RoyaltyPaid {
        /// The deployment.
        deployment: DeploymentId,
        /// Who.
        account: Address,
        /// In what capacity.
        role: PayoutRole,
        /// How much.
        amount: Amount,
    },
    /// A channel closed; what was not claimed went back to the consumer.
    ChannelClosed {
        /// The channel.
        channel: ChannelId,
        /// What it paid in all.
        claimed: Amount,
        /// What went back to the consumer.
        refunded: Amount,
    },
    /// Someone challenged a gateway's signed answer.
    Challenged {
        /// The challenge's id.
        challenge: ChallengeId,
        /// The deployment that answered.
        deployment: DeploymentId,
        /// Who challenged.
        challenger: Address,
        /// The bond locked.
        bond: Amount,
        /// The last height votes are taken at.
        vote_until: u64,
    },
    /// A voter gave its verdict on a challenge.
    ChallengeVoted {
        /// The challenge.
        challenge: ChallengeId,
        /// The voter.
        voter: Address,
        /// What it found.
        verdict: Verdict,
        /// The stake behind it.
        stake: Amount,
    },
    /// A challenge's votes were tallied.
    ChallengeResolved {
        /// The challenge.
        challenge: ChallengeId,
        /// The outcome.
        outcome: ChallengeStatus,
    },
    /// A challenge paid an account: a share of a slash or a bond, or what it locked returned.
    ChallengePaid {
        /// The challenge.
        challenge: ChallengeId,
        /// Who.
        account: Address,
        /// In what capacity.
        role: ChallengeRole,
        /// How much.
        amount: Amount,
    },
}

impl Event {
    /// The job the event is about, if any: what an agent following the chain looks at again.
    pub fn job(&self) -> Option<JobId> {
        match self {
            Event::JobOpened { job, .. }
            | Event::JobCancelled { job }
            | Event::JobClaimed { job, .. }
            | Event::JobJoined { job, .. }
            | Event::RoundStarted { job, .. }
            | Event::PhasePosted { job, .. }
            | Event::PhaseEnded { job, .. }
            | Event::RoundClosed { job, .. }
            | Event::RoundFailed { job, .. }
            | Event::ValidationOpened { job, .. }
            | Event::ScoreCommitted { job, .. }
            | Event::RevealOpened { job, .. }
            | Event::ScoreRevealed { job, .. }
            | Event::JobSettled { job, .. }
            | Event::JobFailed { job, .. }
            | Event::JobPaid { job, .. } => Some(*job),
            Event::Slashed { job, .. } => *job,
            Event::FeePaid { .. }
            | Event::Transferred { .. }
            | Event::Staked { .. }
            | Event::Unbonding { .. }
            | Event::Withdrawn { .. }
            | Event::CandidateJoined { .. }
            | Event::CandidateLeft { .. }
            | Event::DatasetRegistered { .. }
            | Event::DatasetUpdated { .. }
            | Event::DatasetRetired { .. }
            | Event::ModelRegistered { .. }
            | Event::Deployed { .. }
            | Event::Undeploying { .. }
            | Event::Undeployed { .. }
            | Event::ChannelOpened { .. }
            | Event::ChannelToppedUp { .. }
            | Event::ChannelExtended { .. }
            | Event::ChannelClaimed { .. }
            | Event::RoyaltyPaid { .. }
            | Event::ChannelClosed { .. }
            | Event::Challenged { .. }
            | Event::ChallengeVoted { .. }
            | Event::ChallengeResolved { .. }
            | Event::ChallengePaid { .. } => None,
        }
    }
}

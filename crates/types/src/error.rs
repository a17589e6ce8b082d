//! Why the ledger refuses a transaction.
//!
//! Two kinds of refusal, and who pays:
//! - **Inadmissible** ([`TxError::is_admission`]): wrong chain, expired, unknown sender, bad
//!   nonce, fee too low or unpayable. The transaction is never included in a block, pays
//!   nothing and changes nothing; a block that contains one is invalid as a whole.
//! - **Failed in execution** (every other variant): the transaction is included, its fee is
//!   paid to the proposer and its nonce is used, and nothing else changes. Charging the fee
//!   stops anyone from filling blocks with failing transactions for free.
//!
//! Malformed bytes and bad signatures are refused earlier, by the decoder
//! ([`crate::DecodeError`]) and the signature check ([`crate::SignatureError`]).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::lifecycle::{
    ChallengeError, ChannelError, DatasetId, DeploymentError, JobId, JobStage, JobTermsError,
    ModelId,
};
use crate::{Address, Amount};

/// A transaction the ledger refused, with what the sender can do about it.
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
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TxError {
    /// Signed for another chain.
    #[error("transaction is for chain {got:?} but this chain is {expected:?}")]
    WrongChainId {
        /// This chain's id.
        expected: String,
        /// The transaction's.
        got: String,
    },
    /// Its expiry height has passed.
    #[error(
        "transaction expired at height {expiry_height}; the chain is at {height}: sign it again"
    )]
    Expired {
        /// The transaction's last valid height.
        expiry_height: u64,
        /// The height of the block being built.
        height: u64,
    },
    /// The sender has never received tokens, so it cannot pay a fee.
    #[error("unknown account {address}: it must receive tokens before it can send")]
    UnknownAccount {
        /// The sender.
        address: Address,
    },
    /// The nonce was already used: a replay or a duplicate.
    #[error("nonce {got} was already used; the account's next nonce is {expected}")]
    NonceReplayed {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce skips ahead; earlier nonces must be executed first.
    #[error("nonce {got} is ahead of the account's next nonce {expected}")]
    NonceFromFuture {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The offered fee is below the chain's minimum.
    #[error("fee {got} is below the minimum of {min} base units")]
    FeeTooLow {
        /// The minimum fee.
        min: Amount,
        /// The offered fee.
        got: Amount,
    },
    /// The balance cannot cover the fee.
    #[error("balance {balance} cannot pay the fee of {fee} base units")]
    CannotPayFee {
        /// The sender's balance.
        balance: Amount,
        /// The fee.
        fee: Amount,
    },
    /// The balance cannot cover the amount (after the fee): an overdraft.
    #[error("insufficient funds: {needed} base units needed, {available} available after the fee")]
    InsufficientFunds {
        /// What the action needs.
        needed: Amount,
        /// What the balance holds after the fee.
        available: Amount,
    },
    /// An amount of zero was given where it would do nothing.
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    /// The stake would end up positive but below the minimum.
    #[error("stake of {resulting} base units would be below the minimum of {min}")]
    StakeBelowMinimum {
        /// The chain's minimum stake.
        min: Amount,
        /// The stake the transaction would leave.
        resulting: Amount,
    },
    /// Unstaking more than is bonded.
    #[error("cannot unstake {requested}: only {bonded} base units are bonded")]
    InsufficientStake {
        /// What is bonded.
        bonded: Amount,
        /// What was asked for.
        requested: Amount,
    },
    /// Too many unbonding entries are pending; withdraw matured ones first.
    #[error("{max} unbonding entries are already pending: withdraw or wait")]
    TooManyUnbonding {
        /// The cap.
        max: u32,
    },
    /// No unbonding entry has matured yet.
    #[error("nothing to withdraw: the earliest unbonding entry matures at height {next_release:?}")]
    NothingToWithdraw {
        /// When the next entry matures, if any is pending.
        next_release: Option<u64>,
    },
    /// Too little bonded stake to become a validator candidate.
    #[error("{bonded} base units are bonded; a validator candidate needs {min}: stake more first")]
    ValidatorStakeTooLow {
        /// The chain's `validator_stake_min`.
        min: Amount,
        /// The sender's bonded stake.
        bonded: Amount,
    },
    /// `JoinValidators` from an account that is already a candidate.
    #[error("already a validator candidate; the set is chosen at the next epoch boundary")]
    AlreadyCandidate,
    /// The fee does not pay for the state the transaction would add; nothing but the fee and
    /// the nonce was kept.
    #[error(
        "the transaction adds {bytes} bytes of state and needs a fee of {needed}; it offered {offered}"
    )]
    StateGrowthUnpaid {
        /// Bytes of state the action would have added.
        bytes: u64,
        /// The least fee that pays for them (`fee_min` plus `fee_per_state_byte` each).
        needed: Amount,
        /// The transaction's fee.
        offered: Amount,
    },
    /// `LeaveValidators` from an account that is not a candidate.
    #[error("not a validator candidate: there is nothing to leave")]
    NotCandidate,
    /// No dataset has this id.
    #[error("no dataset {dataset}")]
    UnknownDataset {
        /// The id given.
        dataset: DatasetId,
    },
    /// No model has this id.
    #[error("no model {model}")]
    UnknownModel {
        /// The id given.
        model: ModelId,
    },
    /// No job has this id.
    #[error("no job {job}")]
    UnknownJob {
        /// The id given.
        job: JobId,
    },
    /// A dataset with no rows.
    #[error("a dataset must have at least one row")]
    EmptyDataset,
    /// A licence given as an empty SPDX expression.
    #[error("the licence is empty: give an SPDX expression or the hash of the licence text")]
    EmptyLicence,
    /// The dataset's stake is below the chain's minimum.
    #[error("the dataset stake {offered} is below the minimum of {min} base units")]
    DatasetStakeTooLow {
        /// `Params::dataset_stake_min`.
        min: Amount,
        /// The stake offered.
        offered: Amount,
    },
    /// The sender does not own the dataset.
    #[error("dataset {dataset} belongs to another provider")]
    NotDatasetProvider {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The dataset was retired.
    #[error("dataset {dataset} is retired")]
    DatasetRetired {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The dataset cannot retire while jobs that enlisted it are unfinished.
    #[error("dataset {dataset} is in {active_jobs} unfinished jobs: retire it after they end")]
    DatasetInUse {
        /// The dataset.
        dataset: DatasetId,
        /// Unfinished jobs it is in.
        active_jobs: u32,
    },
    /// A royalty above 10,000 basis points.
    #[error("a royalty of {royalty_bps} bps is more than the whole (10000)")]
    RoyaltyTooHigh {
        /// The royalty given.
        royalty_bps: u16,
    },
    /// `OpenJob` terms that break a rule.
    #[error("invalid job terms: {problem}")]
    InvalidJobTerms {
        /// Which rule.
        problem: JobTermsError,
    },
    /// The job is not in the stage the transaction needs.
    #[error("job {job} is {stage}; this needs it {needed}")]
    WrongStage {
        /// The job.
        job: JobId,
        /// Its stage.
        stage: JobStage,
        /// The stage needed.
        needed: JobStage,
    },
    /// Only the job's sponsor may do this.
    #[error("only job {job}'s sponsor may do this")]
    NotSponsor {
        /// The job.
        job: JobId,
    },
    /// Only the job's trainer may do this.
    #[error("only job {job}'s trainer may do this")]
    NotTrainer {
        /// The job.
        job: JobId,
    },
    /// A trainer already claimed the job.
    #[error("job {job} already has a trainer")]
    AlreadyClaimed {
        /// The job.
        job: JobId,
    },
    /// The sender already takes part in the job (one role per account per job).
    #[error("already taking part in job {job}: an account has one role per job")]
    AlreadyParticipant {
        /// The job.
        job: JobId,
    },
    /// The job has as many providers, or validators, as it allows.
    #[error("job {job} is full: it allows {max}")]
    JobFull {
        /// The job.
        job: JobId,
        /// The cap reached.
        max: u16,
    },
    /// The job does not allow this dataset.
    #[error("job {job} does not allow dataset {dataset}")]
    DatasetNotAllowed {
        /// The job.
        job: JobId,
        /// The dataset.
        dataset: DatasetId,
    },
    /// The dataset asks more per use than the job's even share of the providers' pool.
    #[error("the dataset asks {price} per use; the job offers {offer} per provider")]
    DatasetPriceAboveOffer {
        /// The dataset's price.
        price: Amount,
        /// The providers' pool divided by the job's most providers.
        offer: Amount,
    },
    /// The consent names other terms than the job's.
    #[error("the terms hash does not match job {job}'s terms: read them again before joining")]
    TermsMismatch {
        /// The job.
        job: JobId,
    },
    /// A stake below what the job asks.
    #[error("the job asks a stake of {needed}; {offered} was offered")]
    JobStakeTooLow {
        /// The job's requirement.
        needed: Amount,
        /// What the sender offered or holds.
        offered: Amount,
    },
    /// Not the job's current round.
    #[error("job {job} is in round {current}, not {got}")]
    WrongRound {
        /// The job.
        job: JobId,
        /// The current round's sequence number (0 if none has started).
        current: u32,
        /// The round given.
        got: u32,
    },
    /// Not the round's current phase (or the round is aggregating or over).
    #[error("round {round} of job {job} is not taking messages for phase {got}")]
    WrongPhase {
        /// The job.
        job: JobId,
        /// The round.
        round: u32,
        /// The phase given.
        got: u8,
    },
    /// The round's deadline has passed (its work is queued but not yet run).
    #[error("the deadline at height {deadline} has passed; the chain is at {height}")]
    PastDeadline {
        /// The deadline.
        deadline: u64,
        /// The height of the block.
        height: u64,
    },
    /// The sender is not expected in this phase: not a provider of the job, or not a survivor
    /// of the phase before.
    #[error("not expected in phase {phase} of round {round} of job {job}")]
    NotExpected {
        /// The job.
        job: JobId,
        /// The round.
        round: u32,
        /// The phase.
        phase: u8,
    },
    /// `CloseRound` before the round's phases are over, or after it closed.
    #[error("round {round} of job {job} is not waiting for the trainer to close it")]
    NotAggregating {
        /// The job.
        job: JobId,
        /// The round.
        round: u32,
    },
    /// The sender already posted in this phase.
    #[error("already posted in phase {phase} of round {round}")]
    AlreadyPosted {
        /// The round.
        round: u32,
        /// The phase.
        phase: u8,
    },
    /// A contribution names a provider that did not survive the update phase, or twice.
    #[error("contribution of {provider} is not from a single survivor of the update phase")]
    BadContribution {
        /// The provider named.
        provider: Address,
    },
    /// A contribution claims more samples than the provider's dataset has rows.
    #[error("{provider} contributed {samples} samples but its dataset has {rows} rows")]
    SamplesExceedRows {
        /// The provider.
        provider: Address,
        /// The samples claimed.
        samples: u64,
        /// The dataset's rows.
        rows: u64,
    },
    /// `RevealScore` from an account that did not commit.
    #[error("no score commitment from this account in job {job}")]
    NoCommitment {
        /// The job.
        job: JobId,
    },
    /// The score was already revealed.
    #[error("the score for job {job} is already revealed")]
    AlreadyRevealed {
        /// The job.
        job: JobId,
    },
    /// The report and salt do not hash to the commitment.
    #[error("the revealed report and salt do not match the commitment for job {job}")]
    RevealMismatch {
        /// The job.
        job: JobId,
    },
    /// A leave-one-out report with the wrong number of contributions (or one where the job
    /// does not measure them).
    #[error("the report has {got} contributions; the job needs {expected}")]
    ContributionsLength {
        /// One per provider, or none.
        expected: u16,
        /// How many were given.
        got: u16,
    },
    /// A `Deploy` or `Undeploy` that breaks a rule.
    #[error("{problem}")]
    Deployment {
        /// Which rule.
        problem: DeploymentError,
    },
    /// A channel action that breaks a rule.
    #[error("{problem}")]
    Channel {
        /// Which rule.
        problem: ChannelError,
    },
    /// A challenge or a vote on one that breaks a rule.
    #[error("{problem}")]
    Challenge {
        /// Which rule.
        problem: ChallengeError,
    },
}

impl From<DeploymentError> for TxError {
    fn from(problem: DeploymentError) -> Self {
        TxError::Deployment { problem }
    }
}

impl From<ChannelError> for TxError {
    fn from(problem: ChannelError) -> Self {
        TxError::Channel { problem }
    }
}

impl From<ChallengeError> for TxError {
    fn from(problem: ChallengeError) -> Self {
        TxError::Challenge { problem }
    }
}

impl TxError {
    /// Whether this refusal keeps the transaction out of blocks entirely (no fee charged).
    pub fn is_admission(&self) -> bool {
        matches!(
            self,
            TxError::WrongChainId { .. }
                | TxError::Expired { .. }
                | TxError::UnknownAccount { .. }
                | TxError::NonceReplayed { .. }
                | TxError::NonceFromFuture { .. }
                | TxError::FeeTooLow { .. }
                | TxError::CannotPayFee { .. }
        )
    }
}

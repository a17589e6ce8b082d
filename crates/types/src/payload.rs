//! What a transaction asks the ledger to do. Each kind is one variant; later kinds (datasets,
//! models, jobs, scores, channels, proposals) are appended here and handled by their own ledger
//! module, leaving the envelope and its checks untouched.
//!
//! The Borsh tag of a variant is its position: never reorder or remove a variant, only append.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub use crate::lifecycle::{
    CancelJob, ChallengeReceipt, ClaimChannels, ClaimJob, CloseChannel, CloseRound, CommitScore,
    Deploy, ExtendChannel, JobTerms, JoinJob, OpenChannel, PostPhase, RegisterDataset,
    RegisterModel, RetireDataset, RevealScore, TopUpChannel, Undeploy, UpdateDataset,
    VoteChallenge,
};
use crate::limits::MEMO_BYTES_MAX;
use crate::{Address, Amount, BoundedBytes};

/// The action a transaction carries.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// Move tokens from the sender to another account (tag 0).
    Transfer(Transfer),
    /// Bond tokens from the sender's balance as stake (tag 1).
    Stake(Stake),
    /// Start unbonding stake; it becomes withdrawable after the unbonding period (tag 2).
    Unstake(Unstake),
    /// Move every matured unbonding entry back to the balance (tag 3).
    Withdraw,
    /// Become a candidate for the validator set; needs `validator_stake_min` bonded. Whether
    /// the sender validates is decided at the next epoch boundary (tag 4).
    JoinValidators,
    /// Stop being a candidate; a sitting validator leaves the set at the next epoch boundary
    /// (tag 5).
    LeaveValidators,
    /// Register a dataset the sender holds, locking its stake (tag 6).
    RegisterDataset(RegisterDataset),
    /// Change a dataset's licence and price (tag 7).
    UpdateDataset(UpdateDataset),
    /// Retire a dataset and take its stake back (tag 8).
    RetireDataset(RetireDataset),
    /// Register a model architecture or pretrained model (tag 9).
    RegisterModel(RegisterModel),
    /// Open a training job, escrowing its budget (tag 10).
    OpenJob(JobTerms),
    /// Cancel a job that has not started training (tag 11).
    CancelJob(CancelJob),
    /// Claim a job as its trainer, locking the trainer stake (tag 12).
    ClaimJob(ClaimJob),
    /// Enlist a dataset in a job as a provider (tag 13).
    JoinJob(JoinJob),
    /// Post a provider's message in a round's current phase (tag 14).
    PostPhase(PostPhase),
    /// Close a round with its aggregate and new global model, as the trainer (tag 15).
    CloseRound(CloseRound),
    /// Commit to a score for a job's final model, locking validator stake (tag 16).
    CommitScore(CommitScore),
    /// Reveal a committed score (tag 17).
    RevealScore(RevealScore),
    /// Serve a model as a staked gateway, for a price per call (tag 18).
    Deploy(Deploy),
    /// Stop serving; the stake returns after the challenge window (tag 19).
    Undeploy(Undeploy),
    /// Open a payment channel to a deployment's gateway, locking a deposit (tag 20).
    OpenChannel(OpenChannel),
    /// Add to a channel's deposit (tag 21).
    TopUpChannel(TopUpChannel),
    /// Move a channel's expiry later (tag 22).
    ExtendChannel(ExtendChannel),
    /// Claim the latest vouchers of the sender's channels, as their gateway (tag 23).
    ClaimChannels(ClaimChannels),
    /// Close a channel, refunding what was not claimed to its consumer (tag 24).
    CloseChannel(CloseChannel),
    /// Challenge a gateway's signed answer, locking a bond (tag 25).
    Challenge(ChallengeReceipt),
    /// Vote on a challenge, locking a stake until it resolves (tag 26).
    VoteChallenge(VoteChallenge),
}

/// Tokens from the sender to `to`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transfer {
    /// The recipient; the account is created if it does not exist.
    pub to: Address,
    /// How much, in base units; must be positive.
    pub amount: Amount,
    /// Free-form bytes for the recipient (an invoice number, say).
    #[serde(default)]
    pub memo: BoundedBytes<MEMO_BYTES_MAX>,
}

/// Bond `amount` of the sender's balance.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Stake {
    /// How much, in base units; the resulting stake must reach the minimum.
    pub amount: Amount,
}

/// Begin unbonding `amount` of the sender's stake.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unstake {
    /// How much, in base units; what stays bonded must be zero or at least the minimum.
    pub amount: Amount,
}

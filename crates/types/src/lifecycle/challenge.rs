//! Challenges: anyone holding a gateway's signed receipt and the input it answered can put up
//! a bond and ask the chain whether the answer came from the deployed model. Staked voters
//! re-run the model on the input and vote; the stake-weighted majority decides whether the
//! gateway is slashed or the challenger loses its bond (see `docs/inference.md`).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{DeploymentId, InferenceReceipt, SignedInferenceReceipt};
use crate::{Address, Amount, Hash};

/// A challenge's id.
pub type ChallengeId = u64;

/// `Challenge`: the sender doubts a gateway's answer and locks a bond behind that doubt. The
/// input and output blobs (`receipt.input_hash`, `receipt.output_hash`) must already be in
/// the blob store, or the voters cannot re-run the model.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChallengeReceipt {
    /// The receipt doubted, with the gateway's signature (checked before execution).
    pub receipt: SignedInferenceReceipt,
    /// Tokens locked until the vote ends; at least `challenge_bond_min`.
    pub bond: Amount,
}

/// What a voter found when it re-ran the model on the challenged input.
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
pub enum Verdict {
    /// The receipt's output is not what the deployed model gives on the input.
    GatewayWrong,
    /// The output matches, by the documented rule.
    #[default]
    GatewayRight,
    /// The input or output blob could not be fetched: the challenger did not make its case.
    BlobsMissing,
}

/// `VoteChallenge`: the sender's verdict on a challenge, with a stake locked until it ends.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VoteChallenge {
    /// Which challenge.
    pub challenge: ChallengeId,
    /// The verdict.
    pub verdict: Verdict,
    /// Tokens behind it, at least `challenge_vote_stake_min`; its weight in the tally.
    pub stake: Amount,
}

/// Where a challenge stands.
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
pub enum ChallengeStatus {
    /// Votes are open until `vote_until`.
    #[default]
    Voting,
    /// The majority found the gateway wrong: it was slashed and the challenger rewarded.
    Upheld,
    /// The majority found the gateway right: the challenger's bond was shared out.
    Rejected,
    /// Too few voters, or a tie: the bond went back and nothing was slashed.
    Undecided,
}

/// A challenge, kept after it resolves.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Challenge {
    /// The receipt challenged.
    pub receipt: InferenceReceipt,
    /// Its id ([`InferenceReceipt::id`]): a receipt is challenged once.
    pub receipt_id: Hash,
    /// Who challenged.
    pub challenger: Address,
    /// The bond it locked.
    pub bond: Amount,
    /// The deployment that answered.
    pub deployment: DeploymentId,
    /// The last height votes are taken at; it resolves in the next block.
    pub vote_until: u64,
    /// Where it stands.
    pub status: ChallengeStatus,
    /// How many voted.
    pub voters: u16,
    /// The stake that voted the gateway wrong.
    pub wrong_stake: Amount,
    /// The stake that voted it right or found the blobs missing.
    pub right_stake: Amount,
}

/// One voter's verdict on a challenge.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Vote {
    /// What it found.
    pub verdict: Verdict,
    /// The stake behind it, returned when the challenge resolves.
    pub stake: Amount,
}

/// In what capacity a challenge paid an account.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeRole {
    /// The challenger's reward out of an upheld challenge's slash.
    Challenger,
    /// The gateway's share of a rejected challenge's bond.
    Gateway,
    /// A majority voter's share.
    Voter,
    /// The treasury's share.
    Treasury,
    /// The challenger's bond returned (upheld or undecided).
    BondReturned,
    /// A voter's stake returned.
    StakeReturned,
}

/// Why a `Challenge` or `VoteChallenge` was refused.
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
pub enum ChallengeError {
    /// The bond is below `challenge_bond_min`.
    #[error("a challenge locks a bond of at least {min} base units")]
    BondTooLow {
        /// The minimum.
        min: Amount,
    },
    /// The receipt is for another chain.
    #[error("the receipt is for chain {got:?}, not this one")]
    WrongChain {
        /// The receipt's chain id.
        got: String,
    },
    /// The receipt does not match its deployment: another gateway, model or model hash.
    #[error("the receipt does not match deployment {deployment}'s gateway, model and hash")]
    ReceiptMismatch {
        /// The deployment the receipt names.
        deployment: DeploymentId,
    },
    /// The deployment the receipt names does not exist or has retired.
    #[error("deployment {deployment} is unknown or retired")]
    DeploymentGone {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// The receipt is from a height after this one, or older than the challenge window.
    #[error("a receipt of height {receipt_height} can be challenged from it to {last}")]
    OutsideWindow {
        /// The receipt's height.
        receipt_height: u64,
        /// The last height it can be challenged at.
        last: u64,
    },
    /// The deployment has as many open challenges as it can count.
    #[error("deployment {deployment} has too many open challenges; wait for one to resolve")]
    TooManyOpen {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// The receipt was challenged already.
    #[error("the receipt was already challenged, as challenge {challenge}")]
    AlreadyChallenged {
        /// The earlier challenge.
        challenge: ChallengeId,
    },
    /// No such challenge.
    #[error("no challenge {challenge}")]
    UnknownChallenge {
        /// The id given.
        challenge: ChallengeId,
    },
    /// Votes on the challenge have closed.
    #[error("votes on challenge {challenge} closed at height {vote_until}")]
    VotingClosed {
        /// The challenge.
        challenge: ChallengeId,
        /// The last height votes were taken.
        vote_until: u64,
    },
    /// The sender already voted on the challenge.
    #[error("already voted on challenge {challenge}")]
    AlreadyVoted {
        /// The challenge.
        challenge: ChallengeId,
    },
    /// The challenger and the gateway cannot vote on their own dispute.
    #[error("a party to challenge {challenge} cannot vote on it")]
    PartyCannotVote {
        /// The challenge.
        challenge: ChallengeId,
    },
    /// The vote's stake is below `challenge_vote_stake_min`.
    #[error("a vote locks at least {min} base units")]
    VoteStakeTooLow {
        /// The minimum.
        min: Amount,
    },
    /// The challenge has as many voters as it takes.
    #[error("challenge {challenge} has its {max} voters")]
    VotersFull {
        /// The challenge.
        challenge: ChallengeId,
        /// The most it takes.
        max: usize,
    },
}

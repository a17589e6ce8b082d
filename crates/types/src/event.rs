//! Events: what a transaction did, for indexers, explorers and agents to follow.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::{Address, Amount};

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
}

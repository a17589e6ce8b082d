//! What a transaction asks the ledger to do. Each kind is one variant; later kinds (datasets,
//! models, jobs, scores, channels, proposals) are appended here and handled by their own ledger
//! module, leaving the envelope and its checks untouched.
//!
//! The Borsh tag of a variant is its position: never reorder or remove a variant, only append.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

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

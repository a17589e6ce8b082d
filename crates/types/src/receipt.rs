//! Receipts: the outcome of each transaction in a block.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::{Amount, Event, Hash, TxError};

/// Whether the transaction's action took effect.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", content = "error", rename_all = "snake_case")]
pub enum TxOutcome {
    /// The action took effect.
    Success,
    /// The action failed; the fee was paid and the nonce used, and nothing else changed.
    Failed(TxError),
}

/// What happened to one included transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction's id.
    pub tx_hash: Hash,
    /// The fee charged, in base units.
    pub fee_paid: Amount,
    /// Success or the reason for failure.
    pub outcome: TxOutcome,
    /// What it did (the fee payment, then the action's events if it succeeded).
    pub events: Vec<Event>,
}

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

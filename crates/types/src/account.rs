//! Accounts as the ledger stores them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::limits::UNBONDING_ENTRIES_MAX;
use crate::{Address, Amount, BoundedVec};

/// The treasury's account: slashes, the treasury's share of settlements and unclaimable
/// pools go here. Its address is the encoding of the identity point, a small-order key, so no
/// signature can ever spend from it: only the ledger's own rules (governance, later) move it.
pub const TREASURY: Address = Address([
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/// An account: spendable balance, bonded stake, stake on its way out, and the nonce.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Account {
    /// Spendable tokens, in base units.
    pub balance: Amount,
    /// How many transactions from this account have been executed; the next must carry it.
    pub nonce: u64,
    /// Tokens bonded as stake; slashable, not spendable.
    pub bonded: Amount,
    /// Stake that is unbonding: still slashable, withdrawable at its release height.
    pub unbonding: BoundedVec<Unbonding, UNBONDING_ENTRIES_MAX>,
}

/// One unbonding entry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unbonding {
    /// How much, in base units.
    pub amount: Amount,
    /// The first height at which `Withdraw` releases it.
    pub release_height: u64,
}

impl Account {
    /// Everything the account holds: balance, bonded and unbonding, or `None` on overflow.
    pub fn total(&self) -> Option<Amount> {
        self.unbonding
            .iter()
            .try_fold(self.balance.checked_add(self.bonded)?, |sum, entry| {
                sum.checked_add(entry.amount)
            })
    }
}

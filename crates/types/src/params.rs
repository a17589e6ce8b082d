//! Chain parameters: set at genesis, part of the state root, changed later by governance.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::Amount;
use crate::amount::BASE_UNITS_PER_AIF;

/// The ledger's tunable rules.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The smallest fee a transaction may offer, in base units.
    pub fee_min: Amount,
    /// The smallest non-zero stake an account may hold, in base units.
    pub stake_min: Amount,
    /// Blocks between `Unstake` and the stake becoming withdrawable.
    pub unbonding_period_blocks: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fee_min: 1_000,
            stake_min: 100 * BASE_UNITS_PER_AIF,
            unbonding_period_blocks: 1_000,
        }
    }
}

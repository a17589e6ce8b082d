//! The genesis file: the chain's id, its first accounts and validators, and its parameters.
//! Stored as JSON so that people can read and edit it; its hash is taken over the canonical
//! binary encoding, so formatting does not matter.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::{Domain, is_small_order};

use crate::codec;
use crate::limits::{
    CHAIN_ID_BYTES_MAX, GENESIS_ACCOUNTS_MAX, GENESIS_BYTES_MAX, GENESIS_VALIDATORS_MAX,
};
use crate::{Address, Amount, Hash, Params, ParamsError};

/// Domain of the genesis hash, the parent of block 1.
pub static GENESIS_HASH_DOMAIN: Domain = Domain::new("aifactory 2026-11 genesis v1");

/// Everything the chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain's name; every transaction names it.
    pub chain_id: String,
    /// The chain's start, in milliseconds since the Unix epoch; block 1 must be later.
    pub genesis_time_ms: u64,
    /// The ledger's parameters.
    pub params: Params,
    /// Initial balances.
    pub accounts: Vec<GenesisAccount>,
    /// Initial validators and their bonded stake (on top of any balance): the validator set
    /// of epoch 0, and candidates from genesis on.
    pub validators: Vec<GenesisValidator>,
}

/// An initial balance.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// Whose.
    pub address: Address,
    /// How much, in base units.
    pub balance: Amount,
}

/// An initial validator.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// The validator's account, whose key also signs its consensus messages.
    pub address: Address,
    /// Bonded stake, in base units.
    pub stake: Amount,
}

/// Why a genesis file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The file is not valid genesis JSON.
    #[error("genesis is not valid JSON: {0}")]
    Json(String),
    /// The file is larger than any genesis may be.
    #[error("genesis is {len} bytes, more than {max}")]
    Oversized {
        /// The file's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The chain id is empty or too long.
    #[error("chain id must be 1 to {max} bytes, got {len}")]
    ChainId {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too many accounts or validators.
    #[error("genesis lists {len} {what}, more than {max}")]
    TooMany {
        /// Accounts or validators.
        what: &'static str,
        /// How many.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No validator: nobody could produce blocks.
    #[error("genesis must list at least one validator")]
    NoValidators,
    /// An address appears twice in one list.
    #[error("{address} appears twice among the {what}")]
    Duplicate {
        /// Accounts or validators.
        what: &'static str,
        /// The repeated address.
        address: Address,
    },
    /// A validator's stake is below `validator_stake_min`.
    #[error("validator {address} stakes {stake}, below the minimum of {min}")]
    StakeBelowMinimum {
        /// The validator.
        address: Address,
        /// Its stake.
        stake: Amount,
        /// The minimum.
        min: Amount,
    },
    /// The total supply does not fit in an amount.
    #[error("the total supply overflows")]
    SupplyOverflow,
    /// The parameters break their own rules.
    #[error("invalid params: {0}")]
    Params(#[from] ParamsError),
    /// A validator's address is a small-order key, for which anyone could sign.
    #[error("validator {address} is a small-order key: anyone could sign for it")]
    SmallOrderValidator {
        /// The validator.
        address: Address,
    },
}

impl Genesis {
    /// Parses and validates genesis JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, GenesisError> {
        if bytes.len() > GENESIS_BYTES_MAX {
            return Err(GenesisError::Oversized {
                len: bytes.len(),
                max: GENESIS_BYTES_MAX,
            });
        }
        let genesis: Genesis =
            serde_json::from_slice(bytes).map_err(|e| GenesisError::Json(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Pretty JSON, for writing to a file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis always serialises")
    }

    /// Checks the rules a genesis must follow.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id.is_empty() || self.chain_id.len() > CHAIN_ID_BYTES_MAX {
            return Err(GenesisError::ChainId {
                len: self.chain_id.len(),
                max: CHAIN_ID_BYTES_MAX,
            });
        }
        self.params.validate()?;
        check_count("accounts", self.accounts.len(), GENESIS_ACCOUNTS_MAX)?;
        let validators_max = GENESIS_VALIDATORS_MAX.min(self.params.validators_max as usize);
        check_count("validators", self.validators.len(), validators_max)?;
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        check_unique("accounts", self.accounts.iter().map(|a| a.address))?;
        check_unique("validators", self.validators.iter().map(|v| v.address))?;
        if let Some(v) = self.validators.iter().find(|v| is_small_order(&v.address)) {
            return Err(GenesisError::SmallOrderValidator { address: v.address });
        }
        // Genesis validators must qualify for re-election, or the first boundary would drop
        // them; `validator_stake_min >= stake_min`, so their stake is a valid stake too.
        let min = self.params.validator_stake_min;
        if let Some(v) = self.validators.iter().find(|v| v.stake < min) {
            return Err(GenesisError::StakeBelowMinimum {
                address: v.address,
                stake: v.stake,
                min,
            });
        }
        self.total_supply().ok_or(GenesisError::SupplyOverflow)?;
        Ok(())
    }

    /// Every token that exists at genesis, or `None` on overflow.
    pub fn total_supply(&self) -> Option<Amount> {
        let balances = self.accounts.iter().map(|a| a.balance);
        let stakes = self.validators.iter().map(|v| v.stake);
        balances
            .chain(stakes)
            .try_fold(0u64, |sum, amount| sum.checked_add(amount))
    }

    /// The genesis hash: the parent of block 1.
    pub fn hash(&self) -> Hash {
        GENESIS_HASH_DOMAIN.hash(&[&codec::encode(self)])
    }
}

fn check_count(what: &'static str, len: usize, max: usize) -> Result<(), GenesisError> {
    if len > max {
        return Err(GenesisError::TooMany { what, len, max });
    }
    Ok(())
}

fn check_unique(
    what: &'static str,
    addresses: impl Iterator<Item = Address>,
) -> Result<(), GenesisError> {
    let mut seen = BTreeSet::new();
    for address in addresses {
        if !seen.insert(address) {
            return Err(GenesisError::Duplicate { what, address });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn address(i: u8) -> Address {
        SecretKey::from_bytes([i; 32]).address()
    }

    fn genesis(validators: u8) -> Genesis {
        let params = Params::default();
        Genesis {
            chain_id: "test".into(),
            genesis_time_ms: 1,
            accounts: vec![],
            validators: (0..validators)
                .map(|i| GenesisValidator {
                    address: address(i),
                    stake: params.validator_stake_min,
                })
                .collect(),
            params,
        }
    }

    #[test]
    fn validator_rules() {
        assert_eq!(genesis(3).validate(), Ok(()));
        assert_eq!(genesis(0).validate(), Err(GenesisError::NoValidators));

        let mut too_many = genesis(3);
        too_many.params.validators_max = 2;
        assert_eq!(
            too_many.validate(),
            Err(GenesisError::TooMany {
                what: "validators",
                len: 3,
                max: 2
            })
        );

        let mut below = genesis(2);
        below.params.validator_stake_min = 3 * below.params.stake_min;
        assert!(matches!(
            below.validate(),
            Err(GenesisError::StakeBelowMinimum { min, .. }) if min == 3 * below.params.stake_min
        ));

        let mut burn_staker = genesis(2);
        burn_staker.validators[1].address = Address([0; 32]);
        assert_eq!(
            burn_staker.validate(),
            Err(GenesisError::SmallOrderValidator {
                address: Address([0; 32])
            })
        );

        let mut bad_params = genesis(1);
        bad_params.params.epoch_length_blocks = 1;
        assert!(matches!(
            bad_params.validate(),
            Err(GenesisError::Params(ParamsError::EpochTooShort { .. }))
        ));
    }

    #[test]
    fn json_round_trips_with_every_param() {
        let genesis = genesis(2);
        let json = genesis.to_json();
        assert!(json.contains("\"epoch_length_blocks\""));
        assert_eq!(Genesis::from_json(json.as_bytes()), Ok(genesis));
    }
}

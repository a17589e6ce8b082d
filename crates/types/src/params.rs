//! Chain parameters: set at genesis, part of the state root, changed later by governance.
//!
//! ## Epochs
//!
//! Heights are grouped into epochs of `epoch_length_blocks` blocks, as commonware's
//! `FixedEpocher` groups them: epoch `e` spans heights `e·L ..= (e+1)·L - 1`, so epoch 0 holds
//! the genesis height 0 and its last block is `L - 1`. The validator set changes only when
//! the last block of an epoch is applied; the set it elects validates the whole next epoch.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::Amount;
use crate::amount::BASE_UNITS_PER_AIF;
use crate::lifecycle::{BASIS_POINTS_WHOLE, BasisPoints, MICROS_PER_UNIT};
use crate::limits::{
    CHALLENGE_VOTERS_MAX, CHANNEL_EXPIRY_BLOCKS_MAX, FEE_PER_STATE_BYTE_MAX, JOB_STAGE_BLOCKS_MAX,
    VALIDATORS_MAX,
};

/// The shortest epoch allowed, in blocks: an epoch of one block would hold only genesis.
pub const EPOCH_LENGTH_BLOCKS_MIN: u64 = 2;

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
    /// Blocks per epoch (at least [`EPOCH_LENGTH_BLOCKS_MIN`]); the validator set changes
    /// only between epochs.
    pub epoch_length_blocks: u64,
    /// Most validators in the set of one epoch (1 to [`VALIDATORS_MAX`]).
    pub validators_max: u32,
    /// Bonded stake a candidate needs, in base units, to join the candidates and to be elected
    /// at an epoch boundary; at least `stake_min`.
    pub validator_stake_min: Amount,
    /// Base units a transaction pays, on top of `fee_min`, for each byte of state it adds
    /// (at most [`FEE_PER_STATE_BYTE_MAX`]); 0 turns the charge off. See `docs/encoding.md`.
    #[serde(default)]
    pub fee_per_state_byte: Amount,
    /// Least stake a provider locks behind a registered dataset, in base units.
    #[serde(default = "default_dataset_stake_min")]
    pub dataset_stake_min: Amount,
    /// The rules of deployments and payment channels.
    #[serde(default)]
    pub inference: InferenceParams,
}

/// The rules of deployments and payment channels (see `docs/inference.md`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceParams {
    /// Least stake a gateway locks behind a deployment, in base units; at least `stake_min`.
    pub gateway_stake_min: Amount,
    /// Largest share of each payment a gateway may take, in basis points.
    pub gateway_bps_max: BasisPoints,
    /// The treasury's share of a model no job trained on this chain (an imported ONNX model),
    /// in basis points; the developer gets the rest after the gateway.
    pub direct_treasury_bps: BasisPoints,
    /// Smallest deposit that opens a channel, in base units.
    pub channel_deposit_min: Amount,
    /// Soonest a channel may expire, in blocks after it opens: time for the gateway to claim.
    pub channel_expiry_blocks_min: u64,
    /// Blocks an answer can be challenged for after it is given; also how long an undeployed
    /// gateway's stake stays locked.
    pub challenge_window_blocks: u64,
    /// Blocks a challenge takes votes for, from the block it is made in.
    pub challenge_vote_blocks: u64,
    /// Least bond a challenger locks, in base units: what a frivolous challenge loses.
    pub challenge_bond_min: Amount,
    /// Least stake behind a vote on a challenge, in base units.
    pub challenge_vote_stake_min: Amount,
    /// Fewest voters for a challenge to be decided either way.
    pub challenge_voters_min: u16,
    /// How far a gateway's probabilities may be from a re-run's, in millionths: f32 kernels
    /// differ in the last bits between machines.
    pub challenge_tolerance_micros: u64,
    /// Part of a deployment's stake an upheld challenge slashes, in basis points.
    pub gateway_slash_bps: BasisPoints,
}

impl Default for InferenceParams {
    fn default() -> Self {
        InferenceParams {
            gateway_stake_min: 100 * BASE_UNITS_PER_AIF,
            gateway_bps_max: 5_000,
            direct_treasury_bps: 1_000,
            channel_deposit_min: BASE_UNITS_PER_AIF / 1_000,
            channel_expiry_blocks_min: 200,
            challenge_window_blocks: 1_000,
            challenge_vote_blocks: 100,
            challenge_bond_min: BASE_UNITS_PER_AIF,
            challenge_vote_stake_min: BASE_UNITS_PER_AIF,
            challenge_voters_min: 2,
            challenge_tolerance_micros: 100,
            gateway_slash_bps: 5_000,
        }
    }
}

fn default_dataset_stake_min() -> Amount {
    BASE_UNITS_PER_AIF
}

impl Default for Params {
    fn default() -> Self {
        let stake_min = 100 * BASE_UNITS_PER_AIF;
        Params {
            fee_min: 1_000,
            stake_min,
            unbonding_period_blocks: 1_000,
            epoch_length_blocks: 1_000,
            validators_max: 100,
            // Equal to `stake_min` so that genesis files and fixtures whose validators stake
            // exactly `stake_min` stay valid; a chain that wants a higher bar sets it.
            validator_stake_min: stake_min,
            // Off until clients quote fees: the CLI's fixed default fee of `fee_min` would not
            // pay for the account a transfer creates.
            fee_per_state_byte: 0,
            dataset_stake_min: default_dataset_stake_min(),
            inference: InferenceParams::default(),
        }
    }
}

/// Why a set of parameters was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The epoch is shorter than two blocks.
    #[error("epoch_length_blocks is {got}; it must be at least {min}")]
    EpochTooShort {
        /// The value given.
        got: u64,
        /// The minimum.
        min: u64,
    },
    /// `validators_max` is zero or above the hard cap.
    #[error("validators_max is {got}; it must be 1 to {max}")]
    ValidatorsMax {
        /// The value given.
        got: u32,
        /// The hard cap.
        max: usize,
    },
    /// The fee per byte of state is above its cap.
    #[error("fee_per_state_byte is {got}; it must be at most {max}")]
    FeePerStateByte {
        /// The value given.
        got: Amount,
        /// The cap.
        max: Amount,
    },
    /// A validator would need less stake than any staker.
    #[error("validator_stake_min {got} is below stake_min {stake_min}")]
    ValidatorStakeBelowStakeMin {
        /// The value given.
        got: Amount,
        /// `stake_min`.
        stake_min: Amount,
    },
    /// A gateway would need less stake than any staker.
    #[error("inference.gateway_stake_min {got} is below stake_min {stake_min}")]
    GatewayStakeBelowStakeMin {
        /// The value given.
        got: Amount,
        /// `stake_min`.
        stake_min: Amount,
    },
    /// A share in basis points above the whole.
    #[error("inference.{name} is {got} bps; it may be at most 10000")]
    ShareAboveWhole {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        got: BasisPoints,
    },
    /// A parameter that must be positive is zero.
    #[error("inference.{name} must be positive")]
    Zero {
        /// Which parameter.
        name: &'static str,
    },
    /// A parameter above its cap.
    #[error("inference.{name} is {got}; it may be at most {max}")]
    AboveMax {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        got: u64,
        /// The cap.
        max: u64,
    },
}

impl Params {
    /// Checks the rules between the parameters.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.epoch_length_blocks < EPOCH_LENGTH_BLOCKS_MIN {
            return Err(ParamsError::EpochTooShort {
                got: self.epoch_length_blocks,
                min: EPOCH_LENGTH_BLOCKS_MIN,
            });
        }
        if self.validators_max == 0 || self.validators_max as usize > VALIDATORS_MAX {
            return Err(ParamsError::ValidatorsMax {
                got: self.validators_max,
                max: VALIDATORS_MAX,
            });
        }
        if self.fee_per_state_byte > FEE_PER_STATE_BYTE_MAX {
            return Err(ParamsError::FeePerStateByte {
                got: self.fee_per_state_byte,
                max: FEE_PER_STATE_BYTE_MAX,
            });
        }
        if self.validator_stake_min < self.stake_min {
            return Err(ParamsError::ValidatorStakeBelowStakeMin {
                got: self.validator_stake_min,
                stake_min: self.stake_min,
            });
        }
        self.inference.validate(self.stake_min)
    }

    /// The least fee of a transaction that adds `state_bytes` bytes of state: `fee_min` plus
    /// `fee_per_state_byte` for each byte (`None` past what an amount holds).
    pub fn fee_for_state(&self, state_bytes: u64) -> Option<Amount> {
        self.fee_per_state_byte
            .checked_mul(state_bytes)?
            .checked_add(self.fee_min)
    }

    /// The epoch that holds `height`.
    pub fn epoch_of(&self, height: u64) -> u64 {
        height
            .checked_div(self.epoch_length_blocks)
            .expect("validated params have a non-zero epoch length")
    }

    /// The first height of `epoch`, or `None` if it is beyond the range of heights.
    pub fn first_height_of(&self, epoch: u64) -> Option<u64> {
        epoch.checked_mul(self.epoch_length_blocks)
    }

    /// The last height of `epoch`, or `None` if it is beyond the range of heights.
    pub fn last_height_of(&self, epoch: u64) -> Option<u64> {
        self.first_height_of(epoch)?
            .checked_add(self.epoch_length_blocks.checked_sub(1)?)
    }

    /// Whether `height` is the last of its epoch: the block whose application elects the next
    /// epoch's validators.
    pub fn is_epoch_last(&self, height: u64) -> bool {
        let last_offset = self
            .epoch_length_blocks
            .checked_sub(1)
            .expect("validated params have a non-zero epoch length");
        height % self.epoch_length_blocks == last_offset
    }
}

impl InferenceParams {
    /// Checks the rules of the inference parameters, given the chain's `stake_min`.
    pub fn validate(&self, stake_min: Amount) -> Result<(), ParamsError> {
        if self.gateway_stake_min < stake_min {
            return Err(ParamsError::GatewayStakeBelowStakeMin {
                got: self.gateway_stake_min,
                stake_min,
            });
        }
        for (name, got) in [
            ("gateway_bps_max", self.gateway_bps_max),
            ("direct_treasury_bps", self.direct_treasury_bps),
            ("gateway_slash_bps", self.gateway_slash_bps),
        ] {
            if got > BASIS_POINTS_WHOLE {
                return Err(ParamsError::ShareAboveWhole { name, got });
            }
        }
        for (name, value) in [
            ("channel_deposit_min", self.channel_deposit_min),
            ("channel_expiry_blocks_min", self.channel_expiry_blocks_min),
            ("challenge_window_blocks", self.challenge_window_blocks),
            ("challenge_vote_blocks", self.challenge_vote_blocks),
            ("challenge_bond_min", self.challenge_bond_min),
            ("challenge_vote_stake_min", self.challenge_vote_stake_min),
        ] {
            if value == 0 {
                return Err(ParamsError::Zero { name });
            }
        }
        for (name, got, max) in [
            (
                "channel_expiry_blocks_min",
                self.channel_expiry_blocks_min,
                CHANNEL_EXPIRY_BLOCKS_MAX,
            ),
            (
                "challenge_vote_blocks",
                self.challenge_vote_blocks,
                JOB_STAGE_BLOCKS_MAX,
            ),
            (
                "challenge_voters_min",
                u64::from(self.challenge_voters_min),
                CHALLENGE_VOTERS_MAX as u64,
            ),
            (
                "challenge_tolerance_micros",
                self.challenge_tolerance_micros,
                MICROS_PER_UNIT,
            ),
        ] {
            if got > max {
                return Err(ParamsError::AboveMax { name, got, max });
            }
        }
        if self.challenge_voters_min == 0 {
            return Err(ParamsError::Zero {
                name: "challenge_voters_min",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_epoch(epoch_length_blocks: u64) -> Params {
        Params {
            epoch_length_blocks,
            ..Params::default()
        }
    }

    #[test]
    fn epochs_follow_the_fixed_epocher() {
        let params = with_epoch(4);
        let epochs: Vec<u64> = (0..10).map(|h| params.epoch_of(h)).collect();
        assert_eq!(epochs, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
        let lasts: Vec<u64> = (0..10).filter(|&h| params.is_epoch_last(h)).collect();
        assert_eq!(lasts, [3, 7]);
        assert_eq!(params.first_height_of(2), Some(8));
        assert_eq!(params.last_height_of(0), Some(3));
        assert_eq!(params.last_height_of(2), Some(11));
        for epoch in 0..5 {
            let last = params.last_height_of(epoch).unwrap();
            assert!(params.is_epoch_last(last));
            assert_eq!(params.epoch_of(last), epoch);
            assert_eq!(params.epoch_of(last + 1), epoch + 1);
        }
    }

    #[test]
    fn epoch_arithmetic_does_not_overflow() {
        let params = with_epoch(2);
        assert_eq!(params.epoch_of(u64::MAX), u64::MAX / 2);
        assert!(params.is_epoch_last(u64::MAX));
        assert_eq!(params.last_height_of(u64::MAX / 2), Some(u64::MAX));
        assert_eq!(params.first_height_of(u64::MAX / 2 + 1), None);
        assert_eq!(params.last_height_of(u64::MAX), None);
        let three = with_epoch(3);
        assert!(
            !three.is_epoch_last(u64::MAX),
            "2^64 - 1 is a multiple of 3"
        );
        assert_eq!(three.last_height_of(three.epoch_of(u64::MAX)), None);
    }

    #[test]
    fn validation() {
        assert_eq!(Params::default().validate(), Ok(()));
        assert_eq!(
            with_epoch(1).validate(),
            Err(ParamsError::EpochTooShort { got: 1, min: 2 })
        );
        for validators_max in [0, VALIDATORS_MAX as u32 + 1] {
            let params = Params {
                validators_max,
                ..Params::default()
            };
            assert!(matches!(
                params.validate(),
                Err(ParamsError::ValidatorsMax { .. })
            ));
        }
        let params = Params {
            fee_per_state_byte: FEE_PER_STATE_BYTE_MAX + 1,
            ..Params::default()
        };
        assert!(matches!(
            params.validate(),
            Err(ParamsError::FeePerStateByte { .. })
        ));
        let params = Params {
            validator_stake_min: Params::default().stake_min - 1,
            ..Params::default()
        };
        assert!(matches!(
            params.validate(),
            Err(ParamsError::ValidatorStakeBelowStakeMin { .. })
        ));
        let inference = |change: fn(&mut InferenceParams)| {
            let mut params = Params::default();
            change(&mut params.inference);
            params.validate()
        };
        assert!(matches!(
            inference(|i| i.gateway_stake_min = 1),
            Err(ParamsError::GatewayStakeBelowStakeMin { .. })
        ));
        assert!(matches!(
            inference(|i| i.gateway_bps_max = 10_001),
            Err(ParamsError::ShareAboveWhole {
                name: "gateway_bps_max",
                ..
            })
        ));
        assert!(matches!(
            inference(|i| i.direct_treasury_bps = 10_001),
            Err(ParamsError::ShareAboveWhole { .. })
        ));
        assert!(matches!(
            inference(|i| i.channel_deposit_min = 0),
            Err(ParamsError::Zero { .. })
        ));
        assert!(matches!(
            inference(|i| i.challenge_window_blocks = 0),
            Err(ParamsError::Zero { .. })
        ));
        assert!(matches!(
            inference(|i| i.channel_expiry_blocks_min = CHANNEL_EXPIRY_BLOCKS_MAX + 1),
            Err(ParamsError::AboveMax {
                name: "channel_expiry_blocks_min",
                ..
            })
        ));
        assert!(matches!(
            inference(|i| i.gateway_slash_bps = 10_001),
            Err(ParamsError::ShareAboveWhole {
                name: "gateway_slash_bps",
                ..
            })
        ));
        for (change, name) in [
            (
                (|i: &mut InferenceParams| i.challenge_voters_min = 0) as fn(&mut InferenceParams),
                "challenge_voters_min",
            ),
            (|i| i.challenge_bond_min = 0, "challenge_bond_min"),
            (|i| i.challenge_vote_blocks = 0, "challenge_vote_blocks"),
        ] {
            assert_eq!(inference(change), Err(ParamsError::Zero { name }));
        }
        for (change, name) in [
            (
                (|i: &mut InferenceParams| i.challenge_voters_min = 33) as fn(&mut InferenceParams),
                "challenge_voters_min",
            ),
            (
                |i| i.challenge_tolerance_micros = 1_000_001,
                "challenge_tolerance_micros",
            ),
        ] {
            assert!(matches!(
                inference(change),
                Err(ParamsError::AboveMax { name: n, .. }) if n == name
            ));
        }
    }
}

//! Payment channels: a consumer locks a deposit for one deployment and pays per call with
//! vouchers, each signed over the cumulative amount owed so far; the gateway claims the latest
//! voucher whenever it likes, and the consumer takes back the rest after expiry.
//!
//! A voucher is signed over raw bytes in its own namespace ([`VOUCHER_NAMESPACE`]), so that a
//! consumer needs nothing but an ed25519 library: the signed bytes are
//! `u8 len(ns) ‖ ns ‖ u32 LE len(chain id) ‖ chain id ‖ u64 LE channel ‖ u64 LE amount`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::Namespace;

use super::DeploymentId;
use crate::limits::CLAIMS_PER_TX_MAX;
use crate::transaction::ChainId;
use crate::{Address, Amount, BoundedVec, SecretKey, Signature, SignatureError};

/// A channel's id.
pub type ChannelId = u64;

/// The namespace vouchers are signed in.
pub const VOUCHER_NAMESPACE: Namespace = Namespace::new("aifactory 2026-12 channel voucher v1");

/// `OpenChannel`: a consumer locks a deposit to pay one deployment's gateway per call.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OpenChannel {
    /// Which deployment it pays.
    pub deployment: DeploymentId,
    /// Tokens locked, in base units; at least `channel_deposit_min`.
    pub deposit: Amount,
    /// The last height the gateway may claim at; after it the consumer may close the channel
    /// and take back what was not claimed.
    pub expiry_height: u64,
}

/// `TopUpChannel`: the consumer adds to a channel's deposit.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TopUpChannel {
    /// Which channel.
    pub channel: ChannelId,
    /// How much, in base units.
    pub amount: Amount,
}

/// `ExtendChannel`: the consumer moves a channel's expiry later.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ExtendChannel {
    /// Which channel.
    pub channel: ChannelId,
    /// The new expiry height.
    pub expiry_height: u64,
}

/// A gateway's claim of one channel's latest voucher.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Claim {
    /// Which channel.
    pub channel: ChannelId,
    /// Who signed the voucher: the channel's consumer (named here so that signatures are
    /// checked with the transaction's, before execution).
    pub consumer: Address,
    /// The voucher's cumulative amount, in base units.
    pub amount: Amount,
    /// The consumer's signature over the voucher ([`voucher_message`]).
    pub signature: Signature,
}

impl Claim {
    /// Checks the consumer's signature over the voucher on `chain_id`.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), SignatureError> {
        self.signature.verify_in(
            &self.consumer,
            &VOUCHER_NAMESPACE,
            &voucher_body(chain_id, self.channel, self.amount),
        )
    }
}

/// `ClaimChannels`: the gateway is paid the latest voucher of each of its channels named; each
/// channel stays open.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimChannels {
    /// The claims, each of a different channel.
    pub claims: BoundedVec<Claim, CLAIMS_PER_TX_MAX>,
}

/// `CloseChannel`: the gateway at any time, or the consumer after expiry, closes a channel;
/// what was not claimed goes back to the consumer.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CloseChannel {
    /// Which channel.
    pub channel: ChannelId,
}

/// An open channel. It is removed when it closes; ids are never reused.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Channel {
    /// Who pays, and signs vouchers.
    pub consumer: Address,
    /// The deployment it pays.
    pub deployment: DeploymentId,
    /// The deployment's gateway, who claims.
    pub gateway: Address,
    /// Everything ever deposited (the opening deposit and every top-up), in base units.
    pub deposit: Amount,
    /// The highest voucher claimed so far; never more than `deposit`, never decreasing.
    pub claimed: Amount,
    /// The last height the gateway may claim at.
    pub expiry_height: u64,
    /// The height it opened at.
    pub opened_height: u64,
}

/// Why a channel action was refused.
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
pub enum ChannelError {
    /// The deposit is below `channel_deposit_min`.
    #[error("a channel's deposit must be at least {min} base units")]
    DepositTooLow {
        /// The minimum.
        min: Amount,
    },
    /// The expiry height is too soon or too far.
    #[error("the expiry height must be from {min} to {max}")]
    ExpiryOutOfRange {
        /// The earliest allowed.
        min: u64,
        /// The latest allowed.
        max: u64,
    },
    /// No such open channel.
    #[error("no open channel {channel}")]
    UnknownChannel {
        /// The id given.
        channel: ChannelId,
    },
    /// Only the channel's consumer may do this.
    #[error("only channel {channel}'s consumer may do this")]
    NotConsumer {
        /// The channel.
        channel: ChannelId,
    },
    /// Only the channel's consumer or gateway may do this.
    #[error("only channel {channel}'s consumer or gateway may close it")]
    NotParty {
        /// The channel.
        channel: ChannelId,
    },
    /// The channel expired: it can only be closed.
    #[error("channel {channel} expired at height {expiry_height}")]
    Expired {
        /// The channel.
        channel: ChannelId,
        /// Its expiry height.
        expiry_height: u64,
    },
    /// The consumer may close the channel only after its expiry height.
    #[error("channel {channel} is open to claims until height {expiry_height}")]
    NotExpired {
        /// The channel.
        channel: ChannelId,
        /// Its expiry height.
        expiry_height: u64,
    },
    /// An extension must move the expiry later.
    #[error("channel {channel} already expires at height {current}")]
    ExpiryNotLater {
        /// The channel.
        channel: ChannelId,
        /// Its expiry height.
        current: u64,
    },
    /// The deployment it pays does not take new channels or deposits.
    #[error("deployment {deployment} does not take new channels or deposits")]
    DeploymentNotActive {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// A claim transaction with no claims.
    #[error("a claim transaction must claim at least one channel")]
    EmptyClaims,
    /// The same channel claimed twice in one transaction.
    #[error("channel {channel} is claimed twice")]
    DuplicateClaim {
        /// The channel.
        channel: ChannelId,
    },
    /// The sender is not the channel's gateway.
    #[error("only channel {channel}'s gateway may claim it")]
    NotChannelGateway {
        /// The channel.
        channel: ChannelId,
    },
    /// The voucher was signed by someone other than the channel's consumer.
    #[error("the voucher for channel {channel} is not signed by its consumer")]
    ConsumerMismatch {
        /// The channel.
        channel: ChannelId,
    },
    /// The voucher is for more than the channel's deposit.
    #[error("the voucher for channel {channel} is above its deposit of {deposit}")]
    AboveDeposit {
        /// The channel.
        channel: ChannelId,
        /// Its deposit.
        deposit: Amount,
    },
    /// The voucher is not above what was already claimed: a replay or a stale voucher.
    #[error("the voucher for channel {channel} is not above the {claimed} already claimed")]
    NotAboveClaimed {
        /// The channel.
        channel: ChannelId,
        /// What was already claimed.
        claimed: Amount,
    },
    /// The deployment retired: its channels pay nothing more.
    #[error("deployment {deployment} retired; its channels pay nothing more")]
    DeploymentRetired {
        /// The deployment.
        deployment: DeploymentId,
    },
}

/// The voucher's body, before framing: `borsh((chain id, channel, amount))`.
pub fn voucher_body(chain_id: &ChainId, channel: ChannelId, amount: Amount) -> Vec<u8> {
    borsh::to_vec(&(chain_id, channel, amount)).expect("writing to a Vec cannot fail")
}

/// The exact bytes a consumer signs for a voucher (the body framed in [`VOUCHER_NAMESPACE`]).
pub fn voucher_message(chain_id: &ChainId, channel: ChannelId, amount: Amount) -> Vec<u8> {
    VOUCHER_NAMESPACE.frame(&voucher_body(chain_id, channel, amount))
}

/// A consumer's voucher for `amount` in all on `channel`, as a claim the gateway can send.
pub fn sign_voucher(
    key: &SecretKey,
    chain_id: &ChainId,
    channel: ChannelId,
    amount: Amount,
) -> Claim {
    Claim {
        channel,
        consumer: key.address(),
        amount,
        signature: key.sign_in(&VOUCHER_NAMESPACE, &voucher_body(chain_id, channel, amount)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_verifies_only_for_its_chain_channel_amount_and_consumer() {
        let key = SecretKey::from_bytes([4; 32]);
        let chain = ChainId::new("test").unwrap();
        let claim = sign_voucher(&key, &chain, 7, 1_000);
        assert_eq!(claim.verify(&chain), Ok(()));
        assert!(claim.verify(&ChainId::new("other").unwrap()).is_err());
        for tampered in [
            Claim {
                channel: 8,
                ..claim.clone()
            },
            Claim {
                amount: 1_001,
                ..claim.clone()
            },
            Claim {
                consumer: SecretKey::from_bytes([5; 32]).address(),
                ..claim.clone()
            },
        ] {
            assert!(tampered.verify(&chain).is_err(), "{tampered:?}");
        }
    }

    #[test]
    fn the_signed_bytes_are_the_documented_layout() {
        let chain = ChainId::new("ab").unwrap();
        let message = voucher_message(&chain, 1, 2);
        let name = VOUCHER_NAMESPACE.name().as_bytes();
        let mut expected = vec![name.len() as u8];
        expected.extend_from_slice(name);
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        assert_eq!(message, expected);
    }
}

//! Whether a voucher pays for a call: the gateway's acceptance rule, pure, before any work.
//!
//! A voucher is accepted when its channel pays this deployment, will not expire within the
//! margin the gateway needs to claim it, and its amount is at least the highest voucher held
//! (or the amount already claimed on chain, if higher) plus the price, and at most the deposit.
//! The same voucher for the same input as the highest held is a retry of a reply that was
//! lost: it is answered again, not charged again. The signature is checked after this.

use aifactory_types::Amount;
use aifactory_types::lifecycle::{Channel, DeploymentId};

use super::vouchers::VoucherRecord;

/// What to do with a voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It pays: answer, then record it.
    Pays,
    /// The highest voucher held, for the same input: answer again without charging.
    Retry,
}

/// Why a voucher does not pay; each is a 402 naming the amount that would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The channel pays another deployment.
    #[error("the channel pays deployment {deployment}, not this one")]
    WrongDeployment {
        /// The deployment it pays.
        deployment: DeploymentId,
    },
    /// The channel expires too soon for the gateway to claim it safely.
    #[error("the channel expires at height {expiry_height}, too soon to claim; extend it")]
    ChannelExpiring {
        /// Its expiry height.
        expiry_height: u64,
    },
    /// The channel expired.
    #[error("the channel expired at height {expiry_height}")]
    ChannelExpired {
        /// Its expiry height.
        expiry_height: u64,
    },
    /// A voucher already used: its amount is not above what was paid.
    #[error("a voucher for {amount} was already used; sign one for at least {expected}")]
    ReplayedVoucher {
        /// The voucher's amount.
        amount: Amount,
        /// What would pay.
        expected: Amount,
    },
    /// The voucher does not cover the price.
    #[error("the voucher for {amount} does not cover the price; sign one for at least {expected}")]
    StaleVoucher {
        /// The voucher's amount.
        amount: Amount,
        /// What would pay.
        expected: Amount,
    },
    /// The voucher is above the channel's deposit.
    #[error("the voucher for {amount} is above the channel's deposit of {deposit}; top it up")]
    OverDeposit {
        /// The voucher's amount.
        amount: Amount,
        /// The deposit.
        deposit: Amount,
    },
}

/// The facts the rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The channel as the chain last showed it.
    pub channel: &'a Channel,
    /// The highest voucher held for it.
    pub held: Option<&'a VoucherRecord>,
    /// The deployment asked for.
    pub deployment: DeploymentId,
    /// Its price per call.
    pub price: Amount,
    /// The latest finalized height.
    pub tip: u64,
    /// Blocks the gateway needs between answering and the channel's expiry.
    pub margin: u64,
    /// The voucher offered.
    pub voucher: &'a VoucherRecord,
}

/// What the voucher would have to be for: the highest paid so far plus the price.
pub fn expected_amount(channel: &Channel, held: Option<&VoucherRecord>, price: Amount) -> Amount {
    let paid = held.map_or(0, |h| h.amount).max(channel.claimed);
    paid.saturating_add(price)
}

/// Applies the rule (see the module docs).
pub fn admit(offer: &Offer<'_>) -> Result<Admission, Refusal> {
    let channel = offer.channel;
    if channel.deployment != offer.deployment {
        return Err(Refusal::WrongDeployment {
            deployment: channel.deployment,
        });
    }
    if offer.tip > channel.expiry_height {
        return Err(Refusal::ChannelExpired {
            expiry_height: channel.expiry_height,
        });
    }
    if offer.tip.saturating_add(offer.margin) >= channel.expiry_height {
        return Err(Refusal::ChannelExpiring {
            expiry_height: channel.expiry_height,
        });
    }
    let voucher = offer.voucher;
    if let Some(held) = offer.held
        && held == voucher
    {
        return Ok(Admission::Retry);
    }
    let expected = expected_amount(channel, offer.held, offer.price);
    let paid = expected - offer.price.min(expected);
    if voucher.amount <= paid {
        return Err(Refusal::ReplayedVoucher {
            amount: voucher.amount,
            expected,
        });
    }
    if voucher.amount < expected {
        return Err(Refusal::StaleVoucher {
            amount: voucher.amount,
            expected,
        });
    }
    if voucher.amount > channel.deposit {
        return Err(Refusal::OverDeposit {
            amount: voucher.amount,
            deposit: channel.deposit,
        });
    }
    Ok(Admission::Pays)
}

#[cfg(test)]
mod tests {
    use aifactory_types::{Hash, Signature};

    use super::*;

    fn channel() -> Channel {
        Channel {
            deployment: 1,
            deposit: 1_000,
            claimed: 100,
            expiry_height: 500,
            ..Channel::default()
        }
    }

    fn voucher(amount: Amount, input: u8) -> VoucherRecord {
        VoucherRecord {
            channel: 7,
            amount,
            signature: Signature([amount as u8; 64]),
            input_hash: Hash([input; 32]),
        }
    }

    fn offer<'a>(
        channel: &'a Channel,
        held: Option<&'a VoucherRecord>,
        voucher: &'a VoucherRecord,
    ) -> Offer<'a> {
        Offer {
            channel,
            held,
            deployment: 1,
            price: 10,
            tip: 100,
            margin: 50,
            voucher,
        }
    }

    #[test]
    fn each_rule_in_turn() {
        let c = channel();
        let held = voucher(300, 1);
        let pays = voucher(310, 2);
        assert_eq!(admit(&offer(&c, Some(&held), &pays)), Ok(Admission::Pays));
        assert_eq!(admit(&offer(&c, Some(&held), &held)), Ok(Admission::Retry));
        // Nothing held yet: what was claimed on chain counts.
        assert_eq!(
            admit(&offer(&c, None, &voucher(110, 1))),
            Ok(Admission::Pays)
        );
        assert_eq!(
            admit(&offer(&c, None, &voucher(100, 1))),
            Err(Refusal::ReplayedVoucher {
                amount: 100,
                expected: 110
            })
        );
        let same_amount_other_input = voucher(300, 9);
        assert_eq!(
            admit(&offer(&c, Some(&held), &same_amount_other_input)),
            Err(Refusal::ReplayedVoucher {
                amount: 300,
                expected: 310
            })
        );
        assert_eq!(
            admit(&offer(&c, Some(&held), &voucher(305, 2))),
            Err(Refusal::StaleVoucher {
                amount: 305,
                expected: 310
            })
        );
        assert_eq!(
            admit(&offer(&c, Some(&held), &voucher(1_001, 2))),
            Err(Refusal::OverDeposit {
                amount: 1_001,
                deposit: 1_000
            })
        );
        let mut other = offer(&c, Some(&held), &pays);
        other.deployment = 2;
        assert_eq!(
            admit(&other),
            Err(Refusal::WrongDeployment { deployment: 1 })
        );
        let mut late = offer(&c, Some(&held), &pays);
        late.tip = 450;
        assert_eq!(
            admit(&late),
            Err(Refusal::ChannelExpiring { expiry_height: 500 })
        );
        late.tip = 501;
        assert_eq!(
            admit(&late),
            Err(Refusal::ChannelExpired { expiry_height: 500 })
        );
    }
}

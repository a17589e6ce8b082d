//! When the gateway claims, and what: the pure plan, from the vouchers held and the channels
//! as the chain shows them.
//!
//! A channel with something unclaimed is claimed when its expiry is within `margin` blocks
//! (always, so nothing is lost to expiry), or when `interval` has passed since the last claim
//! and everything unclaimed is worth at least `dust` (a claim costs a fee: claiming less than a
//! few fees' worth would lose money), or when everything unclaimed adds up to `threshold`.
//! Nearest expiry first, then the larger amount, at most [`CLAIMS_PER_TX_MAX`] in a
//! transaction.

use std::collections::BTreeMap;

use aifactory_types::Amount;
use aifactory_types::lifecycle::{Channel, ChannelId, Claim};
use aifactory_types::limits::CLAIMS_PER_TX_MAX;

use super::vouchers::VoucherRecord;

/// The policy's knobs.
#[derive(Debug, Clone, Copy)]
pub struct ClaimPolicy {
    /// Claim what is due this close to expiry, in blocks, whatever else holds.
    pub margin: u64,
    /// Whether the interval since the last claim has passed.
    pub interval_passed: bool,
    /// Below this much unclaimed in all, the interval alone does not make a claim.
    pub dust: Amount,
    /// Claim everything once this much is unclaimed, in base units.
    pub threshold: Amount,
}

/// The claims to send now (at most one transaction's worth), or none.
pub fn plan(
    held: &BTreeMap<ChannelId, VoucherRecord>,
    book: &BTreeMap<ChannelId, Channel>,
    tip: u64,
    policy: ClaimPolicy,
) -> Vec<Claim> {
    let mut due: Vec<(u64, Amount, Claim)> = Vec::new();
    let mut total: u128 = 0;
    let mut urgent = false;
    for (id, record) in held {
        let Some(channel) = book.get(id) else {
            continue;
        };
        if record.amount <= channel.claimed || tip > channel.expiry_height {
            continue;
        }
        let unclaimed = record.amount - channel.claimed;
        total += u128::from(unclaimed);
        urgent |= channel.expiry_height.saturating_sub(tip) <= policy.margin;
        due.push((
            channel.expiry_height,
            unclaimed,
            Claim {
                channel: *id,
                consumer: channel.consumer,
                amount: record.amount,
                signature: record.signature,
            },
        ));
    }
    let claim_all = (policy.interval_passed && total >= u128::from(policy.dust))
        || total >= u128::from(policy.threshold);
    if !claim_all && !urgent {
        return Vec::new();
    }
    due.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    due.into_iter()
        .filter(|(expiry, _, _)| claim_all || expiry.saturating_sub(tip) <= policy.margin)
        .take(CLAIMS_PER_TX_MAX)
        .map(|(_, _, claim)| claim)
        .collect()
}

#[cfg(test)]
mod tests {
    use aifactory_types::{Hash, Signature};

    use super::*;

    fn setup(
        channels: &[(u64, u64, u64, u64)],
    ) -> (
        BTreeMap<ChannelId, VoucherRecord>,
        BTreeMap<ChannelId, Channel>,
    ) {
        let mut held = BTreeMap::new();
        let mut book = BTreeMap::new();
        for &(id, amount, claimed, expiry_height) in channels {
            held.insert(
                id,
                VoucherRecord {
                    channel: id,
                    amount,
                    signature: Signature([1; 64]),
                    input_hash: Hash::ZERO,
                },
            );
            book.insert(
                id,
                Channel {
                    claimed,
                    expiry_height,
                    deposit: 1_000,
                    ..Channel::default()
                },
            );
        }
        (held, book)
    }

    fn ids(claims: &[Claim]) -> Vec<u64> {
        claims.iter().map(|c| c.channel).collect()
    }

    #[test]
    fn urgent_channels_go_first_and_always() {
        // (id, held, claimed, expiry)
        let (held, book) = setup(&[
            (1, 50, 10, 900),
            (2, 80, 80, 120),
            (3, 30, 0, 130),
            (4, 70, 0, 900),
        ]);
        let quiet = ClaimPolicy {
            margin: 50,
            interval_passed: false,
            dust: 0,
            threshold: 1_000,
        };
        assert_eq!(
            ids(&plan(&held, &book, 100, quiet)),
            [3],
            "only what nears expiry"
        );
        assert!(
            plan(&held, &book, 10, quiet).is_empty(),
            "nothing near expiry yet"
        );
        let interval = ClaimPolicy {
            interval_passed: true,
            ..quiet
        };
        assert_eq!(
            ids(&plan(&held, &book, 10, interval)),
            [3, 4, 1],
            "nearest expiry first, then the larger amount; 2 has nothing unclaimed"
        );
        let rich = ClaimPolicy {
            threshold: 140,
            ..quiet
        };
        assert_eq!(ids(&plan(&held, &book, 10, rich)), [3, 4, 1]);
        assert!(
            plan(&held, &book, 901, interval).is_empty(),
            "expired channels are lost"
        );
    }

    #[test]
    fn one_transaction_at_most() {
        let channels: Vec<_> = (1..=40).map(|i| (i, 10, 0, 1_000 + i)).collect();
        let (held, book) = setup(&channels);
        let policy = ClaimPolicy {
            margin: 0,
            interval_passed: true,
            dust: 0,
            threshold: u64::MAX,
        };
        assert_eq!(plan(&held, &book, 0, policy).len(), CLAIMS_PER_TX_MAX);
    }
}

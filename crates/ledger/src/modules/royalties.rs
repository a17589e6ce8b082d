//! Royalty tables: how each payment to a deployment is split, fixed when it deploys.
//!
//! Parts are in millionths (`W` = 1,000,000) and every division is the largest-remainder
//! [`split`], so a table sums to exactly `W` and a claim's parts to exactly the claim.
//!
//! 1. The gateway gets `gateway_bps × 100`; the rest `R` goes to the model's sources.
//! 2. The sources' weights: for a model a job trained here, the job's developer, providers and
//!    treasury shares (trainer and validators were paid by the job); for a model registered
//!    directly (an imported ONNX file), `10,000 − direct_treasury_bps` to the developer and
//!    `direct_treasury_bps` to the treasury.
//! 3. `R` is split by those weights, then the providers' part by what each provider was paid
//!    at settlement, in address order; if nobody can take the providers' part, the treasury
//!    does (as a job's unclaimable pool).
//! 4. Lines of weight 0 are dropped; the order is gateway, developer, providers, treasury.
//! 5. The developer's part must be at least the model's royalty, else the gateway's share is
//!    too high: a deployment cannot dilute the royalty the developer registered.

use aifactory_types::lifecycle::{
    BASIS_POINTS_WHOLE, BasisPoints, DeploymentError, DeploymentId, MICROS_PER_UNIT, Model,
    RoyaltyShare,
};
use aifactory_types::{Address, Amount, Event, PayoutRole, TREASURY};

use super::settlement::split;
use crate::state::State;

/// Parts per million of one basis point.
const PPM_PER_BPS: u64 = MICROS_PER_UNIT / BASIS_POINTS_WHOLE as u64;

/// Where a model's payments come from: the weights of developer, providers and treasury, and
/// each provider with its weight among providers.
struct Sources {
    developer: Address,
    weights: [u64; 3],
    providers: Vec<(Address, u64)>,
    royalty_bps: BasisPoints,
}

fn sources(state: &State, model: &Model) -> Sources {
    let params = &state.params().inference;
    let (weights, providers) = match &model.trained_by {
        Some(trained) => {
            let job = state
                .job(trained.job)
                .expect("a trained model's job exists");
            let split = &job.terms.split;
            let weights = [split.developer_bps, split.providers_bps, split.treasury_bps];
            let providers = state
                .settlement(trained.job)
                .map(|s| s.providers.iter().copied().collect())
                .unwrap_or_default();
            (weights.map(u64::from), providers)
        }
        None => {
            let treasury = u64::from(params.direct_treasury_bps);
            let developer = u64::from(BASIS_POINTS_WHOLE) - treasury;
            ([developer, 0, treasury], Vec::new())
        }
    };
    Sources {
        developer: model.developer,
        weights,
        providers,
        royalty_bps: model.royalty_bps,
    }
}

/// The table for `sources` with the gateway taking `gateway_bps`, and the developer's part.
fn table_for(
    sources: &Sources,
    gateway: Address,
    gateway_bps: BasisPoints,
) -> (Vec<RoyaltyShare>, u64) {
    let whole = MICROS_PER_UNIT;
    let gateway_part = u64::from(gateway_bps) * PPM_PER_BPS;
    let rest = whole - gateway_part;
    let [developer, providers, treasury] = split(rest, &sources.weights)
        .map(|parts| [parts[0], parts[1], parts[2]])
        .unwrap_or([0, 0, rest]);
    let mut lines = vec![(gateway, PayoutRole::Gateway, gateway_part)];
    lines.push((sources.developer, PayoutRole::Developer, developer));
    let provider_weights: Vec<u64> = sources.providers.iter().map(|&(_, w)| w).collect();
    let mut treasury = treasury;
    match split(providers, &provider_weights) {
        Some(parts) => {
            for (&(account, _), part) in sources.providers.iter().zip(parts) {
                lines.push((account, PayoutRole::Provider, part));
            }
        }
        None => treasury += providers,
    }
    lines.push((TREASURY, PayoutRole::Treasury, treasury));
    let table = lines
        .into_iter()
        .filter(|&(_, _, part)| part > 0)
        .map(|(account, role, part)| RoyaltyShare {
            account,
            role,
            weight_ppm: u32::try_from(part).expect("a part is at most a million"),
        })
        .collect();
    (table, developer)
}

/// The royalty table of `model` deployed by `gateway` taking `gateway_bps` (see the module
/// docs), or why that share is refused.
pub(crate) fn royalty_table(
    state: &State,
    model: &Model,
    gateway: Address,
    gateway_bps: BasisPoints,
) -> Result<Vec<RoyaltyShare>, DeploymentError> {
    let sources = sources(state, model);
    let floor = u64::from(sources.royalty_bps) * PPM_PER_BPS;
    let max_allowed = state.params().inference.gateway_bps_max;
    let keeps_floor = |bps| table_for(&sources, gateway, bps).1 >= floor;
    if gateway_bps <= max_allowed {
        let (table, developer) = table_for(&sources, gateway, gateway_bps);
        if developer >= floor {
            return Ok(table);
        }
    }
    // The developer's part falls as the gateway's share grows: the largest share that keeps
    // the floor, by bisection (0 if even none does).
    let (mut low, mut high) = (0, max_allowed);
    if !keeps_floor(0) {
        high = 0;
    }
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if keeps_floor(mid) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Err(DeploymentError::GatewayShareTooHigh {
        got: gateway_bps,
        max_bps: low,
    })
}

/// Pays `amount` by `deployment`'s royalty table, one [`Event::RoyaltyPaid`] per non-zero
/// part; the parts sum to exactly `amount`.
pub(crate) fn pay(
    state: &mut State,
    deployment: DeploymentId,
    table: &[RoyaltyShare],
    amount: Amount,
    events: &mut Vec<Event>,
) {
    let weights: Vec<u64> = table.iter().map(|s| u64::from(s.weight_ppm)).collect();
    let parts = split(amount, &weights).expect("a royalty table is whole");
    for (share, part) in table.iter().zip(parts) {
        if part == 0 {
            continue;
        }
        state.credit(share.account, part);
        events.push(Event::RoyaltyPaid {
            deployment,
            account: share.account,
            role: share.role,
            amount: part,
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sources(weights: [u64; 3], providers: &[u64], royalty_bps: BasisPoints) -> Sources {
        Sources {
            developer: Address([1; 32]),
            weights,
            providers: providers
                .iter()
                .enumerate()
                .map(|(i, &w)| (Address([10 + i as u8; 32]), w))
                .collect(),
            royalty_bps,
        }
    }

    fn parts(table: &[RoyaltyShare]) -> Vec<(PayoutRole, u32)> {
        table.iter().map(|s| (s.role, s.weight_ppm)).collect()
    }

    /// The design's worked example: a 30/40/10/10/10 job (developer 1,000, providers 4,000,
    /// treasury 1,000) and a gateway at 2,000 bps.
    #[test]
    fn the_worked_example() {
        let (table, developer) = table_for(
            &sources([1_000, 4_000, 1_000], &[3, 1], 0),
            Address([9; 32]),
            2_000,
        );
        assert_eq!(
            developer, 133_334,
            "the three-way tie of remainders goes to the first"
        );
        assert_eq!(
            parts(&table),
            [
                (PayoutRole::Gateway, 200_000),
                (PayoutRole::Developer, 133_334),
                (PayoutRole::Provider, 400_000),
                (PayoutRole::Provider, 133_333),
                (PayoutRole::Treasury, 133_333),
            ]
        );
    }

    #[test]
    fn a_providers_part_nobody_can_take_goes_to_the_treasury() {
        let (table, _) = table_for(
            &sources([1_000, 4_000, 1_000], &[0, 0], 0),
            Address([9; 32]),
            0,
        );
        assert_eq!(
            parts(&table),
            [
                (PayoutRole::Developer, 166_667),
                (PayoutRole::Treasury, 833_333),
            ]
        );
    }

    #[test]
    fn a_table_pays_a_claim_to_the_base_unit() {
        let (table, _) = table_for(
            &sources([1_000, 4_000, 1_000], &[3, 1], 0),
            Address([9; 32]),
            2_000,
        );
        let weights: Vec<u64> = table.iter().map(|s| u64::from(s.weight_ppm)).collect();
        assert_eq!(weights.iter().sum::<u64>(), MICROS_PER_UNIT);
        let paid = split(1_000_003, &weights).unwrap();
        assert_eq!(paid, [200_001, 133_335, 400_001, 133_333, 133_333]);
    }

    proptest! {
        /// Whatever the shares, providers (zeros included) and gateway share: the table sums
        /// to exactly one million, and a claim split by it sums to the claim with every part
        /// within one unit of its exact share.
        #[test]
        fn royalty_tables_are_whole_and_fair(
            weights in prop::array::uniform3(0u64..10_000),
            providers in prop::collection::vec(0u64..1_000_000, 0..8),
            gateway_bps in 0u16..=10_000,
            claim in any::<u32>(),
        ) {
            let (table, developer) = table_for(&sources(weights, &providers, 0), Address([9; 32]), gateway_bps);
            let weights: Vec<u64> = table.iter().map(|s| u64::from(s.weight_ppm)).collect();
            prop_assert_eq!(weights.iter().sum::<u64>(), MICROS_PER_UNIT);
            prop_assert!(table.iter().all(|s| s.weight_ppm > 0));
            let on_table = table.iter().find(|s| s.role == PayoutRole::Developer).map_or(0, |s| u64::from(s.weight_ppm));
            prop_assert_eq!(on_table, developer);
            let parts = split(u64::from(claim), &weights).unwrap();
            prop_assert_eq!(parts.iter().sum::<u64>(), u64::from(claim));
            for (&part, &w) in parts.iter().zip(&weights) {
                let floor = u64::from(claim) * w / MICROS_PER_UNIT;
                prop_assert!(part == floor || part == floor + 1);
            }
        }
    }
}

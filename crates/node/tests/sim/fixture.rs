//! What every simulation shares: the validators' and users' keys, the genesis they start
//! from, the seeded runner, and the validators' consensus keys.

use std::time::{Duration, UNIX_EPOCH};

use aifactory_ledger::testing::{TEST_CHAIN_ID, test_key};
use aifactory_node::keys;
use aifactory_types::{Genesis, GenesisAccount, GenesisValidator, Params, SecretKey};
use commonware_cryptography::ed25519::PublicKey;
use commonware_runtime::deterministic;

/// Genesis validators in every simulation.
pub(crate) const VALIDATORS: usize = 4;
/// Funded users who send transfers.
pub(crate) const USERS: usize = 4;
/// The genesis time; the simulated clock starts a second after it.
pub(crate) const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// Each user's genesis balance.
pub(crate) const BALANCE: u64 = 1_000_000_000_000;

/// The validators' account (and consensus) keys.
pub(crate) fn validator_keys() -> Vec<SecretKey> {
    (0..VALIDATORS).map(test_key).collect()
}

/// The users' keys.
pub(crate) fn user_keys() -> Vec<SecretKey> {
    (VALIDATORS..VALIDATORS + USERS).map(test_key).collect()
}

/// The genesis: funded users, validators at the minimum stake.
pub(crate) fn genesis() -> Genesis {
    let params = Params::default();
    Genesis {
        chain_id: TEST_CHAIN_ID.to_owned(),
        genesis_time_ms: GENESIS_TIME_MS,
        accounts: user_keys()
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balance: BALANCE,
            })
            .collect(),
        validators: validator_keys()
            .iter()
            .map(|k| GenesisValidator {
                address: k.address(),
                stake: params.stake_min,
            })
            .collect(),
        params,
    }
}

/// A deterministic runner on `seed` that fails after `timeout` of simulated time.
pub(crate) fn runner(seed: u64, timeout: Duration) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_start_time(UNIX_EPOCH + Duration::from_millis(GENESIS_TIME_MS + 1_000))
            .with_timeout(Some(timeout)),
    )
}

/// The validators' consensus public keys, in index order.
pub(crate) fn public_keys() -> Vec<PublicKey> {
    validator_keys()
        .iter()
        .map(|k| keys::public_key(&k.address()).unwrap())
        .collect()
}

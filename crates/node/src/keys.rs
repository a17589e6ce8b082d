//! Our keys as commonware sees them: an account's 32-byte address is its ed25519 public key,
//! and a validator signs consensus messages with its account key, so the conversions are
//! byte-for-byte (both sides follow RFC 8032 for seeds and keys).

use aifactory_ledger::State;
use aifactory_types::{Address, SecretKey};
use commonware_codec::{Copying, DecodeExt};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_utils::ordered::Set;

/// Why a key could not be used for consensus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The address is not a valid ed25519 point.
    #[error("address {0} is not a valid ed25519 public key")]
    InvalidPublicKey(Address),
}

/// The consensus public key of an address.
pub fn public_key(address: &Address) -> Result<PublicKey, KeyError> {
    PublicKey::decode(Copying(&address.0[..])).map_err(|_| KeyError::InvalidPublicKey(*address))
}

/// The address of a consensus public key.
pub fn address(key: &PublicKey) -> Address {
    let bytes: &[u8] = key.as_ref();
    Address(bytes.try_into().expect("ed25519 public keys are 32 bytes"))
}

/// The consensus signing key of an account key.
pub fn private_key(key: &SecretKey) -> PrivateKey {
    PrivateKey::decode(Copying(&key.to_bytes()[..])).expect("any 32 bytes are an ed25519 seed")
}

/// The consensus participants: the state's validators' keys, sorted (the state keys
/// validators by address, so there are no duplicates).
pub fn validator_set(state: &State) -> Result<Set<PublicKey>, KeyError> {
    let keys = state
        .validators()
        .map(|(address, _)| public_key(&address))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Set::from_iter_dedup(keys))
}

#[cfg(test)]
mod tests {
    use aifactory_ledger::testing::test_key;
    use commonware_cryptography::Signer;

    use super::*;

    #[test]
    fn keys_agree_byte_for_byte() {
        for i in 0..8 {
            let key = test_key(i);
            let private = private_key(&key);
            assert_eq!(address(&private.public_key()), key.address());
            assert_eq!(public_key(&key.address()).unwrap(), private.public_key());
        }
    }

    #[test]
    fn invalid_point_is_refused() {
        // y = 2 is not on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert!(public_key(&Address(bytes)).is_err());
    }
}

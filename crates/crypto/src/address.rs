//! Account addresses: an account is named by its ed25519 public key, printed as bech32m with
//! the human-readable part `aif` so that a mistyped address fails its checksum instead of
//! sending funds to nobody.

use std::fmt;
use std::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use borsh::{BorshDeserialize, BorshSerialize};

/// The human-readable prefix of every address.
pub const ADDRESS_HRP: &str = "aif";

/// An account's address: the 32 bytes of its owner's ed25519 public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address's raw bytes (the public key).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The text is not valid bech32m (wrong characters or a failed checksum: likely a typo).
    #[error("not a valid bech32m address (bad characters or checksum): {0:?}")]
    Encoding(String),
    /// The prefix is not `aif`: the address belongs to another network or format.
    #[error("address prefix must be \"aif\", got {0:?}")]
    Prefix(String),
    /// The payload is not 32 bytes.
    #[error("address must carry 32 bytes, got {0}")]
    Length(usize),
}

fn hrp() -> Hrp {
    Hrp::parse_unchecked(ADDRESS_HRP)
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = bech32::encode::<Bech32m>(hrp(), &self.0).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown = || s.chars().take(100).collect::<String>();
        let checked =
            CheckedHrpstring::new::<Bech32m>(s).map_err(|_| AddressError::Encoding(shown()))?;
        if checked.hrp() != hrp() {
            return Err(AddressError::Prefix(checked.hrp().to_string()));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::Length(bytes.len()))?;
        Ok(Address(array))
    }
}

crate::text::serde_as_text!(Address);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_has_prefix_and_round_trips() {
        let address = Address([7; 32]);
        let text = address.to_string();
        assert!(text.starts_with("aif1"), "{text}");
        assert_eq!(text.parse::<Address>().unwrap(), address);
    }

    #[test]
    fn a_typo_fails_the_checksum() {
        let text = Address([7; 32]).to_string();
        let mut chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 3;
        chars[last] = if chars[last] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(matches!(
            typo.parse::<Address>(),
            Err(AddressError::Encoding(_))
        ));
    }

    #[test]
    fn other_prefix_and_length_are_rejected() {
        let other = bech32::encode::<Bech32m>(Hrp::parse("btc").unwrap(), &[1; 32]).unwrap();
        assert!(matches!(
            other.parse::<Address>(),
            Err(AddressError::Prefix(_))
        ));
        let short = bech32::encode::<Bech32m>(hrp(), &[1; 20]).unwrap();
        assert_eq!(short.parse::<Address>(), Err(AddressError::Length(20)));
        let bech32_not_m = bech32::encode::<bech32::Bech32>(hrp(), &[1; 32]).unwrap();
        assert!(bech32_not_m.parse::<Address>().is_err());
    }

    proptest! {
        #[test]
        fn any_key_round_trips(bytes in any::<[u8; 32]>()) {
            let address = Address(bytes);
            prop_assert_eq!(address.to_string().parse::<Address>().unwrap(), address);
            let json = serde_json::to_string(&address).unwrap();
            prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), address);
        }
    }
}

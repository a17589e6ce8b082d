//! Token amounts: integer base units. One AIF is 10^9 base units (nine decimals), so the whole
//! `u64` range holds about 18.4 billion AIF while a single inference can still be priced in
//! billionths.

use std::fmt;

/// An amount of tokens in base units.
pub type Amount = u64;

/// Decimal places between base units and one AIF.
pub const DECIMALS: u32 = 9;

/// Base units in one AIF.
pub const BASE_UNITS_PER_AIF: u64 = 10u64.pow(DECIMALS);

/// Formats base units as an exact decimal AIF amount, e.g. `1.5` for 1_500_000_000.
pub fn format_aif(amount: Amount) -> String {
    let whole = amount / BASE_UNITS_PER_AIF;
    let fraction = amount % BASE_UNITS_PER_AIF;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = DECIMALS as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Why an AIF amount could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain decimal number.
    #[error("{0:?} is not a decimal amount like 12 or 0.25")]
    Syntax(String),
    /// More than nine decimal places: the amount would not be a whole number of base units.
    #[error("{0:?} has more than 9 decimal places")]
    TooPrecise(String),
    /// Larger than the largest representable amount.
    #[error("{0:?} is larger than the largest amount")]
    Overflow(String),
}

/// Parses a decimal AIF amount (`"2"`, `"0.000000001"`) into base units, exactly.
pub fn parse_aif(text: &str) -> Result<Amount, AmountError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(AmountError::Syntax(text.to_owned()));
    }
    if fraction.len() > DECIMALS as usize {
        return Err(AmountError::TooPrecise(text.to_owned()));
    }
    let overflow = || AmountError::Overflow(text.to_owned());
    let whole: u64 = whole.parse().map_err(|_| overflow())?;
    let scale = 10u64.pow(DECIMALS - fraction.len() as u32);
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| overflow())?
    };
    whole
        .checked_mul(BASE_UNITS_PER_AIF)
        .and_then(|w| w.checked_add(fraction * scale))
        .ok_or_else(overflow)
}

/// Displays an amount as `1.5 AIF`.
pub struct Aif(pub Amount);

impl fmt::Display for Aif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} AIF", format_aif(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(format_aif(1_500_000_000), "1.5");
        assert_eq!(format_aif(1), "0.000000001");
        assert_eq!(format_aif(3 * BASE_UNITS_PER_AIF), "3");
        assert_eq!(parse_aif("0.25"), Ok(250_000_000));
        assert_eq!(parse_aif("7"), Ok(7 * BASE_UNITS_PER_AIF));
        assert!(matches!(
            parse_aif("1.0000000001"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(parse_aif("-1"), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_aif(".5"), Err(AmountError::Syntax(_))));
        assert!(matches!(
            parse_aif("99999999999"),
            Err(AmountError::Overflow(_))
        ));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_exact(amount in any::<u64>()) {
            prop_assert_eq!(parse_aif(&format_aif(amount)), Ok(amount));
        }
    }
}

//! What `dataset`, `model` and `job` share: paging a list, naming a licence, amounts in AIF,
//! decimals in millionths, and asking a node for a proven entry (the typed client checks every proof
//! against the state root the node sends with it; a lie is an error, never printed).

use aifactory_client::ClientError;
use aifactory_client::views::lifecycle::{LIST_LIMIT_MAX, PageRequest};
use aifactory_types::amount::parse_aif;
use aifactory_types::lifecycle::{Licence, MICROS_PER_UNIT, Micros};
use aifactory_types::limits::LICENCE_ID_BYTES_MAX;
use aifactory_types::{Amount, BoundedString, Hash};
use anyhow::{anyhow, bail};

use crate::cmd::status::Node;

/// Which page of a list to print.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// List ids above this one (a previous page's `next_after`).
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// Most entries to list (1 to 100; the node refuses others).
    #[arg(long, default_value_t = LIST_LIMIT_MAX)]
    limit: usize,
}

impl ListArgs {
    /// The page to ask the node for.
    pub(crate) fn page(&self) -> PageRequest {
        PageRequest {
            after: self.after,
            limit: self.limit,
        }
    }
}

/// A licence: an SPDX identifier, or the hash of a custom licence's text.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct LicenceArgs {
    /// An SPDX licence identifier or expression, e.g. CC-BY-4.0.
    #[arg(long, value_parser = parse_licence_id)]
    licence: Option<BoundedString<LICENCE_ID_BYTES_MAX>>,
    /// The BLAKE3 hash of a custom licence's text, stored as a blob.
    #[arg(long)]
    licence_text: Option<Hash>,
}

impl LicenceArgs {
    /// The licence named.
    pub(crate) fn licence(self) -> anyhow::Result<Licence> {
        match (self.licence, self.licence_text) {
            (Some(id), None) => Ok(Licence::Spdx(id)),
            (None, Some(hash)) => Ok(Licence::Text(hash)),
            _ => bail!("give exactly one of --licence and --licence-text"),
        }
    }
}

/// Parses `--licence`: an SPDX id within the ledger's length cap.
fn parse_licence_id(text: &str) -> Result<BoundedString<LICENCE_ID_BYTES_MAX>, String> {
    BoundedString::new(text).map_err(|e| format!("the licence id: {e}"))
}

/// Parses an amount flag in AIF (`--price 0.5`, at most nine decimals) into base units: the
/// one parser of the amount flags of `dataset` and `job`, run by clap.
pub(crate) fn parse_amount(text: &str) -> Result<Amount, String> {
    parse_aif(text).map_err(|e| e.to_string())
}

/// The line under a printed page that says how to ask for the next one (empty on the last).
pub(crate) fn next_page_hint(next_after: Option<u64>) -> String {
    next_after.map_or_else(String::new, |after| format!("\nmore: --after {after}"))
}

/// A licence as a person reads it.
pub(crate) fn describe_licence(licence: &Licence) -> String {
    match licence {
        Licence::Spdx(id) => id.to_string(),
        Licence::Text(hash) => format!("custom, text {hash}"),
    }
}

/// Parses a decimal such as `0.85` into millionths (850000), exactly: at most six decimals.
pub(crate) fn parse_micros(text: &str) -> anyhow::Result<Micros> {
    // An AIF amount has nine decimals; millionths are those with the last three zero.
    const NANOS_PER_MICRO: u64 = 1_000;
    let nanos = parse_aif(text).map_err(|e| anyhow!("{e}"))?;
    if nanos % NANOS_PER_MICRO != 0 {
        bail!("{text:?} has more than 6 decimal places");
    }
    Ok(nanos / NANOS_PER_MICRO)
}

/// Millionths as a decimal: 850000 is `0.85`.
pub(crate) fn format_micros(value: Micros) -> String {
    let fraction = format!("{:06}", value % MICROS_PER_UNIT);
    let fraction = fraction.trim_end_matches('0');
    match fraction {
        "" => format!("{}", value / MICROS_PER_UNIT),
        _ => format!("{}.{fraction}", value / MICROS_PER_UNIT),
    }
}

/// Runs one call for a proven entry; a 404 becomes `missing`, a failed proof says the node
/// cannot be trusted.
pub(crate) fn fetch<T>(
    node: &Node,
    call: impl std::future::Future<Output = Result<T, ClientError>>,
    missing: impl FnOnce() -> String,
) -> anyhow::Result<T> {
    match node.run(call) {
        Ok(view) => Ok(view),
        Err(error) if error.is_not_found() => Err(anyhow!(missing())),
        Err(error) => Err(node.explain(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_parse_exactly_and_print_back() {
        for (text, micros) in [
            ("0.85", 850_000),
            ("1", 1_000_000),
            ("0.000001", 1),
            ("0", 0),
        ] {
            assert_eq!(parse_micros(text).unwrap(), micros, "{text}");
            assert_eq!(format_micros(micros), text);
        }
        for bad in ["0.0000001", "-1", "x", ""] {
            assert!(parse_micros(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn amount_and_licence_flags_parse_within_their_caps() {
        assert_eq!(parse_amount("0.5"), Ok(500_000_000));
        assert_eq!(parse_amount("2"), Ok(2_000_000_000));
        for bad in ["0.0000000001", "-1", "1e3", ""] {
            assert!(parse_amount(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(
            parse_licence_id("CC-BY-4.0").unwrap().to_string(),
            "CC-BY-4.0"
        );
        let long = "x".repeat(LICENCE_ID_BYTES_MAX + 1);
        assert!(
            parse_licence_id(&long).is_err(),
            "an id over the cap parsed"
        );
    }
}

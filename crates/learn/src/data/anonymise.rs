//! Anonymisation before registration: drop columns, pseudonymise identifiers, generalise
//! quasi-identifiers.
//!
//! - **Drop**: the column is removed.
//! - **Pseudonymise**: each value becomes the first 16 bytes (hex) of BLAKE3 keyed with the
//!   provider's 32-byte secret: stable across tables of the same provider (joins still
//!   work), not invertible without the key, unlike a plain hash of a guessable value.
//! - **Generalise**: numeric bands (`[40,50)`, by a band width), truncated codes (keep a
//!   prefix and pad with `*`, e.g. `130**`), or suppression of rare categories (a value
//!   seen fewer than `min_count` times becomes a replacement such as `Other`).
//!
//! Missing values stay missing. Afterwards [`crate::data::kanon`] reports what
//! k-anonymity and l-diversity the result reaches.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::data::table::Table;
use crate::error::{LearnError, Result};

/// How to generalise one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generalisation {
    /// Numbers into half-open bands of this width, written `[lo,hi)`.
    Band {
        /// Band width (> 0).
        width: f64,
    },
    /// Keep the first `keep` characters, replace the rest with `*`.
    Truncate {
        /// Characters kept.
        keep: usize,
    },
    /// Values seen fewer than `min_count` times become `replacement`.
    SuppressRare {
        /// Smallest count kept.
        min_count: usize,
        /// The replacement value.
        replacement: String,
    },
}

/// An anonymisation plan.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymisePlan {
    /// Columns removed.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Columns replaced by keyed hashes.
    #[serde(default)]
    pub pseudonymise: Vec<String>,
    /// Columns generalised.
    #[serde(default)]
    pub generalise: BTreeMap<String, Generalisation>,
}

/// A keyed-BLAKE3 pseudonym of a value.
pub fn pseudonym(key: &[u8; 32], value: &str) -> String {
    hex::encode(&blake3::keyed_hash(key, value.as_bytes()).as_bytes()[..16])
}

fn band(value: &str, width: f64) -> Result<String> {
    let v: f64 = value
        .parse()
        .map_err(|_| LearnError::Data(format!("cannot band non-number {value:?}")))?;
    let lo = (v / width).floor() * width;
    Ok(format!("[{lo},{})", lo + width))
}

fn truncate(value: &str, keep: usize) -> String {
    let n = value.chars().count();
    value
        .chars()
        .take(keep)
        .chain(std::iter::repeat_n('*', n.saturating_sub(keep)))
        .collect()
}

/// Applies a plan; the key is used for pseudonyms.
pub fn anonymise(table: &Table, plan: &AnonymisePlan, key: &[u8; 32]) -> Result<Table> {
    let mut t = table.clone();
    for (name, g) in &plan.generalise {
        let i = t.index(name)?;
        if let Generalisation::Band { width } = g
            && !(*width > 0.0 && width.is_finite())
        {
            return Err(LearnError::Config("band width must be positive".into()));
        }
        let counts: HashMap<String, usize> = match g {
            Generalisation::SuppressRare { .. } => {
                let mut c = HashMap::new();
                t.rows
                    .iter()
                    .filter_map(|r| r[i].clone())
                    .for_each(|v| *c.entry(v).or_insert(0) += 1);
                c
            }
            _ => HashMap::new(),
        };
        for row in &mut t.rows {
            let Some(v) = row[i].take() else { continue };
            row[i] = Some(match g {
                Generalisation::Band { width } => band(&v, *width)?,
                Generalisation::Truncate { keep } => truncate(&v, *keep),
                Generalisation::SuppressRare {
                    min_count,
                    replacement,
                } => {
                    if counts[&v] < *min_count {
                        replacement.clone()
                    } else {
                        v
                    }
                }
            });
        }
    }
    for name in &plan.pseudonymise {
        let i = t.index(name)?;
        for row in &mut t.rows {
            row[i] = row[i].as_deref().map(|v| pseudonym(key, v));
        }
    }
    let mut keep: Vec<bool> = vec![true; t.columns.len()];
    for name in &plan.drop {
        keep[t.index(name)?] = false;
    }
    let filter = |v: Vec<Option<String>>| {
        v.into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect()
    };
    Ok(Table {
        columns: t
            .columns
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c.clone())
            .collect(),
        rows: t.rows.into_iter().map(filter).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::kanon;

    #[test]
    fn plan_applies_and_raises_k() {
        let t = Table {
            columns: vec![
                "name".into(),
                "age".into(),
                "zip".into(),
                "country".into(),
                "y".into(),
            ],
            rows: [
                ["ann", "23", "13053", "US", "1"],
                ["bob", "27", "13068", "US", "0"],
                ["cid", "41", "14853", "US", "1"],
                ["dan", "45", "14850", "US", "0"],
                ["eve", "44", "14850", "Peru", "1"],
            ]
            .iter()
            .map(|r| r.iter().map(|c| Some(c.to_string())).collect())
            .collect(),
        };
        let qi = vec!["age".to_string(), "zip".to_string(), "country".to_string()];
        assert_eq!(kanon::report(&t, &qi, None, 2).unwrap().k, 1);
        let plan: AnonymisePlan = serde_json::from_str(
            r#"{"drop":["y"],"pseudonymise":["name"],"generalise":{"age":{"kind":"band","width":10},"zip":{"kind":"truncate","keep":3},"country":{"kind":"suppress_rare","min_count":2,"replacement":"Other"}}}"#,
        )
        .unwrap();
        let key = [7u8; 32];
        let a = anonymise(&t, &plan, &key).unwrap();
        assert_eq!(a.columns, vec!["name", "age", "zip", "country"]);
        assert_eq!(
            a.rows[0][1..],
            [
                Some("[20,30)".into()),
                Some("130**".into()),
                Some("US".into())
            ]
        );
        assert_eq!(a.rows[4][3], Some("Other".into()));
        assert_eq!(a.rows[0][0], Some(pseudonym(&key, "ann")));
        assert_ne!(pseudonym(&key, "ann"), pseudonym(&[8u8; 32], "ann"));
        let r = kanon::report(&a, &qi, None, 2).unwrap();
        // classes: ([20,30),130**,US) ×2, ([40,50),148**,US) ×2, ([40,50),148**,Other) ×1
        assert_eq!((r.classes, r.k, r.rows_below_k_target), (3, 1, 1));
    }
}

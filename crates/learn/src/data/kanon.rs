//! k-anonymity and l-diversity over declared quasi-identifiers.
//!
//! Rows are grouped into equivalence classes by their quasi-identifier values (a missing
//! value is a value of its own). The table is k-anonymous for k = the smallest class
//! size, and l-diverse for l = the fewest distinct sensitive values in any class
//! (distinct l-diversity, Machanavajjhala et al. 2007). The report also gives how many
//! rows sit in classes smaller than a target k, i.e. what suppression would cost.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::data::table::Table;
use crate::error::Result;

/// The anonymity of a table over its quasi-identifiers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnonymityReport {
    /// The quasi-identifier columns.
    pub quasi_identifiers: Vec<String>,
    /// Number of equivalence classes.
    pub classes: usize,
    /// The smallest class size (0 for an empty table).
    pub k: usize,
    /// The fewest distinct sensitive values in a class, if a sensitive column was given.
    pub l: Option<usize>,
    /// The target k the next field refers to.
    pub k_target: usize,
    /// Rows in classes smaller than `k_target`.
    pub rows_below_k_target: usize,
}

/// An equivalence class: its size and the sensitive values seen in it.
type Class<'a> = (usize, BTreeSet<Option<&'a str>>);

/// Computes the report.
pub fn report(
    table: &Table,
    quasi_identifiers: &[String],
    sensitive: Option<&str>,
    k_target: usize,
) -> Result<AnonymityReport> {
    let qi: Vec<usize> = quasi_identifiers
        .iter()
        .map(|q| table.index(q))
        .collect::<Result<_>>()?;
    let s = sensitive.map(|s| table.index(s)).transpose()?;
    let mut classes: BTreeMap<Vec<Option<&str>>, Class<'_>> = BTreeMap::new();
    for row in &table.rows {
        let key: Vec<Option<&str>> = qi.iter().map(|&i| row[i].as_deref()).collect();
        let e = classes.entry(key).or_default();
        e.0 += 1;
        if let Some(si) = s {
            e.1.insert(row[si].as_deref());
        }
    }
    let k = classes.values().map(|c| c.0).min().unwrap_or(0);
    let l = s.map(|_| classes.values().map(|c| c.1.len()).min().unwrap_or(0));
    let rows_below_k_target = classes
        .values()
        .filter(|c| c.0 < k_target)
        .map(|c| c.0)
        .sum();
    Ok(AnonymityReport {
        quasi_identifiers: quasi_identifiers.to_vec(),
        classes: classes.len(),
        k,
        l,
        k_target,
        rows_below_k_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[&str; 3]]) -> Table {
        Table {
            columns: vec!["age".into(), "zip".into(), "disease".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| Some(c.to_string())).collect())
                .collect(),
        }
    }

    #[test]
    fn hand_computed_k_and_l() {
        let t = table(&[
            ["20-29", "130", "flu"],
            ["20-29", "130", "flu"],
            ["20-29", "130", "cancer"],
            ["30-39", "148", "flu"],
            ["30-39", "148", "flu"],
            ["40-49", "130", "hiv"],
        ]);
        let q = vec!["age".to_string(), "zip".to_string()];
        let r = report(&t, &q, Some("disease"), 2).unwrap();
        assert_eq!(
            (r.classes, r.k, r.l, r.rows_below_k_target),
            (3, 1, Some(1), 1)
        );
        let r = report(&t, &q[..1], None, 3).unwrap();
        assert_eq!(
            (r.classes, r.k, r.l, r.rows_below_k_target),
            (3, 1, None, 3)
        );
        let r = report(&t, &q[1..], Some("disease"), 2).unwrap();
        // zip 130: 4 rows {flu, cancer, hiv}; zip 148: 2 rows {flu}
        assert_eq!(
            (r.classes, r.k, r.l, r.rows_below_k_target),
            (2, 2, Some(1), 0)
        );
        assert!(report(&t, &["nope".to_string()], None, 2).is_err());
    }
}

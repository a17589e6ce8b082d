//! Seeded train/test splits of a table, optionally stratified by the label so each part
//! keeps the class balance: within each label value the rows are shuffled and the first
//! ⌊fraction·n⌉ go to the test part.

use std::collections::BTreeMap;

use crate::data::table::Table;
use crate::error::{LearnError, Result};
use crate::rng;

/// Row indices of the train and test parts, each sorted.
pub fn split(
    table: &Table,
    test_fraction: f64,
    stratify_by: Option<&str>,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(LearnError::Config("test fraction must be in [0, 1]".into()));
    }
    let mut strata: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    match stratify_by {
        Some(col) => {
            let i = table.index(col)?;
            for (r, row) in table.rows.iter().enumerate() {
                strata.entry(row[i].clone()).or_default().push(r);
            }
        }
        None => {
            strata.insert(None, (0..table.rows.len()).collect());
        }
    }
    let mut r = rng::rng(rng::derive_seed(seed, "split", 0));
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for rows in strata.values_mut() {
        rng::shuffle(&mut r, rows);
        let k = (test_fraction * rows.len() as f64).round() as usize;
        test.extend_from_slice(&rows[..k]);
        train.extend_from_slice(&rows[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_split_keeps_balance_and_is_seeded() {
        let t = Table {
            columns: vec!["y".into()],
            rows: (0..100)
                .map(|i| vec![Some(if i < 20 { "1" } else { "0" }.to_string())])
                .collect(),
        };
        let (train, test) = split(&t, 0.25, Some("y"), 4).unwrap();
        assert_eq!((train.len(), test.len()), (75, 25));
        assert_eq!(test.iter().filter(|&&i| i < 20).count(), 5);
        assert_eq!(split(&t, 0.25, Some("y"), 4).unwrap().1, test);
        assert_ne!(split(&t, 0.25, Some("y"), 5).unwrap().1, test);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }
}

//! Group fairness of binary predictions across a declared group column.
//!
//! - **Demographic-parity difference**: max − min over groups of P(ŷ = 1 | group).
//! - **Equalized-odds difference**: the larger of the true-positive-rate gap and the
//!   false-positive-rate gap across groups (max − min of each), as in fairlearn.
//!
//! Groups are reported in sorted order with their sizes and rates, so a validator can
//! show where a gap comes from.

use std::collections::BTreeMap;

use serde::Serialize;

/// Rates of one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRates {
    /// The group's value.
    pub group: String,
    /// Rows in the group.
    pub rows: usize,
    /// P(ŷ = 1).
    pub selection_rate: f64,
    /// P(ŷ = 1 | y = 1); `None` without positives.
    pub tpr: Option<f64>,
    /// P(ŷ = 1 | y = 0); `None` without negatives.
    pub fpr: Option<f64>,
}

/// Fairness across groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fairness {
    /// Per-group rates, sorted by group.
    pub groups: Vec<GroupRates>,
    /// Demographic-parity difference.
    pub demographic_parity_difference: f64,
    /// Equalized-odds difference.
    pub equalized_odds_difference: f64,
}

fn spread(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Fairness of binary predictions `predicted` against `labels` over `groups`.
pub fn fairness(labels: &[u32], predicted: &[u32], groups: &[String]) -> Fairness {
    assert!(
        labels.len() == predicted.len() && labels.len() == groups.len(),
        "fairness: lengths differ"
    );
    // per group: rows, predicted positive, positives, true positives, negatives, false positives
    let mut acc: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for ((&y, &p), g) in labels.iter().zip(predicted).zip(groups) {
        let a = acc.entry(g.as_str()).or_default();
        a[0] += 1;
        a[1] += usize::from(p == 1);
        if y == 1 {
            a[2] += 1;
            a[3] += usize::from(p == 1);
        } else {
            a[4] += 1;
            a[5] += usize::from(p == 1);
        }
    }
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let groups: Vec<GroupRates> = acc
        .into_iter()
        .map(|(g, a)| GroupRates {
            group: g.to_string(),
            rows: a[0],
            selection_rate: a[1] as f64 / a[0] as f64,
            tpr: ratio(a[3], a[2]),
            fpr: ratio(a[5], a[4]),
        })
        .collect();
    let dp = spread(groups.iter().map(|g| g.selection_rate));
    let tpr_gap = spread(groups.iter().filter_map(|g| g.tpr));
    let fpr_gap = spread(groups.iter().filter_map(|g| g.fpr));
    Fairness {
        groups,
        demographic_parity_difference: dp,
        equalized_odds_difference: tpr_gap.max(fpr_gap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_gaps() {
        let g: Vec<String> = ["a", "a", "a", "a", "b", "b", "b", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let y = [1, 1, 0, 0, 1, 1, 0, 0];
        let p = [1, 1, 1, 0, 1, 0, 0, 0];
        // a: selection 3/4, tpr 1, fpr 1/2; b: selection 1/4, tpr 1/2, fpr 0
        let f = fairness(&y, &p, &g);
        assert!((f.demographic_parity_difference - 0.5).abs() < 1e-12);
        assert!((f.equalized_odds_difference - 0.5).abs() < 1e-12);
        assert_eq!(f.groups[0].group, "a");
        assert_eq!(f.groups[1].tpr, Some(0.5));
        let same = fairness(&y, &y, &g);
        assert_eq!(same.demographic_parity_difference, 0.0);
        assert_eq!(same.equalized_odds_difference, 0.0);
    }
}

//! A validator's measurements of a model on its held-out rows, as the ledger records them: the
//! job's metric, the expected calibration error, and the largest gap of the metric between the
//! groups of the job's group column, each in millionths.

use aifactory_learn::data::features::Featurizer;
use aifactory_learn::data::table::Table;
use aifactory_learn::metrics::{calibration, classification};
use aifactory_learn::predict::{Probabilities, predict_native};
use aifactory_learn::store::StoredModel;
use aifactory_types::lifecycle::{MICROS_PER_UNIT, Metric, Micros};
use anyhow::anyhow;

/// Bins of the expected calibration error.
const ECE_BINS: usize = 10;

/// What a validator measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The job's metric.
    pub metric: f64,
    /// Expected calibration error.
    pub calibration_error: f64,
    /// Largest gap of the metric between groups.
    pub fairness_gap: f64,
}

/// A real in [0, ∞) as millionths, rounded to nearest (negative and non-finite values are 0).
pub fn micros(value: f64) -> Micros {
    let scaled = (value * MICROS_PER_UNIT as f64).round();
    if scaled.is_finite() && scaled > 0.0 {
        scaled as Micros
    } else {
        0
    }
}

/// The metric on rows whose labels and probabilities are given.
fn metric_of(metric: Metric, labels: &[u32], probs: &Probabilities) -> f64 {
    let predicted = probs.argmax();
    match metric {
        Metric::Accuracy => classification::accuracy(labels, &predicted),
        Metric::F1 if probs.classes == 2 => {
            classification::precision_recall_f1(labels, &predicted, 1).2
        }
        Metric::F1 => {
            classification::macro_precision_recall_f1(labels, &predicted, probs.classes).2
        }
        Metric::Auc => classification::roc_auc(labels, &probs.column(1)).unwrap_or(0.0),
        Metric::Rmse => {
            let ones = probs.column(probs.classes.saturating_sub(1));
            let n = labels.len().max(1) as f64;
            let sum: f64 = labels
                .iter()
                .zip(&ones)
                .map(|(&y, &p)| (f64::from(p) - f64::from(y)).powi(2))
                .sum();
            (sum / n).sqrt()
        }
    }
}

/// Rows `rows` of `probs`.
fn subset(probs: &Probabilities, rows: &[usize]) -> Probabilities {
    let c = probs.classes;
    Probabilities {
        rows: rows.len(),
        classes: c,
        p: rows
            .iter()
            .flat_map(|&r| probs.p[r * c..(r + 1) * c].iter().copied())
            .collect(),
    }
}

/// Measures `model` on `table`, encoded with the job's featurizer; `group_column` names the
/// column whose groups the fairness gap compares (empty for none).
pub fn measure(
    model: &StoredModel,
    features: &Featurizer,
    table: &Table,
    metric: Metric,
    group_column: &str,
) -> anyhow::Result<Measured> {
    let samples = features
        .encode(table)
        .map_err(|e| anyhow!("encoding the held-out rows: {e}"))?;
    let probs = predict_native(model, &samples.x).map_err(|e| anyhow!("predicting: {e}"))?;
    let labels = &samples.labels;
    let overall = metric_of(metric, labels, &probs);
    let calibration_error =
        calibration::expected_calibration_error(labels, &probs.p, probs.classes, ECE_BINS)
            .map_err(|e| anyhow!("{e}"))?;
    let mut fairness_gap = 0.0;
    if !group_column.is_empty() {
        let groups = table
            .column(group_column)
            .map_err(|e| anyhow!("the group column: {e}"))?;
        let mut by_group: std::collections::BTreeMap<Option<String>, Vec<usize>> =
            Default::default();
        for (row, g) in groups.into_iter().enumerate() {
            by_group.entry(g).or_default().push(row);
        }
        let values: Vec<f64> = by_group
            .values()
            .map(|rows| {
                let l: Vec<u32> = rows.iter().map(|&r| labels[r]).collect();
                metric_of(metric, &l, &subset(&probs, rows))
            })
            .collect();
        let max = values.iter().copied().fold(f64::MIN, f64::max);
        let min = values.iter().copied().fold(f64::MAX, f64::min);
        if values.len() > 1 {
            fairness_gap = max - min;
        }
    }
    Ok(Measured {
        metric: overall,
        calibration_error,
        fairness_gap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millionths_round_to_nearest_and_never_go_negative() {
        assert_eq!(micros(0.85), 850_000);
        assert_eq!(micros(0.123_456_5), 123_457);
        assert_eq!(micros(-0.1), 0);
        assert_eq!(micros(f64::NAN), 0);
    }

    #[test]
    fn rmse_and_accuracy_of_known_probabilities() {
        let probs = Probabilities {
            rows: 2,
            classes: 2,
            p: vec![0.9, 0.1, 0.2, 0.8],
        };
        let labels = [0, 1];
        assert_eq!(metric_of(Metric::Accuracy, &labels, &probs), 1.0);
        let rmse = metric_of(Metric::Rmse, &labels, &probs);
        assert!(
            (rmse - ((0.01f64 + 0.04) / 2.0).sqrt()).abs() < 1e-6,
            "{rmse}"
        );
        assert_eq!(subset(&probs, &[1]).p, vec![0.2, 0.8]);
    }
}

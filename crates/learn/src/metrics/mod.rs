//! Evaluation: classification quality, calibration and group fairness.

pub mod calibration;
pub mod classification;
pub mod fairness;

use serde::Serialize;

use crate::error::Result;
use crate::predict::Probabilities;

/// Everything a validator reports about a model on a labelled data set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// Precision (of class 1 for binary tasks, macro average otherwise).
    pub precision: f64,
    /// Recall (same convention).
    pub recall: f64,
    /// F1 (same convention).
    pub f1: f64,
    /// ROC AUC (binary tasks with both classes present).
    pub roc_auc: Option<f64>,
    /// Log loss.
    pub log_loss: f64,
    /// Expected calibration error.
    pub ece: f64,
    /// Bins used for the ECE.
    pub ece_bins: usize,
    /// Fairness across the group column, if one was given (binary tasks).
    pub fairness: Option<fairness::Fairness>,
}

/// Evaluates probabilities against labels, with fairness over `groups` if given.
pub fn evaluate(
    labels: &[u32],
    probs: &Probabilities,
    groups: Option<&[String]>,
    ece_bins: usize,
) -> Result<Evaluation> {
    let predicted = probs.argmax();
    let binary = probs.classes == 2;
    let (precision, recall, f1) = if binary {
        classification::precision_recall_f1(labels, &predicted, 1)
    } else {
        classification::macro_precision_recall_f1(labels, &predicted, probs.classes)
    };
    Ok(Evaluation {
        rows: labels.len(),
        accuracy: classification::accuracy(labels, &predicted),
        precision,
        recall,
        f1,
        roc_auc: if binary {
            classification::roc_auc(labels, &probs.column(1))
        } else {
            None
        },
        log_loss: classification::log_loss(labels, &probs.p, probs.classes),
        ece: calibration::expected_calibration_error(labels, &probs.p, probs.classes, ece_bins)?,
        ece_bins,
        fairness: match groups {
            Some(g) if binary => Some(fairness::fairness(labels, &predicted, g)),
            _ => None,
        },
    })
}

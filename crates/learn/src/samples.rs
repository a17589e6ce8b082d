//! A labelled data set in memory: a dense row-major feature matrix and class labels.
//!
//! This is what models train and evaluate on. Binary tasks use labels 0/1 and a model
//! with one output (a logit); multi-class tasks use labels `0..classes` and one logit per
//! class.

use crate::error::{LearnError, Result};

/// Rows of features with one class label each.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Row-major features, `rows × features`.
    pub x: Vec<f32>,
    /// One label per row, in `0..classes`.
    pub labels: Vec<u32>,
    /// Number of features per row.
    pub features: usize,
    /// Number of classes (2 for a binary task).
    pub classes: usize,
}

impl Samples {
    /// Builds a data set, checking that the shapes agree and the labels are in range.
    pub fn new(x: Vec<f32>, labels: Vec<u32>, features: usize, classes: usize) -> Result<Self> {
        if features == 0 || x.len() != labels.len() * features {
            return Err(LearnError::Data(format!(
                "{} values do not make {} rows of {features} features",
                x.len(),
                labels.len()
            )));
        }
        if classes < 2 {
            return Err(LearnError::Data("a task needs at least 2 classes".into()));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(LearnError::Data(format!(
                "label {bad} is not below {classes}"
            )));
        }
        Ok(Self {
            x,
            labels,
            features,
            classes,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// A new data set made of the given rows, in the given order.
    pub fn subset(&self, rows: &[usize]) -> Self {
        let mut x = Vec::with_capacity(rows.len() * self.features);
        for &r in rows {
            x.extend_from_slice(self.row(r));
        }
        let labels = rows.iter().map(|&r| self.labels[r]).collect();
        Self {
            x,
            labels,
            features: self.features,
            classes: self.classes,
        }
    }

    /// Concatenates data sets with the same shape.
    pub fn concat(parts: &[Self]) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| LearnError::Data("nothing to concatenate".into()))?;
        let mut out = Self {
            x: vec![],
            labels: vec![],
            features: first.features,
            classes: first.classes,
        };
        for p in parts {
            if p.features != first.features || p.classes != first.classes {
                return Err(LearnError::Data("parts have different shapes".into()));
            }
            out.x.extend_from_slice(&p.x);
            out.labels.extend_from_slice(&p.labels);
        }
        Ok(out)
    }
}

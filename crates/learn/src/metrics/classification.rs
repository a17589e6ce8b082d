//! Classification metrics from labels and predicted probabilities.
//!
//! Binary tasks report precision, recall and F1 of class 1; multi-class tasks report
//! their macro averages (unweighted mean over classes; a class never predicted has
//! precision 0, as in scikit-learn's `zero_division=0`). ROC AUC is the Mann–Whitney
//! statistic: the probability that a random positive scores above a random negative,
//! ties counting one half (binary tasks only). Log loss clips probabilities to
//! [1e-15, 1 − 1e-15] as scikit-learn does.

/// Fraction of predictions equal to the label.
pub fn accuracy(labels: &[u32], predicted: &[u32]) -> f64 {
    assert_eq!(labels.len(), predicted.len(), "accuracy: lengths differ");
    if labels.is_empty() {
        return 0.0;
    }
    labels.iter().zip(predicted).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64
}

/// Precision, recall and F1 of one class, treating it as the positive class.
pub fn precision_recall_f1(labels: &[u32], predicted: &[u32], class: u32) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fne) = (0usize, 0usize, 0usize);
    for (&y, &p) in labels.iter().zip(predicted) {
        match (y == class, p == class) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fne += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fne);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// Macro-averaged precision, recall and F1 over `classes` classes.
pub fn macro_precision_recall_f1(
    labels: &[u32],
    predicted: &[u32],
    classes: usize,
) -> (f64, f64, f64) {
    let mut s = (0.0, 0.0, 0.0);
    for c in 0..classes {
        let (p, r, f) = precision_recall_f1(labels, predicted, c as u32);
        s = (s.0 + p, s.1 + r, s.2 + f);
    }
    let k = classes as f64;
    (s.0 / k, s.1 / k, s.2 / k)
}

/// ROC AUC of scores for class 1; `None` if only one class is present.
pub fn roc_auc(labels: &[u32], scores: &[f32]) -> Option<f64> {
    assert_eq!(labels.len(), scores.len(), "roc_auc: lengths differ");
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // average ranks (1-based) over ties
    let mut ranks = vec![0f64; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        idx[i..=j].iter().for_each(|&k| ranks[k] = r);
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let rank_sum: f64 = labels
        .iter()
        .zip(&ranks)
        .filter(|(l, _)| **l == 1)
        .map(|(_, r)| r)
        .sum();
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Mean negative log-likelihood of the true class; `probs` is row-major `rows × classes`.
pub fn log_loss(labels: &[u32], probs: &[f32], classes: usize) -> f64 {
    assert_eq!(
        labels.len() * classes,
        probs.len(),
        "log_loss: shapes differ"
    );
    if labels.is_empty() {
        return 0.0;
    }
    let eps = 1e-15;
    labels
        .iter()
        .enumerate()
        .map(|(r, &y)| {
            -f64::from(probs[r * classes + y as usize])
                .clamp(eps, 1.0 - eps)
                .ln()
        })
        .sum::<f64>()
        / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_binary_metrics() {
        let y = [1, 1, 0, 0, 1, 0];
        let p = [1, 0, 0, 1, 1, 0];
        assert!((accuracy(&y, &p) - 4.0 / 6.0).abs() < 1e-12);
        let (pr, re, f1) = precision_recall_f1(&y, &p, 1);
        assert!(
            (pr - 2.0 / 3.0).abs() < 1e-12
                && (re - 2.0 / 3.0).abs() < 1e-12
                && (f1 - 2.0 / 3.0).abs() < 1e-12
        );
        // scores: positives 0.9, 0.4, 0.6; negatives 0.1, 0.4, 0.3
        // pairs pos>neg: 0.9 beats 3, 0.4 beats 0.1 and 0.3 and ties 0.4 (half), 0.6 beats 3 → 8.5 / 9
        let s = [0.9, 0.4, 0.1, 0.4, 0.6, 0.3];
        assert!((roc_auc(&y, &s).unwrap() - 8.5 / 9.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[1, 1], &[0.2, 0.3]), None);
        let probs = [0.2, 0.8, 0.5, 0.5];
        let want = -(0.8f64.ln() + 0.5f64.ln()) / 2.0;
        assert!((log_loss(&[1, 0], &probs, 2) - want).abs() < 1e-7);
    }

    #[test]
    fn macro_average_over_three_classes() {
        let y = [0, 1, 2, 2];
        let p = [0, 2, 2, 1];
        // class 0: p1 r1 f1; class 1: p0 r0 f0; class 2: p 1/2 r 1/2 f 1/2
        let (pr, re, f1) = macro_precision_recall_f1(&y, &p, 3);
        assert!((pr - 0.5).abs() < 1e-12 && (re - 0.5).abs() < 1e-12 && (f1 - 0.5).abs() < 1e-12);
    }
}

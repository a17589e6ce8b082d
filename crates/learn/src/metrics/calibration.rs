//! Expected calibration error (Guo et al. 2017) with equal-width bins.
//!
//! Each prediction's confidence is the probability of its predicted class. Confidences
//! fall into `bins` equal-width bins over [0, 1] (bin b holds (b/B, (b+1)/B], the first
//! also holds 0). ECE = Σ_b (n_b / n)·|accuracy_b − mean confidence_b|.

use crate::error::{LearnError, Result, check_max};
use crate::limits;

/// ECE of row-major probabilities `rows × classes` against labels.
pub fn expected_calibration_error(
    labels: &[u32],
    probs: &[f32],
    classes: usize,
    bins: usize,
) -> Result<f64> {
    check_max("calibration bins", bins, limits::CALIBRATION_BINS_MAX)?;
    if bins == 0 || labels.len() * classes != probs.len() {
        return Err(LearnError::Config(
            "ECE needs at least one bin and rows × classes probabilities".into(),
        ));
    }
    let mut count = vec![0usize; bins];
    let mut correct = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    for (r, &y) in labels.iter().enumerate() {
        let row = &probs[r * classes..(r + 1) * classes];
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        let c = f64::from(row[best]).clamp(0.0, 1.0);
        let b = ((c * bins as f64).ceil() as usize)
            .saturating_sub(1)
            .min(bins - 1);
        count[b] += 1;
        conf[b] += c;
        correct[b] += usize::from(best as u32 == y);
    }
    let n = labels.len().max(1) as f64;
    Ok((0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let k = count[b] as f64;
            k / n * (correct[b] as f64 / k - conf[b] / k).abs()
        })
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_ece() {
        // binary (values exact in f32); confidences 0.875 right, 0.75 wrong, 0.625 right, 0.5625 wrong
        // 2 bins: all in (0.5, 1]; accuracy 0.5, mean confidence 0.703125 → ECE 0.203125
        let probs = [0.125, 0.875, 0.75, 0.25, 0.375, 0.625, 0.5625, 0.4375];
        let y = [1, 1, 1, 1];
        let e = expected_calibration_error(&y, &probs, 2, 2).unwrap();
        assert!((e - 0.203125).abs() < 1e-9, "{e}");
        // 10 bins: one per prediction; (0.125 + 0.75 + 0.375 + 0.5625) / 4
        let e = expected_calibration_error(&y, &probs, 2, 10).unwrap();
        assert!((e - 0.453125).abs() < 1e-9, "{e}");
        assert!(expected_calibration_error(&y, &probs, 2, 0).is_err());
    }
}

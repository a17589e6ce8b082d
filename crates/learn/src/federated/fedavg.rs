//! FedAvg's combination step: the sample-weighted mean of client updates (McMahan et al.
//! 2017). Sums run in f64 so that the result does not depend on rounding drift across
//! many clients; the order of summation is the order of the inputs.

use crate::error::{LearnError, Result};

/// Checks that there is at least one update, all have the same length, and every
/// coordinate is finite: the one gate every aggregation rule passes its input through.
pub(crate) fn check_updates(updates: &[Vec<f32>]) -> Result<usize> {
    let first = updates
        .first()
        .ok_or_else(|| LearnError::Config("no updates to aggregate".into()))?;
    crate::error::check_max("update length", first.len(), crate::limits::UPDATE_LEN_MAX)?;
    crate::error::check_max("updates", updates.len(), crate::limits::CLIENTS_MAX)?;
    for (index, u) in updates.iter().enumerate() {
        if u.len() != first.len() {
            return Err(LearnError::LengthMismatch {
                got: u.len(),
                expected: first.len(),
            });
        }
        crate::error::check_finite("update", index, u)?;
    }
    Ok(first.len())
}

/// Σ wᵢ·uᵢ / Σ wᵢ, coordinate-wise; weights are typically the clients' sample counts.
pub fn weighted_mean(updates: &[Vec<f32>], weights: &[f64]) -> Result<Vec<f32>> {
    let len = check_updates(updates)?;
    if weights.len() != updates.len() {
        return Err(LearnError::LengthMismatch {
            got: weights.len(),
            expected: updates.len(),
        });
    }
    let total: f64 = weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) || weights.iter().any(|w| *w < 0.0) {
        return Err(LearnError::Config(
            "weights must be non-negative with a positive sum".into(),
        ));
    }
    let mut acc = vec![0f64; len];
    for (u, &w) in updates.iter().zip(weights) {
        acc.iter_mut()
            .zip(u)
            .for_each(|(a, &x)| *a += w * f64::from(x));
    }
    Ok(acc.into_iter().map(|a| (a / total) as f32).collect())
}

/// The unweighted mean.
pub fn mean(updates: &[Vec<f32>]) -> Result<Vec<f32>> {
    weighted_mean(updates, &vec![1.0; updates.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_weighted_mean() {
        let u = vec![vec![1.0, 10.0], vec![4.0, -2.0]];
        assert_eq!(weighted_mean(&u, &[1.0, 2.0]).unwrap(), vec![3.0, 2.0]);
        assert_eq!(mean(&u).unwrap(), vec![2.5, 4.0]);
        assert!(weighted_mean(&u, &[1.0]).is_err());
        assert!(weighted_mean(&[vec![1.0], vec![1.0, 2.0]], &[1.0, 1.0]).is_err());
        assert!(weighted_mean(&u, &[0.0, 0.0]).is_err());
    }
}

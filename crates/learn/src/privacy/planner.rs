//! The privacy planner: the smallest noise multiplier that keeps a job within a target ε.
//!
//! ε is decreasing in σ for fixed (q, T, δ), so the planner brackets σ by doubling and then
//! bisects until the bracket is narrower than 0.01 % of σ, returning the upper end: the
//! returned σ always meets the target.

use crate::error::{LearnError, Result};
use crate::privacy::rdp::SgmQuery;

/// The smallest noise multiplier (to 0.01 %) giving ε ≤ `target_epsilon`.
pub fn plan_noise_multiplier(
    sample_rate: f64,
    steps: u64,
    delta: f64,
    target_epsilon: f64,
) -> Result<f64> {
    if !(target_epsilon > 0.0 && target_epsilon.is_finite()) {
        return Err(LearnError::Config("target epsilon must be positive".into()));
    }
    let eps = |sigma: f64| {
        SgmQuery {
            sample_rate,
            noise_multiplier: sigma,
            steps,
            delta,
        }
        .epsilon()
        .map(|e| e.0)
    };
    let (mut lo, mut hi) = (0.0f64, 0.5f64);
    while eps(hi)? > target_epsilon {
        lo = hi;
        hi *= 2.0;
        if hi > 1e6 {
            return Err(LearnError::Config(
                "no noise multiplier below 1e6 reaches the target".into(),
            ));
        }
    }
    while hi - lo > 1e-4 * hi {
        let mid = 0.5 * (lo + hi);
        if eps(mid)? > target_epsilon {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_meets_the_target_tightly() {
        for (q, t, target) in [(0.01, 1000u64, 1.0), (0.1, 50, 8.0), (1.0, 10, 3.0)] {
            let s = plan_noise_multiplier(q, t, 1e-5, target).unwrap();
            let at = |s: f64| {
                SgmQuery {
                    sample_rate: q,
                    noise_multiplier: s,
                    steps: t,
                    delta: 1e-5,
                }
                .epsilon()
                .unwrap()
                .0
            };
            assert!(at(s) <= target, "sigma {s} gives {}", at(s));
            assert!(at(s * 0.995) > target, "sigma {s} is not the smallest");
        }
    }
}

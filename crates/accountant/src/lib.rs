//! Rényi-DP accountant for the sampled Gaussian mechanism, and the (ε, δ) conversion.
//!
//! One step samples each record with probability q and adds Gaussian noise of standard
//! deviation σ·C to a sum of contributions clipped to norm C (DP-SGD steps or DP-FedAvg
//! rounds). Its RDP of order α is log(A_α)/(α − 1) (Mironov, Talwar & Zhang 2019), with
//!
//! - integer α: A_α = Σ_{i=0..α} C(α, i)·qⁱ(1 − q)^{α−i}·exp((i² − i)/(2σ²));
//! - fractional α: the two-sided series with erfc terms of the same paper (Section 3.3),
//!   summed with |binomial| coefficients until terms fall below e⁻³⁰, as `dp-accounting` does;
//! - q = 1 (no sampling): α/(2σ²).
//!
//! RDP composes additively over T steps. The conversion to (ε, δ) takes, over the orders,
//! the minimum of ε = rdp + log1p(−1/α) − log(δ·α)/(α − 1) (Balle et al. 2020, Prop. 12;
//! Canonne, Kamath & Steinke 2020), and ε = 0 when δ² + expm1(−rdp) > 0. This is what
//! Google's `dp-accounting` `RdpAccountant` computes over the same orders, which the tests
//! check against recorded outputs. Everything is done in log space in f64.
//!
//! Its own crate, with no dependency on the learning stack, so that the node can report the ε
//! a job's terms imply (the ledger stores the settings exactly; ε is a float, computed here).

/// Most steps (or rounds) the accountant composes.
pub const STEPS_MAX: u64 = 1_000_000_000;

/// Why a privacy question was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountantError {
    /// More steps than [`STEPS_MAX`].
    #[error("{got} accountant steps is more than the {max} allowed")]
    TooManySteps {
        /// The steps asked for.
        got: u64,
        /// [`STEPS_MAX`].
        max: u64,
    },
    /// A field outside its domain.
    #[error("need 0 <= q <= 1, sigma >= 0 and 0 < delta < 1")]
    Domain,
}

/// The accountant's results.
pub type Result<T> = std::result::Result<T, AccountantError>;

/// The RDP orders evaluated: dense near 1, integers to 63, then a few large ones (the
/// default order list of `dp-accounting`'s `RdpAccountant`).
pub fn default_orders() -> Vec<f64> {
    let mut v: Vec<f64> = (1..100).map(|x| 1.0 + f64::from(x) / 10.0).collect();
    v.extend((11..64).map(f64::from));
    v.extend([128.0, 256.0, 512.0, 1024.0]);
    v
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// ln erfc(x), accurate to about 1e-7 relative in erfc for every x (Numerical Recipes'
/// Chebyshev fit, evaluated in log space so large x never underflows).
pub fn log_erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let log_erfc_z = t.ln() + poly;
    if x >= 0.0 {
        log_erfc_z
    } else {
        (2.0 - log_erfc_z.exp()).ln()
    }
}

/// ln A_α for integer α.
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let mut log_a = f64::NEG_INFINITY;
    let mut log_binom = 0.0; // ln C(α, 0)
    let log1mq = (-q).ln_1p();
    for i in 0..=alpha {
        let fi = i as f64;
        let term = log_binom
            + fi * q.ln()
            + (alpha - i) as f64 * log1mq
            + (fi * fi - fi) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
        log_binom += ((alpha - i) as f64).ln() - (fi + 1.0).ln();
    }
    log_a
}

/// ln A_α for fractional α. Terms are added with |C(α, i)| whatever their sign, as
/// `dp-accounting` does: an upper bound on A_α, hence a conservative ε.
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let log1mq = (-q).ln_1p();
    let mut log_coef = 0.0f64; // ln |C(α, 0)|
    let mut i = 0u64;
    loop {
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_coef + fi * q.ln() + j * log1mq;
        let log_t1 = log_coef + j * q.ln() + fi * log1mq;
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / (std::f64::consts::SQRT_2 * sigma));
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / (std::f64::consts::SQRT_2 * sigma));
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        log_a0 = log_add(log_a0, log_s0);
        log_a1 = log_add(log_a1, log_s1);
        if log_s0.max(log_s1) < -30.0 || i > 1_000_000 {
            break;
        }
        // |C(α, i + 1)| = |C(α, i)|·|α − i|/(i + 1)
        log_coef += (alpha - fi).abs().ln() - (fi + 1.0).ln();
        i += 1;
    }
    log_add(log_a0, log_a1)
}

/// RDP of one step of the sampled Gaussian mechanism at order `alpha`.
pub fn rdp_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

/// The smallest ε, over `orders`, given the composed RDP values.
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
    let mut best = (f64::INFINITY, f64::NAN);
    for (&a, &r) in orders.iter().zip(rdp) {
        let eps = if delta * delta + (-r).exp_m1() > 0.0 {
            0.0
        } else if a > 1.01 {
            r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
        } else {
            f64::INFINITY
        };
        if eps < best.0 {
            best = (eps, a);
        }
    }
    (best.0.max(0.0), best.1)
}

/// A privacy question: `steps` compositions of the sampled Gaussian mechanism.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgmQuery {
    /// Sampling rate q in [0, 1].
    pub sample_rate: f64,
    /// Noise multiplier σ ≥ 0.
    pub noise_multiplier: f64,
    /// Steps (DP-SGD) or rounds (DP-FedAvg).
    pub steps: u64,
    /// Target δ in (0, 1).
    pub delta: f64,
}

impl SgmQuery {
    /// Checks the domain of every field.
    pub fn validate(&self) -> Result<()> {
        if self.steps > STEPS_MAX {
            return Err(AccountantError::TooManySteps {
                got: self.steps,
                max: STEPS_MAX,
            });
        }
        let ok = (0.0..=1.0).contains(&self.sample_rate)
            && self.noise_multiplier >= 0.0
            && self.noise_multiplier.is_finite()
            && self.delta > 0.0
            && self.delta < 1.0;
        if !ok {
            return Err(AccountantError::Domain);
        }
        Ok(())
    }

    /// (ε, the optimal order).
    pub fn epsilon(&self) -> Result<(f64, f64)> {
        self.validate()?;
        let orders = default_orders();
        let rdp: Vec<f64> = orders
            .iter()
            .map(|&a| self.steps as f64 * rdp_step(self.sample_rate, self.noise_multiplier, a))
            .collect();
        Ok(epsilon_from_rdp(&orders, &rdp, self.delta))
    }
}

/// The ε one provider spends in a federated job that runs DP-SGD locally: `rounds` rounds of
/// `epochs` passes over its `rows` rows in batches of `batch_size` (sampling rate
/// `batch_size / rows`, `epochs × ⌈rows / batch_size⌉` steps a round), at noise multiplier
/// `noise_multiplier` and the given δ. `None` if the question is outside the accountant's domain.
pub fn federated_epsilon(
    rows: u64,
    batch_size: u64,
    epochs: u64,
    rounds: u64,
    noise_multiplier: f64,
    delta: f64,
) -> Option<f64> {
    if rows == 0 || batch_size == 0 {
        return None;
    }
    let batch = batch_size.min(rows);
    let steps = epochs
        .checked_mul(rows.div_ceil(batch))?
        .checked_mul(rounds)?;
    SgmQuery {
        sample_rate: batch as f64 / rows as f64,
        noise_multiplier,
        steps,
        delta,
    }
    .epsilon()
    .ok()
    .map(|(epsilon, _)| epsilon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_erfc_matches_known_values() {
        for (x, erfc) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (-1.0, 1.842_700_792_949_715),
            (3.0, 2.209_049_699_858_544e-5),
        ] {
            let got = log_erfc(x).exp();
            assert!(((got - erfc) / erfc).abs() < 2e-7, "erfc({x}) = {got}");
        }
        // asymptotic: erfc(30) ≈ exp(-900)/(30√π)·(1 − 1/1800)
        let want =
            -900.0 - (30.0 * std::f64::consts::PI.sqrt()).ln() + (1.0f64 - 1.0 / 1800.0).ln();
        assert!((log_erfc(30.0) - want).abs() < 1e-5);
    }

    #[test]
    fn federated_epsilon_grows_with_rounds_and_shrinks_with_rows() {
        let eps = |rows, rounds| federated_epsilon(rows, 64, 1, rounds, 1.1, 1e-5).unwrap();
        assert!(eps(10_000, 10) > eps(10_000, 5));
        assert!(eps(100_000, 10) < eps(10_000, 10));
        // One pass of the whole table in one batch is one unsampled step a round.
        let whole = federated_epsilon(64, 64, 1, 1, 1.1, 1e-5).unwrap();
        let direct = SgmQuery {
            sample_rate: 1.0,
            noise_multiplier: 1.1,
            steps: 1,
            delta: 1e-5,
        }
        .epsilon()
        .unwrap()
        .0;
        assert_eq!(whole, direct);
        assert_eq!(federated_epsilon(0, 64, 1, 1, 1.1, 1e-5), None);
        assert_eq!(federated_epsilon(10, 64, 1, 1, 1.1, 2.0), None);
    }

    #[test]
    fn unsampled_gaussian_and_trivial_cases() {
        assert_eq!(rdp_step(1.0, 2.0, 3.0), 3.0 / 8.0);
        assert_eq!(rdp_step(0.0, 2.0, 3.0), 0.0);
        // integer and fractional series agree where they meet
        let (a, b) = (rdp_step(0.01, 1.1, 8.0), rdp_step(0.01, 1.1, 8.000_000_1));
        assert!(((a - b) / a).abs() < 1e-5, "{a} vs {b}");
        // more noise, less epsilon; more steps, more epsilon
        let e = |s: f64, t: u64| {
            SgmQuery {
                sample_rate: 0.01,
                noise_multiplier: s,
                steps: t,
                delta: 1e-5,
            }
            .epsilon()
            .unwrap()
            .0
        };
        assert!(e(1.0, 1000) > e(2.0, 1000));
        assert!(e(1.0, 2000) > e(1.0, 1000));
        assert!(
            SgmQuery {
                sample_rate: 1.5,
                noise_multiplier: 1.0,
                steps: 1,
                delta: 1e-5
            }
            .epsilon()
            .is_err()
        );
    }
}

//! Server optimisers: how the combined update moves the global model.
//!
//! The combined client update Δ (a pseudo-gradient pointing downhill) is applied as in
//! Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2:
//!
//! - **Sgd** (FedAvg when η = 1): x ← x + ηΔ.
//! - **AvgM** (FedAvgM, Hsu et al. 2019): v ← βv + Δ; x ← x + ηv.
//! - **Adagrad**: m ← β₁m + (1 − β₁)Δ; v ← v + Δ²; x ← x + η·m / (√v + τ).
//! - **Adam**: as Adagrad with v ← β₂v + (1 − β₂)Δ².
//! - **Yogi**: as Adagrad with v ← v − (1 − β₂)Δ²·sign(v − Δ²).
//!
//! As in the paper there is no bias correction and v starts at τ². State is f64 and lives
//! across rounds in [`ServerState`].

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

/// A server optimiser and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerOptimizer {
    /// x ← x + ηΔ.
    Sgd {
        /// Server learning rate η (1 for plain FedAvg).
        lr: f64,
    },
    /// Server momentum (FedAvgM).
    AvgM {
        /// Server learning rate η.
        lr: f64,
        /// Momentum β.
        momentum: f64,
    },
    /// FedAdagrad.
    Adagrad {
        /// Server learning rate η.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Adaptivity τ.
        tau: f64,
    },
    /// FedAdam.
    Adam {
        /// Server learning rate η.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Adaptivity τ.
        tau: f64,
    },
    /// FedYogi.
    Yogi {
        /// Server learning rate η.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Adaptivity τ.
        tau: f64,
    },
}

impl Default for ServerOptimizer {
    fn default() -> Self {
        Self::Sgd { lr: 1.0 }
    }
}

impl ServerOptimizer {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let (lr, b1, b2, tau) = match *self {
            Self::Sgd { lr } => (lr, 0.0, 0.0, 1.0),
            Self::AvgM { lr, momentum } => (lr, momentum, 0.0, 1.0),
            Self::Adagrad { lr, beta1, tau } => (lr, beta1, 0.0, tau),
            Self::Adam {
                lr,
                beta1,
                beta2,
                tau,
            }
            | Self::Yogi {
                lr,
                beta1,
                beta2,
                tau,
            } => (lr, beta1, beta2, tau),
        };
        let ok = lr > 0.0
            && lr.is_finite()
            && (0.0..1.0).contains(&b1)
            && (0.0..1.0).contains(&b2)
            && tau > 0.0
            && tau.is_finite();
        if !ok {
            return Err(LearnError::Config(format!("bad server optimiser {self:?}")));
        }
        Ok(())
    }
}

/// Server optimiser state carried from round to round.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerState {
    /// The optimiser.
    pub optimizer: ServerOptimizer,
    /// First moment (or momentum buffer).
    pub m: Vec<f64>,
    /// Second moment.
    pub v: Vec<f64>,
}

impl ServerState {
    /// Fresh state for a model of `len` parameters.
    pub fn new(optimizer: ServerOptimizer, len: usize) -> Result<Self> {
        optimizer.validate()?;
        let tau = match optimizer {
            ServerOptimizer::Adagrad { tau, .. }
            | ServerOptimizer::Adam { tau, .. }
            | ServerOptimizer::Yogi { tau, .. } => tau,
            _ => 0.0,
        };
        Ok(Self {
            optimizer,
            m: vec![0.0; len],
            v: vec![tau * tau; len],
        })
    }

    /// Applies the combined update `delta` to the global parameters `x`; a non-finite
    /// `delta` is refused and leaves `x` and the optimiser state as they were.
    pub fn apply(&mut self, x: &mut [f32], delta: &[f32]) -> Result<()> {
        if x.len() != self.m.len() || delta.len() != self.m.len() {
            return Err(LearnError::LengthMismatch {
                got: delta.len().min(x.len()),
                expected: self.m.len(),
            });
        }
        crate::error::check_finite("combined update", 0, delta)?;
        match self.optimizer {
            ServerOptimizer::Sgd { lr } => {
                x.iter_mut()
                    .zip(delta)
                    .for_each(|(w, &d)| *w = (f64::from(*w) + lr * f64::from(d)) as f32);
            }
            ServerOptimizer::AvgM { lr, momentum } => {
                for ((w, &d), m) in x.iter_mut().zip(delta).zip(&mut self.m) {
                    *m = momentum * *m + f64::from(d);
                    *w = (f64::from(*w) + lr * *m) as f32;
                }
            }
            ServerOptimizer::Adagrad { lr, beta1, tau } => {
                self.adaptive(x, delta, lr, beta1, tau, |v, d2| v + d2)
            }
            ServerOptimizer::Adam {
                lr,
                beta1,
                beta2,
                tau,
            } => {
                self.adaptive(x, delta, lr, beta1, tau, |v, d2| {
                    beta2 * v + (1.0 - beta2) * d2
                });
            }
            ServerOptimizer::Yogi {
                lr,
                beta1,
                beta2,
                tau,
            } => {
                self.adaptive(x, delta, lr, beta1, tau, |v, d2| {
                    v - (1.0 - beta2) * d2 * (v - d2).signum()
                });
            }
        }
        Ok(())
    }

    fn adaptive(
        &mut self,
        x: &mut [f32],
        delta: &[f32],
        lr: f64,
        beta1: f64,
        tau: f64,
        second: impl Fn(f64, f64) -> f64,
    ) {
        for (((w, &d), m), v) in x.iter_mut().zip(delta).zip(&mut self.m).zip(&mut self.v) {
            let d = f64::from(d);
            *m = beta1 * *m + (1.0 - beta1) * d;
            *v = second(*v, d * d);
            *w = (f64::from(*w) + lr * *m / (v.sqrt() + tau)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rounds' combined updates, small enough to follow by hand.
    const DELTAS: [[f32; 1]; 2] = [[1.0], [2.0]];

    /// Runs `opt` from x = 0 over [`DELTAS`] and checks the weight against a hand-computed one.
    fn check(opt: ServerOptimizer, want: f64) {
        let mut s = ServerState::new(opt, 1).unwrap();
        let mut x = [0.0f32];
        for d in &DELTAS {
            s.apply(&mut x, d).unwrap();
        }
        let got = f64::from(x[0]);
        assert!((got - want).abs() < 1e-6, "{opt:?}: got {got}, want {want}");
    }

    #[test]
    fn hand_computed_two_rounds() {
        check(ServerOptimizer::Sgd { lr: 1.0 }, 3.0);
        // v: 1, then 0.5*1 + 2 = 2.5; x = 0.1*1 + 0.1*2.5
        let avgm = ServerOptimizer::AvgM {
            lr: 0.1,
            momentum: 0.5,
        };
        check(avgm, 0.35);
        // The adaptive ones, all with lr 1, beta1 0.5, tau 0.5 (so v0 = 0.25), and m of 0.5
        // then 0.25 + 1 = 1.25; each differs only in v.
        let step = |v1: f64, v2: f64| 0.5 / (v1.sqrt() + 0.5) + 1.25 / (v2.sqrt() + 0.5);
        let (lr, beta1, beta2, tau) = (1.0, 0.5, 0.5, 0.5);
        // Adagrad: v = 0.25 + 1 = 1.25, then 1.25 + 4 = 5.25.
        check(
            ServerOptimizer::Adagrad { lr, beta1, tau },
            step(1.25, 5.25),
        );
        // Adam, beta2 0.5: v = 0.5*0.25 + 0.5*1 = 0.625, then 0.3125 + 2 = 2.3125.
        let adam = ServerOptimizer::Adam {
            lr,
            beta1,
            beta2,
            tau,
        };
        check(adam, step(0.625, 2.3125));
        // Yogi, beta2 0.5: v = 0.25 - 0.5*1*sign(0.25-1) = 0.75, then
        // 0.75 - 0.5*4*sign(0.75-4) = 2.75.
        let yogi = ServerOptimizer::Yogi {
            lr,
            beta1,
            beta2,
            tau,
        };
        check(yogi, step(0.75, 2.75));
    }

    #[test]
    fn beta1_of_one_is_refused() {
        let adam = ServerOptimizer::Adam {
            lr: 1.0,
            beta1: 1.0,
            beta2: 0.5,
            tau: 0.5,
        };
        assert!(ServerState::new(adam, 1).is_err());
    }
}

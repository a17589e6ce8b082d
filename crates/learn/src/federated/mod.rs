//! Federated learning over flat parameter vectors.
//!
//! A round: the server sends the global weights x to the selected clients; each trains
//! locally (optionally with the FedProx term) and returns its update Δᵢ = xᵢ − x; a
//! combination [`Rule`] turns the updates into one Δ (sample-weighted mean for FedAvg,
//! or a Byzantine-robust rule); optionally DP-FedAvg clips and noises it; the
//! [`server_opt::ServerOptimizer`] applies Δ to x. None of this needs an ML library: the
//! trainer can aggregate updates from any client that speaks flat vectors.

pub mod fedavg;
pub mod partition;
pub mod robust;
pub mod selection;
pub mod server_opt;
pub mod simulation;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How client updates are combined into one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Mean weighted by each client's sample count (FedAvg, FedProx, FedAvgM, FedOpt).
    Mean,
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise trimmed mean dropping a fraction `beta` from each side.
    TrimmedMean {
        /// Fraction trimmed from each side, in [0, 0.5).
        beta: f64,
    },
    /// Krum tolerating `f` Byzantine clients.
    Krum {
        /// Byzantine clients tolerated.
        f: usize,
    },
    /// Multi-Krum: mean of the `m` best Krum scores.
    MultiKrum {
        /// Byzantine clients tolerated.
        f: usize,
        /// Updates averaged.
        m: usize,
    },
    /// Bulyan over Krum.
    Bulyan {
        /// Byzantine clients tolerated.
        f: usize,
    },
}

impl Rule {
    /// Combines client updates; `weights` are used by [`Rule::Mean`] only.
    pub fn combine(&self, updates: &[Vec<f32>], weights: &[f64]) -> Result<Vec<f32>> {
        match *self {
            Self::Mean => fedavg::weighted_mean(updates, weights),
            Self::Median => robust::median(updates),
            Self::TrimmedMean { beta } => robust::trimmed_mean(updates, beta),
            Self::Krum { f } => robust::krum(updates, f),
            Self::MultiKrum { f, m } => robust::multi_krum(updates, f, m),
            Self::Bulyan { f } => robust::bulyan(updates, f),
        }
    }

    /// A short name for tables.
    pub fn name(&self) -> String {
        match self {
            Self::Mean => "fedavg".into(),
            Self::Median => "median".into(),
            Self::TrimmedMean { beta } => format!("trimmed-mean({beta})"),
            Self::Krum { f } => format!("krum({f})"),
            Self::MultiKrum { f, m } => format!("multi-krum({f},{m})"),
            Self::Bulyan { f } => format!("bulyan({f})"),
        }
    }
}

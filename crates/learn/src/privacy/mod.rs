//! Differential privacy: clipping and noise (DP-SGD, DP-FedAvg), the RDP accountant for
//! the sampled Gaussian mechanism, and a planner that picks the noise a job needs.

pub mod clip_noise;
pub mod planner;
/// The RDP accountant (its own crate, `aifactory-accountant`, so the node can use it too).
pub use aifactory_accountant as rdp;

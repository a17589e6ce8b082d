//! Learning for AI Factory: models from declarative specs, reproducible local training,
//! federated aggregation over flat parameter vectors, differential privacy with an
//! accountant, evaluation and fairness metrics, and the data provider's tools.
//!
//! Training runs on burn's `flex` CPU backend; imported ONNX models run on tract. The
//! federated, privacy, metrics and data modules need no ML library: they work on plain
//! `f32`/`f64` slices, so a trainer can aggregate without ever building a model.

pub mod data;
pub mod datasets;
pub mod error;
pub mod federated;
pub mod limits;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod params;
pub mod predict;
pub mod privacy;
pub mod rng;
pub mod samples;
pub mod spec;
pub mod store;
pub mod train;

pub use error::{LearnError, Result};
pub use samples::Samples;
pub use spec::ModelSpec;

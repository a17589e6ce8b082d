//! The data provider's tools: load a CSV against a schema, report its quality,
//! anonymise it and report k-anonymity, commit to its rows with a Merkle root, and split it.

pub mod anonymise;
pub mod features;
pub mod kanon;
pub mod merkle;
pub mod quality;
pub mod schema;
pub mod split;
pub mod table;

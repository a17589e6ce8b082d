//! One module per subcommand group; each has an `Args` and a `run`.

pub(crate) mod account;
pub(crate) mod agent;
pub(crate) mod blob;
pub(crate) mod block;
pub(crate) mod challenge;
pub(crate) mod channel;
pub(crate) mod data;
pub(crate) mod dataset;
pub(crate) mod devnet;
pub(crate) mod gateway;
pub(crate) mod genesis;
pub(crate) mod job;
pub(crate) mod job_watch;
pub(crate) mod keys;
pub(crate) mod lifecycle;
pub(crate) mod model;
pub(crate) mod model_registry;
pub(crate) mod node;
pub(crate) mod predict;
pub(crate) mod privacy;
pub(crate) mod receipt;
pub(crate) mod secagg;
pub(crate) mod status;
pub(crate) mod tx;

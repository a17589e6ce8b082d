//! Role agents: the long-running processes that do a job's off-chain work, each on its own
//! party's machine, talking only to nodes.
//!
//! The chain is the control plane and the blob store the data plane (see `DESIGN.md`): an agent
//! follows the chain through the typed client, reads proven state, submits transactions and
//! puts and gets blobs by hash; it never opens a socket to another agent. Every message of a
//! round is a transaction or a blob a transaction names, so a job can be audited afterwards
//! from the chain and the blobs alone ([`replay::verify_job`]).
//!
//! - [`provider::Provider`] registers a dataset, joins jobs its policy accepts and posts its
//!   local updates;
//! - [`trainer::Trainer`] claims jobs, combines each round's updates and closes the round;
//! - [`validator::Validator`] recomputes the rounds, scores the final model on held-out rows,
//!   commits and reveals, and votes on challenges of gateways' answers ([`judge::Judge`]);
//! - [`gateway::GatewayRole`] serves deployed models for paid calls, with signed receipts, and
//!   claims its payment channels.
//!
//! Each keeps a small journal ([`journal`]) and sends through an [`outbox::Outbox`] that
//! journals every transaction before sending it, so `kill -9` and a restart resume where it
//! was without ever sending two different messages for the same purpose; each moves to another
//! node when its node fails ([`nodes::Nodes`]).

pub mod config;
pub mod contribution;
pub mod gateway;
pub mod journal;
pub mod judge;
pub mod nodes;
pub mod outbox;
pub mod provider;
pub mod recipe;
pub mod replay;
pub mod runtime;
pub mod scoring;
pub mod secure;
pub mod statistics;
pub mod trainer;
pub mod validator;
pub mod wire;

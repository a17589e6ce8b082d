//! A typed client of the AI Factory node API: one method per route, returning the server's
//! own types (`aifactory_api::views` and the ledger's types), and errors that carry the
//! server's status, code and message. The CLI, the agents and the tests all use it.

mod client;
mod error;
mod events;

pub use aifactory_api::views;
pub use client::{Client, IDLE_CONNECTIONS_MAX};
pub use error::ClientError;
pub use events::EventStream;

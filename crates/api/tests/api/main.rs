//! End-to-end tests of the API: a real server on a real socket, driven by the real client,
//! over a single-process ledger that stands in for consensus (`aifactory_api::testing`,
//! with a client attached in `fixture.rs`).

mod batch;
mod blobs;
mod events;
mod fixture;
mod fuzz;
mod inference;
mod lifecycle;
mod limits;
mod openapi;
mod schema;
mod txs;

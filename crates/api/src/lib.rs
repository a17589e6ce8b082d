//! AI Factory's HTTP JSON API: the only crate that speaks HTTP.
//!
//! A node implements [`NodeService`]; [`router`] turns it into an axum router serving
//! `/v1/txs`, `/v1/txs/batch`, `/v1/txs/{hash}`, `/v1/accounts/{address}`, `/v1/blocks/{id}`,
//! `/v1/status`, `/v1/blobs/{hash}` (PUT and GET), `/v1/events` (server-sent events), the
//! lifecycle's `/v1/datasets`, `/v1/models` and `/v1/jobs` (with proofs; see
//! [`views::lifecycle`]) and the OpenAPI 3.1 document at `/v1/openapi.json`; [`serve`] runs it on a socket. Every error is a JSON
//! body `{"error": {"code", "message", "details"?}}` with a fitting status; every body has a
//! cap; each client IP has a token-bucket rate limit.
//!
//! The request and response bodies ([`views`]) are compiled without the `server` feature too,
//! so the typed client shares them without pulling in the server.

pub mod schemas;
pub mod views;

#[cfg(feature = "server")]
mod error;
#[cfg(feature = "server")]
pub mod gateway;
#[cfg(feature = "server")]
mod limits;
#[cfg(feature = "server")]
mod listener;
#[cfg(feature = "server")]
mod openapi;
#[cfg(feature = "server")]
mod rate_limit;
#[cfg(feature = "server")]
mod router;
#[cfg(feature = "server")]
mod routes;
#[cfg(feature = "server")]
mod service;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "server")]
pub use error::ApiError;
#[cfg(feature = "server")]
pub use limits::{
    API_CONNECTION_IDLE_MS_MAX, API_CONNECTIONS_MAX, ApiConfig, BLOB_BYTES_MAX_DEFAULT,
    EVENT_SUBSCRIBERS_MAX_DEFAULT, SHUTDOWN_DRAIN_MS_MAX, TX_BATCH_BODY_BYTES_MAX,
    TX_BATCH_ITEM_OVERHEAD_BYTES, TX_BATCH_TXS_MAX, TX_BODY_BYTES_MAX, TX_JSON_OVERHEAD_BYTES,
};
#[cfg(feature = "server")]
pub use listener::ConnectionLimits;
#[cfg(feature = "server")]
pub use rate_limit::RateLimitConfig;
#[cfg(feature = "server")]
pub use router::{openapi, router, serve, serve_with};
#[cfg(feature = "server")]
pub use service::{
    BlobBody, BlobBodyError, BlobContent, BlobError, NodeService, SnapshotContent, SubmitError,
};
pub use views::BlobLookup;

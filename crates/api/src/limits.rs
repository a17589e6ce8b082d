//! The API's limits on what clients send, and reading a body under one.
//!
//! Each route that takes a body has its own cap: a transaction's is the ledger's
//! [`TX_BYTES_MAX`] doubled for hex plus room for the JSON around it; a batch's is that for
//! each of at most [`TX_BATCH_TXS_MAX`] transactions; a blob's is configurable. A
//! `Content-Length` over the cap is refused before a byte is read; a body without one is
//! counted as it streams and refused the moment it passes the cap.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use bytes::Bytes;
use http_body_util::BodyExt;

use aifactory_types::limits::TX_BYTES_MAX;

use crate::error::ApiError;
use crate::rate_limit::RateLimitConfig;

/// Room for the JSON around a transaction's hex (`{"tx_hex": "..."}`, whitespace).
pub const TX_JSON_OVERHEAD_BYTES: usize = 1024;

/// Most API connections open at once (well under a process's usual 1,024 descriptors, which
/// the node's journals and peers share).
pub const API_CONNECTIONS_MAX: usize = 512;

/// How long an API connection may move no byte before it is closed (event streams send a
/// keep-alive every 15 s).
pub const API_CONNECTION_IDLE_MS_MAX: u64 = 60_000;

/// How long the server lets open connections (an event stream, a blob download) run on after
/// it is told to stop before it drops them.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 2_000;

/// Largest body `POST /v1/txs` reads: a maximal transaction in hex, inside JSON.
pub const TX_BODY_BYTES_MAX: usize = 2 * TX_BYTES_MAX + TX_JSON_OVERHEAD_BYTES;

/// Most transactions in one `POST /v1/txs/batch`.
pub const TX_BATCH_TXS_MAX: usize = 256;

/// Room for the JSON around each transaction's hex in a batch (quotes, comma, whitespace).
pub const TX_BATCH_ITEM_OVERHEAD_BYTES: usize = 16;

/// Largest body `POST /v1/txs/batch` reads: [`TX_BATCH_TXS_MAX`] maximal transactions in hex,
/// in a JSON array.
pub const TX_BATCH_BODY_BYTES_MAX: usize =
    TX_BATCH_TXS_MAX * (2 * TX_BYTES_MAX + TX_BATCH_ITEM_OVERHEAD_BYTES) + TX_JSON_OVERHEAD_BYTES;

const _: () = assert!(TX_BATCH_TXS_MAX >= 1 && TX_BATCH_BODY_BYTES_MAX <= 4 * 1024 * 1024);

/// Default cap on one blob: 256 MiB (a model's weights, a round's masked updates).
pub const BLOB_BYTES_MAX_DEFAULT: u64 = 256 * 1024 * 1024;

/// The API's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest blob `PUT /v1/blobs/{hash}` accepts, in bytes.
    pub blob_bytes_max: u64,
    /// Per-client rate limit, or `None` for none (tests, a node behind its own proxy).
    pub rate_limit: Option<RateLimitConfig>,
    /// Most `/v1/events` streams open at once; past it a subscriber gets 503.
    pub event_subscribers_max: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            blob_bytes_max: BLOB_BYTES_MAX_DEFAULT,
            rate_limit: Some(RateLimitConfig::default()),
            event_subscribers_max: EVENT_SUBSCRIBERS_MAX_DEFAULT,
        }
    }
}

/// The default cap on `/v1/events` streams open at once: each holds a connection and a
/// buffer of events, so an unbounded number of them is a way to exhaust a node.
pub const EVENT_SUBSCRIBERS_MAX_DEFAULT: usize = 256;

/// The declared `Content-Length`, if present and numeric.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Refuses a declared length over `max` before reading anything.
pub(crate) fn check_declared(headers: &HeaderMap, max: u64) -> Result<(), ApiError> {
    match content_length(headers) {
        Some(len) if len > max => Err(ApiError::too_large(max)),
        _ => Ok(()),
    }
}

/// Reads a whole body, refusing it as soon as it passes `max` bytes.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Bytes, ApiError> {
    check_declared(headers, max as u64)?;
    let limited = http_body_util::Limited::new(body, max);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::too_large(max as u64))
        }
        Err(error) => Err(ApiError::bad_request(
            "upload_interrupted",
            format!("the request body could not be read: {error}"),
        )),
    }
}

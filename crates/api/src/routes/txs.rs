//! `POST /v1/txs` (submit) and `GET /v1/txs/{hash}` (status and receipt).
//!
//! A transaction arrives as JSON `{"tx_hex": "..."}` or as its raw canonical bytes with
//! `Content-Type: application/octet-stream`. The API decodes it under the ledger's byte cap
//! and checks its signature before the node sees it, so the node's mempool only ever holds
//! well-formed, signed transactions.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};

use aifactory_types::limits::TX_BYTES_MAX;
use aifactory_types::{Hash, SignedTransaction};

use crate::error::ApiError;
use crate::limits::{TX_BODY_BYTES_MAX, read_body};
use crate::router::AppState;
use crate::routes::{PathParam, parse};
use crate::views::{ErrorBody, SubmitTx, TxAccepted, TxView};

/// How the transaction is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Json,
    Raw,
}

fn carrier(headers: &HeaderMap) -> Result<Carrier, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Carrier::Json);
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Carrier::Json),
        "application/octet-stream" => Ok(Carrier::Raw),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type {text:?} is not accepted: send application/json \
                 {{\"tx_hex\": ...}} or application/octet-stream bytes"
            ),
        )),
    }
}

/// The transaction's canonical bytes from a JSON body.
fn bytes_from_json(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: SubmitTx = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not {{\"tx_hex\": \"...\"}}: {error}"),
        )
    })?;
    hex::decode(request.tx_hex.trim()).map_err(|error| {
        ApiError::bad_request("malformed_hex", format!("tx_hex is not hex: {error}"))
    })
}

/// Submit a signed transaction.
#[utoipa::path(
    post,
    path = "/v1/txs",
    tag = "transactions",
    request_body(
        description = "The canonical Borsh encoding of a `SignedTransaction` (docs/encoding.md): \
                       hex inside JSON, or raw bytes as application/octet-stream.",
        content(
            (SubmitTx = "application/json"),
            (crate::schemas::BinaryBody = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 202, description = "Accepted into the mempool", body = TxAccepted),
        (status = 400, description = "Malformed JSON, hex or transaction bytes", body = ErrorBody),
        (status = 409, description = "Replayed nonce or already in the mempool", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor octet-stream", body = ErrorBody),
        (status = 422, description = "Bad signature, or refused by the ledger's admission checks \
                                      (the `TxError` is in `error.details`)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Mempool full or node unavailable", body = ErrorBody),
    ),
)]
pub(crate) async fn submit_tx(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<TxAccepted>), ApiError> {
    let carrier = carrier(&headers)?;
    let max = match carrier {
        Carrier::Json => TX_BODY_BYTES_MAX,
        Carrier::Raw => TX_BYTES_MAX,
    };
    let body = read_body(&headers, body, max).await?;
    let bytes = match carrier {
        Carrier::Json => bytes_from_json(&body)?,
        Carrier::Raw => body.to_vec(),
    };
    let verified = SignedTransaction::decode(&bytes)?.verify()?;
    let tx_hash = state.node.submit(verified).await?;
    Ok((StatusCode::ACCEPTED, Json(TxAccepted { tx_hash })))
}

/// A transaction's status: pending, included (with its receipt) or rejected.
#[utoipa::path(
    get,
    path = "/v1/txs/{hash}",
    tag = "transactions",
    params(("hash" = String, Path, description = "The transaction's id, 64 hex digits")),
    responses(
        (status = 200, description = "The transaction's status", body = TxView),
        (status = 400, description = "Not a hash", body = ErrorBody),
        (status = 404, description = "This node has never seen it", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_tx(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<TxView>, ApiError> {
    let tx_hash: Hash = parse(&text, "malformed_hash", "the transaction id")?;
    let status = state.node.tx_status(tx_hash).await.ok_or_else(|| {
        ApiError::not_found(
            "tx_not_found",
            format!("no transaction {tx_hash} is known to this node"),
        )
    })?;
    Ok(Json(TxView { tx_hash, status }))
}

//! `POST /v1/txs` (submit), `POST /v1/txs/batch` (submit many) and `GET /v1/txs/{hash}`
//! (status and receipt).
//!
//! A transaction arrives as JSON `{"tx_hex": "..."}` or as its raw canonical bytes with
//! `Content-Type: application/octet-stream`; a batch as a JSON array of such hex strings,
//! answered item by item. The API decodes each under the ledger's byte cap and checks its
//! signature (a batch's together) before the node sees it, so the node's mempool only ever
//! holds well-formed, signed transactions.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode, header};

use aifactory_types::limits::TX_BYTES_MAX;
use aifactory_types::transaction::verify_transactions;
use aifactory_types::{Hash, SignedTransaction, VerifiedTransaction};

use crate::error::ApiError;
use crate::limits::{TX_BATCH_BODY_BYTES_MAX, TX_BATCH_TXS_MAX, TX_BODY_BYTES_MAX, read_body};
use crate::rate_limit::client_of;
use crate::router::AppState;
use crate::routes::{PathParam, parse};
use crate::views::{
    ErrorBody, ErrorDetail, SubmitTx, TxAccepted, TxBatchItem, TxBatchResults, TxView,
};

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

/// Submit up to 256 signed transactions in one request.
#[utoipa::path(
    post,
    path = "/v1/txs/batch",
    tag = "transactions",
    request_body(
        description = "A JSON array of at most 256 hex strings, each the canonical Borsh \
                       encoding of a `SignedTransaction` (docs/encoding.md). The rate limit \
                       counts each transaction as a request.",
        content((crate::schemas::TxHexBatch = "application/json")),
    ),
    responses(
        (status = 200, description = "One result per transaction, in order: its id, or the \
                                      error `POST /v1/txs` would have answered for it alone",
                       body = TxBatchResults),
        (status = 400, description = "Not a JSON array of strings", body = ErrorBody),
        (status = 413, description = "Body over the limit, or more than 256 transactions",
                       body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn submit_tx_batch(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TxBatchResults>, ApiError> {
    if carrier(&headers)? != Carrier::Json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a batch is a JSON array of hex strings: send application/json",
        ));
    }
    let body = read_body(&headers, body, TX_BATCH_BODY_BYTES_MAX).await?;
    let items: Vec<String> = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not a JSON array of hex strings: {error}"),
        )
    })?;
    if items.len() > TX_BATCH_TXS_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch holds {} transactions: send at most {TX_BATCH_TXS_MAX} per request",
                items.len()
            ),
        ));
    }
    if let (Some(limiter), Some(more)) = (&state.limiter, items.len().checked_sub(1)) {
        let more = u32::try_from(more).expect("capped at TX_BATCH_TXS_MAX");
        limiter.charge(client_of(&extensions), more, Instant::now());
    }
    let checked = verify_all(items.iter().map(|hex| decode_hex(hex)).collect());
    let admissible: Vec<VerifiedTransaction> = checked
        .iter()
        .filter_map(|item| item.as_ref().ok().cloned())
        .collect();
    let mut submitted = state.node.submit_batch(admissible).await.into_iter();
    let results = checked
        .into_iter()
        .map(|item| {
            let submitted = item.and_then(|_| {
                let result = submitted
                    .next()
                    .expect("one result per submitted transaction");
                result.map_err(ApiError::from)
            });
            batch_item(submitted)
        })
        .collect();
    Ok(Json(TxBatchResults { results }))
}

/// A transaction from a batch item: hex of its canonical bytes, decoded under the cap.
fn decode_hex(hex: &str) -> Result<SignedTransaction, ApiError> {
    let bytes = hex::decode(hex.trim()).map_err(|error| {
        ApiError::bad_request("malformed_hex", format!("the item is not hex: {error}"))
    })?;
    Ok(SignedTransaction::decode(&bytes)?)
}

/// Checks the signatures of the decoded items together, and one by one only if the batch
/// check fails (to say which are bad).
fn verify_all(
    decoded: Vec<Result<SignedTransaction, ApiError>>,
) -> Vec<Result<VerifiedTransaction, ApiError>> {
    let good: Vec<SignedTransaction> = decoded
        .iter()
        .filter_map(|item| item.as_ref().ok().cloned())
        .collect();
    if let Ok(verified) = verify_transactions(good) {
        let mut verified = verified.into_iter();
        return decoded
            .into_iter()
            .map(|item| item.map(|_| verified.next().expect("one per decoded item")))
            .collect();
    }
    decoded
        .into_iter()
        .map(|item| Ok(item?.verify()?))
        .collect()
}

fn batch_item(result: Result<Hash, ApiError>) -> TxBatchItem {
    match result {
        Ok(tx_hash) => TxBatchItem {
            status: StatusCode::ACCEPTED.as_u16(),
            tx_hash: Some(tx_hash),
            error: None,
        },
        Err(error) => TxBatchItem {
            status: error.status.as_u16(),
            tx_hash: None,
            error: Some(ErrorDetail {
                code: error.code,
                message: error.message,
                details: error.details,
            }),
        },
    }
}

/// A transaction's status: pending, included (with its receipt) or rejected.
#[utoipa::path(
    get,
    path = "/v1/txs/{hash}",
    tag = "transactions",
    params(("hash" = String, Path, pattern = "^[0-9a-fA-F]{64}$", description = "The transaction's id, 64 hex digits")),
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

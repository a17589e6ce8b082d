//! `PUT /v1/blobs/{hash}` and `GET /v1/blobs/{hash}`: the content-addressed blob store
//! (model weights, masked updates, dataset manifests), streamed both ways.
//!
//! A blob is named by the plain BLAKE3 hash of its bytes. On upload the API counts and
//! hashes the body as it streams to the node's store (see [`crate::BlobBody`]): the stream
//! ends cleanly only if the size is within the cap and the content matches the name, so a
//! store that commits on a clean end never holds a blob under the wrong name.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};

use aifactory_types::Hash;

use crate::error::ApiError;
use crate::limits::check_declared;
use crate::router::AppState;
use crate::routes::{PathParam, parse, query_value};
use crate::service::{BlobBody, BlobBodyError};
use crate::views::BlobLookup;
use crate::views::{BlobStored, ErrorBody};

/// The upload's progress while it streams through.
struct Upload {
    chunks: BoxStream<'static, Result<Bytes, axum::Error>>,
    hasher: blake3::Hasher,
    expected: Hash,
    received: u64,
    max: u64,
    finished: bool,
}

/// Wraps a request body in the counting, hashing stream the node reads.
fn verified_body(body: Body, expected: Hash, max: u64) -> BlobBody {
    let upload = Upload {
        chunks: body.into_data_stream().boxed(),
        hasher: blake3::Hasher::new(),
        expected,
        received: 0,
        max,
        finished: false,
    };
    stream::unfold(upload, |mut upload| async move {
        if upload.finished {
            return None;
        }
        let item = next_item(&mut upload).await?;
        upload.finished = item.is_err();
        Some((item, upload))
    })
    .boxed()
}

/// The next chunk, or the error that ends the upload, or `None` at a clean end.
async fn next_item(upload: &mut Upload) -> Option<Result<Bytes, BlobBodyError>> {
    match upload.chunks.next().await {
        Some(Ok(chunk)) => {
            upload.received += chunk.len() as u64;
            if upload.received > upload.max {
                return Some(Err(BlobBodyError::TooLarge { max: upload.max }));
            }
            upload.hasher.update(&chunk);
            Some(Ok(chunk))
        }
        Some(Err(error)) => Some(Err(BlobBodyError::Interrupted(error.to_string()))),
        None => {
            let actual = Hash::from(upload.hasher.finalize());
            (actual != upload.expected).then_some(Err(BlobBodyError::HashMismatch {
                expected: upload.expected,
                actual,
            }))
        }
    }
}

/// Store a blob under its BLAKE3 hash.
#[utoipa::path(
    put,
    path = "/v1/blobs/{hash}",
    tag = "blobs",
    params(("hash" = String, Path, pattern = "^[0-9a-fA-F]{64}$", description = "The plain BLAKE3 hash of the content, 64 hex digits")),
    request_body(content((crate::schemas::BinaryBody = "application/octet-stream")), description = "The blob's bytes"),
    responses(
        (status = 201, description = "Stored", body = BlobStored),
        (status = 200, description = "Already stored", body = BlobStored),
        (status = 400, description = "Not a hash, or the upload broke off", body = ErrorBody),
        (status = 413, description = "Larger than the node's blob limit", body = ErrorBody),
        (status = 422, description = "The content does not hash to the name", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "The store is full", body = ErrorBody),
    ),
)]
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    PathParam(text): PathParam,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BlobStored>), ApiError> {
    let hash: Hash = parse(&text, "malformed_hash", "the blob hash")?;
    let max = state.config.blob_bytes_max;
    check_declared(&headers, max)?;
    let stored = state
        .node
        .put_blob(hash, verified_body(body, hash, max))
        .await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

/// Fetch a blob's bytes.
#[utoipa::path(
    get,
    path = "/v1/blobs/{hash}",
    tag = "blobs",
    params(
        ("hash" = String, Path, pattern = "^[0-9a-fA-F]{64}$", description = "The plain BLAKE3 hash of the content, 64 hex digits"),
        ("local" = Option<bool>, Query, description = "`true`: look only in this node's store; otherwise a blob missing here is asked of the node's peers once (never forwarded further)"),
    ),
    responses(
        (status = 200, description = "The blob's bytes", content_type = "application/octet-stream", body = crate::schemas::BinaryBody),
        (status = 400, description = "Not a hash, or `local` not a boolean", body = ErrorBody),
        (status = 404, description = "Neither this node nor (unless `local`) its peers have it", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Not here, and the node is already fetching as many blobs from its peers as it allows; retry after `Retry-After`", body = ErrorBody),
    ),
)]
pub(crate) async fn get_blob(
    State(state): State<AppState>,
    PathParam(text): PathParam,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let hash: Hash = parse(&text, "malformed_hash", "the blob hash")?;
    let local = match query_value(query.as_deref(), "local") {
        None => false,
        Some(text) => parse(text, "malformed_query", "the query parameter `local`")?,
    };
    let lookup = if local {
        BlobLookup::Local
    } else {
        BlobLookup::AskPeers
    };
    let content = state.node.get_blob(hash, lookup).await?.ok_or_else(|| {
        ApiError::not_found("blob_not_found", format!("no blob {hash} on this node"))
    })?;
    let mut response = Body::from_stream(content.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content.size));
    Ok(response)
}

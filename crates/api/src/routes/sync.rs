//! `GET /v1/sync/epochs` and `GET /v1/sync/snapshot`: what a new node needs to start from
//! this one's ledger snapshot instead of replaying the chain. Nothing here is trusted by the
//! syncing node: it checks every boundary's finalization from genesis on, each validator set
//! proof against its header, and the snapshot against the boundary header it claims.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{parse, query_value};
use crate::views::{ErrorBody, SNAPSHOT_HEIGHT_HEADER, SyncEpochs};

/// Epoch boundaries, each with its finalization and the proof of the next validator set.
#[utoipa::path(
    get,
    path = "/v1/sync/epochs",
    tag = "sync",
    params(("from" = Option<u64>, Query, description = "The first epoch to list (default 0)")),
    responses(
        (status = 200, description = "Up to 64 boundaries in epoch order from `from`; empty past the node's latest", body = SyncEpochs),
        (status = 400, description = "`from` is not a number", body = ErrorBody),
        (status = 404, description = "This node does not serve state sync", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_sync_epochs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SyncEpochs>, ApiError> {
    let from = from_epoch(query.as_deref())?;
    let epochs = state.node.sync_epochs(from).await.ok_or_else(unavailable)?;
    Ok(Json(epochs))
}

/// The node's latest ledger snapshot, taken at an epoch's last block.
#[utoipa::path(
    get,
    path = "/v1/sync/snapshot",
    tag = "sync",
    responses(
        (status = 200, description = "The snapshot file (format in docs/snapshot.md); its height is in the `x-snapshot-height` header", content_type = "application/octet-stream", body = crate::schemas::BinaryBody),
        (status = 404, description = "No snapshot to serve", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_sync_snapshot(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.node.sync_snapshot().await.ok_or_else(|| {
        ApiError::not_found("snapshot_not_found", "this node has no snapshot to serve")
    })?;
    let mut response = Body::from_stream(snapshot.content.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(snapshot.content.size),
    );
    headers.insert(SNAPSHOT_HEIGHT_HEADER, HeaderValue::from(snapshot.height));
    Ok(response)
}

fn unavailable() -> ApiError {
    ApiError::not_found("sync_unavailable", "this node does not serve state sync")
}

/// The `from` query parameter (0 when absent); other parameters are ignored.
fn from_epoch(query: Option<&str>) -> Result<u64, ApiError> {
    let from: u64 = match query_value(query, "from") {
        None => return Ok(0),
        Some(text) => parse(text, "malformed_epoch", "the epoch `from`")?,
    };
    // The document declares an int64, as JSON clients read integers: keep to what it says.
    if i64::try_from(from).is_err() {
        return Err(ApiError::bad_request(
            "malformed_epoch",
            format!(
                "the epoch `from` is {from}, beyond the largest epoch {}",
                i64::MAX
            ),
        ));
    }
    Ok(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parses() {
        assert_eq!(from_epoch(None).ok(), Some(0));
        assert_eq!(from_epoch(Some("")).ok(), Some(0));
        assert_eq!(from_epoch(Some("from=7")).ok(), Some(7));
        assert_eq!(from_epoch(Some("x=1&from=3")).ok(), Some(3));
        assert!(from_epoch(Some("from=-1")).is_err());
        assert!(from_epoch(Some("from=")).is_err());
        assert!(from_epoch(Some("from=9223372036854775807")).is_ok());
        assert!(from_epoch(Some("from=9223372036854775808")).is_err());
    }
}

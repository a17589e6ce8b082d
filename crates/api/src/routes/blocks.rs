//! `GET /v1/blocks/{id}`: a block by height, hash or `latest`, with its receipts.

use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, parse};
use crate::views::{BlockId, BlockView, ErrorBody};

/// A block and its receipts.
#[utoipa::path(
    get,
    path = "/v1/blocks/{id}",
    tag = "chain",
    params(("id" = String, Path, pattern = "^([0-9]{1,19}|[0-9a-fA-F]{64}|latest)$", description = "A height (decimal), a block hash (64 hex digits) or `latest`")),
    responses(
        (status = 200, description = "The block and its receipts", body = BlockView),
        (status = 400, description = "Neither a height, a hash nor `latest`", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_block(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<BlockView>, ApiError> {
    let id: BlockId = parse(&text, "malformed_block_id", "the block id")?;
    let view = state.node.block(id).await.ok_or_else(|| {
        ApiError::not_found("block_not_found", format!("no block {id} on this node"))
    })?;
    Ok(Json(view))
}

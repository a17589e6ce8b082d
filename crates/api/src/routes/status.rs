//! `GET /v1/status`: the node's view of the chain.

use axum::Json;
use axum::extract::State;

use crate::router::AppState;
use crate::views::{ErrorBody, StatusView};

/// Chain id, heights, state root and peers.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "chain",
    responses(
        (status = 200, description = "The node's status", body = StatusView),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_status(State(state): State<AppState>) -> Json<StatusView> {
    Json(state.node.status().await)
}

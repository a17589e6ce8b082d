//! The OpenAPI 3.1 document. Paths come from the handlers' `#[utoipa::path]` attributes as
//! the router registers them (see `router.rs`), so a route cannot be served without being
//! documented; this file adds the title, the tags and the shared error schema.

use axum::Json;
use axum::extract::State;
use utoipa::OpenApi;

use crate::router::AppState;
use crate::views::{ChainEvent, ErrorBody};

/// The document's fixed parts.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "AI Factory node API",
        description = "Submit transactions, read chain state with proofs, store blobs and follow \
                       events. Every error is `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
    ),
    components(schemas(ErrorBody, ChainEvent)),
    tags(
        (name = "transactions", description = "Submitting transactions and following them"),
        (name = "state", description = "Accounts with Merkle proofs"),
        (name = "lifecycle", description = "Datasets, models and jobs with their rounds and scores, with Merkle proofs"),
        (name = "inference", description = "Deployments of models by gateways, payment channels and challenges of answers, with Merkle proofs"),
        (name = "chain", description = "Blocks, status and events"),
        (name = "blobs", description = "The content-addressed blob store"),
        (name = "sync", description = "State sync: epoch boundaries and the latest ledger snapshot"),
        (name = "meta", description = "This document"),
    ),
)]
pub(crate) struct ApiDoc;

/// This API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.openapi.as_ref().clone())
}

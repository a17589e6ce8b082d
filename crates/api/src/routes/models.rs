//! `GET /v1/models`, `GET /v1/models/{id}` and `GET /v1/models/{id}/provenance`: the model
//! registry, a page at a time or one model with its Merkle proof, and everything behind a
//! trained model proven against one state root.

use axum::Json;
use axum::extract::{RawQuery, State};

use aifactory_types::lifecycle::ModelId;

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, page_request, parse};
use crate::views::ErrorBody;
use crate::views::lifecycle::{ModelPage, ModelView, ProvenanceView};

/// Registered and trained models in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "lifecycle",
    params(
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most models to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of models", body = ModelPage),
        (status = 400, description = "`after` or `limit` out of range", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_models(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ModelPage>, ApiError> {
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    Ok(Json(ModelPage::from_state(&ledger, request)))
}

/// A model, with its proof against the finalized state root the answer names.
#[utoipa::path(
    get,
    path = "/v1/models/{id}",
    tag = "lifecycle",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The model's id")),
    responses(
        (status = 200, description = "The model and its proof", body = ModelView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_model(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<ModelView>, ApiError> {
    let id = parse(&text, "malformed_id", "the model id")?;
    let ledger = state.node.finalized_state();
    let view = ModelView::from_state(&ledger, id).ok_or_else(|| not_found(id))?;
    Ok(Json(view))
}

/// What is behind a model: its parent, and for a trained model the job (terms, participants
/// with stakes, samples and payouts, rounds with their model hashes, scores) and datasets,
/// each with its proof against one finalized state root.
#[utoipa::path(
    get,
    path = "/v1/models/{id}/provenance",
    tag = "lifecycle",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The model's id")),
    responses(
        (status = 200, description = "The model's provenance, every entry proven", body = ProvenanceView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_provenance(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<ProvenanceView>, ApiError> {
    let id = parse(&text, "malformed_id", "the model id")?;
    let ledger = state.node.finalized_state();
    let view = ProvenanceView::from_state(&ledger, id).ok_or_else(|| not_found(id))?;
    Ok(Json(view))
}

fn not_found(id: ModelId) -> ApiError {
    ApiError::not_found("model_not_found", format!("no model {id} is registered"))
}

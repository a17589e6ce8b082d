//! `GET /v1/deployments`, `GET /v1/deployments/{id}` and `GET /v1/models/{id}/deployments`:
//! gateways serving models, a page at a time or one with its model, settlement and proofs.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, page_request, parse};
use crate::views::ErrorBody;
use crate::views::inference::{DeploymentPage, DeploymentView};

/// Deployments, live and retired, in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/deployments",
    tag = "inference",
    params(
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most deployments to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of deployments", body = DeploymentPage),
        (status = 400, description = "`after` or `limit` out of range", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_deployments(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeploymentPage>, ApiError> {
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    Ok(Json(DeploymentPage::from_state(&ledger, request, None)))
}

/// A model's deployments, live and retired, in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/models/{id}/deployments",
    tag = "inference",
    params(
        ("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The model's id"),
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most deployments to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of the model's deployments", body = DeploymentPage),
        (status = 400, description = "Not an id, or `after` or `limit` out of range", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_model_deployments(
    State(state): State<AppState>,
    PathParam(text): PathParam,
    RawQuery(query): RawQuery,
) -> Result<Json<DeploymentPage>, ApiError> {
    let id = parse(&text, "malformed_id", "the model id")?;
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    if ledger.model(id).is_none() {
        return Err(ApiError::not_found(
            "model_not_found",
            format!("no model {id} is registered"),
        ));
    }
    Ok(Json(DeploymentPage::from_state(&ledger, request, Some(id))))
}

/// A deployment with its model and the settlement its royalty table follows, each with its
/// proof against the finalized state root the answer names.
#[utoipa::path(
    get,
    path = "/v1/deployments/{id}",
    tag = "inference",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment, its model and settlement, proven", body = DeploymentView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_deployment(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<DeploymentView>, ApiError> {
    let id = parse(&text, "malformed_id", "the deployment id")?;
    let ledger = state.node.finalized_state();
    let view = DeploymentView::from_state(&ledger, id).ok_or_else(|| {
        ApiError::not_found("deployment_not_found", format!("no deployment {id}"))
    })?;
    Ok(Json(view))
}

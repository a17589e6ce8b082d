//! `GET /v1/datasets` and `GET /v1/datasets/{id}`: the dataset registry, a page at a time or
//! one dataset with its Merkle proof.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, page_request, parse};
use crate::views::ErrorBody;
use crate::views::lifecycle::{DatasetPage, DatasetView};

/// Registered datasets in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/datasets",
    tag = "lifecycle",
    params(
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most datasets to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of datasets", body = DatasetPage),
        (status = 400, description = "`after` or `limit` out of range", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_datasets(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<DatasetPage>, ApiError> {
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    Ok(Json(DatasetPage::from_state(&ledger, request)))
}

/// A dataset, with its proof against the finalized state root the answer names.
#[utoipa::path(
    get,
    path = "/v1/datasets/{id}",
    tag = "lifecycle",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The dataset's id")),
    responses(
        (status = 200, description = "The dataset and its proof", body = DatasetView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such dataset", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_dataset(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<DatasetView>, ApiError> {
    let id = parse(&text, "malformed_id", "the dataset id")?;
    let ledger = state.node.finalized_state();
    let view = DatasetView::from_state(&ledger, id).ok_or_else(|| {
        ApiError::not_found(
            "dataset_not_found",
            format!("no dataset {id} is registered"),
        )
    })?;
    Ok(Json(view))
}

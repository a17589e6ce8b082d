//! `GET /v1/jobs`, `GET /v1/jobs/{id}` and `GET /v1/jobs/{id}/rounds/{round}`: jobs a page at
//! a time, one job with its participants, rounds and scores, and one round with each phase's
//! posts, every entry of a get proven against one finalized state root.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, PathParams, page_request, parse};
use crate::views::ErrorBody;
use crate::views::lifecycle::{JobPage, JobView, RoundView};

/// Jobs in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "lifecycle",
    params(
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most jobs to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 400, description = "`after` or `limit` out of range", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<JobPage>, ApiError> {
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    Ok(Json(JobPage::from_state(&ledger, request)))
}

/// A job with its participants, latest rounds and scores, each with its proof against the
/// finalized state root the answer names.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "lifecycle",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The job's id")),
    responses(
        (status = 200, description = "The job and its entries, with proofs", body = JobView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<JobView>, ApiError> {
    let id = parse(&text, "malformed_id", "the job id")?;
    let ledger = state.node.finalized_state();
    let view = JobView::from_state(&ledger, id)
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job {id} was opened")))?;
    Ok(Json(view))
}

/// A round of a job with each phase's posts, each with its proof against the finalized state
/// root the answer names.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/rounds/{round}",
    tag = "lifecycle",
    params(
        ("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The job's id"),
        ("round" = String, Path, pattern = "^[0-9]{1,9}$", description = "The round's sequence number (retries count)"),
    ),
    responses(
        (status = 200, description = "The round and its phases' posts, with proofs", body = RoundView),
        (status = 400, description = "Not an id or a round number", body = ErrorBody),
        (status = 404, description = "No such job or round", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_round(
    State(state): State<AppState>,
    PathParams(id, round): PathParams,
) -> Result<Json<RoundView>, ApiError> {
    let id = parse(&id, "malformed_id", "the job id")?;
    let round = parse(&round, "malformed_round", "the round number")?;
    let ledger = state.node.finalized_state();
    let view = RoundView::from_state(&ledger, id, round).ok_or_else(|| {
        ApiError::not_found("round_not_found", format!("job {id} has no round {round}"))
    })?;
    Ok(Json(view))
}

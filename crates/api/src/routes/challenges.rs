//! `GET /v1/challenges` and `GET /v1/challenges/{id}`: challenges of gateways' answers, a page
//! at a time or one with its deployment and every vote, proven, so that anyone can check a
//! tally.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, page_request, parse};
use crate::views::ErrorBody;
use crate::views::inference::{ChallengePage, ChallengeView};

/// Challenges, voting and resolved, in id order, a page at a time, without proofs.
#[utoipa::path(
    get,
    path = "/v1/challenges",
    tag = "inference",
    params(
        ("after" = Option<u64>, Query, description = "List ids above this one (default 0; at most 2^63 - 1); a page's `next_after`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Most challenges to list (default and most 100)"),
    ),
    responses(
        (status = 200, description = "A page of challenges", body = ChallengePage),
        (status = 400, description = "`after` or `limit` out of range", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn list_challenges(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ChallengePage>, ApiError> {
    let request = page_request(query.as_deref())?;
    let ledger = state.node.finalized_state();
    Ok(Json(ChallengePage::from_state(&ledger, request)))
}

/// A challenge with the deployment it concerns and every vote on it, each with its proof
/// against the finalized state root the answer names.
#[utoipa::path(
    get,
    path = "/v1/challenges/{id}",
    tag = "inference",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The challenge's id")),
    responses(
        (status = 200, description = "The challenge, its deployment and votes, proven", body = ChallengeView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such challenge", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_challenge(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<ChallengeView>, ApiError> {
    let id = parse(&text, "malformed_id", "the challenge id")?;
    let ledger = state.node.finalized_state();
    let view = ChallengeView::from_state(&ledger, id)
        .ok_or_else(|| ApiError::not_found("challenge_not_found", format!("no challenge {id}")))?;
    Ok(Json(view))
}

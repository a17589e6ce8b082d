//! `GET /v1/accounts/{address}`: an account with its Merkle proof against a state root, so a
//! client can check the answer without trusting the node.

use axum::Json;
use axum::extract::State;

use aifactory_types::Address;

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, parse};
use crate::views::{AccountView, ErrorBody};

/// An account, with a proof against the state root at the reported height.
#[utoipa::path(
    get,
    path = "/v1/accounts/{address}",
    tag = "state",
    params(("address" = String, Path, pattern = "^aif1[02-9ac-hj-np-z]{58}$", description = "The account's bech32m address (aif1...)")),
    responses(
        (status = 200, description = "The account and its proof", body = AccountView),
        (status = 400, description = "Not an address", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<AccountView>, ApiError> {
    let address: Address = parse(&text, "malformed_address", "the address")?;
    let view = state.node.account(address).await.ok_or_else(|| {
        ApiError::not_found(
            "account_not_found",
            format!("no account {address}: it has never received tokens"),
        )
    })?;
    Ok(Json(view))
}

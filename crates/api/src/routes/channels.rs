//! `GET /v1/channels/{id}` and `GET /v1/accounts/{address}/channels`: open payment channels
//! with their proofs, so a consumer or gateway can check deposits and claims on chain.

use axum::Json;
use axum::extract::State;

use aifactory_types::Address;

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{PathParam, parse};
use crate::views::ErrorBody;
use crate::views::inference::{AccountChannels, ChannelView};

/// An open channel and the deployment it pays, with their proofs.
#[utoipa::path(
    get,
    path = "/v1/channels/{id}",
    tag = "inference",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The channel's id")),
    responses(
        (status = 200, description = "The channel and its deployment, proven", body = ChannelView),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such open channel (never opened, or closed)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_channel(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<ChannelView>, ApiError> {
    let id = parse(&text, "malformed_id", "the channel id")?;
    let ledger = state.node.finalized_state();
    let view = ChannelView::from_state(&ledger, id).ok_or_else(|| {
        ApiError::not_found(
            "channel_not_found",
            format!("no open channel {id}: never opened, or closed"),
        )
    })?;
    Ok(Json(view))
}

/// An account's open channels as a consumer, each with its proof.
#[utoipa::path(
    get,
    path = "/v1/accounts/{address}/channels",
    tag = "inference",
    params(("address" = String, Path, pattern = "^aif1[02-9ac-hj-np-z]{58}$", description = "The consumer's bech32m address (aif1...)")),
    responses(
        (status = 200, description = "The account's open channels, proven", body = AccountChannels),
        (status = 400, description = "Not an address", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn get_account_channels(
    State(state): State<AppState>,
    PathParam(text): PathParam,
) -> Result<Json<AccountChannels>, ApiError> {
    let address: Address = parse(&text, "malformed_address", "the address")?;
    let ledger = state.node.finalized_state();
    Ok(Json(AccountChannels::from_state(&ledger, address)))
}

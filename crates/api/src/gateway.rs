//! A gateway's HTTP API: paid predictions (`POST /v1/predict/{model}`), the models served,
//! the voucher held for a channel, the gateway's status, and its own OpenAPI document. A
//! gateway agent implements [`InferenceService`]; [`gateway_router`] serves it with the same
//! JSON errors, body caps and fallbacks as the node's API.
//!
//! Status codes: 402 a voucher that does not pay (with `details.expected_amount`), 404 an
//! unknown model or channel, 413 an input over the caps, 422 an input the model cannot read
//! (with `details.columns`), 500 a bug, 503 the gateway cannot take it now.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use futures::future::BoxFuture;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use aifactory_types::lifecycle::{ChannelId, ModelId};

use crate::error::ApiError;
use crate::limits::read_body;
use crate::routes::{PathParam, parse};
use crate::views::ErrorBody;
use crate::views::gateway::{GatewayStatus, HeldVoucher, PredictRequest, PredictResponse};

/// Largest prediction request body, in bytes.
pub const INFERENCE_BODY_BYTES_MAX: usize = 64 * 1024;

/// Most input rows one prediction request may carry.
pub const INFERENCE_ROWS_MAX: usize = 64;

/// What a gateway does; the agent implements it.
pub trait InferenceService: Send + Sync + 'static {
    /// Checks the voucher, answers, makes the voucher durable, and signs a receipt.
    fn predict(
        &self,
        model: ModelId,
        request: PredictRequest,
    ) -> BoxFuture<'_, Result<PredictResponse, ApiError>>;

    /// What the gateway serves, and where the chain is.
    fn status(&self) -> GatewayStatus;

    /// The highest voucher held for `channel`, if any.
    fn held_voucher(&self, channel: ChannelId) -> Option<HeldVoucher>;
}

type GatewayState = Arc<dyn InferenceService>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AI Factory gateway API",
        description = "Paid predictions with signed receipts. Every error is \
                       `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
    ),
    components(schemas(ErrorBody)),
    tags((name = "inference", description = "Paid predictions and the gateway's state")),
)]
struct GatewayDoc;

/// Answers rows of input for one model, paid by the request's voucher.
#[utoipa::path(
    post,
    path = "/v1/predict/{model}",
    tag = "inference",
    params(("model" = String, Path, pattern = "^[0-9]{1,19}$", description = "The model's id")),
    request_body = PredictRequest,
    responses(
        (status = 200, description = "The answer and its signed receipt", body = PredictResponse),
        (status = 400, description = "Not a model id", body = ErrorBody),
        (status = 402, description = "The voucher does not pay: `details.expected_amount` says what would", body = ErrorBody),
        (status = 404, description = "A model this gateway does not serve", body = ErrorBody),
        (status = 413, description = "More than 64 KiB or 64 rows", body = ErrorBody),
        (status = 422, description = "Not a request, or input the model cannot read: `details.columns` names what it needs", body = ErrorBody),
        (status = 503, description = "The gateway cannot take it now", body = ErrorBody),
    ),
)]
async fn predict(
    State(service): State<GatewayState>,
    PathParam(text): PathParam,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PredictResponse>, ApiError> {
    let model: ModelId = parse(&text, "malformed_id", "the model id")?;
    let bytes = read_body(&headers, body, INFERENCE_BODY_BYTES_MAX).await?;
    let request: PredictRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_request",
            format!("the body is not a prediction request: {e}"),
        )
    })?;
    Ok(Json(service.predict(model, request).await?))
}

/// What the gateway serves and where the chain is.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "inference",
    responses((status = 200, description = "The gateway's status", body = GatewayStatus)),
)]
async fn status(State(service): State<GatewayState>) -> Json<GatewayStatus> {
    Json(service.status())
}

/// The highest voucher the gateway holds for a channel.
#[utoipa::path(
    get,
    path = "/v1/channels/{id}",
    tag = "inference",
    params(("id" = String, Path, pattern = "^[0-9]{1,19}$", description = "The channel's id")),
    responses(
        (status = 200, description = "The voucher held", body = HeldVoucher),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No voucher held for it", body = ErrorBody),
    ),
)]
async fn held_voucher(
    State(service): State<GatewayState>,
    PathParam(text): PathParam,
) -> Result<Json<HeldVoucher>, ApiError> {
    let channel: ChannelId = parse(&text, "malformed_id", "the channel id")?;
    service.held_voucher(channel).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "no_voucher",
            format!("this gateway holds no voucher for channel {channel}"),
        )
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "inference",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(gateway_openapi())
}

fn documented() -> (Router<GatewayState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(GatewayDoc::openapi())
        .routes(routes!(predict))
        .routes(routes!(status))
        .routes(routes!(held_voucher))
        .routes(routes!(openapi_json))
        .split_for_parts()
}

/// The gateway API's OpenAPI document.
pub fn gateway_openapi() -> utoipa::openapi::OpenApi {
    documented().1
}

/// The gateway's router over `service`.
pub fn gateway_router(service: Arc<dyn InferenceService>) -> Router {
    documented()
        .0
        .with_state(service)
        .fallback(|| async {
            ApiError::not_found("route_not_found", "no such route; see /v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /v1/openapi.json",
            )
        })
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the gateway hit a bug while answering",
            )
            .into_response()
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document names every route the router serves, with its method.
    #[test]
    fn the_gateway_document_names_its_routes() {
        let doc = serde_json::to_value(gateway_openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut routes: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        routes.sort();
        assert_eq!(
            routes,
            [
                ("get".to_owned(), "/v1/channels/{id}".to_owned()),
                ("get".to_owned(), "/v1/openapi.json".to_owned()),
                ("get".to_owned(), "/v1/status".to_owned()),
                ("post".to_owned(), "/v1/predict/{model}".to_owned()),
            ]
        );
        let predict = &doc["paths"]["/v1/predict/{model}"]["post"]["responses"];
        for status in ["200", "402", "404", "413", "422"] {
            assert!(predict.get(status).is_some(), "{status} is documented");
        }
    }
}

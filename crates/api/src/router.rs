//! Assembling the API: the routes with their OpenAPI entries, the shared state, the JSON
//! fallbacks for unknown routes and wrong methods, panic catching and the rate limit.

use std::any::Any;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use futures::future::{self, Either};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::limits::{ApiConfig, SHUTDOWN_DRAIN_MS_MAX};
use crate::listener::{CappedListener, ConnectionLimits};
use crate::openapi::{self, ApiDoc};
use crate::rate_limit::{self, RateLimiter};
use crate::routes::{
    accounts, blobs, blocks, challenges, channels, datasets, deployments, events, jobs, models,
    status, sync, txs,
};
use crate::service::{DynNode, NodeService};

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) node: Arc<dyn DynNode>,
    pub(crate) config: Arc<ApiConfig>,
    pub(crate) openapi: Arc<serde_json::Value>,
    /// The rate limit's buckets, for handlers that charge more than one request's worth.
    pub(crate) limiter: Option<RateLimiter>,
    /// One permit per open `/v1/events` stream.
    pub(crate) event_streams: Arc<Semaphore>,
}

/// Every route with its documentation, before the state is attached.
fn documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(txs::submit_tx))
        .routes(routes!(txs::submit_tx_batch))
        .routes(routes!(txs::get_tx))
        .routes(routes!(accounts::get_account))
        .routes(routes!(blocks::get_block))
        .routes(routes!(datasets::list_datasets))
        .routes(routes!(datasets::get_dataset))
        .routes(routes!(models::list_models))
        .routes(routes!(models::get_model))
        .routes(routes!(models::get_provenance))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::get_round))
        .routes(routes!(deployments::list_deployments))
        .routes(routes!(deployments::get_deployment))
        .routes(routes!(deployments::list_model_deployments))
        .routes(routes!(channels::get_channel))
        .routes(routes!(channels::get_account_channels))
        .routes(routes!(challenges::list_challenges))
        .routes(routes!(challenges::get_challenge))
        .routes(routes!(status::get_status))
        .routes(routes!(blobs::put_blob, blobs::get_blob))
        .routes(routes!(events::events))
        .routes(routes!(sync::get_sync_epochs))
        .routes(routes!(sync::get_sync_snapshot))
        .routes(routes!(openapi::openapi_json))
        .split_for_parts()
}

/// The OpenAPI document of the API, as served at `/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().1
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("route_not_found", "no such route; see /v1/openapi.json")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /v1/openapi.json",
    )
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the node hit a bug while answering; it has been logged",
    )
    .into_response()
}

/// The API's router over `node`, with `extra` routes (the node's `/metrics`, the explorer)
/// merged in under the same rate limit.
pub fn router<N: NodeService>(node: N, config: ApiConfig, extra: Router) -> Router {
    let (routes, document) = documented_routes();
    let limiter = config.rate_limit.map(RateLimiter::new);
    let state = AppState {
        node: Arc::new(node),
        config: Arc::new(config.clone()),
        openapi: Arc::new(serde_json::to_value(&document).expect("the document serialises")),
        limiter: limiter.clone(),
        event_streams: Arc::new(Semaphore::new(config.event_subscribers_max)),
    };
    let router = routes
        .with_state(state)
        .merge(extra)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(CatchPanicLayer::custom(panic_response));
    match limiter {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            limiter,
            rate_limit::limit,
        )),
        None => router,
    }
}

/// Serves `router` on `listener` until `shutdown` completes, telling handlers each client's
/// address (the rate limit needs it). After `shutdown` the server takes no new connection and
/// gives open ones up to [`SHUTDOWN_DRAIN_MS_MAX`] to finish; then it returns and drops them,
/// so a client holding an event stream open cannot keep a node from stopping.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] under the given connection `limits`.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    // `tap_io` only to get axum's client-address plumbing for a listener of our own.
    let listener = CappedListener::new(listener, limits).tap_io(|_| {});
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let drained = async move {
        if stopping_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX)).await;
    };
    match future::select(pin!(server.into_future()), pin!(drained)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Ok(()),
    }
}

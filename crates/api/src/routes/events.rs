//! `GET /v1/events`: the chain's events as server-sent events, one SSE event per
//! [`ChainEvent`], named by its `type` with the JSON as data. A subscriber that falls behind
//! gets a `lagged` event saying how many it missed, and the stream goes on.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::ApiError;
use crate::router::AppState;
use crate::views::{ChainEvent, ErrorBody};

fn sse_event(event: &ChainEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .expect("a chain event serialises")
}

/// Subscribe to new blocks and included transactions.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "chain",
    responses(
        (status = 200, description = "A text/event-stream of chain events; each event's data is a ChainEvent as JSON",
         content_type = "text/event-stream", body = crate::schemas::ChainEventMessage),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "As many event streams are open as the node allows", body = ErrorBody),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = state
        .event_streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_subscribers",
                format!(
                    "this node serves at most {} event streams at once",
                    state.config.event_subscribers_max
                ),
            );
            error.retry_after_s = Some(SUBSCRIBER_RETRY_AFTER_S);
            error
        })?;
    let stream = BroadcastStream::new(state.node.subscribe()).map(move |item| {
        // The stream owns the permit: it is given back when the client goes away.
        let _held = &permit;
        let event = match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(skipped)) => ChainEvent::Lagged { skipped },
        };
        Ok(sse_event(&event))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Seconds a subscriber refused for want of room is told to wait.
const SUBSCRIBER_RETRY_AFTER_S: u64 = 5;

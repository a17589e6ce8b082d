//! `GET /v1/events`: the chain's events as server-sent events, one SSE event per
//! [`ChainEvent`], named by its `type` with the JSON as data. A subscriber that falls behind
//! gets a `lagged` event saying how many it missed, and the stream goes on.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

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
        (status = 200, description = "A text/event-stream of chain events; each event's data is a ChainEvent",
         content_type = "text/event-stream", body = ChainEvent),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.node.subscribe()).map(|item| {
        let event = match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(skipped)) => ChainEvent::Lagged { skipped },
        };
        Ok(sse_event(&event))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

//! `GET /v1/events`: the chain's events as server-sent events, one SSE event per
//! [`ChainEvent`], named by its `type` with the JSON as data.
//!
//! **Order.** A block's events come together, in the order [`ChainEvent::of_block`] fixes:
//! each transaction's `tx_included` then its receipt's `ledger` events, then the block's own
//! `ledger` events, and the `block` event last. Only that last event carries an SSE `id:`,
//! the block's height, so an `id` always names a height delivered in full and a standard
//! client's `Last-Event-ID` is a cursor that never points into the middle of a block.
//!
//! **Live only** (no `from_height`, no `Last-Event-ID`): events from now on; a subscriber that
//! falls behind gets a `lagged` event saying how many it missed, and the stream goes on.
//!
//! **Resumed** (`?from_height=H`, or `Last-Event-ID: h` meaning `H = h + 1`; the query wins):
//! the events of finalized blocks `H..` from the node's history, then live, with no gap and no
//! duplicate. The live subscription is taken *before* the history is read, and the node
//! records a block before it publishes it, so every height is either in the history read or
//! arrives live afterwards; live events at heights already sent are dropped. The stream keeps
//! the next height it owes and how many of that height's events it has sent, so when its
//! live buffer overflows it refills from history instead of reporting `lagged`. A height
//! below the node's history is refused with 410 naming the lowest it has; a height above the
//! tip just waits for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::ApiError;
use crate::router::AppState;
use crate::routes::{parse_documented, query_value};
use crate::service::DynNode;
use crate::views::{ChainEvent, ErrorBody, EventHeights};

/// The header a reconnecting SSE client sends with the last `id:` it received.
const LAST_EVENT_ID: &str = "last-event-id";

fn sse_event(event: &ChainEvent) -> Event {
    let sse = Event::default()
        .event(event.name())
        .json_data(event)
        .expect("a chain event serialises");
    match event {
        ChainEvent::Block { height, .. } => sse.id(height.to_string()),
        _ => sse,
    }
}

/// Subscribe to the chain's events: live, or resumed from a height.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "chain",
    params(
        ("from_height" = Option<u64>, Query, description = "Replay the events of finalized blocks from this height on (0 reads as 1), then continue live without a gap or duplicate; wins over `Last-Event-ID`"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The `id` of the last event received (a block's height, sent only on `block` events): resume from the next height"),
    ),
    responses(
        (status = 200, description = "A text/event-stream of chain events; each event's data is a ChainEvent as JSON, and each `block` event (the last of its height) carries `id: <height>`",
         content_type = "text/event-stream", body = crate::schemas::ChainEventMessage),
        (status = 400, description = "`from_height` or `Last-Event-ID` is not a height", body = ErrorBody),
        (status = 404, description = "This node keeps no event history to resume from", body = ErrorBody),
        (status = 410, description = "The height asked for is below the lowest this node has; `details.lowest_height` names it", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "As many event streams are open as the node allows", body = ErrorBody),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let from = start_height(query.as_deref(), &headers)?;
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
    // Subscribed before the history is read: see the module's note on the switch.
    let live = state.node.subscribe();
    let events = match from {
        None => live_only(live),
        Some(from) => {
            let heights = state.node.event_heights().await;
            let tip = check_history(heights, from)?;
            resumed(state.node.clone(), live, from, tip)
        }
    };
    let stream = events.map(move |event| {
        // The stream owns the permit: it is given back when the client goes away.
        let _held: &OwnedSemaphorePermit = &permit;
        Ok(sse_event(&event))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The first height a request resumes from, if it resumes: `from_height` (0 reads as 1, as
/// genesis has no events), else the height after `Last-Event-ID`.
fn start_height(query: Option<&str>, headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    // Both are checked, whichever wins: a request with a malformed one is refused.
    let from = query_value(query, "from_height")
        .map(|text| parse_documented(text, "malformed_from_height", "`from_height`"))
        .transpose()?;
    let last = match headers.get(LAST_EVENT_ID) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("\u{fffd}").trim();
            // A client that has seen no id yet may send it empty, or as the document's null.
            (!text.is_empty() && text != "null")
                .then(|| parse_documented(text, "malformed_last_event_id", "`Last-Event-ID`"))
                .transpose()?
        }
    };
    Ok(match (from, last) {
        (Some(from), _) => Some(from.max(1)),
        (None, Some(last)) => Some(last.saturating_add(1)),
        (None, None) => None,
    })
}

/// The history's tip, if `from` is within what the node keeps (or above it).
fn check_history(heights: Option<EventHeights>, from: u64) -> Result<u64, ApiError> {
    let Some(heights) = heights else {
        return Err(ApiError::not_found(
            "event_history_unavailable",
            "this node keeps no event history to resume from; subscribe without `from_height`",
        ));
    };
    if from < heights.lowest {
        let mut error = ApiError::new(
            StatusCode::GONE,
            "events_pruned",
            format!(
                "this node has the events of heights {} on, not of {from}; resume from {} or \
                 ask a node that has the older history",
                heights.lowest, heights.lowest
            ),
        );
        error.details = Some(serde_json::json!({ "lowest_height": heights.lowest }));
        return Err(error);
    }
    Ok(heights.tip)
}

/// Events from now on, with `lagged` where the subscriber fell behind.
fn live_only(live: broadcast::Receiver<ChainEvent>) -> BoxStream<'static, ChainEvent> {
    BroadcastStream::new(live)
        .map(|item| match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(skipped)) => ChainEvent::Lagged { skipped },
        })
        .boxed()
}

/// A resumed stream's position: the next height it owes and how far into it it is.
struct Resume {
    node: Arc<dyn DynNode>,
    live: broadcast::Receiver<ChainEvent>,
    /// The lowest height not yet sent in full.
    next: u64,
    /// How many of `next`'s events have been sent.
    sent_of_next: usize,
    /// Heights up to here are in the node's history and are read from it, not from `live`.
    tip: u64,
    /// Events read from history, waiting to be sent.
    replayed: VecDeque<ChainEvent>,
    /// A live event that came ahead of a gap, sent once the gap is refilled.
    held: Option<ChainEvent>,
}

/// History from `from` to `tip`, then live (see the module docs).
fn resumed(
    node: Arc<dyn DynNode>,
    live: broadcast::Receiver<ChainEvent>,
    from: u64,
    tip: u64,
) -> BoxStream<'static, ChainEvent> {
    let resume = Resume {
        node,
        live,
        next: from,
        sent_of_next: 0,
        tip,
        replayed: VecDeque::new(),
        held: None,
    };
    futures::stream::unfold(resume, |mut resume| async move {
        let event = resume.next_event().await?;
        resume.sent(&event);
        Some((event, resume))
    })
    .boxed()
}

impl Resume {
    /// The next event to send; `None` ends the stream (the node stopped, or its history lost
    /// a height it had: the client reconnects and is told what the node has).
    async fn next_event(&mut self) -> Option<ChainEvent> {
        loop {
            if let Some(event) = self.replayed.pop_front() {
                return Some(event);
            }
            if self.next <= self.tip {
                self.replay_next().await?;
                continue;
            }
            let event = match self.held.take() {
                Some(event) => event,
                None => match self.live.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => {
                        // Everything published is recorded: refill from history.
                        self.tip = self.node.event_heights().await?.tip;
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            let Some(height) = event.height() else {
                continue;
            };
            if height < self.next {
                continue; // already sent from history
            }
            if height > self.next {
                // Heights in between were recorded before this one was published.
                self.tip = height - 1;
                self.held = Some(event);
                continue;
            }
            return Some(event);
        }
    }

    /// Reads height `next` from history, minus the events of it already sent.
    async fn replay_next(&mut self) -> Option<()> {
        let events = self.node.block_events(self.next).await?;
        self.replayed
            .extend(events.into_iter().skip(self.sent_of_next));
        if self.replayed.is_empty() {
            // Nothing left of it (cannot happen: a height ends with its `block` event).
            return None;
        }
        Some(())
    }

    /// Moves the position past `event`.
    fn sent(&mut self, event: &ChainEvent) {
        if let ChainEvent::Block { height, .. } = event {
            debug_assert_eq!(*height, self.next);
            self.next = height + 1;
            self.sent_of_next = 0;
        } else {
            self.sent_of_next += 1;
        }
    }
}

/// Seconds a subscriber refused for want of room is told to wait.
const SUBSCRIBER_RETRY_AFTER_S: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_height_beyond_what_the_document_promises_is_refused() {
        let none = HeaderMap::new();
        assert_eq!(start_height(Some("from_height=0"), &none).unwrap(), Some(1));
        let max = format!("from_height={}", i64::MAX);
        assert_eq!(
            start_height(Some(&max), &none).unwrap(),
            Some(i64::MAX as u64)
        );
        let error = start_height(Some("from_height=9223372036854775808"), &none).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        let mut headers = HeaderMap::new();
        headers.insert(LAST_EVENT_ID, "9223372036854775808".parse().unwrap());
        assert_eq!(
            start_height(None, &headers).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}

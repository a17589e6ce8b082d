//! Reading `GET /v1/events`: a minimal server-sent-events parser (the API sends one `event:`
//! line and one `data:` line per event, an `id:` line on each block's last event, and comment
//! lines as keep-alives).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use futures::Stream;
use futures::stream::BoxStream;

use aifactory_api::views::ChainEvent;

use crate::ClientError;

/// Longest SSE event we buffer before giving up on the stream: far above any chain event.
const EVENT_BYTES_MAX: usize = 64 * 1024;

/// The node's chain events as they happen; ends when the connection does.
pub struct EventStream {
    bytes: BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>,
    buffer: BytesMut,
    done: bool,
    last_event_id: Option<u64>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(bytes: BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>) -> Self {
        EventStream {
            bytes,
            buffer: BytesMut::new(),
            done: false,
            last_event_id: None,
        }
    }

    /// The last SSE `id` received: the height of the last block whose events have all been
    /// handed out (the node sends it on each block's closing `Block` event). Resume with
    /// [`crate::Client::events_from`] one above it.
    pub fn last_event_id(&self) -> Option<u64> {
        self.last_event_id
    }

    /// Takes one complete event block (up to a blank line) off the buffer, if there is one.
    fn take_block(&mut self) -> Option<String> {
        let text = &self.buffer[..];
        let end = text
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| (i, 2))
            .or_else(|| {
                text.windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|i| (i, 4))
            })?;
        let block = String::from_utf8_lossy(&self.buffer[..end.0]).into_owned();
        self.buffer.advance(end.0 + end.1);
        Some(block)
    }
}

/// The value of a block's `id:` line, if it has one that is a height.
fn id_of(block: &str) -> Option<u64> {
    block
        .lines()
        .filter_map(|line| line.strip_prefix("id:"))
        .map(|id| id.strip_prefix(' ').unwrap_or(id))
        .next_back()?
        .parse()
        .ok()
}

/// The JSON of a block's `data:` lines, or `None` for a comment-only block (a keep-alive).
fn data_of(block: &str) -> Option<String> {
    let lines: Vec<&str> = block
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

impl Stream for EventStream {
    type Item = Result<ChainEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            while let Some(block) = self.take_block() {
                if let Some(id) = id_of(&block) {
                    self.last_event_id = Some(id);
                }
                if let Some(data) = data_of(&block) {
                    let parsed = serde_json::from_str(&data)
                        .map_err(|e| ClientError::Decode(format!("event {data:?}: {e}")));
                    return Poll::Ready(Some(parsed));
                }
            }
            if self.buffer.len() > EVENT_BYTES_MAX {
                self.done = true;
                let error = ClientError::Decode("an event is larger than 64 KiB".to_owned());
                return Poll::Ready(Some(Err(error)));
            }
            match self.bytes.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => self.done = true,
                Poll::Ready(Some(Err(error))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn parses_events_split_across_chunks_and_skips_keepalives() {
        let chunks = [
            ":\n\nevent: lagged\nda",
            "ta: {\"type\":\"lagged\",\"skipped\":3}\n\n",
            "event: lagged\r\ndata: {\"type\":\"lagged\",\"skipped\":4}\r\n\r\n",
        ];
        let bytes = futures::stream::iter(chunks.map(|c| Ok(bytes::Bytes::from(c)))).boxed();
        let events: Vec<ChainEvent> =
            futures::executor::block_on(EventStream::new(bytes).map(|e| e.unwrap()).collect());
        assert_eq!(
            events,
            vec![
                ChainEvent::Lagged { skipped: 3 },
                ChainEvent::Lagged { skipped: 4 }
            ]
        );
    }

    #[test]
    fn the_last_id_is_kept_across_events_without_one() {
        let chunks = [
            "event: block\nid: 7\ndata: {\"type\":\"lagged\",\"skipped\":1}\n\n",
            "event: lagged\ndata: {\"type\":\"lagged\",\"skipped\":2}\n\n",
        ];
        let bytes = futures::stream::iter(chunks.map(|c| Ok(bytes::Bytes::from(c)))).boxed();
        let mut stream = EventStream::new(bytes);
        assert_eq!(stream.last_event_id(), None);
        futures::executor::block_on(stream.next()).unwrap().unwrap();
        assert_eq!(stream.last_event_id(), Some(7));
        futures::executor::block_on(stream.next()).unwrap().unwrap();
        assert_eq!(
            stream.last_event_id(),
            Some(7),
            "an event without an id keeps it"
        );
    }
}

//! `GET /v1/events` delivers each block's events as server-sent events, live or resumed from
//! a height out of the node's history.

use std::time::Duration;

use aifactory_api::views::ChainEvent;
use aifactory_api::{ApiConfig, NodeService};
use aifactory_client::EventStream;
use aifactory_ledger::testing::TestChain;
use aifactory_types::Event;
use futures::StreamExt;

use crate::fixture::{TestNode, TestServer, start, unlimited};

/// The next event, failing the test if none comes within 5 s.
async fn next_event(events: &mut EventStream) -> ChainEvent {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .expect("the event parses")
}

/// Every event up to and including the `block` event of `height`.
async fn events_through(events: &mut EventStream, height: u64) -> Vec<ChainEvent> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(events).await;
        let done = matches!(event, ChainEvent::Block { height: h, .. } if h == height);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// The node's recorded events of `heights`, in order: what a stream must deliver for them.
async fn history(node: &TestNode, heights: std::ops::RangeInclusive<u64>) -> Vec<ChainEvent> {
    let mut all = Vec::new();
    for height in heights {
        all.extend(
            node.block_events(height)
                .await
                .expect("the height is recorded"),
        );
    }
    all
}

/// A transfer of 5 from account 1 at `nonce`.
fn transfer(chain: &TestChain, nonce: u64) -> aifactory_types::SignedTransaction {
    let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(2), 5));
    tx.nonce = nonce;
    chain.sign(1, tx)
}

/// Seals `count` blocks of one transfer each, from account 1.
async fn transfers(server: &TestServer, count: u64) {
    let chain = server.node.chain();
    let first = chain.nonce(1);
    for nonce in first..first + count {
        server
            .client
            .submit_tx(&transfer(&chain, nonce))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_event_stream_delivers_a_blocks_transactions_and_ledger_events_then_the_block() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let mut events = server.client.events().await.unwrap();
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    server.client.submit_tx(&tx).await.unwrap();

    let seen = events_through(&mut events, 1).await;
    let status = server.client.status().await.unwrap();
    assert_eq!(
        seen.first(),
        Some(&ChainEvent::TxIncluded {
            tx_hash: tx.hash(),
            height: 1,
            success: true,
        })
    );
    assert!(
        seen.iter().any(|e| matches!(
            e,
            ChainEvent::Ledger { height: 1, tx_hash: Some(hash), event: Event::Transferred { amount: 5, .. } }
                if *hash == tx.hash()
        )),
        "the receipt's transfer is in the stream: {seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&ChainEvent::Block {
            height: 1,
            hash: status.last_block_hash,
            tx_count: 1,
            state_root: status.state_root,
        })
    );
    assert_eq!(seen, history(&server.node, 1..=1).await);
    assert_eq!(
        events.last_event_id(),
        Some(1),
        "the block event carries its height"
    );
}

/// Regression for agents that restart: a stream resumed while blocks keep coming delivers
/// every height's events exactly once, history then live.
#[tokio::test]
async fn a_resumed_stream_replays_history_then_goes_live_without_gap_or_duplicate() {
    let server = start(TestNode::sealing(), unlimited()).await;
    transfers(&server, 3).await;
    let submitter = {
        let client = server.client.clone();
        let chain = server.node.chain();
        tokio::spawn(async move {
            for nonce in 3..12 {
                client.submit_tx(&transfer(&chain, nonce)).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut events = server.client.events_from(2).await.unwrap();
    let seen = events_through(&mut events, 12).await;
    submitter.await.unwrap();
    assert_eq!(seen, history(&server.node, 2..=12).await);
    assert_eq!(events.last_event_id(), Some(12));

    // Above the tip: nothing until that height, then exactly it.
    let mut ahead = server.client.events_from(14).await.unwrap();
    transfers(&server, 2).await;
    assert_eq!(
        events_through(&mut ahead, 14).await,
        history(&server.node, 14..=14).await
    );
}

/// Regression: a resumed subscriber that falls behind the live buffer refills from history
/// instead of missing events (a live-only one is told it lagged).
#[tokio::test]
async fn a_resumed_stream_that_falls_behind_refills_from_history() {
    let node = TestNode::manual(100).with_live_events_max(2);
    let server = start(node, unlimited()).await;
    let mut resumed = server.client.events_from(1).await.unwrap();
    let mut live = server.client.events().await.unwrap();
    let chain = server.node.chain();
    for k in 1..4 {
        let tx = chain.tx(k, TestChain::transfer_to(chain.address(0), 5));
        server.client.submit_tx(&tx).await.unwrap();
    }
    // One block's burst overflows both subscriptions mid-block (this single-threaded runtime
    // cannot drain them while it seals): the buffer keeps only the end of height 1.
    server.node.seal();
    assert_eq!(
        events_through(&mut resumed, 1).await,
        history(&server.node, 1..=1).await
    );
    // Then whole heights are lost from the live buffer.
    for _ in 2..=10 {
        server.node.seal();
    }
    assert_eq!(
        events_through(&mut resumed, 10).await,
        history(&server.node, 2..=10).await
    );
    assert!(
        matches!(next_event(&mut live).await, ChainEvent::Lagged { .. }),
        "the live-only stream did fall behind"
    );
}

#[tokio::test]
async fn a_height_the_node_no_longer_has_is_refused_naming_the_lowest() {
    let server = start(TestNode::sealing(), unlimited()).await;
    transfers(&server, 4).await;
    server.node.forget_events_below(3);
    let error = server.client.events_from(2).await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(410), Some("events_pruned"))
    );
    let aifactory_client::ClientError::Api { details, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(details.as_ref().unwrap()["lowest_height"], 3);
    let mut events = server.client.events_from(3).await.unwrap();
    assert_eq!(
        events_through(&mut events, 4).await,
        history(&server.node, 3..=4).await
    );

    let bad = reqwest::get(server.url("/v1/events?from_height=x"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// The first event's height in a raw SSE response, and the response's text up to it.
async fn first_height(response: reqwest::Response) -> u64 {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("data within 5 s")
            .expect("the stream is open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
            let event: ChainEvent = serde_json::from_str(data).unwrap();
            return event.height().unwrap();
        }
    }
}

#[tokio::test]
async fn last_event_id_resumes_after_that_height_and_the_query_wins() {
    let server = start(TestNode::sealing(), unlimited()).await;
    transfers(&server, 3).await;
    let http = reqwest::Client::new();
    let get = |path: &str, last: &str| {
        http.get(server.url(path))
            .header("last-event-id", last)
            .send()
    };
    assert_eq!(first_height(get("/v1/events", "1").await.unwrap()).await, 2);
    assert_eq!(
        first_height(get("/v1/events?from_height=1", "2").await.unwrap()).await,
        1
    );
    assert_eq!(get("/v1/events", "two").await.unwrap().status(), 400);
}

#[tokio::test]
async fn subscribers_past_the_cap_get_503_until_one_leaves() {
    let config = ApiConfig {
        event_subscribers_max: 2,
        ..unlimited()
    };
    let server = start(TestNode::sealing(), config).await;
    let first = server.client.events().await.unwrap();
    let _second = server.client.events().await.unwrap();
    let refused = server.client.events().await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(503), Some("too_many_subscribers"))
    );

    // The permit goes back when a subscriber disconnects; the server notices at its next
    // write to the dropped stream (a block or a keep-alive), so wait for one.
    drop(first);
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    server.client.submit_tx(&tx).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match server.client.events().await {
            Ok(_) => break,
            Err(error) if error.status() == Some(503) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the slot never came back"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
}

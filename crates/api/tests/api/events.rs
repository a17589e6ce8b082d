//! `GET /v1/events` delivers blocks and included transactions as server-sent events.

use std::time::Duration;

use aifactory_api::ApiConfig;
use aifactory_api::views::ChainEvent;
use aifactory_ledger::testing::TestChain;
use futures::StreamExt;

use crate::fixture::{TestNode, start, unlimited};

#[tokio::test]
async fn the_event_stream_delivers_new_blocks_and_included_transactions() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let mut events = server.client.events().await.unwrap();
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    server.client.submit_tx(&tx).await.unwrap();

    let next = async {
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .expect("the stream is open")
            .expect("the event parses")
    };
    let block = next.await;
    let status = server.client.status().await.unwrap();
    assert_eq!(
        block,
        ChainEvent::Block {
            height: 1,
            hash: status.last_block_hash,
            tx_count: 1,
            state_root: status.state_root,
        }
    );
    let included = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        included,
        ChainEvent::TxIncluded {
            tx_hash: tx.hash(),
            height: 1,
            success: true,
        }
    );
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

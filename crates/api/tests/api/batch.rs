//! `POST /v1/txs/batch`: one result per item, in order, each what `POST /v1/txs` would have
//! answered alone; the caps on count and bytes; the rate limit counting each transaction.

use aifactory_api::{ApiConfig, RateLimitConfig, TX_BATCH_BODY_BYTES_MAX, TX_BATCH_TXS_MAX};
use aifactory_client::ClientError;
use aifactory_ledger::testing::TestChain;
use aifactory_types::SignedTransaction;
use serde_json::{Value, json};

use crate::fixture::{TestNode, TestServer, start, unlimited};
use crate::schema::assert_valid;

/// POSTs `body` as JSON to the batch route; the status and the JSON answer.
async fn post(server: &TestServer, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/txs/batch"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn hex_of(tx: &SignedTransaction) -> String {
    hex::encode(tx.encode())
}

#[tokio::test]
async fn mixed_items_get_their_own_results_in_order() {
    let server = start(TestNode::manual(100), unlimited()).await;
    let doc = server.client.openapi().await.unwrap();
    let chain = server.node.chain();
    let good = chain.tx(1, TestChain::transfer_to(chain.address(0), 5));
    let other = chain.tx(2, TestChain::transfer_to(chain.address(0), 6));
    let mut forged = chain.tx(3, TestChain::transfer_to(chain.address(0), 7));
    forged.tx.fee += 1;
    let items = json!([
        hex_of(&good),
        "zz",
        "00",
        hex_of(&forged),
        hex_of(&good),
        hex_of(&other)
    ]);
    let (status, body) = post(&server, items.to_string()).await;
    assert_eq!(status, 200);
    assert_valid(&doc, "post", "/v1/txs/batch", 200, &body);
    let results = body["results"].as_array().unwrap();
    let outcomes: Vec<(u64, &str)> = results
        .iter()
        .map(|r| {
            let code = r["error"]["code"].as_str().unwrap_or("");
            (r["status"].as_u64().unwrap(), code)
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (202, ""),
            (400, "malformed_hex"),
            (400, "malformed_transaction"),
            (422, "bad_signature"),
            (409, "already_known"),
            (202, ""),
        ]
    );
    assert_eq!(results[0]["tx_hash"], good.hash().to_string());
    assert_eq!(results[5]["tx_hash"], other.hash().to_string());
    assert_eq!(server.node.mempool_len(), 2);

    // The client gives each item back as the single call would have.
    let third = chain.tx(4, TestChain::transfer_to(chain.address(0), 8));
    let answers = server
        .client
        .submit_batch(&[third.clone(), good])
        .await
        .unwrap();
    assert_eq!(answers[0].as_ref().unwrap().tx_hash, third.hash());
    let Err(ClientError::Api { status, code, .. }) = &answers[1] else {
        panic!("the duplicate was accepted: {:?}", answers[1]);
    };
    assert_eq!((*status, code.as_str()), (409, "already_known"));
}

#[tokio::test]
async fn an_empty_batch_has_no_results() {
    let server = start(TestNode::manual(10), unlimited()).await;
    let (status, body) = post(&server, "[]".to_owned()).await;
    assert_eq!((status, body), (200, json!({"results": []})));
    assert!(server.client.submit_batch(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn over_the_caps_and_malformed_batches_are_refused_whole() {
    let server = start(TestNode::manual(1_000), unlimited()).await;
    let doc = server.client.openapi().await.unwrap();
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(0), 5));
    let too_many = vec![tx; TX_BATCH_TXS_MAX + 1];
    let error = server.client.submit_batch(&too_many).await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(413), Some("batch_too_large"))
    );

    let oversized = format!("[\"{}\"]", "0".repeat(TX_BATCH_BODY_BYTES_MAX));
    let (status, body) = post(&server, oversized).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    assert_valid(&doc, "post", "/v1/txs/batch", 413, &body);

    for malformed in [r#"{"tx_hex": "00"}"#, "[1, 2]", "[\"00\""] {
        let (status, body) = post(&server, malformed.to_owned()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("malformed_json")),
            "{malformed}"
        );
        assert_valid(&doc, "post", "/v1/txs/batch", 400, &body);
    }
    let response = reqwest::Client::new()
        .post(server.url("/v1/txs/batch"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 8])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        server.node.mempool_len(),
        0,
        "nothing of a refused batch is admitted"
    );
}

#[tokio::test]
async fn the_rate_limit_counts_each_transaction() {
    let config = ApiConfig {
        rate_limit: Some(RateLimitConfig {
            requests_per_s: 1,
            burst: 4,
            clients_max: 10,
        }),
        ..unlimited()
    };
    let server = start(TestNode::manual(100), config).await;
    let chain = server.node.chain();
    let txs: Vec<SignedTransaction> = (1..=6)
        .map(|i| chain.tx(i, TestChain::transfer_to(chain.address(0), 5)))
        .collect();
    // Larger than the burst, it still goes through once, leaving the bucket in debt.
    let answers = server.client.submit_batch(&txs).await.unwrap();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let error = server.client.status().await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(429), Some("rate_limited"))
    );
    let ClientError::Api { retry_after_s, .. } = error else {
        panic!("not an API error");
    };
    assert!(
        retry_after_s >= Some(2),
        "6 tokens taken from 4: wait for 3"
    );
}

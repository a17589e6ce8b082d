//! Body caps (413) and the per-client rate limit (429).

use aifactory_api::{ApiConfig, RateLimitConfig, TX_BODY_BYTES_MAX};
use aifactory_client::ClientError;
use aifactory_types::Hash;
use bytes::Bytes;

use crate::fixture::{TestNode, start, unlimited};

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_streamed() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let http = reqwest::Client::new();
    let big = format!(r#"{{"tx_hex": "{}"}}"#, "00".repeat(TX_BODY_BYTES_MAX));
    let declared = http
        .post(server.url("/v1/txs"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(declared).await, (413, "body_too_large".into()));

    // Without a Content-Length the body is counted as it arrives.
    let chunks = big
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let streamed = http
        .post(server.url("/v1/txs"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(streamed).await, (413, "body_too_large".into()));

    let raw = http
        .post(server.url("/v1/txs"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; aifactory_types::limits::TX_BYTES_MAX + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(raw).await, (413, "body_too_large".into()));

    let blob = vec![7u8; 1024 * 1024 + 1];
    let hash = Hash::from(blake3::hash(&blob));
    let error = server
        .client
        .put_blob(&hash, Bytes::from(blob))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(413), Some("body_too_large"))
    );
}

#[tokio::test]
async fn a_client_over_its_rate_is_429_with_retry_after() {
    let config = ApiConfig {
        rate_limit: Some(RateLimitConfig {
            requests_per_s: 1,
            burst: 5,
            clients_max: 16,
        }),
        ..unlimited()
    };
    let server = start(TestNode::sealing(), config).await;
    for _ in 0..5 {
        server.client.status().await.expect("within the burst");
    }
    let error = server.client.status().await.unwrap_err();
    let ClientError::Api {
        status,
        code,
        retry_after_s,
        ..
    } = error
    else {
        panic!("not an API error: {error}");
    };
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert_eq!(retry_after_s, Some(1));
    let unknown_route = reqwest::get(server.url("/v1/nope")).await.unwrap();
    assert_eq!(
        unknown_route.status().as_u16(),
        429,
        "every route is limited"
    );
}

//! Body caps (413), the per-client rate limit (429), and the connection cap and idle timeout.

use std::time::Duration;

use aifactory_api::{ApiConfig, ConnectionLimits, RateLimitConfig, TX_BODY_BYTES_MAX, serve_with};
use aifactory_client::ClientError;
use aifactory_types::Hash;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Serves the API over a fresh test node under `limits`; returns its address.
async fn serve_limited(limits: ConnectionLimits) -> std::net::SocketAddr {
    let router = aifactory_api::router(TestNode::sealing(), unlimited(), axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve_with(listener, router, limits, std::future::pending()));
    address
}

/// Sends a status request on `stream` and reads the start of the answer.
async fn ask_status(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /v1/status HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    status_line(stream).await
}

/// The start of the next answer on `stream`.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let limits = ConnectionLimits {
        connections_max: 2,
        idle_timeout: Duration::from_secs(60),
    };
    let address = serve_limited(limits).await;
    let mut first = TcpStream::connect(address).await.unwrap();
    let mut second = TcpStream::connect(address).await.unwrap();
    assert_eq!(ask_status(&mut first).await, "HTTP/1.1 200");
    assert_eq!(ask_status(&mut second).await, "HTTP/1.1 200");

    // The third is not served while both slots are held...
    let mut third = TcpStream::connect(address).await.unwrap();
    third
        .write_all(b"GET /v1/status HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(500), status_line(&mut third)).await;
    assert!(
        waiting.is_err(),
        "a third connection was served past a cap of two"
    );
    // ...and is once one of them closes.
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(10), status_line(&mut third))
        .await
        .expect("served once a slot freed");
    assert_eq!(answer, "HTTP/1.1 200");
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_gives_its_slot_back() {
    let limits = ConnectionLimits {
        connections_max: 1,
        idle_timeout: Duration::from_millis(300),
    };
    let address = serve_limited(limits).await;
    // A client that connects and sends nothing holds the only slot, until the idle timeout.
    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "an idle connection was never closed");
    let mut next = TcpStream::connect(address).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), ask_status(&mut next))
        .await
        .expect("the slot came back");
    assert_eq!(answer, "HTTP/1.1 200");
}

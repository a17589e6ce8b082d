//! The blob store over HTTP: round trips, idempotent puts, and content that does not match
//! its name.

use aifactory_api::BlobLookup;
use aifactory_types::Hash;
use bytes::Bytes;
use futures::StreamExt;
use rand::{RngCore, SeedableRng};

use crate::fixture::{TestNode, start, unlimited};

fn random_blob(len: usize) -> Bytes {
    let mut bytes = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut bytes);
    Bytes::from(bytes)
}

#[tokio::test]
async fn put_then_get_round_trips() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let blob = random_blob(300_000);
    let hash = Hash::from(blake3::hash(&blob));
    let stored = server.client.put_blob(&hash, blob.clone()).await.unwrap();
    assert_eq!(
        (stored.hash, stored.size, stored.created),
        (hash, 300_000, true)
    );
    assert_eq!(server.client.get_blob(&hash).await.unwrap(), blob);

    let again = server.client.put_blob(&hash, blob.clone()).await.unwrap();
    assert!(
        !again.created,
        "a second put of the same content is a no-op"
    );

    let mut streamed = Vec::new();
    let mut chunks = server
        .client
        .get_blob_stream(&hash, BlobLookup::Local)
        .await
        .unwrap();
    while let Some(chunk) = chunks.next().await {
        streamed.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(streamed, blob);

    let chunks: Vec<Result<Bytes, std::io::Error>> =
        blob.chunks(10_000).map(|c| Ok(blob.slice_ref(c))).collect();
    let other = random_blob(10);
    let other_hash = Hash::from(blake3::hash(&other));
    let error = server
        .client
        .put_blob_stream(&other_hash, futures::stream::iter(chunks))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(422), Some("blob_hash_mismatch"))
    );
}

#[tokio::test]
async fn content_that_does_not_match_its_hash_is_422_and_not_stored() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let blob = random_blob(5_000);
    let wrong = Hash([3; 32]);
    let error = server.client.put_blob(&wrong, blob).await.unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (Some(422), Some("blob_hash_mismatch"))
    );
    let missing = server.client.get_blob(&wrong).await.unwrap_err();
    assert_eq!(
        (missing.status(), missing.code()),
        (Some(404), Some("blob_not_found"))
    );
    let url = format!("{}v1/blobs/{wrong}?local=perhaps", server.client.base_url());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_query", "{body}");

    let empty = Bytes::new();
    let empty_hash = Hash::from(blake3::hash(&empty));
    assert_eq!(
        server
            .client
            .put_blob(&empty_hash, empty)
            .await
            .unwrap()
            .size,
        0
    );
    assert!(
        server
            .client
            .get_blob(&empty_hash)
            .await
            .unwrap()
            .is_empty()
    );
}

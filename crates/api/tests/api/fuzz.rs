//! Hostile input never produces a 5xx, and never costs an honest transaction its place:
//! random bytes and random JSON go to `POST /v1/txs` interleaved with valid transactions,
//! and afterwards every accepted transaction is included and the server still answers.

use aifactory_api::views::TxStatus;
use aifactory_ledger::testing::TestChain;
use aifactory_types::Hash;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::fixture::{TestNode, start, unlimited};

fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.r#gen()),
        2 => json!(rng.r#gen::<i64>()),
        3 => {
            let len = rng.gen_range(0..40);
            let hex_ish: String = (0..len)
                .map(|_| "0123456789abcdefxyz"[rng.gen_range(0..19)..][..1].to_owned())
                .collect();
            Value::String(hex_ish)
        }
        4 => json!(rng.r#gen::<f64>()),
        5 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = ["tx_hex", "tx", "signature", "a"];
            let object = (0..rng.gen_range(0..4))
                .map(|_| {
                    (
                        keys[rng.gen_range(0..keys.len())].to_owned(),
                        random_json(rng, depth - 1),
                    )
                })
                .collect();
            Value::Object(object)
        }
    }
}

fn random_body(rng: &mut StdRng, valid: &[u8]) -> (&'static str, Vec<u8>) {
    match rng.gen_range(0..4) {
        0 => {
            let len = rng.gen_range(0..600);
            (
                "application/octet-stream",
                (0..len).map(|_| rng.r#gen()).collect(),
            )
        }
        1 => (
            "application/json",
            random_json(rng, 3).to_string().into_bytes(),
        ),
        2 => {
            // A valid transaction with a few bytes flipped: deep into the decoder.
            let mut bytes = valid.to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= rng.gen_range(1..=255u8);
            }
            (
                "application/json",
                json!({ "tx_hex": hex::encode(bytes) })
                    .to_string()
                    .into_bytes(),
            )
        }
        _ => {
            let cut = rng.gen_range(0..valid.len());
            ("application/octet-stream", valid[..cut].to_vec())
        }
    }
}

#[tokio::test]
async fn random_submissions_never_5xx_and_lose_nothing() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let http = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(0xa1f);
    let mut chain = server.node.chain();
    let mut accepted: Vec<Hash> = Vec::new();
    for round in 0..400 {
        if round % 20 == 0 {
            let sender = 1 + (round / 20) % 3;
            let tx = chain.tx(
                sender,
                TestChain::transfer_to(chain.address(5), 1 + round as u64),
            );
            accepted.push(server.client.submit_tx(&tx).await.unwrap().tx_hash);
            chain = server.node.chain();
        }
        let template = chain
            .tx(4, TestChain::transfer_to(chain.address(6), 3))
            .encode();
        let (content_type, body) = random_body(&mut rng, &template);
        let response = http
            .post(server.url("/v1/txs"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            !status.is_server_error(),
            "{status} for {content_type} {}",
            hex::encode(&body)
        );
        if status.is_success() {
            // A flip that still decodes and verifies (it can hit no signed byte only by
            // changing nothing, which the XOR rules out), so nothing should get here.
            panic!("random input was accepted: {}", hex::encode(&body));
        }
        let error: Value = response.json().await.expect("every error is JSON");
        assert!(error["error"]["code"].is_string(), "{error}");
    }
    for hash in &accepted {
        let status = server.client.tx(hash).await.unwrap().status;
        assert!(
            matches!(status, TxStatus::Included { .. }),
            "{hash} lost: {status:?}"
        );
    }
    let height = server.client.status().await.unwrap().height;
    assert_eq!(
        height as usize,
        accepted.len(),
        "one block per accepted transaction"
    );
}

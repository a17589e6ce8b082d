//! Submitting transactions and reading what became of them: statuses, receipts, blocks and
//! account proofs, and every way a submission can be refused.

use aifactory_api::views::{BlockId, TxStatus};
use aifactory_client::ClientError;
use aifactory_ledger::testing::{TestChain, test_key};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Hash, SignedTransaction, TxError, TxOutcome};

use crate::fixture::{BALANCE, TestNode, start, unlimited};

/// The server's error code and status, or a panic if the call succeeded.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String, ClientError) {
    let error = result.expect_err("the call should have been refused");
    let status = error
        .status()
        .unwrap_or_else(|| panic!("no answer: {error}"));
    let code = error
        .code()
        .unwrap_or_else(|| panic!("no API error body: {error}"))
        .to_owned();
    (status, code, error)
}

fn details(error: &ClientError) -> serde_json::Value {
    match error {
        ClientError::Api { details, .. } => details.clone().expect("details"),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn submit_then_status_then_account_with_proof() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let to = chain.address(2);
    let tx = chain.tx(1, TestChain::transfer_to(to, 12_345));
    let accepted = server.client.submit_tx(&tx).await.unwrap();
    assert_eq!(accepted.tx_hash, tx.hash());

    let view = server.client.tx(&tx.hash()).await.unwrap();
    let TxStatus::Included {
        height,
        block_hash,
        index,
        receipt,
    } = view.status
    else {
        panic!("not included: {:?}", view.status);
    };
    assert_eq!((height, index), (1, 0));
    assert_eq!(receipt.outcome, TxOutcome::Success);
    assert_eq!(receipt.tx_hash, tx.hash());

    let account = server.client.account(&to).await.unwrap();
    assert!(
        account.proof.verify(&account.state_root),
        "the proof checks against the root"
    );
    assert_eq!(account.proof.account.balance, BALANCE + 12_345);
    assert_eq!(account.height, 1);
    let mut forged = account.proof.clone();
    forged.account.balance += 1;
    assert!(!forged.verify(&account.state_root));

    let status = server.client.status().await.unwrap();
    assert_eq!(status.chain_id, "aifactory-test");
    assert_eq!((status.height, status.finalized_height), (1, 1));
    assert_eq!(status.state_root, account.state_root);
    assert_eq!(status.last_block_hash, block_hash);

    for id in [
        BlockId::Height(1),
        BlockId::Hash(block_hash),
        BlockId::Latest,
    ] {
        let block = server.client.block(id).await.unwrap();
        assert_eq!(block.hash, block_hash);
        assert_eq!(block.block.hash(), block_hash, "the hash is the header's");
        assert_eq!(block.block.txs.to_vec(), vec![tx.clone()]);
        assert_eq!(block.receipts, Some(vec![receipt.clone()]));
        assert_eq!(block.block.header.state_root, account.state_root);
    }
}

#[tokio::test]
async fn raw_octet_stream_submission_is_accepted() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let tx = chain.tx(3, TestChain::transfer_to(chain.address(4), 1));
    let accepted = server.client.submit_tx_bytes(tx.encode()).await.unwrap();
    assert_eq!(accepted.tx_hash, tx.hash());
}

#[tokio::test]
async fn malformed_submissions_are_400_with_the_reason() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let (status, code, _) = refusal(server.client.submit_tx_hex("zz-not-hex").await);
    assert_eq!((status, code.as_str()), (400, "malformed_hex"));

    let garbage = vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
    let decoder = SignedTransaction::decode(&garbage).unwrap_err().to_string();
    for result in [
        server.client.submit_tx_hex(&hex::encode(&garbage)).await,
        server.client.submit_tx_bytes(garbage.clone()).await,
    ] {
        let (status, code, error) = refusal(result);
        assert_eq!((status, code.as_str()), (400, "malformed_transaction"));
        let ClientError::Api { message, .. } = error else {
            unreachable!()
        };
        assert_eq!(message, decoder, "the decoder's own message");
    }

    let http = reqwest::Client::new();
    let cases: [(&str, &[u8], u16, &str); 4] = [
        ("application/json", b"{not json", 400, "malformed_json"),
        (
            "application/json",
            br#"{"tx_hex": "00", "extra": 1}"#,
            400,
            "malformed_json",
        ),
        (
            "application/json",
            br#"{"tx": "00"}"#,
            400,
            "malformed_json",
        ),
        ("text/plain", b"00", 415, "unsupported_media_type"),
    ];
    for (content_type, body, status, code) in cases {
        let response = http
            .post(server.url("/v1/txs"))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            status,
            "{content_type} {body:?}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let mut forged = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    forged.signature.0[0] ^= 1;
    let (status, code, _) = refusal(server.client.submit_tx(&forged).await);
    assert_eq!((status, code.as_str()), (422, "bad_signature"));

    let mut tampered = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    tampered.tx.fee += 1;
    let (status, code, _) = refusal(server.client.submit_tx(&tampered).await);
    assert_eq!((status, code.as_str()), (422, "bad_signature"));
    assert!(
        server
            .client
            .tx(&tampered.hash())
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn replayed_nonce_is_refused_with_the_ledgers_error() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    server.client.submit_tx(&tx).await.unwrap();
    let (status, code, error) = refusal(server.client.submit_tx(&tx).await);
    assert_eq!((status, code.as_str()), (409, "nonce_replayed"));
    let expected = TxError::NonceReplayed {
        expected: 1,
        got: 0,
    };
    assert_eq!(details(&error), serde_json::to_value(&expected).unwrap());
    let ClientError::Api { message, .. } = error else {
        unreachable!()
    };
    assert_eq!(message, expected.to_string());
}

#[tokio::test]
async fn admission_errors_are_422_with_the_ledgers_error() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let payload = TestChain::transfer_to(chain.address(2), 5);

    let mut other_chain = chain.unsigned(1, payload.clone());
    other_chain.chain_id = ChainId::new("another-chain").unwrap();
    let (status, code, error) = refusal(server.client.submit_tx(&chain.sign(1, other_chain)).await);
    assert_eq!((status, code.as_str()), (422, "wrong_chain_id"));
    let expected = TxError::WrongChainId {
        expected: "aifactory-test".into(),
        got: "another-chain".into(),
    };
    assert_eq!(details(&error), serde_json::to_value(&expected).unwrap());

    let mut future = chain.unsigned(1, payload.clone());
    future.nonce = 5;
    let (status, code, _) = refusal(server.client.submit_tx(&chain.sign(1, future)).await);
    assert_eq!((status, code.as_str()), (422, "nonce_from_future"));

    let stranger = test_key(99);
    let mut unknown = chain.unsigned(1, payload);
    unknown.sender = stranger.address();
    let (status, code, _) = refusal(server.client.submit_tx(&unknown.sign(&stranger)).await);
    assert_eq!((status, code.as_str()), (422, "unknown_account"));
}

#[tokio::test]
async fn an_overdraft_is_included_with_a_failed_receipt() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), BALANCE * 2));
    server.client.submit_tx(&tx).await.unwrap();
    let TxStatus::Included { receipt, .. } = server.client.tx(&tx.hash()).await.unwrap().status
    else {
        panic!("an overdraft is still included");
    };
    assert!(matches!(
        receipt.outcome,
        TxOutcome::Failed(TxError::InsufficientFunds { .. })
    ));
    let fee = chain.state.params().fee_min;
    assert_eq!(receipt.fee_paid, fee);
    let sender = server.client.account(&chain.address(1)).await.unwrap();
    assert_eq!(
        sender.proof.account.balance,
        BALANCE - fee,
        "only the fee left"
    );
    assert_eq!(sender.proof.account.nonce, 1, "the nonce is used");
}

#[tokio::test]
async fn unknown_things_are_404_and_bad_ids_400() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let client = &server.client;
    let (status, code, _) = refusal(client.account(&test_key(77).address()).await);
    assert_eq!((status, code.as_str()), (404, "account_not_found"));
    let (status, code, _) = refusal(client.block(BlockId::Height(999)).await);
    assert_eq!((status, code.as_str()), (404, "block_not_found"));
    let (status, code, _) = refusal(client.block(BlockId::Latest).await);
    assert_eq!(
        (status, code.as_str()),
        (404, "block_not_found"),
        "no blocks yet"
    );
    let (status, code, _) = refusal(client.block(BlockId::Hash(Hash([5; 32]))).await);
    assert_eq!((status, code.as_str()), (404, "block_not_found"));
    let (status, code, _) = refusal(client.tx(&Hash([6; 32])).await);
    assert_eq!((status, code.as_str()), (404, "tx_not_found"));

    let http = reqwest::Client::new();
    let cases = [
        (
            "GET",
            "/v1/accounts/aif1notanaddress",
            400,
            "malformed_address",
        ),
        ("GET", "/v1/blocks/twelve", 400, "malformed_block_id"),
        (
            "GET",
            "/v1/blocks/99999999999999999999",
            400,
            "malformed_block_id",
        ),
        ("GET", "/v1/txs/abcd", 400, "malformed_hash"),
        ("GET", "/v1/txs/%FF%FE", 400, "malformed_path"),
        ("GET", "/v1/blobs/xyz", 400, "malformed_hash"),
        ("GET", "/v1/nope", 404, "route_not_found"),
        ("GET", "/", 404, "route_not_found"),
        ("DELETE", "/v1/status", 405, "method_not_allowed"),
        ("POST", "/v1/accounts/x", 405, "method_not_allowed"),
        ("GET", "/v1/txs", 405, "method_not_allowed"),
    ];
    for (method, path, status, code) in cases {
        let response = http
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{method} {path}");
    }
}

#[tokio::test]
async fn pending_duplicates_and_a_full_mempool() {
    let server = start(TestNode::manual(2), unlimited()).await;
    let chain = server.node.chain();
    let txs: Vec<SignedTransaction> = (1..=3)
        .map(|i| chain.tx(i, TestChain::transfer_to(chain.address(0), 7)))
        .collect();
    server.client.submit_tx(&txs[0]).await.unwrap();
    server.client.submit_tx(&txs[1]).await.unwrap();
    assert_eq!(
        server.client.tx(&txs[0].hash()).await.unwrap().status,
        TxStatus::Pending
    );

    let (status, code, _) = refusal(server.client.submit_tx(&txs[0]).await);
    assert_eq!((status, code.as_str()), (409, "already_known"));
    let (status, code, error) = refusal(server.client.submit_tx(&txs[2]).await);
    assert_eq!((status, code.as_str()), (503, "mempool_full"));
    assert!(matches!(
        error,
        ClientError::Api {
            retry_after_s: Some(1),
            ..
        }
    ));

    server.node.seal();
    for tx in &txs[..2] {
        let status = server.client.tx(&tx.hash()).await.unwrap().status;
        assert!(
            matches!(status, TxStatus::Included { height: 1, .. }),
            "{status:?}"
        );
    }
    server
        .client
        .submit_tx(&txs[2])
        .await
        .expect("room again after the block");
}

#[tokio::test]
async fn extra_routes_are_served_alongside_the_api() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let body = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "aifactory_test_metric 1\n");
}

#[tokio::test]
async fn a_bug_in_the_node_is_a_json_500_and_the_server_keeps_serving() {
    let server = start(TestNode::with_status_bug(), unlimited()).await;
    let (status, code, _) = refusal(server.client.status().await);
    assert_eq!((status, code.as_str()), (500, "internal_error"));
    let chain = server.node.chain();
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    server
        .client
        .submit_tx(&tx)
        .await
        .expect("other routes still answer");
    let (status, _, _) = refusal(server.client.status().await);
    assert_eq!(status, 500, "and the buggy one still answers in JSON");
}

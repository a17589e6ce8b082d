//! The deployment, channel and challenge routes over a chain where a settled model is
//! deployed, a channel is open and claimed, and an answer is challenged with two votes: every
//! get proves its entries against one root (a tampered or
//! substituted entry is refused by the client's check), unknown ids are 404 and malformed ones
//! 400, and every body validates against the served document.

use aifactory_api::views::lifecycle::{PageRequest, ProofError};
use aifactory_ledger::testing::lifecycle::{Cast, job_terms};
use aifactory_ledger::testing::{TEST_CHAIN_ID, TestChain, test_key};
use aifactory_types::amount::BASE_UNITS_PER_AIF;
use aifactory_types::lifecycle::{
    ChallengeReceipt, ClaimChannels, Deploy, InferenceReceipt, JobStatus, OpenChannel, Verdict,
    VoteChallenge, sign_voucher,
};
use aifactory_types::transaction::ChainId;
use aifactory_types::{BoundedString, BoundedVec, Hash, Payload};
use serde_json::Value;

use crate::fixture::{TestNode, TestServer, start, unlimited};
use crate::schema::assert_valid;

const GATEWAY: usize = 10;
const CONSUMER: usize = 11;

/// A settled job's model (id 2) deployed by key 10 (deployment 1), channel 1 from key 11 with
/// 2,000 of its 10,000 claimed, and challenge 1 of one of its answers by key 11, with votes
/// from keys 1 and 2.
async fn deployed() -> TestServer {
    let mut chain = TestChain::new(12, 10_000_000_000_000);
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300)],
        validators: vec![(6, 800_000), (7, 810_000), (8, 900_000)],
    };
    let scripted = chain.run_job(&cast, job_terms(0, 2, 1_000_000));
    let JobStatus::Settled { model, .. } = chain.state.job(scripted.job).unwrap().status else {
        panic!("settles");
    };
    let deploy = Deploy {
        model,
        price_per_call: 100,
        gateway_bps: 2_000,
        stake: 100_000_000_000,
        url: BoundedString::new("http://127.0.0.1:9").unwrap(),
    };
    chain.build_ok(vec![chain.tx(GATEWAY, Payload::Deploy(deploy))]);
    let expiry_height = chain.state.height() + 1_000;
    let open = OpenChannel {
        deployment: 1,
        deposit: 10_000_000,
        expiry_height,
    };
    chain.build_ok(vec![chain.tx(CONSUMER, Payload::OpenChannel(open))]);
    let chain_id = ChainId::new(TEST_CHAIN_ID).unwrap();
    let voucher = sign_voucher(&test_key(CONSUMER), &chain_id, 1, 2_000);
    let claim = ClaimChannels {
        claims: BoundedVec::new(vec![voucher]).unwrap(),
    };
    chain.build_ok(vec![chain.tx(GATEWAY, Payload::ClaimChannels(claim))]);
    let deployment = chain.state.deployment(1).unwrap();
    let receipt = InferenceReceipt {
        chain_id,
        deployment: 1,
        model: deployment.model,
        model_hash: deployment.model_hash,
        channel: 1,
        amount: 2_000,
        input_hash: Hash([1; 32]),
        output_hash: Hash([2; 32]),
        height: chain.state.height(),
    }
    .sign(&test_key(GATEWAY));
    let challenge = ChallengeReceipt {
        receipt,
        bond: BASE_UNITS_PER_AIF,
    };
    chain.build_ok(vec![chain.tx(CONSUMER, Payload::Challenge(challenge))]);
    let vote = |verdict| {
        Payload::VoteChallenge(VoteChallenge {
            challenge: 1,
            verdict,
            stake: BASE_UNITS_PER_AIF,
        })
    };
    chain.build_ok(vec![
        chain.tx(1, vote(Verdict::GatewayWrong)),
        chain.tx(2, vote(Verdict::GatewayRight)),
    ]);
    start(TestNode::sealing_over(chain), unlimited()).await
}

#[tokio::test]
async fn deployments_and_channels_prove_their_entries() {
    let server = deployed().await;
    let client = &server.client;
    let view = client.deployment(1).await.unwrap();
    let deployment = &view.deployment.value;
    assert_eq!(deployment.gateway, test_key(GATEWAY).address());
    assert_eq!(deployment.claimed_total, 2_000);
    assert_eq!(view.model.key, deployment.model);
    let settlement = view
        .settlement
        .as_ref()
        .expect("a trained model's settlement");
    assert_eq!(settlement.value.providers.len(), 2);

    let mut cheaper = view.clone();
    cheaper.deployment.value.price_per_call = 1;
    assert!(matches!(cheaper.verify(1), Err(ProofError::Invalid { .. })));
    assert!(matches!(view.verify(2), Err(ProofError::WrongEntry { .. })));
    let mut hidden = view.clone();
    hidden.settlement = None;
    assert!(matches!(
        hidden.verify(1),
        Err(ProofError::Incomplete { .. })
    ));

    let channel = client.channel(1).await.unwrap();
    assert_eq!(
        (channel.channel.value.deposit, channel.channel.value.claimed),
        (10_000_000, 2_000)
    );
    assert_eq!(channel.deployment, view.deployment);
    let mut richer = channel.clone();
    richer.channel.value.claimed = 0;
    assert!(richer.verify(1).is_err());

    let consumer = test_key(CONSUMER).address();
    let mine = client.account_channels(&consumer).await.unwrap();
    assert_eq!(mine.channels.len(), 1);
    let theirs = client
        .account_channels(&test_key(GATEWAY).address())
        .await
        .unwrap();
    assert!(theirs.channels.is_empty());
    let mut stolen = mine.clone();
    stolen.consumer = test_key(GATEWAY).address();
    assert!(stolen.verify(&test_key(GATEWAY).address()).is_err());

    let all = client.deployments(PageRequest::default()).await.unwrap();
    assert_eq!(all.items.len(), 1);
    let of_model = client
        .model_deployments(deployment.model, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(of_model.items, all.items);
    let of_other = client
        .model_deployments(1, PageRequest::default())
        .await
        .unwrap();
    assert!(of_other.items.is_empty());

    let challenge = client.challenge(1).await.unwrap();
    assert_eq!(challenge.challenge.value.voters, 2);
    assert_eq!(challenge.votes.len(), 2);
    assert_eq!(challenge.deployment.key, 1);
    let mut dropped = challenge.clone();
    dropped.votes.pop();
    assert!(matches!(
        dropped.verify(1),
        Err(ProofError::Incomplete { .. })
    ));
    let mut swapped = challenge.clone();
    swapped.votes.reverse();
    assert!(swapped.verify(1).is_err(), "out of order");
    let mut flipped = challenge.clone();
    flipped.votes[0].value.verdict = Verdict::GatewayRight;
    assert!(matches!(flipped.verify(1), Err(ProofError::Invalid { .. })));
    let page = client.challenges(PageRequest::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].challenge, challenge.challenge.value);
}

#[tokio::test]
async fn inference_bodies_validate_against_the_document() {
    let server = deployed().await;
    let doc = server.client.openapi().await.unwrap();
    let http = reqwest::Client::new();
    let consumer = test_key(CONSUMER).address().to_string();
    let consumer_channels = format!("/v1/accounts/{consumer}/channels");
    for (path, route, status, code) in [
        ("/v1/deployments", "/v1/deployments", 200, None),
        (
            "/v1/deployments?limit=0",
            "/v1/deployments",
            400,
            Some("malformed_limit"),
        ),
        ("/v1/deployments/1", "/v1/deployments/{id}", 200, None),
        (
            "/v1/deployments/9",
            "/v1/deployments/{id}",
            404,
            Some("deployment_not_found"),
        ),
        (
            "/v1/deployments/x",
            "/v1/deployments/{id}",
            400,
            Some("malformed_id"),
        ),
        (
            "/v1/models/2/deployments",
            "/v1/models/{id}/deployments",
            200,
            None,
        ),
        (
            "/v1/models/9/deployments",
            "/v1/models/{id}/deployments",
            404,
            Some("model_not_found"),
        ),
        ("/v1/channels/1", "/v1/channels/{id}", 200, None),
        (
            "/v1/channels/2",
            "/v1/channels/{id}",
            404,
            Some("channel_not_found"),
        ),
        (
            consumer_channels.as_str(),
            "/v1/accounts/{address}/channels",
            200,
            None,
        ),
        (
            "/v1/accounts/nope/channels",
            "/v1/accounts/{address}/channels",
            400,
            Some("malformed_address"),
        ),
        ("/v1/challenges", "/v1/challenges", 200, None),
        ("/v1/challenges/1", "/v1/challenges/{id}", 200, None),
        (
            "/v1/challenges/2",
            "/v1/challenges/{id}",
            404,
            Some("challenge_not_found"),
        ),
        (
            "/v1/challenges/-1",
            "/v1/challenges/{id}",
            400,
            Some("malformed_id"),
        ),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_valid(&doc, "get", route, status, &body);
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code, "{path}");
        }
    }
}

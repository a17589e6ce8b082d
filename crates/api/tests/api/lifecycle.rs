//! The lifecycle's routes over a chain that ran real lifecycle transactions: every get proves
//! its entries against the one root it names (and a tampered or substituted entry is refused
//! by the client's check), unknown ids are 404 and malformed ones 400, lists page within their
//! bounds, and every body validates against the served document.

use aifactory_api::views::TxStatus;
use aifactory_api::views::lifecycle::{LIST_LIMIT_MAX, PageRequest, ProofError};
use aifactory_ledger::testing::TestChain;
use aifactory_types::amount::BASE_UNITS_PER_AIF;
use aifactory_types::lifecycle::{
    BudgetSplit, ClaimJob, JobDeadlines, JobTerms, JoinJob, Licence, LocalTraining, ModelArtifact,
    PhaseData, PostPhase, RegisterDataset, RegisterModel, ServerOptimiser,
};
use aifactory_types::{BoundedString, Hash, Payload, TxOutcome};
use serde_json::Value;

use crate::fixture::{TestNode, TestServer, start, unlimited};
use crate::schema::assert_valid;

/// Each test account's balance: enough for stakes and a budget.
const BALANCE_AIF: u64 = 10_000;

/// The providers (keys 1 to 3), the trainer (key 4) and the sponsor and developer (key 0).
const PROVIDERS: [usize; 3] = [1, 2, 3];
const TRAINER: usize = 4;
const SPONSOR: usize = 0;

/// Submits `payload` from key `index` and asserts that its action took effect.
async fn submit(server: &TestServer, index: usize, payload: Payload) {
    let tx = server.node.chain().tx(index, payload);
    let accepted = server.client.submit_tx(&tx).await.unwrap();
    let view = server.client.tx(&accepted.tx_hash).await.unwrap();
    match view.status {
        TxStatus::Included { receipt, .. } => {
            assert_eq!(receipt.outcome, TxOutcome::Success, "{:?}", tx.tx.payload)
        }
        other => panic!("{:?} was not included: {other:?}", tx.tx.payload),
    }
}

fn dataset(rows: u64) -> Payload {
    Payload::RegisterDataset(RegisterDataset {
        schema: Hash([1; 32]),
        rows,
        rows_root: Hash([2; 32]),
        licence: Licence::Spdx(BoundedString::new("CC-BY-4.0").unwrap()),
        price: 0,
        quality_report: Hash([3; 32]),
        anonymity_report: Hash([4; 32]),
        stake: BASE_UNITS_PER_AIF,
    })
}

fn model() -> Payload {
    Payload::RegisterModel(RegisterModel {
        artifact: ModelArtifact::Spec(Hash([5; 32])),
        royalty_bps: 500,
        licence: Licence::Spdx(BoundedString::new("Apache-2.0").unwrap()),
        parent: None,
    })
}

/// Plain FedAvg on model 1 with exactly two providers, so training starts as the second joins.
fn terms() -> JobTerms {
    JobTerms {
        model: 1,
        providers_min: 2,
        providers_max: 2,
        rounds: 2,
        training: LocalTraining {
            epochs: 1,
            batch_size: 16,
            learning_rate: 10_000,
            seed: 7,
        },
        server: ServerOptimiser {
            learning_rate: 1_000_000,
            momentum: 0,
        },
        target: 500_000,
        tolerance: 50_000,
        validators_min: 1,
        validators_max: 3,
        deadlines: JobDeadlines {
            recruit_blocks: 100,
            phase_blocks: 100,
            aggregate_blocks: 100,
            commit_blocks: 100,
            reveal_blocks: 100,
        },
        split: BudgetSplit {
            trainer_bps: 2_000,
            providers_bps: 5_000,
            developer_bps: 1_000,
            validators_bps: 1_500,
            treasury_bps: 500,
        },
        trainer_stake: 10 * BASE_UNITS_PER_AIF,
        validator_stake: BASE_UNITS_PER_AIF,
        budget: 100 * BASE_UNITS_PER_AIF,
        ..JobTerms::default()
    }
}

/// A chain with three datasets (ids 1 to 3 from keys 1 to 3) and one model (id 1).
async fn registry() -> TestServer {
    let chain = TestChain::new(8, BALANCE_AIF * BASE_UNITS_PER_AIF);
    let server = start(TestNode::sealing_over(chain), unlimited()).await;
    for (rows, provider) in (100..).zip(PROVIDERS) {
        submit(&server, provider, dataset(rows)).await;
    }
    submit(&server, SPONSOR, model()).await;
    server
}

/// [`registry`] with job 1 opened, claimed, and joined by the first two providers, which
/// starts its first round (sequence 0); the first provider has posted its update.
async fn running_job() -> TestServer {
    let server = registry().await;
    submit(&server, SPONSOR, Payload::OpenJob(terms())).await;
    submit(&server, TRAINER, Payload::ClaimJob(ClaimJob { job: 1 })).await;
    let terms_hash = terms().hash();
    for (dataset, provider) in (1..).zip(&PROVIDERS[..2]) {
        let join = JoinJob {
            job: 1,
            dataset,
            terms_hash,
        };
        submit(&server, *provider, Payload::JoinJob(join)).await;
    }
    let post = PostPhase {
        job: 1,
        round: 0,
        phase: 0,
        data: PhaseData::Blob(Hash([9; 32])),
    };
    submit(&server, PROVIDERS[0], Payload::PostPhase(post)).await;
    server
}

#[tokio::test]
async fn registry_entries_verify_and_tampered_ones_do_not() {
    let server = registry().await;
    let view = server.client.dataset(2).await.unwrap();
    assert_eq!((view.dataset.key, view.dataset.value.rows), (2, 101));
    assert_eq!(view.dataset.value.provider, server.node.chain().address(2));

    let mut richer = view.clone();
    richer.dataset.value.price += 1;
    assert!(matches!(richer.verify(2), Err(ProofError::Invalid { .. })));
    let mut rerooted = view.clone();
    rerooted.state_root = Hash([7; 32]);
    assert!(matches!(
        rerooted.verify(2),
        Err(ProofError::Invalid { .. })
    ));
    assert!(matches!(view.verify(3), Err(ProofError::WrongEntry { .. })));

    let model = server.client.model(1).await.unwrap();
    let mut other = model.clone();
    other.model.value.royalty_bps = 0;
    assert!(other.verify(1).is_err());

    let provenance = server.client.provenance(1).await.unwrap();
    assert_eq!(
        provenance.model, model.model,
        "the same entry, proven the same way"
    );
    assert!(provenance.job.is_none() && provenance.datasets.is_empty());
    assert!(provenance.parent.is_none());
}

#[tokio::test]
async fn unknown_ids_are_404_and_malformed_ones_400() {
    let server = running_job().await;
    let client = &server.client;
    let codes = [
        (client.dataset(99).await.unwrap_err(), "dataset_not_found"),
        (client.model(99).await.unwrap_err(), "model_not_found"),
        (client.provenance(99).await.unwrap_err(), "model_not_found"),
        (client.job(99).await.unwrap_err(), "job_not_found"),
        (client.round(99, 0).await.unwrap_err(), "round_not_found"),
        (client.round(1, 99).await.unwrap_err(), "round_not_found"),
    ];
    for (error, code) in codes {
        assert!(error.is_not_found(), "{error}");
        assert_eq!(error.code(), Some(code));
    }
    let http = reqwest::Client::new();
    for (path, code) in [
        ("/v1/datasets/abc", "malformed_id"),
        ("/v1/models/-1", "malformed_id"),
        ("/v1/models/x/provenance", "malformed_id"),
        ("/v1/jobs/99999999999999999999", "malformed_id"),
        ("/v1/jobs/1/rounds/x", "malformed_round"),
        ("/v1/jobs?limit=0", "malformed_limit"),
        ("/v1/models?limit=101", "malformed_limit"),
        ("/v1/datasets?after=x", "malformed_after"),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
    }
}

#[tokio::test]
async fn pages_list_every_entry_once_within_the_limit() {
    let server = registry().await;
    let page = |after, limit| PageRequest { after, limit };
    let first = server.client.datasets(page(0, 2)).await.unwrap();
    let ids: Vec<u64> = first.items.iter().map(|i| i.id).collect();
    assert_eq!((ids, first.next_after), (vec![1, 2], Some(2)));
    let second = server.client.datasets(page(2, 2)).await.unwrap();
    let ids: Vec<u64> = second.items.iter().map(|i| i.id).collect();
    assert_eq!((ids, second.next_after), (vec![3], None));
    let all = server
        .client
        .datasets(PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.items[1], first.items[1]);
    assert!(
        server
            .client
            .models(page(1, LIST_LIMIT_MAX))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        server
            .client
            .jobs(page(0, 1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let error = server
        .client
        .datasets(page(0, LIST_LIMIT_MAX + 1))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
}

#[tokio::test]
async fn a_job_proves_its_participants_rounds_and_posts_against_one_root() {
    let server = running_job().await;
    let chain = server.node.chain();
    let view = server.client.job(1).await.unwrap();
    let job = &view.entries.job.value;
    assert_eq!(
        (job.sponsor, job.trainer),
        (chain.address(SPONSOR), Some(chain.address(TRAINER)))
    );
    assert_eq!(job.terms_hash, terms().hash());
    assert_eq!(
        view.entries.participants.len(),
        3,
        "a trainer and two providers"
    );
    assert_eq!(view.entries.rounds_total, 1);
    assert_eq!(view.entries.rounds[0].key, (1, 0));

    let mut moved = view.clone();
    moved.entries.participants[0].value.stake += 1;
    assert!(matches!(moved.verify(1), Err(ProofError::Invalid { .. })));
    assert!(matches!(view.verify(2), Err(ProofError::WrongEntry { .. })));

    let round = server.client.round(1, 0).await.unwrap();
    assert_eq!(round.phases.len(), 1, "a plain job's round has one phase");
    assert_eq!(round.phases[0].name, "update");
    let posts = &round.phases[0].posts;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].key.poster, chain.address(PROVIDERS[0]));
    assert_eq!(posts[0].value, PhaseData::Blob(Hash([9; 32])));
    let mut forged = round.clone();
    forged.phases[0].posts[0].value = PhaseData::Blob(Hash([8; 32]));
    assert!(forged.verify(1, 0).is_err());
    assert!(matches!(
        round.verify(1, 1),
        Err(ProofError::WrongEntry { .. })
    ));

    let page = server.client.jobs(PageRequest::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].job, *job);
}

#[tokio::test]
async fn lifecycle_bodies_validate_against_the_document() {
    let server = running_job().await;
    let doc = server.client.openapi().await.unwrap();
    let http = reqwest::Client::new();
    for (path, route, status) in [
        ("/v1/datasets", "/v1/datasets", 200),
        ("/v1/datasets?after=1&limit=1", "/v1/datasets", 200),
        ("/v1/datasets/1", "/v1/datasets/{id}", 200),
        ("/v1/datasets/99", "/v1/datasets/{id}", 404),
        ("/v1/models", "/v1/models", 200),
        ("/v1/models/1", "/v1/models/{id}", 200),
        ("/v1/models/1/provenance", "/v1/models/{id}/provenance", 200),
        ("/v1/models/9/provenance", "/v1/models/{id}/provenance", 404),
        ("/v1/jobs", "/v1/jobs", 200),
        ("/v1/jobs?limit=0", "/v1/jobs", 400),
        ("/v1/jobs/1", "/v1/jobs/{id}", 200),
        ("/v1/jobs/1/rounds/0", "/v1/jobs/{id}/rounds/{round}", 200),
        ("/v1/jobs/1/rounds/5", "/v1/jobs/{id}/rounds/{round}", 404),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_valid(&doc, "get", route, status, &body);
    }
}

//! The lifecycle's routes over a chain that ran real lifecycle transactions: every get proves
//! its entries against the one root it names (and a tampered or substituted entry is refused
//! by the client's check), unknown ids are 404 and malformed ones 400, lists page within their
//! bounds, and every body validates against the served document.

use aifactory_api::views::TxStatus;
use aifactory_api::views::lifecycle::{
    JobView, LIST_LIMIT_MAX, PageRequest, ProofError, ProvenanceView,
};
use aifactory_ledger::testing::TestChain;
use aifactory_ledger::testing::lifecycle::{Cast, dataset_terms, job_terms, model_terms};
use aifactory_types::amount::BASE_UNITS_PER_AIF;
use aifactory_types::lifecycle::{
    ClaimJob, JobStatus, JobTerms, JoinJob, PhaseData, PostPhase, Role,
};
use aifactory_types::{Hash, Payload, TxOutcome};
use serde_json::Value;

use crate::fixture::{TestNode, TestServer, start, unlimited};
use crate::schema::{assert_valid, check, response_schema};

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

/// The ledger's fixture job on model 1 for exactly two providers, so training starts as the
/// second joins.
fn terms() -> JobTerms {
    job_terms(1, 2, 100 * BASE_UNITS_PER_AIF)
}

fn chain() -> TestChain {
    TestChain::new(10, BALANCE_AIF * BASE_UNITS_PER_AIF)
}

/// A chain with three datasets (ids 1 to 3 from keys 1 to 3, of 100 to 102 rows) and one
/// model (id 1), registered through the API.
async fn registry() -> TestServer {
    let server = start(TestNode::sealing_over(chain()), unlimited()).await;
    for (rows, provider) in (100..).zip(PROVIDERS) {
        let dataset = dataset_terms(&format!("rows of {provider}"), rows);
        submit(&server, provider, Payload::RegisterDataset(dataset)).await;
    }
    submit(&server, SPONSOR, Payload::RegisterModel(model_terms())).await;
    server
}

/// [`registry`] with job 1 opened, claimed, and joined by the first two providers, which
/// starts its first round (sequence 1); the first provider has posted its update.
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
        round: 1,
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
    other.model.value.royalty_bps += 1;
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
        (client.round(1, 0).await.unwrap_err(), "round_not_found"),
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
    assert_eq!(view.entries.rounds[0].key, (1, 1));

    let mut moved = view.clone();
    moved.entries.participants[0].value.stake += 1;
    assert!(matches!(moved.verify(1), Err(ProofError::Invalid { .. })));
    assert!(matches!(view.verify(2), Err(ProofError::WrongEntry { .. })));
    // Every proof holds, but the proven job counts what is missing or repeated.
    let incomplete = |view: &JobView| matches!(view.verify(1), Err(ProofError::Incomplete { .. }));
    let mut short = view.clone();
    short.entries.participants.pop();
    assert!(incomplete(&short), "a provider left out");
    let mut doubled = view.clone();
    let repeat = doubled.entries.participants[0].clone();
    doubled.entries.participants.insert(0, repeat);
    assert!(incomplete(&doubled), "a participant repeated");
    let mut roundless = view.clone();
    roundless.entries.rounds.clear();
    assert!(incomplete(&roundless), "a started round left out");

    let round = server.client.round(1, 1).await.unwrap();
    assert_eq!(round.phases.len(), 1, "a plain job's round has one phase");
    assert_eq!(round.phases[0].name, "update");
    let posts = &round.phases[0].posts;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].key.poster, chain.address(PROVIDERS[0]));
    assert_eq!(posts[0].value, PhaseData::Blob(Hash([9; 32])));
    let mut forged = round.clone();
    forged.phases[0].posts[0].value = PhaseData::Blob(Hash([8; 32]));
    assert!(forged.verify(1, 1).is_err());
    assert!(matches!(
        round.verify(1, 2),
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
        ("/v1/jobs/1/rounds/1", "/v1/jobs/{id}/rounds/{round}", 200),
        ("/v1/jobs/1/rounds/5", "/v1/jobs/{id}/rounds/{round}", 404),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_valid(&doc, "get", route, status, &body);
    }
    // The mirrors describe the entries field by field: a wrong type in one is caught.
    let mut body = serde_json::to_value(server.client.dataset(1).await.unwrap()).unwrap();
    body["dataset"]["value"]["rows"] = Value::from("many");
    let schema = response_schema(&doc, "get", "/v1/datasets/{id}", 200);
    assert_eq!(check(&doc, schema, &body).len(), 1, "{body}");
    let mut body = serde_json::to_value(server.client.job(1).await.unwrap()).unwrap();
    body["participants"][0]["value"]["role"]["role"] = Value::from("sponsor");
    let schema = response_schema(&doc, "get", "/v1/jobs/{id}", 200);
    assert!(!check(&doc, schema, &body).is_empty(), "{body}");
}

#[tokio::test]
async fn a_trained_models_provenance_proves_its_job_payouts_and_datasets() {
    // The ledger's scripted job, run to settlement before the node serves the chain.
    let mut chain = chain();
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300)],
        validators: vec![(6, 800_000), (7, 810_000), (8, 900_000)],
    };
    let scripted = chain.run_job(&cast, job_terms(0, 2, 100 * BASE_UNITS_PER_AIF));
    let JobStatus::Settled { model: trained, .. } = chain.state.job(scripted.job).unwrap().status
    else {
        panic!("the scripted job settles");
    };
    let server = start(TestNode::sealing_over(chain), unlimited()).await;

    let view = server.client.provenance(trained).await.unwrap();
    assert_eq!(view.parent.as_ref().map(|p| p.key), Some(scripted.model));
    let job = view.job.as_ref().expect("a trained model has its job");
    assert_eq!(job.job.key, scripted.job);
    assert_eq!(
        job.participants.len(),
        1 + 2 + 3,
        "trainer, providers, validators"
    );
    let workers = job
        .participants
        .iter()
        .filter(|p| !matches!(p.value.role, Role::Validator));
    assert!(
        workers.clone().all(|p| p.value.paid > 0),
        "the trainer and providers were paid"
    );
    assert_eq!(workers.count(), 1 + 2);
    assert_eq!(job.rounds.len(), 2);
    assert_eq!(job.scores.len(), 3);
    let datasets: Vec<u64> = view.datasets.iter().map(|d| d.key).collect();
    assert_eq!(datasets, scripted.datasets);

    let mut overpaid = view.clone();
    overpaid.job.as_mut().unwrap().participants[0].value.paid += 1;
    assert!(matches!(
        overpaid.verify(trained),
        Err(ProofError::Invalid { .. })
    ));
    let mut jobless = view.clone();
    jobless.job = None;
    assert!(matches!(
        jobless.verify(trained),
        Err(ProofError::WrongEntry { .. })
    ));
    let incomplete =
        |view: &ProvenanceView| matches!(view.verify(trained), Err(ProofError::Incomplete { .. }));
    let mut orphan = view.clone();
    orphan.parent = None;
    assert!(incomplete(&orphan), "the parent the model names left out");
    let mut fewer = view.clone();
    fewer.datasets.pop();
    assert!(incomplete(&fewer), "an enlisted dataset left out");
    let mut unscored = view.clone();
    unscored.job.as_mut().unwrap().scores.pop();
    assert!(incomplete(&unscored), "a committed score left out");
    // A dataset the job did not enlist is not part of the model's provenance.
    let other = dataset_terms("not enlisted", 10);
    submit(&server, 9, Payload::RegisterDataset(other)).await;
    let unrelated = server.client.dataset(3).await.unwrap();
    let mut padded = view.clone();
    padded.datasets.push(unrelated.dataset);
    assert!(matches!(
        padded.verify(trained),
        Err(ProofError::WrongEntry { .. })
    ));
    let mut foreign = view.clone();
    foreign.parent = Some(server.client.model(trained).await.unwrap().model);
    assert!(matches!(
        foreign.verify(trained),
        Err(ProofError::WrongEntry { .. })
    ));

    let doc = server.client.openapi().await.unwrap();
    let body = serde_json::to_value(&view).unwrap();
    assert_valid(&doc, "get", "/v1/models/{id}/provenance", 200, &body);
}

/// A job with differential privacy reports the ε each provider spends, by the accountant,
/// from its dataset's rows: more rows, a smaller sampling rate, less ε. Without DP, none.
#[tokio::test]
async fn a_dp_job_reports_each_providers_epsilon() {
    let mut chain = chain();
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 1_000), (5, 10_000)],
        validators: vec![],
    };
    let mut terms = job_terms(0, 2, 100 * BASE_UNITS_PER_AIF);
    terms.privacy = Some(aifactory_types::lifecycle::PrivacyTerms {
        clip_norm: 1_000_000,
        noise_multiplier: 1_100_000,
        delta_pico: 10_000_000,
        ..Default::default()
    });
    let private = chain.open_and_recruit(&cast, terms).job;
    let plain = chain
        .open_and_recruit(&cast, job_terms(0, 2, 100 * BASE_UNITS_PER_AIF))
        .job;
    let server = start(TestNode::sealing_over(chain), unlimited()).await;

    let view = server.client.job(private).await.unwrap();
    let by_rows: Vec<(u64, f64)> = {
        let mut v: Vec<(u64, f64)> = view
            .privacy
            .iter()
            .map(|p| (p.rows, p.epsilon.expect("within the accountant's domain")))
            .collect();
        v.sort_by_key(|&(rows, _)| rows);
        v
    };
    assert_eq!(by_rows.len(), 2);
    assert_eq!((by_rows[0].0, by_rows[1].0), (1_000, 10_000));
    // The fixture's 2 rounds of 1 epoch at batch 32: 2·⌈1000/32⌉ steps at q = 0.032.
    let expected = aifactory_accountant::federated_epsilon(1_000, 32, 1, 2, 1.1, 1e-5).unwrap();
    assert_eq!(by_rows[0].1, expected);
    assert!(by_rows[1].1 < by_rows[0].1, "{by_rows:?}");
    assert!(server.client.job(plain).await.unwrap().privacy.is_empty());
}

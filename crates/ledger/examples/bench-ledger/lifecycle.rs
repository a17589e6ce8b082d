//! The lifecycle part of `bench-ledger`: a block mixing phase messages, score commits and
//! reveals over many jobs, and the end-of-block cost of 10,000 jobs whose deadlines fall due
//! in the same block.

use std::time::Instant;

use aifactory_ledger::State;
use aifactory_ledger::testing::TestChain;
use aifactory_ledger::testing::lifecycle::{
    Cast, blob, dataset_terms, job_terms, model_terms, report, salt,
};
use aifactory_types::lifecycle::{
    CommitScore, JobId, JoinJob, PhaseData, PostPhase, RevealScore, SecureAggregation,
};
use aifactory_types::{Payload, SignedTransaction, VerifiedBlock};

/// Providers of each job in the mixed block (every provider joins every job).
const PROVIDERS: usize = 64;
/// Validators of each job.
const VALIDATORS: usize = 32;
/// Jobs in each of the three stages the mixed block touches.
const JOBS_PER_STAGE: usize = 20;
/// Jobs whose recruiting closes in the same block.
const DUE_JOBS: usize = 10_000;

/// Key indexes: 1 developer, 2 sponsor, 3 trainer, then providers, then validators.
const FIRST_PROVIDER: usize = 4;
const FIRST_VALIDATOR: usize = FIRST_PROVIDER + PROVIDERS;
const KEYS: usize = FIRST_VALIDATOR + VALIDATORS;

/// Signs `payload` from key `index` at an explicit nonce, for many transactions from one key in
/// one block.
fn signed(chain: &TestChain, index: usize, nonce: u64, payload: Payload) -> SignedTransaction {
    let mut tx = chain.unsigned(index, payload);
    tx.nonce = nonce;
    tx.expiry_height = u64::MAX;
    chain.sign(index, tx)
}

/// Builds a block from `txs`, which must all succeed.
fn build(chain: &mut TestChain, txs: Vec<SignedTransaction>) {
    let count = txs.len();
    let built = chain.build(txs);
    assert_eq!(built.block.txs.len(), count, "{:?}", built.rejected.first());
}

/// Opens `count` jobs for every provider and the trainer and recruits them (training starts).
fn recruited_jobs(chain: &mut TestChain, count: usize, secure: bool) -> Vec<JobId> {
    let first = chain.state.id_counters().jobs + 1;
    let mut terms = job_terms(1, PROVIDERS as u16, 1_000_000_000);
    terms.validators_max = VALIDATORS as u16;
    terms.validators_min = 1;
    terms.deadlines.phase_blocks = 1_000;
    terms.deadlines.commit_blocks = 1_000;
    terms.deadlines.reveal_blocks = 1_000;
    terms.deadlines.recruit_blocks = 1_000;
    terms.rounds = 1;
    if secure {
        terms.secure_aggregation = Some(SecureAggregation { threshold: 2 });
    }
    let hash = terms.hash();
    let nonce = chain.nonce(2);
    let opens = (0..count as u64)
        .map(|i| signed(chain, 2, nonce + i, Payload::OpenJob(terms.clone())))
        .collect();
    build(chain, opens);
    let jobs: Vec<JobId> = (first..first + count as u64).collect();
    let mut txs = Vec::new();
    let trainer_nonce = chain.nonce(3);
    for (i, &job) in jobs.iter().enumerate() {
        txs.push(signed(
            chain,
            3,
            trainer_nonce + i as u64,
            Payload::ClaimJob(aifactory_types::lifecycle::ClaimJob { job }),
        ));
    }
    for p in 0..PROVIDERS {
        let key = FIRST_PROVIDER + p;
        let nonce = chain.nonce(key);
        for (i, &job) in jobs.iter().enumerate() {
            let join = JoinJob {
                job,
                dataset: 1 + p as u64,
                terms_hash: hash,
            };
            txs.push(signed(chain, key, nonce + i as u64, Payload::JoinJob(join)));
        }
    }
    build(chain, txs);
    jobs
}

/// Every provider posts phase 0 of each job's first round.
fn posts(chain: &TestChain, jobs: &[JobId]) -> Vec<SignedTransaction> {
    let mut txs = Vec::new();
    for p in 0..PROVIDERS {
        let key = FIRST_PROVIDER + p;
        let nonce = chain.nonce(key);
        for (i, &job) in jobs.iter().enumerate() {
            let post = PostPhase {
                job,
                round: 1,
                phase: 0,
                data: PhaseData::Blob(blob(&format!("{job}/{p}"))),
            };
            txs.push(signed(
                chain,
                key,
                nonce + i as u64,
                Payload::PostPhase(post),
            ));
        }
    }
    txs
}

fn commits(chain: &TestChain, jobs: &[JobId]) -> Vec<SignedTransaction> {
    let mut txs = Vec::new();
    for v in 0..VALIDATORS {
        let key = FIRST_VALIDATOR + v;
        let nonce = chain.nonce(key);
        for (i, &job) in jobs.iter().enumerate() {
            let commit = CommitScore {
                job,
                commitment: report(800_000).commitment(job, &chain.address(key), &salt(key)),
                stake: 1_000_000,
            };
            txs.push(signed(
                chain,
                key,
                nonce + i as u64,
                Payload::CommitScore(commit),
            ));
        }
    }
    txs
}

fn reveals(chain: &TestChain, jobs: &[JobId]) -> Vec<SignedTransaction> {
    let mut txs = Vec::new();
    for v in 0..VALIDATORS {
        let key = FIRST_VALIDATOR + v;
        let nonce = chain.nonce(key);
        for (i, &job) in jobs.iter().enumerate() {
            let reveal = RevealScore {
                job,
                salt: salt(key),
                report: report(800_000),
            };
            txs.push(signed(
                chain,
                key,
                nonce + i as u64,
                Payload::RevealScore(reveal),
            ));
        }
    }
    txs
}

/// Closes every job's single round so that it is committing.
fn trained(chain: &mut TestChain, jobs: &[JobId]) {
    let txs = posts(chain, jobs);
    build(chain, txs);
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: (0..PROVIDERS).map(|p| (FIRST_PROVIDER + p, 0)).collect(),
        validators: vec![],
    };
    let nonce = chain.nonce(3);
    let closes = jobs
        .iter()
        .enumerate()
        .map(|(i, &job)| {
            let contributions = cast
                .providers
                .iter()
                .map(|&(p, _)| aifactory_types::lifecycle::Contribution {
                    provider: chain.address(p),
                    samples: 100,
                })
                .collect();
            let close = aifactory_types::lifecycle::CloseRound {
                job,
                round: 1,
                aggregate: blob("aggregate"),
                model: blob("model"),
                contributions: aifactory_types::BoundedVec::new(contributions).unwrap(),
            };
            signed(chain, 3, nonce + i as u64, Payload::CloseRound(close))
        })
        .collect();
    build(chain, closes);
}

/// A chain with the model, the datasets and the jobs of the mixed block, and the mixed block
/// built on a copy: (state before, block).
pub(crate) fn mixed_block() -> (State, VerifiedBlock, [usize; 3]) {
    let mut chain = TestChain::new(KEYS, 1_000_000_000_000_000);
    let model = chain.tx(1, Payload::RegisterModel(model_terms()));
    build(&mut chain, vec![model]);
    let datasets = (0..PROVIDERS)
        .map(|p| {
            chain.tx(
                FIRST_PROVIDER + p,
                Payload::RegisterDataset(dataset_terms(&p.to_string(), 1_000)),
            )
        })
        .collect();
    build(&mut chain, datasets);
    let training = recruited_jobs(&mut chain, JOBS_PER_STAGE, true);
    let committing = recruited_jobs(&mut chain, JOBS_PER_STAGE, false);
    trained(&mut chain, &committing);
    let revealing = recruited_jobs(&mut chain, JOBS_PER_STAGE, false);
    trained(&mut chain, &revealing);
    let txs = commits(&chain, &revealing);
    build(&mut chain, txs);
    // Validators hold the most commits: reveals opened at once.
    let mut txs = posts(&chain, &training);
    let post_count = txs.len();
    // Commits and reveals come from the same validators: reveals first, then commits.
    let reveal_txs = reveals(&chain, &revealing);
    let reveal_count = reveal_txs.len();
    let mut by_validator: Vec<SignedTransaction> = Vec::new();
    let commit_txs = {
        // Commits follow the reveals' nonces.
        let mut txs = Vec::new();
        for v in 0..VALIDATORS {
            let key = FIRST_VALIDATOR + v;
            let nonce = chain.nonce(key) + JOBS_PER_STAGE as u64;
            for (i, &job) in committing.iter().enumerate() {
                let commit = CommitScore {
                    job,
                    commitment: report(800_000).commitment(job, &chain.address(key), &salt(key)),
                    stake: 1_000_000,
                };
                txs.push(signed(
                    &chain,
                    key,
                    nonce + i as u64,
                    Payload::CommitScore(commit),
                ));
            }
        }
        txs
    };
    let commit_count = commit_txs.len();
    for v in 0..VALIDATORS {
        by_validator.extend(
            reveal_txs[v * JOBS_PER_STAGE..(v + 1) * JOBS_PER_STAGE]
                .iter()
                .cloned(),
        );
        by_validator.extend(
            commit_txs[v * JOBS_PER_STAGE..(v + 1) * JOBS_PER_STAGE]
                .iter()
                .cloned(),
        );
    }
    txs.extend(by_validator);
    let before = chain.state.clone();
    let count = txs.len();
    let built = chain.build(txs);
    assert_eq!(built.block.txs.len(), count, "{:?}", built.rejected.first());
    (
        before,
        built.block,
        [post_count, commit_count, reveal_count],
    )
}

/// A chain with [`DUE_JOBS`] jobs whose recruiting closes at the same height, and the height.
pub(crate) fn due_jobs() -> (TestChain, u64) {
    let sponsors = 10;
    let mut chain = TestChain::new(2 + sponsors, 1_000_000_000_000_000);
    let model = chain.tx(1, Payload::RegisterModel(model_terms()));
    build(&mut chain, vec![model]);
    let mut terms = job_terms(1, 3, 1_000_000);
    terms.deadlines.recruit_blocks = 5;
    let txs = (0..DUE_JOBS)
        .map(|i| {
            let key = 2 + i % sponsors;
            signed(
                &chain,
                key,
                chain.nonce(key) + (i / sponsors) as u64,
                Payload::OpenJob(terms.clone()),
            )
        })
        .collect();
    build(&mut chain, txs);
    let due = chain.state.height() + 5 + 1;
    (chain, due)
}

/// Prints the lifecycle figures.
pub(crate) fn print_figures() {
    let row = |label: &str, value: String| println!("{label:<62} {value:>14}");
    let (before, block, [posts, commits, reveals]) = mixed_block();
    let count = block.txs.len();
    let repeats = 5;
    let mut elapsed = std::time::Duration::ZERO;
    for _ in 0..repeats {
        let mut state = before.clone();
        let start = Instant::now();
        state.apply_block(&block).unwrap();
        elapsed += start.elapsed();
    }
    let per_second = (count * repeats) as f64 / elapsed.as_secs_f64();
    println!();
    row(
        &format!("lifecycle block: {posts} phase posts, {commits} commits, {reveals} reveals"),
        format!("{:.1} ms", elapsed.as_secs_f64() * 1e3 / repeats as f64),
    );
    row(
        "  lifecycle transactions applied (1 core, pre-verified)",
        format!("{per_second:.0}/s"),
    );

    let (mut chain, due) = due_jobs();
    chain.build_until(due - 1);
    let mut blocks = 0;
    let start = Instant::now();
    let first_start = Instant::now();
    chain.build(vec![]);
    let first_ms = first_start.elapsed().as_secs_f64() * 1e3;
    blocks += 1;
    while chain.state.jobs().any(|(_, j)| !j.status.is_finished()) {
        chain.build(vec![]);
        blocks += 1;
    }
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    row(
        &format!("{DUE_JOBS} jobs due at once: first block (1024 due, max)"),
        format!("{first_ms:.1} ms"),
    );
    row(
        &format!("  all {DUE_JOBS} failed and refunded over {blocks} blocks"),
        format!("{total_ms:.0} ms"),
    );
}

//! Fixtures for the factory's lifecycle: terms of a dataset, a model and a job, and a script
//! that drives a whole job (register, open, claim, join, rounds, commit, reveal) on a
//! [`TestChain`], for tests, benchmarks, fuzzing and the API's tests.

use aifactory_types::lifecycle::{
    Aggregation, BudgetSplit, ClaimJob, CloseRound, CommitScore, Contribution, JobDeadlines, JobId,
    JobTerms, JoinJob, Licence, LocalTraining, Metric, Micros, ModelArtifact, ModelId, PhaseData,
    PostPhase, RegisterDataset, RegisterModel, RevealScore, ScoreReport, ServerOptimiser,
    phase_names,
};
use aifactory_types::{Amount, BoundedString, BoundedVec, Hash, Payload, SignedTransaction};

use super::TestChain;
use crate::BuiltBlock;

/// A hash standing for a blob named `what` (fixtures need no real blobs).
pub fn blob(what: &str) -> Hash {
    static FIXTURE: aifactory_crypto::Domain =
        aifactory_crypto::Domain::new("aifactory test fixture blob");
    FIXTURE.hash(&[what.as_bytes()])
}

/// An SPDX licence.
pub fn spdx(id: &str) -> Licence {
    Licence::Spdx(BoundedString::new(id).expect("short"))
}

/// A model spec with a 5 % royalty.
pub fn model_terms() -> RegisterModel {
    RegisterModel {
        artifact: ModelArtifact::Spec(blob("spec")),
        royalty_bps: 500,
        licence: spdx("Apache-2.0"),
        parent: None,
    }
}

/// A dataset of `rows` rows with a stake of 1 AIF and a price of 0.
pub fn dataset_terms(name: &str, rows: u64) -> RegisterDataset {
    RegisterDataset {
        schema: blob("adult schema"),
        rows,
        rows_root: blob(name),
        licence: spdx("CC-BY-4.0"),
        price: 0,
        quality_report: blob(&format!("{name} quality")),
        anonymity_report: blob(&format!("{name} anonymity")),
        stake: 1_000_000_000,
    }
}

/// A job on `model` for exactly `providers` providers, 2 rounds without secure aggregation,
/// 2 to 3 validators, 10 blocks per stage, and a split of 30/40/10/10/10 %.
pub fn job_terms(model: ModelId, providers: u16, budget: Amount) -> JobTerms {
    JobTerms {
        model,
        datasets: BoundedVec::default(),
        providers_min: providers,
        providers_max: providers,
        rounds: 2,
        round_retries: 1,
        training: LocalTraining {
            epochs: 1,
            batch_size: 32,
            learning_rate: 50_000,
            seed: 7,
        },
        aggregation: Aggregation::FedAvg,
        server: ServerOptimiser {
            learning_rate: 1_000_000,
            momentum: 0,
        },
        secure_aggregation: None,
        privacy: None,
        metric: Metric::Accuracy,
        target: 700_000,
        tolerance: 20_000,
        group_column: BoundedString::new("sex").expect("short"),
        validators_min: 2,
        validators_max: 3,
        leave_one_out: false,
        deadlines: JobDeadlines {
            recruit_blocks: 10,
            phase_blocks: 10,
            aggregate_blocks: 10,
            commit_blocks: 10,
            reveal_blocks: 10,
        },
        split: BudgetSplit {
            trainer_bps: 3_000,
            providers_bps: 4_000,
            developer_bps: 1_000,
            validators_bps: 1_000,
            treasury_bps: 1_000,
        },
        trainer_stake: 5_000_000,
        validator_stake: 1_000_000,
        budget,
    }
}

/// A validator's report of `metric`, aggregates checked and matching.
pub fn report(metric: Micros) -> ScoreReport {
    ScoreReport {
        metric,
        calibration_error: 30_000,
        fairness_gap: 50_000,
        aggregates_match: true,
        contributions: BoundedVec::default(),
    }
}

/// The salt validator key `index` uses.
pub fn salt(index: usize) -> Hash {
    blob(&format!("salt {index}"))
}

/// Who plays what in a scripted job, by key index of the [`TestChain`].
#[derive(Debug, Clone)]
pub struct Cast {
    /// Registers the model.
    pub developer: usize,
    /// Opens the job.
    pub sponsor: usize,
    /// Claims it.
    pub trainer: usize,
    /// Join it, one dataset each, with the dataset's rows.
    pub providers: Vec<(usize, u64)>,
    /// Commit and reveal, each with its metric.
    pub validators: Vec<(usize, Micros)>,
}

/// What a scripted job created.
#[derive(Debug, Clone)]
pub struct ScriptedJob {
    /// The base model.
    pub model: ModelId,
    /// The job.
    pub job: JobId,
    /// The providers' datasets, in cast order.
    pub datasets: Vec<u64>,
}

impl TestChain {
    /// Builds a block of `txs` and panics unless every one succeeded.
    pub fn build_ok(&mut self, txs: Vec<SignedTransaction>) -> BuiltBlock {
        let count = txs.len();
        let built = self.build(txs);
        assert!(built.rejected.is_empty(), "refused: {:?}", built.rejected);
        assert_eq!(built.block.txs.len(), count);
        for receipt in &built.outcome.receipts {
            assert_eq!(
                receipt.outcome,
                aifactory_types::TxOutcome::Success,
                "{receipt:?}"
            );
        }
        built
    }

    /// Registers the cast's model and datasets, opens a job with `terms` (its model replaced
    /// by the registered one), and recruits it; training has started when this returns.
    pub fn open_and_recruit(&mut self, cast: &Cast, mut terms: JobTerms) -> ScriptedJob {
        let model = self.state.id_counters().models + 1;
        self.build_ok(vec![
            self.tx(cast.developer, Payload::RegisterModel(model_terms())),
        ]);
        let first_dataset = self.state.id_counters().datasets + 1;
        let registrations = cast
            .providers
            .iter()
            .map(|&(p, rows)| {
                self.tx(
                    p,
                    Payload::RegisterDataset(dataset_terms(&format!("rows of {p}"), rows)),
                )
            })
            .collect();
        self.build_ok(registrations);
        let datasets: Vec<u64> = (0..cast.providers.len() as u64)
            .map(|i| first_dataset + i)
            .collect();
        terms.model = model;
        let job = self.state.id_counters().jobs + 1;
        let terms_hash = terms.hash();
        self.build_ok(vec![self.tx(cast.sponsor, Payload::OpenJob(terms))]);
        let mut recruits = vec![self.tx(cast.trainer, Payload::ClaimJob(ClaimJob { job }))];
        for (&(p, _), &dataset) in cast.providers.iter().zip(&datasets) {
            recruits.push(self.tx(
                p,
                Payload::JoinJob(JoinJob {
                    job,
                    dataset,
                    terms_hash,
                }),
            ));
        }
        self.build_ok(recruits);
        ScriptedJob {
            model,
            job,
            datasets,
        }
    }

    /// Runs the job's current round to its close: every provider posts in every phase, then
    /// the trainer closes it with each provider's full rows as samples.
    pub fn run_round(&mut self, cast: &Cast, job: JobId) {
        let state = &self.state;
        let j = state.job(job).expect("the job exists");
        let round = j.rounds_started;
        let secure = j.terms.secure_aggregation.is_some();
        for phase in 0..phase_names(secure).len() as u8 {
            let posts = cast
                .providers
                .iter()
                .map(|&(p, _)| {
                    self.tx(
                        p,
                        Payload::PostPhase(PostPhase {
                            job,
                            round,
                            phase,
                            data: PhaseData::Blob(blob(&format!("{job}/{round}/{phase}/{p}"))),
                        }),
                    )
                })
                .collect();
            self.build_ok(posts);
        }
        let contributions = cast
            .providers
            .iter()
            .map(|&(p, rows)| Contribution {
                provider: self.address(p),
                samples: rows,
            })
            .collect();
        let close = CloseRound {
            job,
            round,
            aggregate: blob(&format!("aggregate {job}/{round}")),
            model: blob(&format!("model {job}/{round}")),
            contributions: BoundedVec::new(contributions).expect("within the cap"),
        };
        self.build_ok(vec![self.tx(cast.trainer, Payload::CloseRound(close))]);
    }

    /// Every validator of the cast commits its report, then reveals it.
    pub fn validate(&mut self, cast: &Cast, job: JobId) {
        let stake = self
            .state
            .job(job)
            .expect("the job exists")
            .terms
            .validator_stake;
        let commits = cast
            .validators
            .iter()
            .map(|&(v, metric)| {
                let commitment = report(metric).commitment(job, &self.address(v), &salt(v));
                self.tx(
                    v,
                    Payload::CommitScore(CommitScore {
                        job,
                        commitment,
                        stake,
                    }),
                )
            })
            .collect();
        self.build_ok(commits);
        // Commits close early only when the job's most validators committed.
        let job_now = self.state.job(job).expect("the job exists");
        if job_now.status == aifactory_types::lifecycle::JobStatus::Committing {
            let until = job_now.stage_deadline;
            self.build_until(until + 1);
        }
        let reveals = cast
            .validators
            .iter()
            .map(|&(v, metric)| {
                self.tx(
                    v,
                    Payload::RevealScore(RevealScore {
                        job,
                        salt: salt(v),
                        report: report(metric),
                    }),
                )
            })
            .collect();
        self.build_ok(reveals);
    }

    /// A whole job, from registration to settlement, with `terms` (see [`Cast`]).
    pub fn run_job(&mut self, cast: &Cast, terms: JobTerms) -> ScriptedJob {
        let scripted = self.open_and_recruit(cast, terms);
        let rounds = self.state.job(scripted.job).expect("opened").terms.rounds;
        for _ in 0..rounds {
            self.run_round(cast, scripted.job);
        }
        self.validate(cast, scripted.job);
        scripted
    }
}

//! The validator: for every job that reaches validation and that it may score, recomputes each
//! round from the published blobs (`job verify`), measures the final model on its own held-out
//! rows (and, when the job asks, each provider's leave-one-out contribution), commits to its
//! report with a fresh salt and, once commits close, reveals it.
//!
//! The report and salt are written to the journal before the commitment is sent, so a restart
//! reveals exactly what was committed (a validator that cannot reveal is slashed).
//!
//! Unless told not to, it also judges challenges of gateways' answers ([`Judge`]).

use std::collections::BTreeMap;

use aifactory_client::views::lifecycle::JobItem;
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::store::StoredModel;
use aifactory_types::lifecycle::{CommitScore, JobId, JobStatus, RevealScore, ScoreReport};
use aifactory_types::{BoundedVec, Hash, Payload};
use anyhow::{Context as _, anyhow};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::config::ValidatorSettings;
use crate::contribution::leave_one_out;
use crate::journal::Journal;
use crate::judge::Judge;
use crate::outbox::Sent;
use crate::recipe::fetch_model;
use crate::replay::verify_job;
use crate::runtime::{Agent, Look, Role};
use crate::scoring::{measure, micros};

/// Where the validator stands with one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scoring {
    /// It committed to `report` under `salt`; it reveals once commits close.
    Committed {
        /// The report committed to.
        report: ScoreReport,
        /// The salt.
        salt: Hash,
    },
    /// It decided not to score the job, or its commit was refused, for this reason.
    Declined(String),
    /// The job has ended.
    Finished,
}

/// The validator's journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ValidatorState {
    /// Every job it has looked at.
    pub jobs: BTreeMap<JobId, Scoring>,
}

/// The validator role.
pub struct Validator {
    settings: ValidatorSettings,
    table: Table,
    journal: Journal<ValidatorState>,
    judge: Option<Judge>,
}

impl Validator {
    /// Reads the held-out rows and opens the journal.
    pub fn new(settings: ValidatorSettings, agent: &Agent) -> anyhow::Result<Self> {
        let schema = Schema::load(&settings.schema)?;
        let table = Table::read_csv(&settings.data, &schema)
            .with_context(|| format!("reading {}", settings.data.display()))?;
        let judge = match settings.judge {
            true => Some(Judge::new(settings.challenge_stake.map(|s| s.0), agent)?),
            false => None,
        };
        Ok(Validator {
            settings,
            table,
            journal: Journal::open(&agent.state_dir.join("validator.json"))?,
            judge,
        })
    }

    /// Verifies the job's rounds and measures its final model; the report, with a fresh salt.
    async fn prepare(&self, agent: &Agent, job: JobId) -> anyhow::Result<Scoring> {
        let view = agent
            .nodes
            .call(|c| async move { c.job(job).await })
            .await?;
        let the_job = &view.entries.job.value;
        let terms = &the_job.terms;
        if !self.settings.models.is_empty() && !self.settings.models.contains(&terms.model) {
            return Ok(Scoring::Declined(format!(
                "model {} is not among those allowed",
                terms.model
            )));
        }
        let checks = verify_job(&agent.nodes, &view).await?;
        let aggregates_match = checks.iter().all(|c| c.ok());
        for check in checks.iter().filter(|c| !c.ok()) {
            tracing::warn!(job, round = check.round, check = ?check, "a round does not recompute");
        }
        let (model, features) = fetch_model(&agent.nodes, &the_job.global_model).await?;
        let measured = measure(
            &model,
            &features,
            &self.table,
            terms.metric,
            terms.group_column.as_str(),
        )?;
        let contributions = if terms.leave_one_out {
            let group = terms.group_column.as_str();
            let of = |m: &StoredModel| {
                Ok(measure(m, &features, &self.table, terms.metric, group)?.metric)
            };
            let measured = leave_one_out(&agent.nodes, &view, measured.metric, of).await?;
            tracing::info!(job, contributions = ?measured, "measured leave-one-out contributions");
            BoundedVec::new(measured).map_err(|_| anyhow!("more providers than a job holds"))?
        } else {
            BoundedVec::default()
        };
        let report = ScoreReport {
            metric: micros(measured.metric),
            calibration_error: micros(measured.calibration_error),
            fairness_gap: micros(measured.fairness_gap),
            aggregates_match,
            contributions,
        };
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        Ok(Scoring::Committed {
            report,
            salt: Hash(salt),
        })
    }

    /// Commits to the journaled report, preparing and journaling one first if there is none.
    async fn commit(&mut self, agent: &mut Agent, item: &JobItem) -> anyhow::Result<()> {
        let job = item.id;
        if !self.journal.get().jobs.contains_key(&job) {
            let scoring = self.prepare(agent, job).await?;
            self.journal.update(|s| s.jobs.insert(job, scoring))?;
        }
        let Some(Scoring::Committed { report, salt }) = self.journal.get().jobs.get(&job).cloned()
        else {
            return Ok(());
        };
        let terms = &item.job.terms;
        let stake = self
            .settings
            .stake
            .map_or(terms.validator_stake, |s| s.0.max(terms.validator_stake));
        let payload = Payload::CommitScore(CommitScore {
            job,
            commitment: report.commitment(job, &agent.outbox.address(), &salt),
            stake,
        });
        let sent = agent
            .outbox
            .send(&agent.nodes, &format!("job {job} commit"), payload)
            .await?;
        tracing::info!(job, metric = report.metric, aggregates_match = report.aggregates_match, outcome = ?sent, "committed a score");
        if let Sent::Refused(e) = sent {
            let reason = format!("commit refused: {e}");
            self.journal
                .update(|s| s.jobs.insert(job, Scoring::Declined(reason)))?;
        }
        Ok(())
    }

    async fn reveal(&mut self, agent: &mut Agent, job: JobId) -> anyhow::Result<()> {
        let Some(Scoring::Committed { report, salt }) = self.journal.get().jobs.get(&job).cloned()
        else {
            return Ok(());
        };
        if self.settings.drill.withhold_reveal {
            tracing::warn!(job, "drill: withholding the reveal");
            return Ok(());
        }
        let payload = Payload::RevealScore(RevealScore { job, salt, report });
        let sent = agent
            .outbox
            .send(&agent.nodes, &format!("job {job} reveal"), payload)
            .await?;
        tracing::info!(job, outcome = ?sent, "revealed a score");
        Ok(())
    }
}

impl Role for Validator {
    const NAME: &'static str = "validator";

    async fn tick(&mut self, agent: &mut Agent, look: &Look) -> anyhow::Result<()> {
        let finished = |id| matches!(self.journal.get().jobs.get(&id), Some(Scoring::Finished));
        for item in agent.jobs_in(look, |id| !finished(id)).await? {
            let job = item.id;
            let label = format!("job {job} commit");
            let known = self.journal.get().jobs.get(&job).cloned();
            match (&item.job.status, known) {
                (JobStatus::Committing, None)
                    if item.job.commits < item.job.terms.validators_max =>
                {
                    self.commit(agent, &item).await?
                }
                // Journaled but perhaps not sent before a restart.
                (JobStatus::Committing, Some(Scoring::Committed { .. }))
                    if agent.outbox.outcome(&label).is_none() =>
                {
                    self.commit(agent, &item).await?
                }
                (JobStatus::Revealing, Some(Scoring::Committed { .. })) => {
                    self.reveal(agent, job).await?
                }
                (status, Some(Scoring::Committed { .. })) if status.is_finished() => {
                    agent.outbox.forget(&format!("job {job} "))?;
                    self.journal
                        .update(|s| s.jobs.insert(job, Scoring::Finished))?;
                }
                _ => {}
            }
        }
        if let Some(judge) = &mut self.judge {
            judge.tick(agent).await?;
        }
        Ok(())
    }
}

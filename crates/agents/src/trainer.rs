//! The trainer: claims the jobs its policy accepts and, in every round, once the providers'
//! phases are over, combines the survivors' updates with the job's rule, applies the server
//! optimiser, publishes the aggregate and the new global model as blobs and closes the round.
//!
//! Nothing it computes is secret or random: a restart recomputes the same aggregate from the
//! same posts, and `job verify` (anyone) recomputes it too. An update that cannot be fetched or
//! read, or that claims more samples than its provider's dataset has rows, is left out of the
//! round (and so earns its provider nothing).

use std::collections::BTreeMap;
use std::time::Instant;

use aifactory_client::views::lifecycle::JobView;
use aifactory_learn::federated::server_opt::{ServerOptimizer, ServerState};
use aifactory_types::lifecycle::{
    ClaimJob, CloseRound, Contribution, DatasetId, JobId, JobStatus, JobTerms, Role as JobRole,
    RoundStage,
};
use aifactory_types::{Address, BoundedVec, Hash, Payload};
use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::config::TrainerSettings;
use crate::journal::Journal;
use crate::outbox::Sent;
use crate::recipe::{self, fetch_blob, fetch_model, millis, put_blob};
use crate::replay::{combine, plain_posts, posts_of, round_view, secure_round};
use crate::runtime::{Agent, Look, Role, crash_if_drilled};
use crate::secure;
use crate::statistics;
use crate::wire::Weighted;

/// Where the trainer stands with one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Claimed {
    /// It claimed the job and runs its rounds.
    Running,
    /// It decided not to claim it, or its claim was refused, for this reason.
    Declined(String),
    /// The job has ended.
    Finished,
}

/// The trainer's journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainerState {
    /// Every job it has looked at.
    pub jobs: BTreeMap<JobId, Claimed>,
}

/// The trainer role.
pub struct Trainer {
    settings: TrainerSettings,
    journal: Journal<TrainerState>,
}

impl Trainer {
    /// Opens the trainer's journal.
    pub fn new(settings: TrainerSettings, agent: &Agent) -> anyhow::Result<Self> {
        Ok(Trainer {
            settings,
            journal: Journal::open(&agent.state_dir.join("trainer.json"))?,
        })
    }

    fn running(&self) -> Vec<JobId> {
        let jobs = &self.journal.get().jobs;
        jobs.iter()
            .filter(|(_, c)| **c == Claimed::Running)
            .map(|(id, _)| *id)
            .collect()
    }

    fn consider(&self, terms: &JobTerms) -> Result<(), String> {
        let s = &self.settings;
        if s.stake_max.is_some_and(|max| terms.trainer_stake > max.0) {
            return Err("its trainer stake is above this trainer's limit".into());
        }
        if !s.models.is_empty() && !s.models.contains(&terms.model) {
            return Err(format!("model {} is not among those allowed", terms.model));
        }
        Ok(())
    }

    async fn claim(&mut self, agent: &mut Agent, look: &Look) -> anyhow::Result<()> {
        let seen = &self.journal.get().jobs;
        let mut open = agent.jobs_in(look, |id| !seen.contains_key(&id)).await?;
        open.retain(|j| j.job.status == JobStatus::Recruiting && j.job.trainer.is_none());
        for item in open {
            if self.running().len() >= self.settings.jobs_max {
                break;
            }
            let id = item.id;
            let decision = match self.consider(&item.job.terms) {
                Err(reason) => Claimed::Declined(reason),
                Ok(()) => {
                    let payload = Payload::ClaimJob(ClaimJob { job: id });
                    match agent
                        .outbox
                        .send(&agent.nodes, &format!("job {id} claim"), payload)
                        .await?
                    {
                        Sent::Done | Sent::Executed => Claimed::Running,
                        Sent::Refused(e) => Claimed::Declined(format!("claim refused: {e}")),
                    }
                }
            };
            tracing::info!(job = id, decision = ?decision, "considered a job");
            self.journal.update(|s| s.jobs.insert(id, decision))?;
        }
        Ok(())
    }

    async fn serve(&mut self, agent: &mut Agent, job: JobId) -> anyhow::Result<()> {
        let view = agent
            .nodes
            .call(|c| async move { c.job(job).await })
            .await?;
        let the_job = view.entries.job.value.clone();
        if the_job.status.is_finished() {
            tracing::info!(job, status = ?the_job.status, "job ended");
            agent.outbox.forget(&format!("job {job} "))?;
            self.journal
                .update(|s| s.jobs.insert(job, Claimed::Finished))?;
            return Ok(());
        }
        if the_job.status != JobStatus::Training {
            return Ok(());
        }
        let seq = the_job.rounds_started;
        let label = format!("job {job} close {seq}");
        if agent.outbox.outcome(&label).is_some() {
            return Ok(());
        }
        let terms = the_job.terms;
        let round_view = round_view(&agent.nodes, job, seq).await?;
        let round = &round_view.round.value;
        if round.stage != RoundStage::Aggregating {
            return Ok(());
        }
        let (start, _) = fetch_model(&agent.nodes, &round.start_model).await?;
        let params = start.params.len();
        let mut server = server_state_before(agent, &terms, job, seq, params).await?;
        let (mut combined, contributions, combine_ms) = if terms.secure_aggregation.is_some() {
            let roster = secure::roster(&agent.nodes, &view).await?;
            let posts = secure::fetch_posts(&agent.nodes, &posts_of(&round_view), &roster).await?;
            let started = Instant::now();
            let (combined, contributions) =
                secure_round(job, seq, &terms, &roster, &posts, &start, &mut server)?;
            (combined, contributions, millis(started))
        } else {
            let (updates, contributions) = self
                .usable_updates(
                    agent,
                    &view,
                    job,
                    seq,
                    &plain_posts(&posts_of(&round_view)),
                    params,
                )
                .await?;
            let started = Instant::now();
            let combined = combine(&terms, &start, &updates, &mut server)?;
            (combined, contributions, millis(started))
        };
        if self.settings.drill.wrong_model {
            combined.model.params[0] += 1.0;
            combined.model_bytes = combined.model.to_bytes().map_err(|e| anyhow!("{e}"))?;
        }
        let aggregate = put_blob(&agent.nodes, combined.aggregate_bytes).await?;
        let model = put_blob(&agent.nodes, combined.model_bytes).await?;
        let payload = Payload::CloseRound(CloseRound {
            job,
            round: seq,
            aggregate,
            model,
            contributions: BoundedVec::new(contributions.clone())
                .map_err(|_| anyhow!("more contributions than a round holds"))?,
        });
        crash_if_drilled(&self.settings.drill, seq, None);
        let sent = agent.outbox.send(&agent.nodes, &label, payload).await?;
        tracing::info!(job, round = seq, index = round.index, survivors = contributions.len(), combine_ms, %model, outcome = ?sent, "closed round");
        Ok(())
    }

    /// The round's updates the trainer can use, with what each contributes: those that can be
    /// fetched and read and claim no more samples than their provider's dataset has rows.
    async fn usable_updates(
        &self,
        agent: &Agent,
        view: &JobView,
        job: JobId,
        seq: u32,
        posts: &[(Address, Hash)],
        params: usize,
    ) -> anyhow::Result<(Vec<Weighted>, Vec<Contribution>)> {
        let datasets: BTreeMap<Address, DatasetId> = view
            .entries
            .participants
            .iter()
            .filter_map(|p| match p.value.role {
                JobRole::Provider { dataset, .. } => Some((p.key.1, dataset)),
                _ => None,
            })
            .collect();
        let mut updates = Vec::new();
        let mut contributions = Vec::new();
        for (provider, hash) in posts {
            let usable = async {
                let update = Weighted::decode(&fetch_blob(&agent.nodes, hash).await?, params)?;
                let dataset = *datasets
                    .get(provider)
                    .ok_or_else(|| anyhow!("{provider} is not a provider of the job"))?;
                let rows = agent.nodes.dataset_rows(dataset).await?;
                if update.samples == 0 || update.samples > rows {
                    bail!(
                        "it claims {} samples; its dataset has {rows} rows",
                        update.samples
                    );
                }
                Ok(update)
            };
            match usable.await {
                Ok(update) => {
                    contributions.push(Contribution {
                        provider: *provider,
                        samples: update.samples,
                    });
                    updates.push(update);
                }
                Err(e) => {
                    tracing::warn!(job, round = seq, %provider, error = format!("{e:#}"), "update left out")
                }
            }
        }
        if updates.is_empty() {
            bail!("no usable update in round {seq} of job {job}");
        }
        Ok((updates, contributions))
    }
}

/// The server optimiser's state before round `seq`: fresh, moved along by the aggregate of every
/// round the job closed before it (a restarted trainer rebuilds it the same way).
pub async fn server_state_before(
    agent: &Agent,
    terms: &JobTerms,
    job: JobId,
    seq: u32,
    params: usize,
) -> anyhow::Result<ServerState> {
    let mut state = ServerState::new(recipe::server(terms), params).map_err(|e| anyhow!("{e}"))?;
    if matches!(recipe::server(terms), ServerOptimizer::Sgd { .. }) {
        // Plain steps carry no state from round to round.
        return Ok(state);
    }
    let mut scratch = vec![0f32; params];
    for earlier in 1..seq {
        let round = agent
            .nodes
            .call(|c| async move { c.round(job, earlier).await })
            .await?
            .round
            .value;
        if let RoundStage::Closed { aggregate, .. } = round.stage {
            if statistics::pending(&fetch_model(&agent.nodes, &round.start_model).await?.0)
                .is_some()
            {
                continue;
            }
            let delta = Weighted::decode(&fetch_blob(&agent.nodes, &aggregate).await?, params)?;
            state
                .apply(&mut scratch, &delta.values)
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(state)
}

impl Role for Trainer {
    const NAME: &'static str = "trainer";

    async fn tick(&mut self, agent: &mut Agent, look: &Look) -> anyhow::Result<()> {
        self.claim(agent, look).await?;
        for job in self.running().into_iter().filter(|id| look.includes(*id)) {
            self.serve(agent, job).await?;
        }
        Ok(())
    }
}

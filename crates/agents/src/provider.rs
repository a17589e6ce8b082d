//! The data provider: registers its dataset, joins the jobs its written policy accepts, and in
//! every round trains on its own rows and posts its update. Its rows, their features and its
//! raw labels never leave the machine: what it sends is its dataset's commitments and reports,
//! its consent to a job's terms, and its updates.
//!
//! Privacy budget: with differential privacy a job spends an ε of the dataset (the RDP
//! accountant, the same function the API reports); the provider keeps the total it has agreed
//! to spend across jobs in its journal and refuses a job that would take it past its budget.

use std::collections::BTreeMap;
use std::time::Instant;

use aifactory_client::views::lifecycle::JobView;
use aifactory_client::views::lifecycle::provider_epsilon;
use aifactory_learn::data::features::{FeatureColumn, Featurizer};
use aifactory_learn::data::schema::Schema;
use aifactory_learn::data::table::Table;
use aifactory_learn::data::{kanon, merkle, quality};
use aifactory_learn::params;
use aifactory_learn::store::StoredModel;
use aifactory_learn::train;
use aifactory_secagg::ClientId;
use aifactory_types::lifecycle::{
    DatasetId, JobId, JobStatus, JobTerms, JoinJob, Licence, PhaseData, PostPhase, RegisterDataset,
    RoundStage,
};
use aifactory_types::limits::PHASE_INLINE_BYTES_MAX;
use aifactory_types::{BoundedString, BoundedVec, Hash, Payload};
use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::config::ProviderSettings;
use crate::journal::{Journal, load_file, save_file};
use crate::outbox::Sent;
use crate::recipe::{fetch_model, local_training, millis, put_blob};
use crate::replay::{posts_of, round_view};
use crate::runtime::{Agent, Look, Role, crash_if_drilled};
use crate::secure;
use crate::statistics;
use crate::wire::Weighted;

/// The k an anonymity report is measured against.
const K_TARGET: usize = 5;

/// Where the provider stands with one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Enlisted {
    /// It joined, agreeing to spend this ε (0 without differential privacy).
    Joined {
        /// The ε agreed to.
        epsilon: f64,
    },
    /// It decided not to join, for this reason.
    Declined(String),
    /// The job it joined has ended.
    Finished,
}

/// The provider's journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderState {
    /// Its registered dataset.
    pub dataset: Option<DatasetId>,
    /// Every job it has looked at.
    pub jobs: BTreeMap<JobId, Enlisted>,
}

impl ProviderState {
    /// The ε agreed to over every job joined.
    pub fn epsilon_spent(&self) -> f64 {
        self.jobs
            .values()
            .map(|e| match e {
                Enlisted::Joined { epsilon } => *epsilon,
                _ => 0.0,
            })
            .sum()
    }
}

/// The provider role.
pub struct Provider {
    settings: ProviderSettings,
    schema: Schema,
    table: Table,
    journal: Journal<ProviderState>,
}

impl Provider {
    /// Reads the rows and checks them (`data check`: a table with errors is refused) and opens
    /// the journal.
    pub fn new(settings: ProviderSettings, agent: &Agent) -> anyhow::Result<Self> {
        let schema = Schema::load(&settings.schema)?;
        let table = Table::read_csv(&settings.data, &schema)
            .with_context(|| format!("reading {}", settings.data.display()))?;
        let report = quality::report(&table, &schema)?;
        if report.has_errors() {
            bail!(
                "{} fails its quality check; run `aifactory data check` on it",
                settings.data.display()
            );
        }
        let journal = Journal::open(&agent.state_dir.join("provider.json"))?;
        Ok(Provider {
            settings,
            schema,
            table,
            journal,
        })
    }

    /// The provider's journal, as it stands.
    pub fn state(&self) -> &ProviderState {
        self.journal.get()
    }

    async fn register(&mut self, agent: &mut Agent) -> anyhow::Result<Option<DatasetId>> {
        let quality = quality::report(&self.table, &self.schema)?;
        let anonymity = kanon::report(
            &self.table,
            &self.schema.quasi_identifiers,
            self.schema.sensitive.as_deref(),
            K_TARGET,
        )?;
        let schema = put_blob(&agent.nodes, json(&self.schema)).await?;
        let quality_report = put_blob(&agent.nodes, json(&quality)).await?;
        let anonymity_report = put_blob(&agent.nodes, json(&anonymity)).await?;
        let rows_root = Hash(merkle::root(&self.table.rows)?);
        let licence = Licence::Spdx(
            BoundedString::new(self.settings.licence.clone())
                .map_err(|e| anyhow!("the licence id: {e}"))?,
        );
        let payload = Payload::RegisterDataset(RegisterDataset {
            schema,
            rows: self.table.rows.len() as u64,
            rows_root,
            licence,
            price: self.settings.price.0,
            quality_report,
            anonymity_report,
            stake: self.settings.stake.0,
        });
        match agent
            .outbox
            .send(&agent.nodes, "register dataset", payload)
            .await?
        {
            Sent::Refused(error) => bail!("registering the dataset was refused: {error}"),
            Sent::Done | Sent::Executed => {}
        }
        let me = agent.outbox.address();
        let mut after = 0;
        loop {
            let page = aifactory_client::views::lifecycle::PageRequest {
                after,
                limit: aifactory_client::views::lifecycle::LIST_LIMIT_MAX,
            };
            let page = agent
                .nodes
                .call(|c| async move { c.datasets(page).await })
                .await?;
            if let Some(found) = page.items.iter().find(|d| {
                d.dataset.provider == me && d.dataset.rows_root == rows_root && !d.dataset.retired
            }) {
                tracing::info!(
                    dataset = found.id,
                    rows = self.table.rows.len(),
                    "dataset registered"
                );
                return Ok(Some(found.id));
            }
            match page.next_after {
                Some(next) => after = next,
                None => return Ok(None),
            }
        }
    }

    /// Whether the policy accepts `terms`, and the ε they spend; `Err` says why not.
    async fn consider(
        &self,
        agent: &Agent,
        dataset: DatasetId,
        terms: &JobTerms,
        start_model: &Hash,
    ) -> anyhow::Result<Result<f64, String>> {
        let policy = &self.settings.policy;
        let (_, features) = fetch_model(&agent.nodes, start_model).await?;
        if let Some(column) = features
            .columns
            .iter()
            .map(|c| match c {
                FeatureColumn::Numeric { name, .. } | FeatureColumn::OneHot { name, .. } => name,
            })
            .chain([&features.label])
            .find(|c| self.table.index(c).is_err())
        {
            return Ok(Err(format!(
                "the job's encoding reads column {column}, which this dataset lacks"
            )));
        }
        if features.statistics_pending && terms.secure_aggregation.is_none() {
            return Ok(Err(
                "the model's statistics are to be measured by secure aggregation, which the job \
                 lacks (posting them in the clear would reveal this dataset's)"
                    .into(),
            ));
        }
        if !terms.datasets.is_empty() && !terms.datasets.contains(&dataset) {
            return Ok(Err("the job does not list this dataset".into()));
        }
        if !policy.models.is_empty() && !policy.models.contains(&terms.model) {
            return Ok(Err(format!(
                "model {} is not among those allowed",
                terms.model
            )));
        }
        if !policy.licences.is_empty() {
            let id = terms.model;
            let model = agent
                .nodes
                .call(|c| async move { c.model(id).await })
                .await?;
            let licence = match &model.model.value.licence {
                Licence::Spdx(spdx) => spdx.to_string(),
                Licence::Text(hash) => format!("custom licence {hash}"),
            };
            if !policy.licences.contains(&licence) {
                return Ok(Err(format!(
                    "the model's licence {licence} is not accepted"
                )));
            }
        }
        if policy.require_secure_aggregation && terms.secure_aggregation.is_none() {
            return Ok(Err("the job has no secure aggregation".into()));
        }
        let Some(privacy) = &terms.privacy else {
            if policy.require_privacy {
                return Ok(Err("the job has no differential privacy".into()));
            }
            return Ok(Ok(0.0));
        };
        let rows = self.table.rows.len() as u64;
        let Some(epsilon) = provider_epsilon(terms, privacy, rows) else {
            return Ok(Err(
                "the job's privacy is outside the accountant's domain".into()
            ));
        };
        if policy.epsilon_max.is_some_and(|max| epsilon > max) {
            return Ok(Err(format!(
                "it would spend ε = {epsilon:.3}, above the per-job limit"
            )));
        }
        let spent = self.journal.get().epsilon_spent();
        if policy
            .epsilon_budget
            .is_some_and(|budget| spent + epsilon > budget)
        {
            return Ok(Err(format!(
                "it would spend ε = {epsilon:.3} with {spent:.3} already agreed, past the budget"
            )));
        }
        Ok(Ok(epsilon))
    }

    async fn recruit(
        &mut self,
        agent: &mut Agent,
        dataset: DatasetId,
        look: &Look,
    ) -> anyhow::Result<()> {
        let seen = &self.journal.get().jobs;
        let mut fresh = agent.jobs_in(look, |id| !seen.contains_key(&id)).await?;
        fresh.retain(|j| j.job.status == JobStatus::Recruiting);
        for item in fresh {
            let id = item.id;
            let decision = match self
                .consider(agent, dataset, &item.job.terms, &item.job.global_model)
                .await?
            {
                Err(reason) => Enlisted::Declined(reason),
                Ok(epsilon) => {
                    let payload = Payload::JoinJob(JoinJob {
                        job: id,
                        dataset,
                        terms_hash: item.job.terms.hash(),
                    });
                    match agent
                        .outbox
                        .send(&agent.nodes, &format!("job {id} join"), payload)
                        .await?
                    {
                        Sent::Done | Sent::Executed => Enlisted::Joined { epsilon },
                        Sent::Refused(error) => {
                            Enlisted::Declined(format!("join refused: {error}"))
                        }
                    }
                }
            };
            tracing::info!(job = id, decision = ?decision, "considered a job");
            self.journal.update(|s| s.jobs.insert(id, decision))?;
        }
        Ok(())
    }

    /// Trains on the rows for round `seq` of `job` from its start model, or reads the update
    /// already computed for it (so a restart posts the very same update).
    async fn update(
        &self,
        agent: &Agent,
        job: JobId,
        terms: &JobTerms,
        seq: u32,
        (model, features): &(StoredModel, Featurizer),
    ) -> anyhow::Result<Vec<u8>> {
        let name = format!("update-{job}-{seq}.bin");
        if let Some(bytes) = load_file(&agent.state_dir, &name)? {
            return Ok(bytes);
        }
        let samples = features
            .encode(&self.table)
            .map_err(|e| anyhow!("encoding the rows with the job's featurizer: {e}"))?;
        let config = local_training(terms, job, &agent.outbox.address(), seq);
        let rows = samples.rows() as u64;
        let model = model.clone();
        let started = Instant::now();
        let trained = tokio::task::spawn_blocking(move || {
            train::train(&model.spec, &model.params, &samples, &config)
                .map(|out| params::sub(&out.params, &model.params))
        })
        .await?
        .map_err(|e| anyhow!("local training: {e}"))?;
        tracing::info!(
            job,
            round = seq,
            rows,
            train_ms = millis(started),
            "trained"
        );
        let trained = match self.settings.drill.scale_update {
            Some(factor) => trained.into_iter().map(|v| v * factor).collect(),
            None => trained,
        };
        let bytes = Weighted {
            samples: rows,
            values: trained,
        }
        .encode();
        save_file(&agent.state_dir, &name, &bytes)?;
        Ok(bytes)
    }

    async fn serve(&mut self, agent: &mut Agent, job: JobId) -> anyhow::Result<()> {
        let view = agent
            .nodes
            .call(|c| async move { c.job(job).await })
            .await?;
        let the_job = &view.entries.job.value;
        if the_job.status.is_finished() {
            tracing::info!(job, status = ?the_job.status, "job ended");
            agent.outbox.forget(&format!("job {job} "))?;
            for seq in 1..=the_job.rounds_started {
                let _ =
                    std::fs::remove_file(agent.state_dir.join(format!("update-{job}-{seq}.bin")));
            }
            self.journal
                .update(|s| s.jobs.insert(job, Enlisted::Finished))?;
            return Ok(());
        }
        if the_job.status != JobStatus::Training {
            return Ok(());
        }
        let seq = the_job.rounds_started;
        let Some(round) = view.entries.rounds.iter().find(|r| r.key.1 == seq) else {
            return Ok(());
        };
        let secure = the_job.terms.secure_aggregation.is_some();
        let round = &round.value;
        let phase = round.phase;
        if round.stage != RoundStage::Posting || phase != 0 && !secure {
            return Ok(());
        }
        let label = format!("job {job} round {seq} phase {phase}");
        if agent.outbox.outcome(&label).is_some() {
            return Ok(());
        }
        let data = if secure {
            let Some(message) = self
                .secure_message(agent, &view, seq, phase, &round.start_model)
                .await?
            else {
                return Ok(());
            };
            if message.len() <= PHASE_INLINE_BYTES_MAX {
                PhaseData::Inline(BoundedVec::new(message).expect("within the inline cap"))
            } else {
                PhaseData::Blob(put_blob(&agent.nodes, message).await?)
            }
        } else {
            let start = fetch_model(&agent.nodes, &round.start_model).await?;
            let bytes = self.update(agent, job, &the_job.terms, seq, &start).await?;
            PhaseData::Blob(put_blob(&agent.nodes, bytes).await?)
        };
        let payload = Payload::PostPhase(PostPhase {
            job,
            round: seq,
            phase,
            data: data.clone(),
        });
        crash_if_drilled(&self.settings.drill, seq, Some(phase));
        let sent = agent.outbox.send(&agent.nodes, &label, payload).await?;
        tracing::info!(job, round = seq, index = round.index, phase, outcome = ?sent, "posted");
        Ok(())
    }
}

impl Provider {
    /// This provider's message for phase `phase` of secure round `seq`, or `None` if the phase
    /// does not expect it (it did not post in the phase before).
    async fn secure_message(
        &self,
        agent: &Agent,
        view: &JobView,
        seq: u32,
        phase: u8,
        start: &Hash,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let job = view.entries.job.key;
        let terms = &view.entries.job.value.terms;
        let roster = secure::roster(&agent.nodes, view).await?;
        let me = agent.outbox.address();
        let Some(id) = roster.iter().position(|(a, _)| *a == me) else {
            bail!("this provider is not on job {job}'s roster");
        };
        let id = id as ClientId;
        let round_view = round_view(&agent.nodes, job, seq).await?;
        let posts = secure::fetch_posts(&agent.nodes, &posts_of(&round_view), &roster).await?;
        if phase > 0 && !posts[usize::from(phase) - 1].contains_key(&id) {
            return Ok(None);
        }
        let start = fetch_model(&agent.nodes, start).await?;
        let round = secure::round_for(job, seq, terms, &roster, &start.0)?;
        let input = match phase {
            0 | 1 => None,
            _ if statistics::pending(&start.0).is_some() => Some(secure::Input::Integers(
                statistics::local(&start.1, &self.table)?,
            )),
            _ => {
                let bytes = self.update(agent, job, terms, seq, &start).await?;
                let update = Weighted::decode(&bytes, start.0.params.len())?;
                let samples = u32::try_from(secure::input_weight(terms, update.samples))
                    .map_err(|_| anyhow!("too many rows"))?;
                Some(secure::Input::Update(update.values, samples))
            }
        };
        let secret = secure::client_secret(agent.outbox.key(), job, seq);
        let key = agent.outbox.key().clone();
        let started = Instant::now();
        let message = tokio::task::spawn_blocking(move || {
            secure::client_message(&round, id, &key, &secret, &posts, phase, input.as_ref())
        })
        .await??;
        tracing::info!(
            job,
            round = seq,
            phase,
            bytes = message.len(),
            secagg_ms = millis(started),
            "secure message"
        );
        Ok(Some(message))
    }
}

impl Role for Provider {
    const NAME: &'static str = "provider";

    async fn tick(&mut self, agent: &mut Agent, look: &Look) -> anyhow::Result<()> {
        let dataset = match self.journal.get().dataset {
            Some(id) => id,
            None => {
                let Some(id) = self.register(agent).await? else {
                    return Ok(());
                };
                self.journal.update(|s| s.dataset = Some(id))?;
                id
            }
        };
        self.recruit(agent, dataset, look).await?;
        let joined: Vec<JobId> = self
            .journal
            .get()
            .jobs
            .iter()
            .filter(|(id, e)| matches!(e, Enlisted::Joined { .. }) && look.includes(**id))
            .map(|(id, _)| *id)
            .collect();
        for job in joined {
            self.serve(agent, job).await?;
        }
        Ok(())
    }
}

/// A report or schema as a JSON blob.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("reports and schemas serialise")
}

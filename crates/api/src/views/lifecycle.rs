//! The lifecycle's wire views: datasets, models and jobs (with their participants, rounds,
//! phase posts and scores), and a trained model's provenance.
//!
//! A get returns every entry with its [`EntryProof`] against the one finalized state root the
//! view names, and [`verify`](DatasetView::verify) checks each proof and that it is of the
//! entry asked for (the right id, the right job, the right round), so a client need not trust
//! the node for what it shows. A proof shows an entry is in the state, not that the node left
//! none out; where the proven entries say what else there must be (a job counts its providers
//! and commits and names its trainer and round count, a model names its parent and job, a
//! job's providers name their datasets), `verify` checks that all of it is there and nothing
//! twice. A round's phase posts cannot be checked that way. Lists are pages of entries without
//! proofs: `?after=<id>&limit=<n>`, at most [`LIST_LIMIT_MAX`] per page.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use aifactory_types::lifecycle::{
    Dataset, DatasetId, Job, JobId, JobTerms, Model, ModelId, Participant, PhaseData, PhaseKey,
    PrivacyTerms, PrivacyUnit, Role, Round, Score,
};
use aifactory_types::state_key::tag;
use aifactory_types::{Address, EntryProof, Hash};

use crate::schemas;

/// Most entries one page of `GET /v1/datasets`, `/v1/models` or `/v1/jobs` returns (and the
/// default `limit`).
pub const LIST_LIMIT_MAX: usize = 100;

/// Most rounds a job view or a provenance carries, the latest ones: a job may run up to
/// `JOB_ROUNDS_MAX` rounds with retries, and each round's proof is about 3 KB. Older rounds
/// are at `GET /v1/jobs/{id}/rounds/{round}`.
pub const ROUNDS_PER_VIEW_MAX: usize = 128;

/// A dataset's entry: its id and contents.
pub type DatasetEntry = EntryProof<DatasetId, Dataset>;
/// A model's entry.
pub type ModelEntry = EntryProof<ModelId, Model>;
/// A job's entry.
pub type JobEntry = EntryProof<JobId, Job>;
/// A participant's entry, keyed by (job, address).
pub type ParticipantEntry = EntryProof<(JobId, Address), Participant>;
/// A round's entry, keyed by (job, sequence number).
pub type RoundEntry = EntryProof<(JobId, u32), Round>;
/// A phase message's entry.
pub type PhasePostEntry = EntryProof<PhaseKey, PhaseData>;
/// A validator's score entry, keyed by (job, validator).
pub type ScoreEntry = EntryProof<(JobId, Address), Score>;

/// Why a lifecycle view cannot be believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// A proof does not lead to the state root the view names.
    #[error("the proof of {what} does not lead to the state root {root} the node sent")]
    Invalid {
        /// Which entry.
        what: String,
        /// The root the view names.
        root: Hash,
    },
    /// A proof is of another entry than the one the view is about.
    #[error("the node answered with {what}, which is not what was asked for")]
    WrongEntry {
        /// The entry it proved instead.
        what: String,
    },
    /// The proven entries say there must be more (or fewer) than the view holds.
    #[error("the node's answer leaves out or repeats entries: {what}")]
    Incomplete {
        /// What does not add up.
        what: String,
    },
}

/// [`ProofError::Incomplete`] unless `holds`.
pub(crate) fn complete(holds: bool, what: impl FnOnce() -> String) -> Result<(), ProofError> {
    if holds {
        Ok(())
    } else {
        Err(ProofError::Incomplete { what: what() })
    }
}

/// Checks that `entry` is in table `table_tag` under `root` and that `wanted` holds of its key.
pub(crate) fn check<K, V>(
    entry: &EntryProof<K, V>,
    table_tag: u8,
    root: &Hash,
    wanted: impl FnOnce(&K) -> bool,
    name: &str,
) -> Result<(), ProofError>
where
    K: borsh::BorshSerialize + std::fmt::Debug,
    V: borsh::BorshSerialize,
{
    let what = || format!("{name} {:?}", entry.key);
    if !wanted(&entry.key) {
        return Err(ProofError::WrongEntry { what: what() });
    }
    if !entry.verify(table_tag, root) {
        return Err(ProofError::Invalid {
            what: what(),
            root: *root,
        });
    }
    Ok(())
}

/// A dataset with its proof against the state root of a finalized block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetView {
    /// The height of the block whose state the proof is against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The dataset (`key` is its id) and its Merkle proof.
    #[schema(value_type = schemas::DatasetEntrySchema)]
    pub dataset: DatasetEntry,
}

impl DatasetView {
    /// Whether this proves dataset `id` under the view's own state root.
    pub fn verify(&self, id: DatasetId) -> Result<(), ProofError> {
        check(
            &self.dataset,
            tag::DATASETS,
            &self.state_root,
            |k| *k == id,
            "dataset",
        )
    }
}

/// A model with its proof against the state root of a finalized block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    /// The height of the block whose state the proof is against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The model (`key` is its id) and its Merkle proof.
    #[schema(value_type = schemas::ModelEntrySchema)]
    pub model: ModelEntry,
}

impl ModelView {
    /// Whether this proves model `id` under the view's own state root.
    pub fn verify(&self, id: ModelId) -> Result<(), ProofError> {
        check(
            &self.model,
            tag::MODELS,
            &self.state_root,
            |k| *k == id,
            "model",
        )
    }
}

/// A job's entries: the job and its participants, latest rounds and scores, each proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobEntries {
    /// The job (`key` is its id): its sponsor, terms, status and escrow.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub job: JobEntry,
    /// Its trainer, providers and validators, in address order, each with what it locked,
    /// contributed and was paid.
    #[schema(value_type = Vec<schemas::ParticipantEntrySchema>)]
    pub participants: Vec<ParticipantEntry>,
    /// How many rounds it started, retries included.
    pub rounds_total: u32,
    /// Its latest rounds (at most `ROUNDS_PER_VIEW_MAX`), in sequence order, each with its
    /// start model and, once closed, its aggregate and new model hashes.
    #[schema(value_type = Vec<schemas::EntryProofSchema>)]
    pub rounds: Vec<RoundEntry>,
    /// Its validators' committed and revealed scores, in address order.
    #[schema(value_type = Vec<schemas::ScoreEntrySchema>)]
    pub scores: Vec<ScoreEntry>,
}

impl JobEntries {
    /// Whether every entry is of job `id` and proven under `root`, and they are all the job
    /// says there are: its trainer, as many providers as it counts, a validator and a score
    /// for each commit, and its latest rounds, each once.
    pub fn verify(&self, id: JobId, root: &Hash) -> Result<(), ProofError> {
        check(&self.job, tag::JOBS, root, |k| *k == id, "job")?;
        for p in &self.participants {
            check(p, tag::PARTICIPANTS, root, |k| k.0 == id, "participant")?;
        }
        for r in &self.rounds {
            check(r, tag::ROUNDS, root, |k| k.0 == id, "round")?;
        }
        for s in &self.scores {
            check(s, tag::SCORES, root, |k| k.0 == id, "score")?;
        }
        self.check_complete()
    }

    /// The counts and names in the proven job entry against the entries listed. Participants
    /// are never removed and one address has one role, so the counts are exact.
    fn check_complete(&self) -> Result<(), ProofError> {
        let job = &self.job.value;
        let ascending = |keys: Vec<&(JobId, Address)>| keys.windows(2).all(|w| w[0] < w[1]);
        complete(
            ascending(self.participants.iter().map(|p| &p.key).collect())
                && ascending(self.scores.iter().map(|s| &s.key).collect()),
            || "participants or scores out of address order, or repeated".to_owned(),
        )?;
        let with_role = |want: fn(&Role) -> bool| -> Vec<Address> {
            let found = self.participants.iter().filter(|p| want(&p.value.role));
            found.map(|p| p.key.1).collect()
        };
        let trainers = with_role(|r| matches!(r, Role::Trainer));
        let providers = with_role(|r| matches!(r, Role::Provider { .. })).len();
        let validators = with_role(|r| matches!(r, Role::Validator));
        let scored: Vec<Address> = self.scores.iter().map(|s| s.key.1).collect();
        complete(
            trainers == job.trainer.into_iter().collect::<Vec<_>>(),
            || format!("trainers {trainers:?}, but the job names {:?}", job.trainer),
        )?;
        complete(providers == usize::from(job.providers), || {
            format!(
                "{providers} providers, but the job counts {}",
                job.providers
            )
        })?;
        complete(
            validators.len() == usize::from(job.commits) && validators == scored,
            || {
                let (v, s, c) = (validators.len(), scored.len(), job.commits);
                format!("{v} validators and {s} scores for {c} commits")
            },
        )?;
        let shown: Vec<u32> = self.rounds.iter().map(|r| r.key.1).collect();
        let skipped = job
            .rounds_started
            .saturating_sub(ROUNDS_PER_VIEW_MAX as u32);
        let latest: Vec<u32> = (skipped + 1..=job.rounds_started).collect();
        complete(
            self.rounds_total == job.rounds_started && shown == latest,
            || {
                let (total, started) = (self.rounds_total, job.rounds_started);
                format!("rounds {shown:?} of {total}, but the job started {started}")
            },
        )
    }
}

/// A job with its participants, rounds and scores, all proven against one state root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The job's entries.
    #[serde(flatten)]
    pub entries: JobEntries,
    /// With differential privacy, the ε each provider spends on the job: computed off the
    /// ledger by the RDP accountant from the proven terms (rounds, epochs, batch size, noise
    /// multiplier, δ) and its dataset's registered rows. Empty without differential privacy.
    #[serde(default)]
    pub privacy: Vec<ProviderEpsilon>,
}

/// The ε a job's terms spend of a dataset of `rows` rows at the terms' δ, by the RDP
/// accountant; `None` outside the accountant's domain. Providers' agents decide with this, and
/// the API reports it, so both say the same. Per example: DP-SGD's steps over the rows, at its
/// batch's sampling rate. Per provider: one Gaussian release of the noised sum per round, with
/// every provider in every round (sampling rate 1), whatever the rows.
pub fn provider_epsilon(terms: &JobTerms, privacy: &PrivacyTerms, rows: u64) -> Option<f64> {
    let (rows, batch_size, epochs) = match privacy.unit {
        PrivacyUnit::Example => (
            rows,
            u64::from(terms.training.batch_size),
            u64::from(terms.training.epochs),
        ),
        PrivacyUnit::Provider => (1, 1, 1),
    };
    aifactory_accountant::federated_epsilon(
        rows,
        batch_size,
        epochs,
        u64::from(terms.rounds),
        privacy.noise_multiplier as f64 / 1e6,
        privacy.delta_pico as f64 / 1e12,
    )
}

/// The privacy one provider spends on a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProviderEpsilon {
    /// The provider.
    #[schema(value_type = schemas::AddressText)]
    pub provider: Address,
    /// Its dataset.
    pub dataset: u64,
    /// The dataset's rows, as registered.
    pub rows: u64,
    /// ε at the job's δ, or `null` if the terms are outside the accountant's domain.
    pub epsilon: Option<f64>,
}

impl JobView {
    /// Whether this proves job `id` and only its entries under the view's own state root.
    pub fn verify(&self, id: JobId) -> Result<(), ProofError> {
        self.entries.verify(id, &self.state_root)
    }
}

/// The messages posted in one phase of a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhasePosts {
    /// The phase's number.
    pub phase: u8,
    /// Its name (`update`, or `advertise_keys` ... `unmasking` with secure aggregation).
    pub name: String,
    /// Its posts, in poster address order: the phase's survivors.
    #[schema(value_type = Vec<schemas::EntryProofSchema>)]
    pub posts: Vec<PhasePostEntry>,
}

/// A round of a job with each phase's posts, all proven against one state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The round (`key` is `[job, sequence]`).
    #[schema(value_type = schemas::EntryProofSchema)]
    pub round: RoundEntry,
    /// Every phase of the job's rounds, in order, with what was posted in it.
    pub phases: Vec<PhasePosts>,
}

impl RoundView {
    /// Whether this proves round `round` of job `job` and only its posts.
    pub fn verify(&self, job: JobId, round: u32) -> Result<(), ProofError> {
        let root = &self.state_root;
        check(
            &self.round,
            tag::ROUNDS,
            root,
            |k| *k == (job, round),
            "round",
        )?;
        for phase in &self.phases {
            for post in &phase.posts {
                let ours = |k: &PhaseKey| (k.job, k.round, k.phase) == (job, round, phase.phase);
                check(post, tag::PHASE_POSTS, root, ours, "phase post")?;
            }
        }
        Ok(())
    }
}

/// What is behind a model, all proven against one state root: the model, the model it derives
/// from, and for a trained model the job that produced it (terms, participants with their
/// stakes, samples and payouts, rounds with their model hashes, scores) and its datasets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvenanceView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The model asked about.
    #[schema(value_type = schemas::ModelEntrySchema)]
    pub model: ModelEntry,
    /// The model it derives from, if any (a trained model's base model).
    #[schema(value_type = Option<schemas::ModelEntrySchema>)]
    pub parent: Option<ModelEntry>,
    /// The job that trained it; `null` for a registered model.
    pub job: Option<JobEntries>,
    /// The datasets the job's providers enlisted, in id order.
    #[schema(value_type = Vec<schemas::DatasetEntrySchema>)]
    pub datasets: Vec<DatasetEntry>,
}

impl ProvenanceView {
    /// Whether this proves model `id`, its parent, the job its `trained_by` names and that
    /// job's datasets, all under the view's own state root.
    pub fn verify(&self, id: ModelId) -> Result<(), ProofError> {
        let root = &self.state_root;
        check(&self.model, tag::MODELS, root, |k| *k == id, "model")?;
        let named = self.model.value.parent;
        complete(self.parent.is_some() == named.is_some(), || {
            format!("the model names parent {named:?}, the answer does not prove it")
        })?;
        if let Some(parent) = &self.parent {
            check(
                parent,
                tag::MODELS,
                root,
                |k| Some(*k) == named,
                "parent model",
            )?;
        }
        let trained_by = self.model.value.trained_by.as_ref().map(|t| t.job);
        match (&self.job, trained_by) {
            (Some(job), Some(named)) => job.verify(named, root)?,
            (None, None) => {}
            (Some(job), None) => {
                return Err(ProofError::WrongEntry {
                    what: format!("job {} for a model no job trained", job.job.key),
                });
            }
            (None, Some(named)) => {
                return Err(ProofError::WrongEntry {
                    what: format!("no job, though the model was trained by job {named}"),
                });
            }
        }
        let enlisted = self.enlisted_datasets();
        for dataset in &self.datasets {
            let ours = |k: &DatasetId| enlisted.contains(k);
            check(dataset, tag::DATASETS, root, ours, "dataset")?;
        }
        let shown: Vec<DatasetId> = self.datasets.iter().map(|d| d.key).collect();
        complete(shown == enlisted, || {
            format!("datasets {shown:?}, but the job's providers enlisted {enlisted:?}")
        })
    }

    /// The datasets the job's provider entries name, in id order, once each.
    pub fn enlisted_datasets(&self) -> Vec<DatasetId> {
        let enlisted: std::collections::BTreeSet<DatasetId> = self
            .job
            .iter()
            .flat_map(|job| &job.participants)
            .filter_map(|p| match p.value.role {
                Role::Provider { dataset, .. } => Some(dataset),
                _ => None,
            })
            .collect();
        enlisted.into_iter().collect()
    }
}

/// A dataset in a list, without proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetItem {
    /// Its id.
    pub id: DatasetId,
    /// Its contents.
    #[schema(value_type = schemas::DatasetSchema)]
    pub dataset: Dataset,
}

/// A model in a list, without proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelItem {
    /// Its id.
    pub id: ModelId,
    /// Its contents.
    #[schema(value_type = schemas::ModelSchema)]
    pub model: Model,
}

/// A job in a list, without proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobItem {
    /// Its id.
    pub id: JobId,
    /// Its contents.
    #[schema(value_type = Object)]
    pub job: Job,
}

/// One page of datasets, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetPage {
    /// The height of the finalized state listed.
    pub height: u64,
    /// The datasets with ids after `after`, at most `limit` of them.
    pub items: Vec<DatasetItem>,
    /// The `after` of the next page, or `null` if this is the last.
    pub next_after: Option<DatasetId>,
}

/// One page of models, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelPage {
    /// The height of the finalized state listed.
    pub height: u64,
    /// The models with ids after `after`, at most `limit` of them.
    pub items: Vec<ModelItem>,
    /// The `after` of the next page, or `null` if this is the last.
    pub next_after: Option<ModelId>,
}

/// One page of jobs, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    /// The height of the finalized state listed.
    pub height: u64,
    /// The jobs with ids after `after`, at most `limit` of them.
    pub items: Vec<JobItem>,
    /// The `after` of the next page, or `null` if this is the last.
    pub next_after: Option<JobId>,
}

/// Which page of a list: entries with ids above `after`, at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The last id of the previous page (0 for the first page).
    pub after: u64,
    /// Most entries to return, 1 to [`LIST_LIMIT_MAX`].
    pub limit: usize,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            after: 0,
            limit: LIST_LIMIT_MAX,
        }
    }
}

impl PageRequest {
    /// The query string asking for this page.
    pub fn query(&self) -> String {
        format!("after={}&limit={}", self.after, self.limit)
    }
}

#[cfg(feature = "ledger")]
mod from_state;
#[cfg(feature = "ledger")]
pub(crate) use from_state::{page, proven};

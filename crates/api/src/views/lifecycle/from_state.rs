//! Building the lifecycle views from a ledger state (feature `ledger`), so the node and
//! `testing` answer every route the same way, each view from one state and so one root.

use aifactory_ledger::{
    DatasetsTable, JobsTable, ModelsTable, ParticipantsTable, PhasePostsTable, RoundsTable,
    ScoresTable, State, TableDef,
};
use aifactory_types::EntryProof;
use aifactory_types::lifecycle::{DatasetId, JobId, ModelId, PhaseKey, Role, phase_names};

use super::*;

/// The proof of an entry the state just listed, which must exist.
pub(crate) fn proven<T: TableDef>(state: &State, key: T::Key) -> EntryProof<T::Key, T::Value> {
    state
        .proof::<T>(&key)
        .unwrap_or_else(|| panic!("{} lists {key:?} but cannot prove it", T::NAME))
}

/// The entries with ids after `request.after`, up to `last` (the last id issued), at most
/// `request.limit` of them, and the next page's `after` if there are more. Ids are sequential
/// and entries are never removed, so this looks up at most `limit` ids.
pub(crate) fn page<V>(
    request: PageRequest,
    last: u64,
    get: impl Fn(u64) -> Option<V>,
) -> (Vec<(u64, V)>, Option<u64>) {
    let limit = request.limit.clamp(1, LIST_LIMIT_MAX);
    let items: Vec<(u64, V)> = (request.after.saturating_add(1)..=last)
        .filter_map(|id| get(id).map(|v| (id, v)))
        .take(limit)
        .collect();
    let next_after = match items.last() {
        Some((id, _)) if *id < last && items.len() == limit => Some(*id),
        _ => None,
    };
    (items, next_after)
}

impl DatasetView {
    /// Dataset `id` with its proof, or `None` if there is none.
    pub fn from_state(state: &State, id: DatasetId) -> Option<Self> {
        Some(DatasetView {
            height: state.height(),
            state_root: state.root(),
            dataset: state.proof::<DatasetsTable>(&id)?,
        })
    }
}

impl ModelView {
    /// Model `id` with its proof, or `None` if there is none.
    pub fn from_state(state: &State, id: ModelId) -> Option<Self> {
        Some(ModelView {
            height: state.height(),
            state_root: state.root(),
            model: state.proof::<ModelsTable>(&id)?,
        })
    }
}

impl JobEntries {
    /// Job `id` and its entries, or `None` if there is no such job.
    pub fn from_state(state: &State, id: JobId) -> Option<Self> {
        let job = state.proof::<JobsTable>(&id)?;
        let participants = state
            .participants(id)
            .map(|(address, _)| proven::<ParticipantsTable>(state, (id, address)))
            .collect();
        let rounds_total = state.rounds(id).count();
        let rounds = state
            .rounds(id)
            .skip(rounds_total.saturating_sub(ROUNDS_PER_VIEW_MAX))
            .map(|(seq, _)| proven::<RoundsTable>(state, (id, seq)))
            .collect();
        let scores = state
            .scores(id)
            .map(|(address, _)| proven::<ScoresTable>(state, (id, address)))
            .collect();
        Some(JobEntries {
            job,
            participants,
            rounds_total: u32::try_from(rounds_total).expect("round sequence numbers are u32"),
            rounds,
            scores,
        })
    }
}

impl JobView {
    /// Job `id` with its entries, or `None` if there is no such job.
    pub fn from_state(state: &State, id: JobId) -> Option<Self> {
        Some(JobView {
            height: state.height(),
            state_root: state.root(),
            entries: JobEntries::from_state(state, id)?,
            privacy: provider_epsilons(state, id),
        })
    }
}

/// The ε each provider of job `id` spends by its DP terms (none without DP).
fn provider_epsilons(state: &State, id: JobId) -> Vec<ProviderEpsilon> {
    let Some(job) = state.job(id) else {
        return Vec::new();
    };
    let terms = &job.terms;
    let Some(privacy) = terms.privacy else {
        return Vec::new();
    };
    state
        .participants(id)
        .filter_map(|(provider, participant)| match participant.role {
            Role::Provider { dataset, .. } => Some((provider, dataset)),
            _ => None,
        })
        .map(|(provider, dataset)| {
            let rows = state.dataset(dataset).map_or(0, |d| d.rows);
            let epsilon = super::provider_epsilon(terms, &privacy, rows);
            ProviderEpsilon {
                provider,
                dataset,
                rows,
                epsilon,
            }
        })
        .collect()
}

impl RoundView {
    /// Round `round` of job `job` with every phase's posts, or `None` if there is no such
    /// round.
    pub fn from_state(state: &State, job: JobId, round: u32) -> Option<Self> {
        let entry = state.proof::<RoundsTable>(&(job, round))?;
        let secure = state.job(job)?.terms.secure_aggregation.is_some();
        let phases = (0u8..)
            .zip(phase_names(secure))
            .map(|(phase, name)| PhasePosts {
                phase,
                name: (*name).to_owned(),
                posts: state
                    .phase_posts(job, round, phase)
                    .map(|(poster, _)| {
                        let key = PhaseKey {
                            job,
                            round,
                            phase,
                            poster,
                        };
                        proven::<PhasePostsTable>(state, key)
                    })
                    .collect(),
            })
            .collect();
        Some(RoundView {
            height: state.height(),
            state_root: state.root(),
            round: entry,
            phases,
        })
    }
}

impl ProvenanceView {
    /// What is behind model `id`, or `None` if there is no such model.
    pub fn from_state(state: &State, id: ModelId) -> Option<Self> {
        let model = state.proof::<ModelsTable>(&id)?;
        let parent = model
            .value
            .parent
            .map(|parent| proven::<ModelsTable>(state, parent));
        let job = model
            .value
            .trained_by
            .as_ref()
            .map(|trained| JobEntries::from_state(state, trained.job).expect("a model's job"));
        let mut view = ProvenanceView {
            height: state.height(),
            state_root: state.root(),
            model,
            parent,
            job,
            datasets: Vec::new(),
        };
        view.datasets = view
            .enlisted_datasets()
            .into_iter()
            .map(|dataset| proven::<DatasetsTable>(state, dataset))
            .collect();
        Some(view)
    }
}

impl DatasetPage {
    /// The page of datasets `request` asks for.
    pub fn from_state(state: &State, request: PageRequest) -> Self {
        let last = state.id_counters().datasets;
        let (items, next_after) = page(request, last, |id| state.dataset(id).cloned());
        DatasetPage {
            height: state.height(),
            items: items
                .into_iter()
                .map(|(id, dataset)| DatasetItem { id, dataset })
                .collect(),
            next_after,
        }
    }
}

impl ModelPage {
    /// The page of models `request` asks for.
    pub fn from_state(state: &State, request: PageRequest) -> Self {
        let last = state.id_counters().models;
        let (items, next_after) = page(request, last, |id| state.model(id).cloned());
        ModelPage {
            height: state.height(),
            items: items
                .into_iter()
                .map(|(id, model)| ModelItem { id, model })
                .collect(),
            next_after,
        }
    }
}

impl JobPage {
    /// The page of jobs `request` asks for.
    pub fn from_state(state: &State, request: PageRequest) -> Self {
        let last = state.id_counters().jobs;
        let (items, next_after) = page(request, last, |id| state.job(id).cloned());
        JobPage {
            height: state.height(),
            items: items
                .into_iter()
                .map(|(id, job)| JobItem { id, job })
                .collect(),
            next_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(request: PageRequest, last: u64) -> (Vec<u64>, Option<u64>) {
        let (items, next) = page(request, last, Some);
        (items.into_iter().map(|(id, _)| id).collect(), next)
    }

    #[test]
    fn pages_cover_every_id_once_and_stop() {
        let page_of = |after, limit| PageRequest { after, limit };
        assert_eq!(ids(page_of(0, 2), 5), (vec![1, 2], Some(2)));
        assert_eq!(ids(page_of(2, 2), 5), (vec![3, 4], Some(4)));
        assert_eq!(ids(page_of(4, 2), 5), (vec![5], None));
        assert_eq!(ids(page_of(3, 2), 5), (vec![4, 5], None));
        assert_eq!(ids(page_of(5, 2), 5), (vec![], None));
        assert_eq!(ids(page_of(u64::MAX, 2), 5), (vec![], None));
        assert_eq!(ids(page_of(0, 2), 0), (vec![], None));
        let all = ids(page_of(0, 10_000), 1_000).0;
        assert_eq!(all.len(), LIST_LIMIT_MAX, "the limit is capped");
    }

    #[test]
    fn a_missing_id_is_skipped() {
        let (items, next) = page(PageRequest { after: 0, limit: 2 }, 4, |id| {
            (id != 2).then_some(id)
        });
        assert_eq!(items, vec![(1, 1), (3, 3)]);
        assert_eq!(next, Some(3));
    }
}

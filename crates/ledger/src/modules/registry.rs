//! The registries: datasets (`RegisterDataset`, `UpdateDataset`, `RetireDataset`) and models
//! (`RegisterModel`). Rows and model bytes never touch the chain: a dataset is its schema,
//! row count, Merkle root of rows, reports and terms; a model is a blob hash and its terms.
//!
//! A dataset locks at least `dataset_stake_min` from its provider until it retires, which it
//! may only do while no unfinished job has it enlisted.

use aifactory_types::lifecycle::{
    BASIS_POINTS_WHOLE, Dataset, IdCounters, Licence, Model, RegisterDataset, RegisterModel,
    RetireDataset, UpdateDataset,
};
use aifactory_types::{Address, Event, Payload, TxError};

use super::{Module, treasury};
use crate::execute::BlockContext;
use crate::state::State;

/// Datasets and models.
pub(crate) struct Registry;

impl Module for Registry {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::RegisterDataset(d) => register_dataset(state, ctx, sender, d),
            Payload::UpdateDataset(u) => update_dataset(state, sender, u),
            Payload::RetireDataset(r) => retire_dataset(state, sender, r),
            Payload::RegisterModel(m) => register_model(state, ctx, sender, m),
            _ => return None,
        };
        Some(result.map(|event| events.push(event)))
    }
}

/// The next id of one kind, counted in the counters table.
pub(crate) fn next_id(state: &mut State, kind: impl FnOnce(&mut IdCounters) -> &mut u64) -> u64 {
    state.tables.counters.upsert((), |counters| {
        let last = kind(counters);
        *last = last.checked_add(1).expect("ids never reach 2^64");
        *last
    })
}

fn check_licence(licence: &Licence) -> Result<(), TxError> {
    match licence {
        Licence::Spdx(id) if id.as_str().trim().is_empty() => Err(TxError::EmptyLicence),
        _ => Ok(()),
    }
}

fn register_dataset(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    terms: &RegisterDataset,
) -> Result<Event, TxError> {
    if terms.rows == 0 {
        return Err(TxError::EmptyDataset);
    }
    check_licence(&terms.licence)?;
    let min = state.params().dataset_stake_min;
    if terms.stake < min {
        return Err(TxError::DatasetStakeTooLow {
            min,
            offered: terms.stake,
        });
    }
    treasury::lock(state, sender, terms.stake)?;
    let id = next_id(state, |c| &mut c.datasets);
    state.tables.datasets.insert(
        id,
        Dataset {
            provider: sender,
            schema: terms.schema,
            rows: terms.rows,
            rows_root: terms.rows_root,
            licence: terms.licence.clone(),
            price: terms.price,
            quality_report: terms.quality_report,
            anonymity_report: terms.anonymity_report,
            stake: terms.stake,
            registered_height: ctx.height,
            active_jobs: 0,
            jobs_joined: 0,
            retired: false,
        },
    );
    Ok(Event::DatasetRegistered {
        dataset: id,
        provider: sender,
        stake: terms.stake,
    })
}

/// The sender's own, unretired dataset.
fn own_dataset(state: &State, sender: Address, id: u64) -> Result<&Dataset, TxError> {
    let dataset = state
        .dataset(id)
        .ok_or(TxError::UnknownDataset { dataset: id })?;
    if dataset.provider != sender {
        return Err(TxError::NotDatasetProvider { dataset: id });
    }
    if dataset.retired {
        return Err(TxError::DatasetRetired { dataset: id });
    }
    Ok(dataset)
}

fn update_dataset(
    state: &mut State,
    sender: Address,
    update: &UpdateDataset,
) -> Result<Event, TxError> {
    own_dataset(state, sender, update.dataset)?;
    check_licence(&update.licence)?;
    state.tables.datasets.upsert(update.dataset, |d| {
        d.licence = update.licence.clone();
        d.price = update.price;
    });
    Ok(Event::DatasetUpdated {
        dataset: update.dataset,
    })
}

fn retire_dataset(
    state: &mut State,
    sender: Address,
    retire: &RetireDataset,
) -> Result<Event, TxError> {
    let dataset = own_dataset(state, sender, retire.dataset)?;
    if dataset.active_jobs > 0 {
        return Err(TxError::DatasetInUse {
            dataset: retire.dataset,
            active_jobs: dataset.active_jobs,
        });
    }
    let stake = dataset.stake;
    state.tables.datasets.upsert(retire.dataset, |d| {
        d.stake = 0;
        d.retired = true;
    });
    state.credit(sender, stake);
    Ok(Event::DatasetRetired {
        dataset: retire.dataset,
        stake_returned: stake,
    })
}

fn register_model(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    terms: &RegisterModel,
) -> Result<Event, TxError> {
    if terms.royalty_bps > BASIS_POINTS_WHOLE {
        return Err(TxError::RoyaltyTooHigh {
            royalty_bps: terms.royalty_bps,
        });
    }
    check_licence(&terms.licence)?;
    if let Some(parent) = terms.parent
        && state.model(parent).is_none()
    {
        return Err(TxError::UnknownModel { model: parent });
    }
    let id = next_id(state, |c| &mut c.models);
    state.tables.models.insert(
        id,
        Model {
            developer: sender,
            artifact: terms.artifact.clone(),
            royalty_bps: terms.royalty_bps,
            licence: terms.licence.clone(),
            parent: terms.parent,
            registered_height: ctx.height,
            trained_by: None,
        },
    );
    Ok(Event::ModelRegistered {
        model: id,
        developer: sender,
        parent: terms.parent,
    })
}

//! Leave-one-out contributions, measured by a validator on its held-out rows.
//!
//! Retraining the job once without each provider would need every other provider to train
//! again. Instead the validator replays the job from the published updates with one provider's
//! left out of every round (multi-round reconstruction, Song et al. 2019): the job's rule and
//! server optimiser combine the others' updates, round after round, from the job's starting
//! model. A provider's contribution is how much the job's metric on the validator's rows drops
//! without it, floored at zero: a provider whose updates hurt the model contributes nothing.
//! The ledger pays the providers' pool by the stake-weighted median of the validators'
//! figures (by samples when every figure is zero).
//!
//! Under secure aggregation nobody sees an individual update, so there is nothing to leave out;
//! the ledger refuses terms that ask for both.

use aifactory_client::views::lifecycle::JobView;
use aifactory_learn::federated::server_opt::ServerState;
use aifactory_learn::store::StoredModel;
use aifactory_types::Address;
use aifactory_types::lifecycle::{Micros, Role, RoundStage};
use anyhow::anyhow;

use crate::nodes::Nodes;
use crate::recipe::{self, fetch_model};
use crate::replay::{combine, fetch_updates, plain_posts, posts_of, round_view};
use crate::scoring::micros;
use crate::statistics;
use crate::wire::Weighted;

/// Each provider's contribution to the job `view` proves, in join order: the drop in `metric`
/// (the job's metric of a model on the validator's rows) when its updates are left out, floored
/// at zero; `full` is the metric of the job's final model.
pub async fn leave_one_out(
    nodes: &Nodes,
    view: &JobView,
    full: f64,
    metric: impl Fn(&StoredModel) -> anyhow::Result<f64>,
) -> anyhow::Result<Vec<Micros>> {
    let mut providers: Vec<(u16, Address)> = view
        .entries
        .participants
        .iter()
        .filter_map(|p| match p.value.role {
            Role::Provider { position, .. } => Some((position, p.key.1)),
            _ => None,
        })
        .collect();
    providers.sort();
    let the_job = &view.entries.job.value;
    let job = view.entries.job.key;
    if the_job.terms.secure_aggregation.is_some() {
        return Err(anyhow!(
            "job {job} hides single updates: there is nothing to leave out"
        ));
    }
    let mut start: Option<StoredModel> = None;
    let mut rounds: Vec<Vec<(Address, Weighted)>> = Vec::new();
    for seq in 1..=the_job.rounds_started {
        let round = round_view(nodes, job, seq).await?;
        let value = &round.round.value;
        if !matches!(value.stage, RoundStage::Closed { .. }) {
            continue;
        }
        let first = match &start {
            Some(model) => model,
            None => start.insert(fetch_model(nodes, &value.start_model).await?.0),
        };
        if statistics::pending(first).is_some() {
            return Err(anyhow!("a plain job cannot have a statistics round"));
        }
        let updates = fetch_updates(
            nodes,
            &plain_posts(&posts_of(&round)),
            &value.contributions,
            first.params.len(),
        )
        .await?;
        rounds.push(
            value
                .contributions
                .iter()
                .map(|c| c.provider)
                .zip(updates)
                .collect(),
        );
    }
    let start = start.ok_or_else(|| anyhow!("job {job} closed no round"))?;
    let mut out = Vec::with_capacity(providers.len());
    for (_, left_out) in &providers {
        let without = replay_without(&the_job.terms, &start, &rounds, left_out)?;
        out.push(micros((full - metric(&without)?).max(0.0)));
    }
    Ok(out)
}

/// The job's model replayed from `start` with `left_out`'s updates dropped from every round (a
/// round it alone contributed to is skipped).
fn replay_without(
    terms: &aifactory_types::lifecycle::JobTerms,
    start: &StoredModel,
    rounds: &[Vec<(Address, Weighted)>],
    left_out: &Address,
) -> anyhow::Result<StoredModel> {
    let mut server =
        ServerState::new(recipe::server(terms), start.params.len()).map_err(|e| anyhow!("{e}"))?;
    let mut model = start.clone();
    for round in rounds {
        let others: Vec<Weighted> = round
            .iter()
            .filter(|(provider, _)| provider != left_out)
            .map(|(_, update)| update.clone())
            .collect();
        if others.is_empty() {
            continue;
        }
        model = combine(terms, &model, &others, &mut server)?.model;
    }
    Ok(model)
}

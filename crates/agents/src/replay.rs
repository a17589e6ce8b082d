//! Recomputing rounds from what was published: the trainer's aggregation, and `job verify`.
//!
//! A closed round names its start model, its survivors' contributions (provider and samples)
//! and the hashes of its aggregate and new model. From the update-phase posts of those
//! providers (blob hashes, on chain) anyone fetches the updates, combines them with the job's
//! rule weighted by samples, applies the server optimiser, and hashes the results. The
//! arithmetic is sequential IEEE f32/f64 in a fixed order (`learn::federated`), so an honest
//! trainer's hashes are matched bit for bit on any machine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aifactory_client::views::lifecycle::{JobView, RoundView};
use aifactory_client::views::{BlockId, ChainEvent};
use aifactory_learn::data::features::Featurizer;
use aifactory_learn::federated::server_opt::ServerState;
use aifactory_learn::store::StoredModel;
use aifactory_secagg::Round;
use aifactory_types::lifecycle::{
    Contribution, JobId, JobTerms, PhaseData, RoundStage, update_phase,
};
use aifactory_types::{Address, Event, Hash, Payload, TxOutcome};
use anyhow::{Context as _, anyhow, bail};
use futures::StreamExt;
use serde::Serialize;

use crate::nodes::Nodes;
use crate::recipe::{self, fetch_blob, fetch_model};
use crate::secure;
use crate::statistics;
use crate::wire::Weighted;

/// A round's result: the aggregate and the new global model, with their blob bytes.
#[derive(Debug)]
pub struct Combined {
    /// The new global model.
    pub model: StoredModel,
    /// The aggregate's blob.
    pub aggregate_bytes: Vec<u8>,
    /// The model's blob.
    pub model_bytes: Vec<u8>,
}

/// Combines `updates` (with the samples each claims) into the next model, moving the server
/// optimiser's state along.
pub fn combine(
    terms: &JobTerms,
    start: &StoredModel,
    updates: &[Weighted],
    server: &mut ServerState,
) -> anyhow::Result<Combined> {
    let values: Vec<Vec<f32>> = updates.iter().map(|u| u.values.clone()).collect();
    let weights: Vec<f64> = updates.iter().map(|u| u.samples as f64).collect();
    let delta = recipe::rule(terms)
        .combine(&values, &weights)
        .map_err(|e| anyhow!("combining the round's updates: {e}"))?;
    let samples = updates.iter().map(|u| u.samples).sum();
    advance(
        start,
        Weighted {
            samples,
            values: delta,
        },
        server,
    )
}

/// Applies a round's combined update (the aggregate) to its start model with the server
/// optimiser.
pub fn advance(
    start: &StoredModel,
    aggregate: Weighted,
    server: &mut ServerState,
) -> anyhow::Result<Combined> {
    let mut params = start.params.clone();
    server
        .apply(&mut params, &aggregate.values)
        .map_err(|e| anyhow!("applying the aggregate: {e}"))?;
    let mut model =
        StoredModel::new(start.spec.clone(), params).map_err(|e| anyhow!("the new model: {e}"))?;
    model.features = start.features.clone();
    let model_bytes = model
        .to_bytes()
        .map_err(|e| anyhow!("encoding the new model: {e}"))?;
    Ok(Combined {
        aggregate_bytes: aggregate.encode(),
        model,
        model_bytes,
    })
}

/// A secure training round's aggregate from all its posts: the survivors' weighted mean,
/// with the contributions to credit (each survivor's dataset rows, which are its weight).
fn secure_aggregate(
    round: &Arc<Round>,
    terms: &JobTerms,
    roster: &[(Address, u64)],
    posts: &secure::Posts,
) -> anyhow::Result<(Weighted, Vec<Contribution>)> {
    let (mean, weight, survivors) = secure::finish(round, posts)?;
    let contributions = credit(roster, &survivors);
    let credited: u64 = contributions.iter().map(|c| c.samples).sum();
    let weights: u64 = contributions
        .iter()
        .map(|c| secure::input_weight(terms, c.samples))
        .sum();
    if weights != weight {
        bail!("the survivors' weights sum to {weights}, but the unmasked weight is {weight}");
    }
    Ok((
        Weighted {
            samples: credited,
            values: mean,
        },
        contributions,
    ))
}

/// A secure round's result from all its posts: a statistics round's, or the survivors'
/// weighted mean applied to `start` with the server optimiser; with the contributions to
/// credit.
pub fn secure_round(
    job: JobId,
    seq: u32,
    terms: &JobTerms,
    roster: &[(Address, u64)],
    posts: &secure::Posts,
    start: &StoredModel,
    server: &mut ServerState,
) -> anyhow::Result<(Combined, Vec<Contribution>)> {
    let round = secure::round_for(job, seq, terms, roster, start)?;
    if let Some(features) = statistics::pending(start) {
        return statistics_round(&round, roster, posts, start, features);
    }
    let (aggregate, credited) = secure_aggregate(&round, terms, roster, posts)?;
    Ok((advance(start, aggregate, server)?, credited))
}

/// A statistics round from all its posts: the starting model with the measured statistics
/// filled in, the totals as the round's aggregate, and the survivors credited with their rows.
fn statistics_round(
    round: &Arc<Round>,
    roster: &[(Address, u64)],
    posts: &secure::Posts,
    start: &StoredModel,
    features: &Featurizer,
) -> anyhow::Result<(Combined, Vec<Contribution>)> {
    let width = statistics::width(features);
    let sum = secure::unmask(round, posts)?;
    if sum.weight_total() != sum.survivors.len() as u64 {
        bail!(
            "{} survivors but a weight of {}: each counts once in a statistics round",
            sum.survivors.len(),
            sum.weight_total()
        );
    }
    let contributions = credit(roster, &sum.survivors);
    let rows: u64 = contributions.iter().map(|c| c.samples).sum();
    let measured = statistics::measure(features, &sum.sums[..width], rows)?;
    let mut model = start.clone();
    model.features = Some(measured.apply(features)?);
    let model_bytes = model
        .to_bytes()
        .map_err(|e| anyhow!("encoding the new model: {e}"))?;
    Ok((
        Combined {
            aggregate_bytes: measured.to_bytes(),
            model,
            model_bytes,
        },
        contributions,
    ))
}

/// The survivors of a secure round, by roster id, credited with their datasets' rows.
fn credit(
    roster: &[(Address, u64)],
    survivors: &[aifactory_secagg::ClientId],
) -> Vec<Contribution> {
    survivors
        .iter()
        .map(|&id| Contribution {
            provider: roster[id as usize].0,
            samples: roster[id as usize].1,
        })
        .collect()
}

/// Round `seq` of job `job`, with each phase's posts, proven.
pub async fn round_view(nodes: &Nodes, job: JobId, seq: u32) -> anyhow::Result<RoundView> {
    Ok(nodes
        .call(|c| async move { c.round(job, seq).await })
        .await?)
}

/// A round's phase messages, each as (phase, poster, data), in phase then poster order.
pub type RoundPosts = Vec<(u8, Address, PhaseData)>;

/// The posts of `view`'s round, as the state holds them: while the job runs (a finished job's
/// are pruned; see [`posts_from_blocks`]).
pub fn posts_of(view: &RoundView) -> RoundPosts {
    view.phases
        .iter()
        .flat_map(|p| {
            p.posts
                .iter()
                .map(|post| (p.phase, post.key.poster, post.value.clone()))
        })
        .collect()
}

/// Every round's posts of job `job`, which opened at height `opened`, read from the finalized
/// blocks up to `tip` that carried them. Once a job ends the ledger prunes its phase messages
/// from the state, but its blocks keep them: the node's events from `opened` on say which
/// blocks hold the job's `PhasePosted`, and only those are fetched.
pub async fn posts_from_blocks(
    nodes: &Nodes,
    job: JobId,
    opened: u64,
    tip: u64,
) -> anyhow::Result<BTreeMap<u32, RoundPosts>> {
    let mut heights = BTreeSet::new();
    let mut events = nodes
        .call(|c| async move { c.events_from(opened).await })
        .await
        .with_context(|| format!("reading the events from height {opened}"))?;
    while let Some(event) = events.next().await {
        match event.map_err(|e| anyhow!("reading the events: {e}"))? {
            ChainEvent::Ledger {
                height,
                event: Event::PhasePosted { job: j, .. },
                ..
            } if j == job => {
                heights.insert(height);
            }
            ChainEvent::Block { height, .. } if height >= tip => break,
            _ => {}
        }
    }
    let mut rounds: BTreeMap<u32, RoundPosts> = BTreeMap::new();
    for height in heights {
        let view = nodes
            .call(|c| async move { c.block(BlockId::Height(height)).await })
            .await?;
        let receipts = view
            .receipts
            .ok_or_else(|| anyhow!("the node has no receipts for block {height}"))?;
        for (tx, receipt) in view.block.txs.iter().zip(&receipts) {
            if let Payload::PostPhase(post) = &tx.tx.payload
                && post.job == job
                && receipt.outcome == TxOutcome::Success
            {
                let posts = rounds.entry(post.round).or_default();
                posts.push((post.phase, tx.tx.sender, post.data.clone()));
            }
        }
    }
    for posts in rounds.values_mut() {
        posts.sort_by_key(|(phase, poster, _)| (*phase, *poster));
    }
    Ok(rounds)
}

/// A plain round's updates: the blob each provider posted in its one phase, by provider.
pub fn plain_posts(posts: &RoundPosts) -> Vec<(Address, Hash)> {
    let phase = update_phase(false);
    posts
        .iter()
        .filter_map(|(p, poster, data)| match data {
            PhaseData::Blob(hash) if *p == phase => Some((*poster, *hash)),
            _ => None,
        })
        .collect()
}

/// Fetches and decodes the updates `contributions` name, in their order; each must claim the
/// samples its contribution records.
pub async fn fetch_updates(
    nodes: &Nodes,
    posts: &[(Address, Hash)],
    contributions: &[Contribution],
    params: usize,
) -> anyhow::Result<Vec<Weighted>> {
    let mut updates = Vec::with_capacity(contributions.len());
    for c in contributions {
        let (_, hash) = posts
            .iter()
            .find(|(poster, _)| *poster == c.provider)
            .ok_or_else(|| anyhow!("{} is credited but posted no update", c.provider))?;
        let update = Weighted::decode(&fetch_blob(nodes, hash).await?, params)
            .map_err(|e| anyhow!("{}'s update {hash}: {e}", c.provider))?;
        if update.samples != c.samples {
            bail!(
                "{} is credited {} samples but its update claims {}",
                c.provider,
                c.samples,
                update.samples
            );
        }
        updates.push(update);
    }
    Ok(updates)
}

/// What recomputing one closed round found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundCheck {
    /// The round's sequence number.
    pub round: u32,
    /// Its index among the job's rounds.
    pub index: u16,
    /// Whether the recomputed aggregate's hash is the one published.
    pub aggregate_matches: bool,
    /// Whether the recomputed model's hash is the one published.
    pub model_matches: bool,
    /// Why it could not be recomputed, if it could not (a missing or malformed blob).
    pub problem: Option<String>,
}

impl RoundCheck {
    /// Whether the round was recomputed and both hashes matched.
    pub fn ok(&self) -> bool {
        self.aggregate_matches && self.model_matches && self.problem.is_none()
    }
}

/// Recomputes every closed round of the job `view` proves, in order, carrying the server
/// optimiser's state from round to round as the trainer must have.
pub async fn verify_job(nodes: &Nodes, view: &JobView) -> anyhow::Result<Vec<RoundCheck>> {
    let job = view.entries.job.key;
    let the_job = view.entries.job.value.clone();
    let terms = the_job.terms;
    let mut checks = Vec::new();
    let mut server: Option<ServerState> = None;
    // A finished job's phase messages are pruned from the state: read them from its blocks.
    let mut from_blocks = if the_job.status.is_finished() {
        Some(posts_from_blocks(nodes, job, the_job.opened_height, view.height).await?)
    } else {
        None
    };
    for seq in 1..=the_job.rounds_started {
        let round_view = round_view(nodes, job, seq).await?;
        let posts = match &mut from_blocks {
            Some(rounds) => rounds.remove(&seq).unwrap_or_default(),
            None => posts_of(&round_view),
        };
        let round = &round_view.round.value;
        let RoundStage::Closed { aggregate, model } = round.stage else {
            continue;
        };
        let mut check = RoundCheck {
            round: seq,
            index: round.index,
            aggregate_matches: false,
            model_matches: false,
            problem: None,
        };
        let result = async {
            let (start, _) = fetch_model(nodes, &round.start_model).await?;
            let state = match &mut server {
                Some(state) => state,
                None => server.insert(
                    ServerState::new(recipe::server(&terms), start.params.len())
                        .map_err(|e| anyhow!("{e}"))?,
                ),
            };
            if terms.secure_aggregation.is_some() {
                let roster = secure::roster(nodes, view).await?;
                let posts = secure::fetch_posts(nodes, &posts, &roster).await?;
                let (combined, credited) =
                    secure_round(job, seq, &terms, &roster, &posts, &start, state)?;
                if credited != round.contributions.to_vec() {
                    bail!("the round credits other providers than the survivors of the sum");
                }
                return Ok(combined);
            }
            let posts = plain_posts(&posts);
            let updates =
                fetch_updates(nodes, &posts, &round.contributions, start.params.len()).await?;
            combine(&terms, &start, &updates, state)
        }
        .await;
        match result {
            Ok(combined) => {
                check.aggregate_matches =
                    Hash::from(blake3::hash(&combined.aggregate_bytes)) == aggregate;
                check.model_matches = Hash::from(blake3::hash(&combined.model_bytes)) == model;
            }
            Err(e) => check.problem = Some(format!("{e:#}")),
        }
        checks.push(check);
    }
    Ok(checks)
}

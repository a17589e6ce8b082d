//! Secure rounds over the chain: the five phases of secure aggregation (`aifactory_secagg`,
//! Bonawitz et al. 2017), each message a phase post, and no relay.
//!
//! In the crate's protocol a trainer relays every message and tells each client who is left;
//! here the ledger records who posted in each phase, and every party (each provider, the
//! trainer, anyone verifying) *replays* the trainer's side over the posts: a `Server` fed the
//! posted messages phase by phase gives each client its advert list, its bundle of sealed
//! shares, the survivor list and the unmasking request, identically for all. A provider
//! likewise replays its own client from the start for each phase, so its secrets live only in
//! memory: they derive from a PRF of its account key and the round (`client_secret`), and a
//! restarted provider re-derives exactly the messages it already posted. The trainer learns the
//! sum of the survivors' updates and nothing about any one; so does anyone else, from the posts.
//!
//! The weighted mean needs each provider's weight: a provider weights its update by its
//! dataset's registered rows (public), so the trainer credits each survivor with those rows and
//! a verifier checks their total against the sum's. With privacy per provider each provider
//! instead clips its update, adds its share of the noise (drawn from its round secret) and
//! weighs 1, and the sum's weight is the survivor count.

use std::collections::BTreeMap;
use std::sync::Arc;

use aifactory_crypto::Domain;
use aifactory_learn::store::StoredModel;
use aifactory_secagg::dp::DpConfig;
use aifactory_secagg::{
    Aggregate, Client, ClientId, GraphKind, Round, RoundConfig, RoundId, Server, SurvivorList,
    UnmaskRequest, decode_advertise, decode_consistency_check, decode_masked_input,
    decode_share_keys, decode_unmask_response,
};
use aifactory_types::lifecycle::{JobId, JobTerms, PhaseData, PrivacyTerms, PrivacyUnit};
use aifactory_types::{Address, BoundedVec, SecretKey};
use anyhow::{anyhow, bail};

use crate::replay::RoundPosts;
use crate::statistics;

/// Domain of a secure round's id.
static ROUND_DOMAIN: Domain = Domain::new("aifactory 2026-12 secagg round v1");

/// Each coordinate of an update is clamped to [-CLIP, CLIP] before quantising: far above the
/// per-round change of any weight under the jobs' learning rates.
pub const CLIP: f32 = 2.0;
/// Bits per quantised coordinate: a step of 2·CLIP / 2^20 ≈ 4e-6.
pub const VALUE_BITS: u8 = 20;
/// Rosters up to this size mask with every other provider; larger ones use SecAgg+'s sparse
/// graph.
const COMPLETE_GRAPH_MAX: usize = 16;

/// The id of round `seq` of job `job`, bound into every secure-aggregation signature and key.
pub fn round_id(job: JobId, seq: u32) -> RoundId {
    RoundId(
        ROUND_DOMAIN
            .hash(&[&job.to_le_bytes(), &seq.to_le_bytes()])
            .0,
    )
}

/// A provider's secret for one round: a PRF (keyed BLAKE3) of its account key over the round
/// id, so it is fresh each round, unknown to anyone else, and the same after a restart.
pub fn client_secret(key: &SecretKey, job: JobId, seq: u32) -> [u8; 32] {
    let mut bytes = key.to_bytes();
    let secret = *blake3::keyed_hash(&bytes, &round_id(job, seq).0).as_bytes();
    bytes.fill(0);
    secret
}

/// The public configuration of round `seq`, of whichever kind its start model makes it. The
/// job's providers in join order are the roster (an address is its ed25519 key; `roster` as
/// [`roster`] gives it, with each one's rows), and the terms give the threshold.
///
/// - A statistics round (`crate::statistics`, while the featurizer's statistics are pending):
///   exact integers, one per limb of the totals, with no noise.
/// - A training round: one input per model parameter, weighted up to the largest dataset's
///   rows; with privacy per provider, each input clipped and noised by the terms and
///   unweighted (a weight would scale one provider's sensitivity by its rows).
pub fn round_for(
    job: JobId,
    seq: u32,
    terms: &JobTerms,
    roster: &[(Address, u64)],
    start: &StoredModel,
) -> anyhow::Result<Arc<Round>> {
    if let Some(features) = statistics::pending(start) {
        return config(job, seq, terms, roster, statistics::width(features), None);
    }
    let dp = distributed_dp(terms).map(|p| DpConfig {
        clip_norm_l2: p.clip_norm as f32 / 1e6,
        noise_multiplier: p.noise_multiplier as f32 / 1e6,
    });
    config(job, seq, terms, roster, start.params.len(), dp)
}

/// The terms' privacy if it is per provider: noise added inside the secure sum.
pub fn distributed_dp(terms: &JobTerms) -> Option<&PrivacyTerms> {
    terms
        .privacy
        .as_ref()
        .filter(|p| p.unit == PrivacyUnit::Provider)
}

/// A provider's weight in a training round: its dataset's rows, or 1 with privacy per provider.
pub fn input_weight(terms: &JobTerms, rows: u64) -> u64 {
    if distributed_dp(terms).is_some() {
        1
    } else {
        rows
    }
}

fn config(
    job: JobId,
    seq: u32,
    terms: &JobTerms,
    roster: &[(Address, u64)],
    params: usize,
    dp: Option<DpConfig>,
) -> anyhow::Result<Arc<Round>> {
    let rows_max = roster.iter().map(|(_, rows)| *rows).max().unwrap_or(1);
    let sample_count_max = if dp.is_some() { 1 } else { rows_max.max(1) };
    let secure = terms
        .secure_aggregation
        .ok_or_else(|| anyhow!("job {job} has no secure aggregation"))?;
    let id = round_id(job, seq);
    let graph = if roster.len() <= COMPLETE_GRAPH_MAX {
        GraphKind::Complete
    } else {
        GraphKind::secagg_plus(roster.len(), id.0)
    };
    let config = RoundConfig {
        round: id,
        roster: BoundedVec::new(roster.iter().map(|(a, _)| a.0).collect())
            .map_err(|_| anyhow!("more providers than a secure round holds"))?,
        params: u32::try_from(params).map_err(|_| anyhow!("too many parameters"))?,
        threshold: u32::from(secure.threshold),
        graph,
        clip: CLIP,
        value_bits: VALUE_BITS,
        sample_count_max: u32::try_from(sample_count_max)
            .unwrap_or(u32::MAX)
            .min(aifactory_secagg::limits::SAMPLE_COUNT_MAX),
        dp,
    };
    Round::new(config).map_err(|e| anyhow!("the round's secure-aggregation configuration: {e}"))
}

/// The posts of a round so far: for each phase, each poster's message by roster id.
pub type Posts = Vec<BTreeMap<ClientId, Vec<u8>>>;

/// What the trainer's side, replayed over the posts through some phase, hands the clients for
/// every phase up to the next one.
pub struct Relayed {
    /// The replayed trainer (its state after the last phase fed).
    pub server: Server,
    /// Phase 1's input: each client's list of live neighbours' adverts.
    pub lists: BTreeMap<ClientId, aifactory_secagg::AdvertiseList>,
    /// Phase 2's input: each client's bundle of shares sealed to it.
    pub bundles: BTreeMap<ClientId, aifactory_secagg::ShareBundle>,
    /// Phase 3's input: the survivors of the masked-input phase.
    pub survivors: Option<SurvivorList>,
    /// Phase 4's input: the signed survivor list to unmask against.
    pub request: Option<UnmaskRequest>,
}

/// Replays the trainer's side over phases `0..=through` of `posts` in one pass (a message that
/// does not decode or check is left out, the same way by everyone), closing each phase and
/// keeping what each close hands on.
pub fn relay(round: &Arc<Round>, posts: &Posts, through: u8) -> anyhow::Result<Relayed> {
    let mut r = Relayed {
        server: Server::new(round.clone()),
        lists: BTreeMap::new(),
        bundles: BTreeMap::new(),
        survivors: None,
        request: None,
    };
    let phase = |p: usize| posts.get(p).into_iter().flat_map(|m| m.values());
    let closed = |e: aifactory_secagg::Error, p: u8| anyhow!("phase {p} cannot close: {e}");
    for bytes in phase(0) {
        let _ = decode_advertise(bytes).and_then(|m| r.server.receive_advertise(m));
    }
    r.lists = r.server.close_advertise().map_err(|e| closed(e, 0))?;
    if through == 0 {
        return Ok(r);
    }
    for bytes in phase(1) {
        let _ = decode_share_keys(bytes).and_then(|m| r.server.receive_share_keys(m));
    }
    r.bundles = r.server.close_share_keys().map_err(|e| closed(e, 1))?;
    if through == 1 {
        return Ok(r);
    }
    for bytes in phase(2) {
        let _ = decode_masked_input(bytes).and_then(|m| r.server.receive_masked_input(m));
    }
    r.survivors = Some(r.server.close_masked_input().map_err(|e| closed(e, 2))?);
    if through == 2 {
        return Ok(r);
    }
    for bytes in phase(3) {
        let _ = decode_consistency_check(bytes).and_then(|m| r.server.receive_consistency_check(m));
    }
    r.request = Some(
        r.server
            .close_consistency_check()
            .map_err(|e| closed(e, 3))?,
    );
    if through == 3 {
        return Ok(r);
    }
    for bytes in phase(4) {
        let _ = decode_unmask_response(bytes).and_then(|m| r.server.receive_unmask_response(m));
    }
    Ok(r)
}

/// What a provider masks in a secure round.
#[derive(Debug, Clone)]
pub enum Input {
    /// A model update and its weight (its dataset's rows): the round yields the weighted mean.
    Update(Vec<f32>, u32),
    /// Exact integers, each within the round's value bits: the round yields their exact sum
    /// (the statistics round, `crate::statistics`).
    Integers(Vec<u64>),
}

/// Client `me`'s message for `phase`, replaying its earlier phases from its secret against one
/// replay of the trainer's side; `input` is needed from the masked-input phase on.
pub fn client_message(
    round: &Arc<Round>,
    me: ClientId,
    key: &SecretKey,
    secret: &[u8; 32],
    posts: &Posts,
    phase: u8,
    input: Option<&Input>,
) -> anyhow::Result<Vec<u8>> {
    if phase > 4 {
        bail!("a secure round has five phases; there is no phase {phase}");
    }
    let signing = ed25519_zebra::SigningKey::from(key.to_bytes());
    let mut client = Client::new(round.clone(), me, signing, secret)
        .map_err(|e| anyhow!("starting the secure-aggregation client: {e}"))?;
    let step = |e: aifactory_secagg::Error| anyhow!("secure aggregation, phase {phase}: {e}");
    let advert = client.advertise().map_err(step)?;
    if phase == 0 {
        return Ok(advert.encode());
    }
    let mut relayed = relay(round, posts, phase - 1)?;
    let missing = |what: &str| anyhow!("the replayed trainer has no {what} for client {me}");
    let list = relayed
        .lists
        .remove(&me)
        .ok_or_else(|| missing("advert list"))?;
    let shares = client.share_keys(&list).map_err(step)?;
    if phase == 1 {
        return Ok(shares.encode());
    }
    let bundle = relayed
        .bundles
        .remove(&me)
        .ok_or_else(|| missing("share bundle"))?;
    let masked = match input.ok_or_else(|| anyhow!("phase {phase} needs the input"))? {
        Input::Update(values, samples) => client.masked_input(&bundle, values, *samples),
        Input::Integers(values) => client.masked_integers(&bundle, values),
    }
    .map_err(step)?;
    if phase == 2 {
        return Ok(masked.encode());
    }
    let survivors = relayed
        .survivors
        .take()
        .ok_or_else(|| missing("survivor list"))?;
    let check = client.consistency_check(&survivors).map_err(step)?;
    if phase == 3 {
        return Ok(check.encode());
    }
    let request = relayed
        .request
        .take()
        .ok_or_else(|| missing("unmask request"))?;
    Ok(client.unmask(&request).map_err(step)?.encode())
}

/// The round's unmasked sum from all its posts.
pub fn unmask(round: &Arc<Round>, posts: &Posts) -> anyhow::Result<Aggregate> {
    relay(round, posts, 4)?
        .server
        .finish()
        .map_err(|e| anyhow!("unmasking the sum: {e}"))
}

/// The round's result from all its posts: the weighted mean of the survivors' updates, the
/// total weight, and the survivors by roster id.
pub fn finish(round: &Arc<Round>, posts: &Posts) -> anyhow::Result<(Vec<f32>, u64, Vec<ClientId>)> {
    let aggregate = unmask(round, posts)?;
    let mean = aggregate
        .mean(&round.config)
        .map_err(|e| anyhow!("the sum's mean: {e}"))?;
    Ok((mean, aggregate.weight_total(), aggregate.survivors.clone()))
}

/// The job's providers in join order (a secure round's roster) with their datasets' rows.
pub async fn roster(
    nodes: &crate::nodes::Nodes,
    view: &aifactory_client::views::lifecycle::JobView,
) -> anyhow::Result<Vec<(Address, u64)>> {
    let mut providers: Vec<(u16, Address, u64)> = Vec::new();
    for p in &view.entries.participants {
        if let aifactory_types::lifecycle::Role::Provider { dataset, position } = p.value.role {
            let rows = nodes.dataset_rows(dataset).await?;
            providers.push((position, p.key.1, rows));
        }
    }
    providers.sort();
    Ok(providers
        .into_iter()
        .map(|(_, a, rows)| (a, rows))
        .collect())
}

/// A round's posts, each fetched (blobs are checked against their hash) and keyed by the
/// poster's roster id.
pub async fn fetch_posts(
    nodes: &crate::nodes::Nodes,
    round: &RoundPosts,
    roster: &[(Address, u64)],
) -> anyhow::Result<Posts> {
    let mut posts: Posts = vec![BTreeMap::new(); 5];
    for (phase, poster, data) in round {
        let Some(slot) = posts.get_mut(usize::from(*phase)) else {
            continue;
        };
        let Some(id) = roster.iter().position(|(a, _)| a == poster) else {
            continue;
        };
        let bytes = match data {
            PhaseData::Inline(bytes) => bytes.to_vec(),
            PhaseData::Blob(hash) => crate::recipe::fetch_blob(nodes, hash).await?.to_vec(),
        };
        slot.insert(id as ClientId, bytes);
    }
    Ok(posts)
}

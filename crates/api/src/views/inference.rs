//! Deployments, payment channels and challenges on the wire: a deployment with its model and
//! the settlement its royalty table follows, a channel with its deployment, a consumer's open
//! channels, a challenge with its votes, each proven against one finalized state root; and
//! pages of deployments and challenges.
//!
//! As for the lifecycle's views, [`verify`](DeploymentView::verify) checks every proof, that it
//! is of the entry asked for, and that the entries the others name are all there.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use aifactory_types::lifecycle::{
    Challenge, ChallengeId, Channel, ChannelId, Deployment, DeploymentId, JobId, Settlement, Vote,
};
use aifactory_types::state_key::tag;
use aifactory_types::{Address, EntryProof, Hash, Params};

use super::lifecycle::{ModelEntry, ProofError, check, complete};
use crate::schemas;

/// A deployment's entry.
pub type DeploymentEntry = EntryProof<DeploymentId, Deployment>;
/// An open channel's entry.
pub type ChannelEntry = EntryProof<ChannelId, Channel>;
/// A settled job's settlement entry.
pub type SettlementEntry = EntryProof<JobId, Settlement>;
/// A challenge's entry.
pub type ChallengeEntry = EntryProof<ChallengeId, Challenge>;
/// A vote's entry: its key is (challenge, voter).
pub type VoteEntry = EntryProof<(ChallengeId, Address), Vote>;

/// A deployment with its model and, for a model a job trained, the job's settlement: all a
/// consumer needs to check the price, the gateway, the blob it must serve and the royalty
/// table, without trusting the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The deployment (`key` is its id): gateway, price, model hash, royalty table, status.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub deployment: DeploymentEntry,
    /// The model it serves.
    #[schema(value_type = schemas::ModelEntrySchema)]
    pub model: ModelEntry,
    /// The settlement of the job that trained the model (none for an imported model).
    #[schema(value_type = Option<schemas::EntryProofSchema>)]
    pub settlement: Option<SettlementEntry>,
}

impl DeploymentView {
    /// Whether this proves deployment `id`, its model and the model's settlement under the
    /// view's own state root.
    pub fn verify(&self, id: DeploymentId) -> Result<(), ProofError> {
        let root = &self.state_root;
        check(
            &self.deployment,
            tag::DEPLOYMENTS,
            root,
            |k| *k == id,
            "deployment",
        )?;
        let model = self.deployment.value.model;
        check(&self.model, tag::MODELS, root, |k| *k == model, "model")?;
        match (&self.model.value.trained_by, &self.settlement) {
            (Some(trained), Some(settlement)) => check(
                settlement,
                tag::SETTLEMENTS,
                root,
                |k| *k == trained.job,
                "settlement",
            ),
            (None, None) => Ok(()),
            _ => complete(false, || {
                "a trained model's settlement, and only a trained model's".to_owned()
            }),
        }
    }
}

/// An open channel with its deployment, proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The channel (`key` is its id): consumer, gateway, deposit, claimed, expiry.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub channel: ChannelEntry,
    /// The deployment it pays.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub deployment: DeploymentEntry,
}

impl ChannelView {
    /// Whether this proves channel `id` and its deployment under the view's own state root.
    pub fn verify(&self, id: ChannelId) -> Result<(), ProofError> {
        let root = &self.state_root;
        check(&self.channel, tag::CHANNELS, root, |k| *k == id, "channel")?;
        let deployment = self.channel.value.deployment;
        check(
            &self.deployment,
            tag::DEPLOYMENTS,
            root,
            |k| *k == deployment,
            "deployment",
        )
    }
}

/// A consumer's open channels, each proven (a proof shows a channel is open; it cannot show
/// that none was left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountChannels {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// Whose channels.
    #[schema(value_type = schemas::AddressText)]
    pub consumer: Address,
    /// Its open channels, in id order.
    #[schema(value_type = Vec<schemas::EntryProofSchema>)]
    pub channels: Vec<ChannelEntry>,
}

impl AccountChannels {
    /// Whether every channel is proven under the view's root and is `consumer`'s.
    pub fn verify(&self, consumer: &Address) -> Result<(), ProofError> {
        complete(self.consumer == *consumer, || {
            "another account's channels".to_owned()
        })?;
        for channel in &self.channels {
            check(
                channel,
                tag::CHANNELS,
                &self.state_root,
                |_| true,
                "channel",
            )?;
            complete(channel.value.consumer == *consumer, || {
                format!("channel {} of another consumer", channel.key)
            })?;
        }
        complete(
            self.channels.windows(2).all(|w| w[0].key < w[1].key),
            || "channels out of order or repeated".to_owned(),
        )
    }
}

/// A deployment in a list, without proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentItem {
    /// Its id.
    pub id: DeploymentId,
    /// Its contents.
    #[schema(value_type = Object)]
    pub deployment: Deployment,
}

/// One page of deployments, in id order (of one model, for `/v1/models/{id}/deployments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentPage {
    /// The height of the finalized state listed.
    pub height: u64,
    /// The deployments with ids after `after`, at most `limit` of them.
    pub items: Vec<DeploymentItem>,
    /// The `after` of the next page, or `null` if this is the last.
    pub next_after: Option<DeploymentId>,
}

/// A challenge with the deployment it concerns and every vote on it, proven: enough to check
/// the tally, and then the outcome, without trusting the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeView {
    /// The height of the block whose state the proofs are against.
    pub height: u64,
    /// That block's state root.
    #[schema(value_type = schemas::HashHex)]
    pub state_root: Hash,
    /// The challenge (`key` is its id): receipt, challenger, bond, vote deadline, status.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub challenge: ChallengeEntry,
    /// The deployment that gave the answer.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub deployment: DeploymentEntry,
    /// Every vote, in voter address order; as many as the challenge counts.
    #[schema(value_type = Vec<schemas::EntryProofSchema>)]
    pub votes: Vec<VoteEntry>,
    /// The chain's parameters: the comparison's tolerance and the outcome's rules.
    #[schema(value_type = schemas::EntryProofSchema)]
    pub params: EntryProof<(), Params>,
}

impl ChallengeView {
    /// Whether this proves challenge `id`, its deployment and all its votes under the view's
    /// own state root.
    pub fn verify(&self, id: ChallengeId) -> Result<(), ProofError> {
        let root = &self.state_root;
        check(
            &self.challenge,
            tag::CHALLENGES,
            root,
            |k| *k == id,
            "challenge",
        )?;
        let deployment = self.challenge.value.deployment;
        check(
            &self.deployment,
            tag::DEPLOYMENTS,
            root,
            |k| *k == deployment,
            "deployment",
        )?;
        for vote in &self.votes {
            check(vote, tag::CHALLENGE_VOTES, root, |k| k.0 == id, "vote")?;
        }
        complete(self.votes.windows(2).all(|w| w[0].key < w[1].key), || {
            "votes out of order or repeated".to_owned()
        })?;
        check(&self.params, tag::PARAMS, root, |()| true, "parameters")?;
        complete(
            self.votes.len() == usize::from(self.challenge.value.voters),
            || {
                format!(
                    "{} votes of the {} cast",
                    self.votes.len(),
                    self.challenge.value.voters
                )
            },
        )
    }
}

/// A challenge in a list, without proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeItem {
    /// Its id.
    pub id: ChallengeId,
    /// Its contents.
    #[schema(value_type = Object)]
    pub challenge: Challenge,
}

/// One page of challenges, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengePage {
    /// The height of the finalized state listed.
    pub height: u64,
    /// The challenges with ids after `after`, at most `limit` of them.
    pub items: Vec<ChallengeItem>,
    /// The `after` of the next page, or `null` if this is the last.
    pub next_after: Option<ChallengeId>,
}

#[cfg(feature = "ledger")]
mod from_state;

//! Building the deployment and channel views from a ledger state.

use aifactory_ledger::{
    ChallengeVotesTable, ChallengesTable, ChannelsTable, DeploymentsTable, ModelsTable,
    ParamsTable, SettlementsTable, State,
};
use aifactory_types::Address;
use aifactory_types::lifecycle::{ChallengeId, ChannelId, DeploymentId, ModelId};

use super::{
    AccountChannels, ChallengeItem, ChallengePage, ChallengeView, ChannelView, DeploymentItem,
    DeploymentPage, DeploymentView,
};
use crate::views::lifecycle::{PageRequest, page, proven};

impl DeploymentView {
    /// Deployment `id` with its model and settlement, or `None` if there is none.
    pub fn from_state(state: &State, id: DeploymentId) -> Option<Self> {
        let deployment = state.proof::<DeploymentsTable>(&id)?;
        let model_id = deployment.value.model;
        let model = proven::<ModelsTable>(state, model_id);
        let settlement = model
            .value
            .trained_by
            .as_ref()
            .map(|trained| proven::<SettlementsTable>(state, trained.job));
        Some(DeploymentView {
            height: state.height(),
            state_root: state.root(),
            deployment,
            model,
            settlement,
        })
    }
}

impl ChannelView {
    /// Open channel `id` with its deployment, or `None` if no such channel is open.
    pub fn from_state(state: &State, id: ChannelId) -> Option<Self> {
        let channel = state.proof::<ChannelsTable>(&id)?;
        let deployment = proven::<DeploymentsTable>(state, channel.value.deployment);
        Some(ChannelView {
            height: state.height(),
            state_root: state.root(),
            channel,
            deployment,
        })
    }
}

impl AccountChannels {
    /// `consumer`'s open channels, each proven.
    pub fn from_state(state: &State, consumer: Address) -> Self {
        AccountChannels {
            height: state.height(),
            state_root: state.root(),
            consumer,
            channels: state
                .consumer_channels(&consumer)
                .map(|id| proven::<ChannelsTable>(state, id))
                .collect(),
        }
    }
}

impl DeploymentPage {
    /// The page of deployments `request` asks for, of `model` only if it is given (then the
    /// page may look past `limit` ids, up to the last deployment).
    pub fn from_state(state: &State, request: PageRequest, model: Option<ModelId>) -> Self {
        let last = state.id_counters().deployments;
        let (items, next_after) = page(request, last, |id| {
            state
                .deployment(id)
                .filter(|d| model.is_none_or(|m| d.model == m))
                .cloned()
        });
        DeploymentPage {
            height: state.height(),
            items: items
                .into_iter()
                .map(|(id, deployment)| DeploymentItem { id, deployment })
                .collect(),
            next_after,
        }
    }
}

impl ChallengeView {
    /// Challenge `id` with its deployment and votes, or `None` if there is none.
    pub fn from_state(state: &State, id: ChallengeId) -> Option<Self> {
        let challenge = state.proof::<ChallengesTable>(&id)?;
        let deployment = proven::<DeploymentsTable>(state, challenge.value.deployment);
        let votes = state
            .challenge_votes(id)
            .map(|(voter, _)| proven::<ChallengeVotesTable>(state, (id, voter)))
            .collect();
        Some(ChallengeView {
            height: state.height(),
            state_root: state.root(),
            challenge,
            deployment,
            votes,
            params: proven::<ParamsTable>(state, ()),
        })
    }
}

impl ChallengePage {
    /// The page of challenges `request` asks for.
    pub fn from_state(state: &State, request: PageRequest) -> Self {
        let last = state.id_counters().challenges;
        let (items, next_after) = page(request, last, |id| state.challenge(id).cloned());
        ChallengePage {
            height: state.height(),
            items: items
                .into_iter()
                .map(|(id, challenge)| ChallengeItem { id, challenge })
                .collect(),
            next_after,
        }
    }
}

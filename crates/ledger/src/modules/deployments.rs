//! Deployments: `Deploy` puts a staked gateway in front of a trained or imported model at a
//! price per call, with its royalty table fixed at once ([`royalties`]); `Undeploy` stops new
//! channels and returns the stake `challenge_window_blocks` later, so that answers already
//! given stay challengeable while the stake is still there. Claims of vouchers already signed
//! are paid until the stake returns, which waits for any challenge still being voted on.

use aifactory_types::lifecycle::{
    Deploy, Deployment, DeploymentError, DeploymentStatus, ModelArtifact, Undeploy,
    gateway_url_is_valid,
};
use aifactory_types::{Address, BoundedVec, Event, Payload, TxError};

use super::{Module, deadline_id, deadline_kind, deadline_subject, registry, royalties, treasury};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// Deploy and undeploy.
pub(crate) struct Deployments;

impl Module for Deployments {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::Deploy(d) => deploy(state, ctx, sender, d),
            Payload::Undeploy(u) => undeploy(state, ctx, sender, u),
            _ => return None,
        };
        Some(result.map(|event| events.push(event)))
    }

    fn on_due(
        state: &mut State,
        ctx: &BlockContext,
        deadline: &Deadline,
        events: &mut Vec<Event>,
    ) -> Option<()> {
        match deadline_subject(deadline) {
            (deadline_kind::UNDEPLOY, deployment, _) => retire(state, ctx, deployment, events),
            _ => return None,
        }
        Some(())
    }
}

fn deploy(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    terms: &Deploy,
) -> Result<Event, TxError> {
    let model = state
        .model(terms.model)
        .ok_or(TxError::UnknownModel { model: terms.model })?;
    let model_hash = match &model.artifact {
        ModelArtifact::Spec(_) => {
            return Err(DeploymentError::ModelNotServable { model: terms.model }.into());
        }
        ModelArtifact::Onnx(hash) | ModelArtifact::Trained { weights: hash, .. } => *hash,
    };
    let validated = model.trained_by.is_some();
    let params = &state.params().inference;
    if terms.stake < params.gateway_stake_min {
        return Err(DeploymentError::StakeTooLow {
            min: params.gateway_stake_min,
            offered: terms.stake,
        }
        .into());
    }
    if terms.price_per_call == 0 {
        return Err(DeploymentError::ZeroPrice.into());
    }
    if !gateway_url_is_valid(terms.url.as_str()) {
        return Err(DeploymentError::UrlInvalid.into());
    }
    if let Some(&deployment) = state.tables.model_gateways.get(&(terms.model, sender)) {
        return Err(DeploymentError::AlreadyDeployed { deployment }.into());
    }
    let royalties = royalties::royalty_table(state, model, sender, terms.gateway_bps)?;
    treasury::lock(state, sender, terms.stake)?;
    let id = registry::next_id(state, |c| &mut c.deployments);
    state.tables.deployments.insert(
        id,
        Deployment {
            gateway: sender,
            model: terms.model,
            model_hash,
            price_per_call: terms.price_per_call,
            url: terms.url.clone(),
            stake: terms.stake,
            royalties: BoundedVec::new(royalties)
                .expect("a table has at most one line per provider and three more"),
            validated,
            status: DeploymentStatus::Active,
            deployed_height: ctx.height,
            claimed_total: 0,
            challenges_open: 0,
        },
    );
    state
        .tables
        .model_gateways
        .insert((terms.model, sender), id);
    Ok(Event::Deployed {
        deployment: id,
        model: terms.model,
        gateway: sender,
        price_per_call: terms.price_per_call,
        stake: terms.stake,
    })
}

/// The deadline that retires deployment `id` at `height`.
fn retirement(id: u64, height: u64) -> Deadline {
    Deadline {
        height,
        kind: deadline_kind::UNDEPLOY,
        id: deadline_id(id, 0),
    }
}

/// The deployment `id`, if `sender` is its gateway.
fn own_deployment(state: &State, sender: Address, id: u64) -> Result<&Deployment, DeploymentError> {
    let deployment = state
        .deployment(id)
        .ok_or(DeploymentError::UnknownDeployment { deployment: id })?;
    if deployment.gateway != sender {
        return Err(DeploymentError::NotGateway { deployment: id });
    }
    Ok(deployment)
}

fn undeploy(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    undeploy: &Undeploy,
) -> Result<Event, TxError> {
    let id = undeploy.deployment;
    let deployment = own_deployment(state, sender, id)?;
    if !matches!(
        deployment.status,
        DeploymentStatus::Active | DeploymentStatus::Suspended
    ) {
        return Err(DeploymentError::NotActive {
            deployment: id,
            status: deployment.status,
        }
        .into());
    }
    let until = ctx
        .height
        .checked_add(state.params().inference.challenge_window_blocks)
        .expect("heights never reach 2^64");
    state
        .tables
        .deployments
        .upsert(id, |d| d.status = DeploymentStatus::Undeploying { until });
    // Due at `until`: the stake is held through the last height an answer can be challenged.
    state.schedule(retirement(id, until));
    Ok(Event::Undeploying {
        deployment: id,
        until,
    })
}

/// Retires an undeploying deployment: its stake returns and it stops being paid. While a
/// challenge of it is open the stake is held, and this is tried again once that vote is over.
fn retire(state: &mut State, ctx: &BlockContext, id: u64, events: &mut Vec<Event>) {
    let deployment = state.deployment(id).expect("a scheduled deployment exists");
    if deployment.challenges_open > 0 {
        let later = ctx
            .height
            .checked_add(state.params().inference.challenge_vote_blocks)
            .expect("heights never reach 2^64");
        state.schedule(retirement(id, later));
        return;
    }
    let (gateway, model, stake) = (deployment.gateway, deployment.model, deployment.stake);
    state.tables.deployments.upsert(id, |d| {
        d.status = DeploymentStatus::Retired;
        d.stake = 0;
    });
    state.tables.model_gateways.remove(&(model, gateway));
    state.credit(gateway, stake);
    events.push(Event::Undeployed {
        deployment: id,
        stake_returned: stake,
    });
}

//! Payment channels (one consumer, one deployment): `OpenChannel` locks a deposit until an
//! expiry height; `TopUpChannel` and `ExtendChannel` add to it and move it later;
//! `ClaimChannels` pays the gateway the latest voucher of each channel it names, split by the
//! deployment's royalty table, and leaves the channel open; `CloseChannel` (the gateway at any
//! time, the consumer after expiry, or the chain itself the block after expiry) refunds what
//! was not claimed.
//!
//! A voucher is the consumer's signature over the cumulative amount owed (see
//! `aifactory_types::lifecycle::channel`); signatures are checked before execution, with the
//! transaction's. The channel only has to hold `claimed < voucher ≤ deposit`: the amount never
//! resets, so a voucher can never be paid twice, and `deposit = claimed + refunded` when the
//! channel closes.

use std::collections::BTreeMap;

use aifactory_types::lifecycle::{
    Channel, ChannelError, ChannelId, ClaimChannels, CloseChannel, DeploymentId, DeploymentStatus,
    ExtendChannel, OpenChannel, TopUpChannel,
};
use aifactory_types::limits::CHANNEL_EXPIRY_BLOCKS_MAX;
use aifactory_types::{Address, Amount, Event, Payload, TxError};

use super::{
    Module, deadline_after, deadline_kind, deadline_subject, registry, royalties, treasury,
};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// Open, top up, extend, claim and close channels.
pub(crate) struct Channels;

impl Module for Channels {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::OpenChannel(o) => open(state, ctx, sender, o).map(|e| events.push(e)),
            Payload::TopUpChannel(t) => top_up(state, ctx, sender, t).map(|e| events.push(e)),
            Payload::ExtendChannel(e) => extend(state, ctx, sender, e).map(|e| events.push(e)),
            Payload::ClaimChannels(c) => claim(state, ctx, sender, c, events),
            Payload::CloseChannel(c) => close_by(state, ctx, sender, c, events),
            _ => return None,
        };
        Some(result)
    }

    fn on_due(
        state: &mut State,
        _ctx: &BlockContext,
        deadline: &Deadline,
        events: &mut Vec<Event>,
    ) -> Option<()> {
        match deadline_subject(deadline) {
            (deadline_kind::CHANNEL_EXPIRY, channel, _) => close(state, channel, events),
            _ => return None,
        }
        Some(())
    }
}

/// The deadline that closes `channel` the block after it expires.
fn expiry(channel: ChannelId, expiry_height: u64) -> Deadline {
    deadline_after(expiry_height, deadline_kind::CHANNEL_EXPIRY, channel, 0)
}

/// Checks that an expiry height is in the range allowed at `height`.
fn check_expiry(state: &State, height: u64, expiry_height: u64) -> Result<(), ChannelError> {
    let min_blocks = state.params().inference.channel_expiry_blocks_min;
    let min = height.saturating_add(min_blocks);
    let max = height.saturating_add(CHANNEL_EXPIRY_BLOCKS_MAX);
    if expiry_height < min || expiry_height > max {
        return Err(ChannelError::ExpiryOutOfRange { min, max });
    }
    Ok(())
}

/// Checks that `deployment` takes new channels and deposits.
fn check_active(state: &State, deployment: DeploymentId) -> Result<(), ChannelError> {
    match state.deployment(deployment).map(|d| d.status) {
        Some(DeploymentStatus::Active) => Ok(()),
        _ => Err(ChannelError::DeploymentNotActive { deployment }),
    }
}

fn open(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    open: &OpenChannel,
) -> Result<Event, TxError> {
    let deployment =
        state
            .deployment(open.deployment)
            .ok_or(ChannelError::DeploymentNotActive {
                deployment: open.deployment,
            })?;
    let gateway = deployment.gateway;
    check_active(state, open.deployment)?;
    let min = state.params().inference.channel_deposit_min;
    if open.deposit < min {
        return Err(ChannelError::DepositTooLow { min }.into());
    }
    check_expiry(state, ctx.height, open.expiry_height)?;
    treasury::lock(state, sender, open.deposit)?;
    let id = registry::next_id(state, |c| &mut c.channels);
    state.tables.channels.insert(
        id,
        Channel {
            consumer: sender,
            deployment: open.deployment,
            gateway,
            deposit: open.deposit,
            claimed: 0,
            expiry_height: open.expiry_height,
            opened_height: ctx.height,
        },
    );
    state.tables.consumer_channels.insert((sender, id), ());
    state.schedule(expiry(id, open.expiry_height));
    Ok(Event::ChannelOpened {
        channel: id,
        deployment: open.deployment,
        consumer: sender,
        deposit: open.deposit,
        expiry_height: open.expiry_height,
    })
}

/// An open channel.
fn channel(state: &State, id: ChannelId) -> Result<&Channel, ChannelError> {
    state
        .channel(id)
        .ok_or(ChannelError::UnknownChannel { channel: id })
}

/// Refuses `channel` (numbered `id`) if it expired before `height`.
fn unexpired(channel: &Channel, id: ChannelId, height: u64) -> Result<(), ChannelError> {
    if height > channel.expiry_height {
        return Err(ChannelError::Expired {
            channel: id,
            expiry_height: channel.expiry_height,
        });
    }
    Ok(())
}

/// The consumer's own open, unexpired channel.
fn own_live_channel<'s>(
    state: &'s State,
    ctx: &BlockContext,
    sender: Address,
    id: ChannelId,
) -> Result<&'s Channel, ChannelError> {
    let channel = channel(state, id)?;
    if channel.consumer != sender {
        return Err(ChannelError::NotConsumer { channel: id });
    }
    unexpired(channel, id, ctx.height)?;
    Ok(channel)
}

fn top_up(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    top_up: &TopUpChannel,
) -> Result<Event, TxError> {
    if top_up.amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    let channel = own_live_channel(state, ctx, sender, top_up.channel)?;
    check_active(state, channel.deployment)?;
    let deposit = channel
        .deposit
        .checked_add(top_up.amount)
        .expect("a deposit never exceeds the supply");
    treasury::lock(state, sender, top_up.amount)?;
    state
        .tables
        .channels
        .upsert(top_up.channel, |c| c.deposit = deposit);
    Ok(Event::ChannelToppedUp {
        channel: top_up.channel,
        deposit,
    })
}

fn extend(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    extend: &ExtendChannel,
) -> Result<Event, TxError> {
    let id = extend.channel;
    let channel = own_live_channel(state, ctx, sender, id)?;
    let current = channel.expiry_height;
    check_active(state, channel.deployment)?;
    if extend.expiry_height <= current {
        return Err(ChannelError::ExpiryNotLater {
            channel: id,
            current,
        }
        .into());
    }
    let max = ctx.height.saturating_add(CHANNEL_EXPIRY_BLOCKS_MAX);
    if extend.expiry_height > max {
        return Err(ChannelError::ExpiryOutOfRange {
            min: current + 1,
            max,
        }
        .into());
    }
    state.unschedule(&expiry(id, current));
    state.schedule(expiry(id, extend.expiry_height));
    state
        .tables
        .channels
        .upsert(id, |c| c.expiry_height = extend.expiry_height);
    Ok(Event::ChannelExtended {
        channel: id,
        expiry_height: extend.expiry_height,
    })
}

fn claim(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    batch: &ClaimChannels,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    if batch.claims.is_empty() {
        return Err(ChannelError::EmptyClaims.into());
    }
    // Every check before any change: one refused claim refuses the transaction.
    let mut seen = std::collections::BTreeSet::new();
    let mut deltas: Vec<(ChannelId, DeploymentId, Amount, Amount)> = Vec::new();
    for claim in batch.claims.iter() {
        let id = claim.channel;
        if !seen.insert(id) {
            return Err(ChannelError::DuplicateClaim { channel: id }.into());
        }
        let channel = channel(state, id)?;
        if channel.gateway != sender {
            return Err(ChannelError::NotChannelGateway { channel: id }.into());
        }
        if channel.consumer != claim.consumer {
            return Err(ChannelError::ConsumerMismatch { channel: id }.into());
        }
        unexpired(channel, id, ctx.height)?;
        if claim.amount > channel.deposit {
            return Err(ChannelError::AboveDeposit {
                channel: id,
                deposit: channel.deposit,
            }
            .into());
        }
        if claim.amount <= channel.claimed {
            return Err(ChannelError::NotAboveClaimed {
                channel: id,
                claimed: channel.claimed,
            }
            .into());
        }
        let deployment = state
            .deployment(channel.deployment)
            .expect("a channel's deployment exists");
        if deployment.status == DeploymentStatus::Retired {
            return Err(ChannelError::DeploymentRetired {
                deployment: channel.deployment,
            }
            .into());
        }
        deltas.push((
            id,
            channel.deployment,
            claim.amount,
            claim.amount - channel.claimed,
        ));
    }
    let mut per_deployment: BTreeMap<DeploymentId, Amount> = BTreeMap::new();
    for &(id, deployment, amount, paid) in &deltas {
        state.tables.channels.upsert(id, |c| c.claimed = amount);
        let sum = per_deployment.entry(deployment).or_default();
        *sum = sum
            .checked_add(paid)
            .expect("claims never exceed the supply");
        events.push(Event::ChannelClaimed {
            channel: id,
            deployment,
            claimed: amount,
            paid,
        });
    }
    // One split per deployment: every unit of the batch lands in exactly one account.
    for (deployment, sum) in per_deployment {
        let table = state
            .deployment(deployment)
            .expect("checked above")
            .royalties
            .to_vec();
        state.tables.deployments.upsert(deployment, |d| {
            d.claimed_total = d
                .claimed_total
                .checked_add(sum)
                .expect("claims never exceed the supply");
        });
        royalties::pay(state, deployment, &table, sum, events);
    }
    Ok(())
}

fn close_by(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    request: &CloseChannel,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let id = request.channel;
    let channel = channel(state, id)?;
    if sender == channel.gateway {
        // The gateway may give up what is left at any time.
    } else if sender == channel.consumer {
        if ctx.height <= channel.expiry_height {
            return Err(ChannelError::NotExpired {
                channel: id,
                expiry_height: channel.expiry_height,
            }
            .into());
        }
    } else {
        return Err(ChannelError::NotParty { channel: id }.into());
    }
    let expiry_height = channel.expiry_height;
    state.unschedule(&expiry(id, expiry_height));
    close(state, id, events);
    Ok(())
}

/// Closes channel `id`: what was not claimed goes back to the consumer.
fn close(state: &mut State, id: ChannelId, events: &mut Vec<Event>) {
    let channel = state
        .tables
        .channels
        .remove(&id)
        .expect("a channel is closed once");
    state
        .tables
        .consumer_channels
        .remove(&(channel.consumer, id));
    let refunded = channel
        .deposit
        .checked_sub(channel.claimed)
        .expect("a channel never pays out more than its deposit");
    state.credit(channel.consumer, refunded);
    events.push(Event::ChannelClosed {
        channel: id,
        claimed: channel.claimed,
        refunded,
    });
}

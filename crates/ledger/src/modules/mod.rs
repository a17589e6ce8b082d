//! One module per kind of action. Each checks everything before it changes anything it cannot
//! roll back, returns the event it caused, and never touches fees or nonces (the envelope's
//! business, in `execute.rs`). A new kind is a new payload variant, a new module, and one
//! line in [`execute`].

mod bank;
mod candidacy;
mod staking;

use aifactory_types::{Address, Event, Payload, TxError};

use crate::execute::BlockContext;
use crate::state::State;

/// Runs `payload` for `sender`, appending what it did to `events`; on error the caller rolls
/// back whatever was changed and drops the events.
pub(crate) fn execute(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    payload: &Payload,
    events: &mut Vec<Event>,
) -> Result<(), TxError> {
    let event = match payload {
        Payload::Transfer(transfer) => bank::transfer(state, sender, transfer),
        Payload::Stake(stake) => staking::stake(state, sender, stake),
        Payload::Unstake(unstake) => staking::unstake(state, ctx, sender, unstake),
        Payload::Withdraw => staking::withdraw(state, ctx, sender),
        Payload::JoinValidators => candidacy::join(state, ctx, sender),
        Payload::LeaveValidators => candidacy::leave(state, ctx, sender),
    }?;
    events.push(event);
    Ok(())
}

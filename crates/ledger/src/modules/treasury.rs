//! Moving tokens into and out of the lifecycle, in one place: locking a balance (escrows and
//! stakes), paying out of a job, and slashing to the treasury. Every other module calls these,
//! so that each movement has its event and the supply is conserved by construction.
//!
//! The treasury is an ordinary account at [`TREASURY`], an address no signature can spend
//! from; slashes, treasury shares and pools nobody could claim land there.

use aifactory_types::lifecycle::JobId;
use aifactory_types::{Address, Amount, Event, PayoutRole, SlashReason, TREASURY, TxError};

use crate::state::State;

/// Takes `amount` from `from`'s balance (to lock it in a dataset, job or stake).
pub(crate) fn lock(state: &mut State, from: Address, amount: Amount) -> Result<(), TxError> {
    state.tables.accounts.upsert(from, |account| {
        account.balance =
            account
                .balance
                .checked_sub(amount)
                .ok_or(TxError::InsufficientFunds {
                    needed: amount,
                    available: account.balance,
                })?;
        Ok(())
    })
}

/// Pays `amount` (already taken out of a job's escrow or a stake) to `to`, recording why.
pub(crate) fn pay(
    state: &mut State,
    job: JobId,
    to: Address,
    role: PayoutRole,
    amount: Amount,
    events: &mut Vec<Event>,
) {
    if amount == 0 {
        return;
    }
    state.credit(to, amount);
    if let Some(participant) = state.tables.participants.get(&(job, to))
        && role != PayoutRole::StakeReturned
    {
        let paid = participant
            .paid
            .checked_add(amount)
            .expect("payouts never exceed the supply");
        state
            .tables
            .participants
            .upsert((job, to), |p| p.paid = paid);
    }
    events.push(Event::JobPaid {
        job,
        account: to,
        role,
        amount,
    });
}

/// Slashes every token `account` locked in `job` to the treasury; returns how many.
pub(crate) fn slash_job_stake(
    state: &mut State,
    job: JobId,
    account: Address,
    reason: SlashReason,
    events: &mut Vec<Event>,
) -> Amount {
    let Some(participant) = state.tables.participants.get(&(job, account)) else {
        return 0;
    };
    let amount = participant.stake;
    if amount == 0 {
        return 0;
    }
    state
        .tables
        .participants
        .upsert((job, account), |p| p.stake = 0);
    state.credit(TREASURY, amount);
    events.push(Event::Slashed {
        account,
        amount,
        reason,
        job: Some(job),
    });
    amount
}

/// Returns what `account` still has locked in `job`.
pub(crate) fn return_job_stake(
    state: &mut State,
    job: JobId,
    account: Address,
    events: &mut Vec<Event>,
) {
    let Some(participant) = state.tables.participants.get(&(job, account)) else {
        return;
    };
    let amount = participant.stake;
    if amount == 0 {
        return;
    }
    state
        .tables
        .participants
        .upsert((job, account), |p| p.stake = 0);
    pay(
        state,
        job,
        account,
        PayoutRole::StakeReturned,
        amount,
        events,
    );
}

//! One module per kind of action, each registered once in [`modules!`]: the list drives
//! payload dispatch (and each module's block hooks). Each module checks everything before it
//! changes anything it cannot roll back, returns the event it caused, and never touches fees
//! or nonces (the envelope's business, in `execute.rs`).
//!
//! A new kind is a new payload variant, a new module implementing [`Module`] (its tables are
//! one line each in `state/tables.rs`), and one line in [`modules!`]. Exactly one module
//! claims each payload; `every_payload_kind_has_exactly_one_module` checks it.

mod bank;
mod candidacy;
mod staking;

use aifactory_types::{Address, Event, Payload, TxError};

use crate::execute::BlockContext;
use crate::state::State;

/// A module of the ledger: the payload kinds it runs.
pub(crate) trait Module {
    /// Runs `payload` for `sender` if it is one of this module's kinds (`None` if it is not),
    /// returning the event it caused; on error the caller rolls back whatever was changed.
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
    ) -> Option<Result<Event, TxError>>;
}

/// Registers the modules, in the order their hooks run.
macro_rules! modules {
    ($($module:path),+ $(,)?) => {
        /// Runs `payload` for `sender` in the module that claims it, appending what it did to
        /// `events`; on error the caller rolls back whatever was changed and drops the events.
        pub(crate) fn execute(
            state: &mut State,
            ctx: &BlockContext,
            sender: Address,
            payload: &Payload,
            events: &mut Vec<Event>,
        ) -> Result<(), TxError> {
            $(
                if let Some(result) = <$module as Module>::execute(state, ctx, sender, payload) {
                    events.push(result?);
                    return Ok(());
                }
            )+
            unreachable!("every payload kind is registered with a module")
        }

        /// How many modules claim `payload`, running it on a scratch `state`.
        #[cfg(test)]
        fn claimants(state: &State, ctx: &BlockContext, sender: Address, payload: &Payload) -> usize {
            let mut claimed = 0;
            $(
                let mut scratch = state.clone();
                claimed += usize::from(
                    <$module as Module>::execute(&mut scratch, ctx, sender, payload).is_some(),
                );
            )+
            claimed
        }
    };
}

modules!(bank::Bank, staking::Staking, candidacy::Candidacy);

#[cfg(test)]
mod tests {
    use aifactory_types::payload::{Stake, Unstake};

    use super::*;
    use crate::testing::TestChain;

    /// One payload of every kind. The match has no wildcard, so a new kind does not compile
    /// until it is listed here, and then the test checks that a module claims it.
    fn one_of_each() -> Vec<Payload> {
        let all = vec![
            TestChain::transfer_to(Address([1; 32]), 1),
            Payload::Stake(Stake { amount: 1 }),
            Payload::Unstake(Unstake { amount: 1 }),
            Payload::Withdraw,
            Payload::JoinValidators,
            Payload::LeaveValidators,
        ];
        for payload in &all {
            match payload {
                Payload::Transfer(_)
                | Payload::Stake(_)
                | Payload::Unstake(_)
                | Payload::Withdraw
                | Payload::JoinValidators
                | Payload::LeaveValidators => {}
            }
        }
        all
    }

    #[test]
    fn every_payload_kind_has_exactly_one_module() {
        let chain = TestChain::new(2, 1_000_000);
        let ctx = chain
            .state
            .next_block_context(chain.address(0), chain.next_timestamp_ms())
            .unwrap();
        for payload in one_of_each() {
            let claimed = claimants(&chain.state, &ctx, chain.address(1), &payload);
            assert_eq!(claimed, 1, "{payload:?}");
        }
    }
}

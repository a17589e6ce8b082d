//! Candidacy for the validator set: `JoinValidators` and `LeaveValidators`.
//!
//! Both only change the candidates table; the validator set itself changes at the next epoch
//! boundary (`epoch.rs`), which elects from the candidates. Joining needs
//! `validator_stake_min` bonded at that moment; the election checks it again. The sender's
//! address is a usable consensus key: the transaction's signature verified under it with the
//! same ZIP-215 rules that commonware's ed25519 keys use, so it decodes as one.

use aifactory_types::{Address, Event, Payload, TxError};

use super::Module;
use crate::execute::BlockContext;
use crate::state::{Candidate, State};

/// Joining and leaving the validator candidates.
pub(crate) struct Candidacy;

impl Module for Candidacy {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::JoinValidators => join(state, ctx, sender),
            Payload::LeaveValidators => leave(state, ctx, sender),
            _ => return None,
        };
        Some(result.map(|event| events.push(event)))
    }
}

/// The epoch after the one `ctx`'s block belongs to: when a change of candidacy can first
/// show in the validator set.
fn next_epoch(state: &State, ctx: &BlockContext) -> u64 {
    state
        .params()
        .epoch_of(ctx.height)
        .checked_add(1)
        .expect("epochs never reach 2^64")
}

/// Makes the sender a candidate.
fn join(state: &mut State, ctx: &BlockContext, sender: Address) -> Result<Event, TxError> {
    if state.candidate(&sender).is_some() {
        return Err(TxError::AlreadyCandidate);
    }
    let bonded = state.bonded(&sender);
    let min = state.params().validator_stake_min;
    if bonded < min {
        return Err(TxError::ValidatorStakeTooLow { min, bonded });
    }
    state.tables.candidates.insert(
        sender,
        Candidate {
            since_height: ctx.height,
        },
    );
    Ok(Event::CandidateJoined {
        account: sender,
        bonded,
        from_epoch: next_epoch(state, ctx),
    })
}

/// Withdraws the sender's candidacy; a sitting validator keeps its seat until the boundary.
fn leave(state: &mut State, ctx: &BlockContext, sender: Address) -> Result<Event, TxError> {
    state
        .tables
        .candidates
        .remove(&sender)
        .ok_or(TxError::NotCandidate)?;
    Ok(Event::CandidateLeft {
        account: sender,
        from_epoch: next_epoch(state, ctx),
    })
}

#[cfg(test)]
mod tests {
    use aifactory_types::payload::Stake;
    use aifactory_types::{Event, Payload, TxError, TxOutcome};

    use crate::testing::TestChain;

    const AIF: u64 = 1_000_000_000;

    fn run(chain: &mut TestChain, sender: usize, payload: Payload) -> (TxOutcome, Vec<Event>) {
        let tx = chain.tx(sender, payload);
        let built = chain.build(vec![tx]);
        let receipt = built.outcome.receipts[0].clone();
        (receipt.outcome, receipt.events)
    }

    #[test]
    fn join_needs_the_validator_stake_and_only_once() {
        let mut chain = TestChain::new(2, 10_000 * AIF);
        let min = chain.state.params().validator_stake_min;
        let (outcome, _) = run(&mut chain, 1, Payload::JoinValidators);
        assert_eq!(
            outcome,
            TxOutcome::Failed(TxError::ValidatorStakeTooLow { min, bonded: 0 })
        );
        run(&mut chain, 1, Payload::Stake(Stake { amount: min }));
        let (outcome, events) = run(&mut chain, 1, Payload::JoinValidators);
        assert_eq!(outcome, TxOutcome::Success);
        assert_eq!(
            events[1],
            Event::CandidateJoined {
                account: chain.address(1),
                bonded: min,
                from_epoch: 1
            }
        );
        assert_eq!(
            chain
                .state
                .candidate(&chain.address(1))
                .unwrap()
                .since_height,
            3
        );
        let (outcome, _) = run(&mut chain, 1, Payload::JoinValidators);
        assert_eq!(outcome, TxOutcome::Failed(TxError::AlreadyCandidate));
        assert_eq!(
            chain.state.validator_count(),
            1,
            "nothing changes mid-epoch"
        );
    }

    #[test]
    fn leave_needs_a_candidacy() {
        let mut chain = TestChain::new(2, 10_000 * AIF);
        let (outcome, _) = run(&mut chain, 1, Payload::LeaveValidators);
        assert_eq!(outcome, TxOutcome::Failed(TxError::NotCandidate));
        let (outcome, events) = run(&mut chain, 0, Payload::LeaveValidators);
        assert_eq!(
            outcome,
            TxOutcome::Success,
            "genesis validators are candidates"
        );
        assert_eq!(
            events[1],
            Event::CandidateLeft {
                account: chain.address(0),
                from_epoch: 1
            }
        );
        assert_eq!(chain.state.candidates().count(), 0);
        assert!(
            chain.state.validator(&chain.address(0)).is_some(),
            "keeps its seat"
        );
        let (outcome, _) = run(&mut chain, 0, Payload::JoinValidators);
        assert_eq!(outcome, TxOutcome::Success, "and may come back");
    }
}

//! Bonding, unbonding and withdrawing stake.
//!
//! Stake moves from the balance to `bonded` at once. `Unstake` moves it to an unbonding entry
//! that matures `unbonding_period_blocks` later (still slashable meanwhile); `Withdraw` returns
//! every matured entry to the balance. A bonded stake is either zero or at least `stake_min`.

use aifactory_types::limits::UNBONDING_ENTRIES_MAX;
use aifactory_types::payload::{Stake, Unstake};
use aifactory_types::{Account, Address, Event, Payload, TxError, Unbonding};

use super::Module;
use crate::execute::BlockContext;
use crate::state::State;

/// Stake, unstake, withdraw.
pub(crate) struct Staking;

impl Module for Staking {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::Stake(s) => stake(state, sender, s),
            Payload::Unstake(u) => unstake(state, ctx, sender, u),
            Payload::Withdraw => withdraw(state, ctx, sender),
            _ => return None,
        };
        Some(result.map(|event| events.push(event)))
    }
}

fn account(state: &State, address: &Address) -> Account {
    state.account(address).cloned().unwrap_or_default()
}

/// Bonds `stake.amount` of the sender's balance.
fn stake(state: &mut State, sender: Address, stake: &Stake) -> Result<Event, TxError> {
    if stake.amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    let current = account(state, &sender);
    if current.balance < stake.amount {
        return Err(TxError::InsufficientFunds {
            needed: stake.amount,
            available: current.balance,
        });
    }
    let resulting = current
        .bonded
        .checked_add(stake.amount)
        .expect("stake never exceeds the supply");
    let min = state.params().stake_min;
    if resulting < min {
        return Err(TxError::StakeBelowMinimum { min, resulting });
    }
    state.tables.accounts.upsert(sender, |a| {
        a.balance -= stake.amount;
        a.bonded = resulting;
    });
    Ok(Event::Staked {
        account: sender,
        amount: stake.amount,
    })
}

/// Starts unbonding `unstake.amount` of the sender's stake.
fn unstake(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    unstake: &Unstake,
) -> Result<Event, TxError> {
    if unstake.amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    let current = account(state, &sender);
    let remaining =
        current
            .bonded
            .checked_sub(unstake.amount)
            .ok_or(TxError::InsufficientStake {
                bonded: current.bonded,
                requested: unstake.amount,
            })?;
    let min = state.params().stake_min;
    if remaining != 0 && remaining < min {
        return Err(TxError::StakeBelowMinimum {
            min,
            resulting: remaining,
        });
    }
    if current.unbonding.len() >= UNBONDING_ENTRIES_MAX {
        return Err(TxError::TooManyUnbonding {
            max: UNBONDING_ENTRIES_MAX as u32,
        });
    }
    let release_height = ctx
        .height
        .saturating_add(state.params().unbonding_period_blocks);
    state.tables.accounts.upsert(sender, |a| {
        a.bonded = remaining;
        a.unbonding
            .push(Unbonding {
                amount: unstake.amount,
                release_height,
            })
            .expect("room checked above");
    });
    Ok(Event::Unbonding {
        account: sender,
        amount: unstake.amount,
        release_height,
    })
}

/// Returns every matured unbonding entry to the sender's balance.
fn withdraw(state: &mut State, ctx: &BlockContext, sender: Address) -> Result<Event, TxError> {
    let current = account(state, &sender);
    let matured = |entry: &Unbonding| entry.release_height <= ctx.height;
    let amount = current
        .unbonding
        .iter()
        .filter(|e| matured(e))
        .try_fold(0u64, |sum, e| sum.checked_add(e.amount))
        .expect("unbonding never exceeds the supply");
    if amount == 0 {
        let next_release = current.unbonding.iter().map(|e| e.release_height).min();
        return Err(TxError::NothingToWithdraw { next_release });
    }
    state.tables.accounts.upsert(sender, |a| {
        a.unbonding.retain(|e| !matured(e));
        a.balance = a
            .balance
            .checked_add(amount)
            .expect("no balance exceeds the supply");
    });
    Ok(Event::Withdrawn {
        account: sender,
        amount,
    })
}

#[cfg(test)]
mod tests {
    use aifactory_types::payload::{Stake, Unstake};
    use aifactory_types::{Payload, TxError, TxOutcome};

    use crate::testing::TestChain;

    const AIF: u64 = 1_000_000_000;
    const MIN: u64 = 100 * AIF;

    fn run(chain: &mut TestChain, payload: Payload) -> TxOutcome {
        let tx = chain.tx(1, payload);
        let built = chain.build(vec![tx]);
        built.outcome.receipts[0].outcome.clone()
    }

    fn stake(amount: u64) -> Payload {
        Payload::Stake(Stake { amount })
    }

    fn unstake(amount: u64) -> Payload {
        Payload::Unstake(Unstake { amount })
    }

    fn failed(error: TxError) -> TxOutcome {
        TxOutcome::Failed(error)
    }

    #[test]
    fn stake_bonds_the_balance() {
        let mut chain = TestChain::new(2, 1_000 * AIF);
        assert_eq!(run(&mut chain, stake(MIN)), TxOutcome::Success);
        let account = chain.state.account(&chain.address(1)).unwrap().clone();
        assert_eq!(account.bonded, MIN);
        assert_eq!(account.balance, 900 * AIF - 1_000);
    }

    #[test]
    fn stake_rejections() {
        let mut chain = TestChain::new(2, 1_000 * AIF);
        let below = failed(TxError::StakeBelowMinimum {
            min: MIN,
            resulting: MIN - 1,
        });
        assert_eq!(run(&mut chain, stake(MIN - 1)), below);
        let overdraft = failed(TxError::InsufficientFunds {
            needed: 2_000 * AIF,
            available: 1_000 * AIF - 2_000,
        });
        assert_eq!(run(&mut chain, stake(2_000 * AIF)), overdraft);
        assert_eq!(run(&mut chain, stake(0)), failed(TxError::ZeroAmount));
        assert_eq!(chain.state.account(&chain.address(1)).unwrap().bonded, 0);
    }

    #[test]
    fn unstake_then_withdraw_after_the_period() {
        let mut chain = TestChain::new(2, 1_000 * AIF);
        run(&mut chain, stake(3 * MIN));
        assert_eq!(run(&mut chain, unstake(MIN)), TxOutcome::Success);
        let release = chain.state.height() + chain.state.params().unbonding_period_blocks;
        let account = chain.state.account(&chain.address(1)).unwrap().clone();
        assert_eq!(account.bonded, 2 * MIN);
        assert_eq!(account.unbonding[0].release_height, release);

        let early = failed(TxError::NothingToWithdraw {
            next_release: Some(release),
        });
        assert_eq!(run(&mut chain, Payload::Withdraw), early);
        while chain.state.height() + 1 < release {
            chain.build(vec![]);
        }
        let balance_before = chain.state.account(&chain.address(1)).unwrap().balance;
        assert_eq!(run(&mut chain, Payload::Withdraw), TxOutcome::Success);
        let account = chain.state.account(&chain.address(1)).unwrap().clone();
        assert!(account.unbonding.is_empty());
        assert_eq!(account.balance, balance_before + MIN - 1_000);
    }

    #[test]
    fn unstake_rejections() {
        let mut chain = TestChain::new(2, 1_000 * AIF);
        run(&mut chain, stake(MIN + 10));
        let too_much = failed(TxError::InsufficientStake {
            bonded: MIN + 10,
            requested: MIN + 11,
        });
        assert_eq!(run(&mut chain, unstake(MIN + 11)), too_much);
        let leaves_too_little = failed(TxError::StakeBelowMinimum {
            min: MIN,
            resulting: MIN - 1,
        });
        assert_eq!(run(&mut chain, unstake(11)), leaves_too_little);
        assert_eq!(run(&mut chain, unstake(0)), failed(TxError::ZeroAmount));
        assert_eq!(
            run(&mut chain, unstake(MIN + 10)),
            TxOutcome::Success,
            "all of it is fine"
        );
        assert_eq!(
            run(&mut chain, Payload::Withdraw),
            failed(TxError::NothingToWithdraw {
                next_release: Some(1_005)
            })
        );
    }

    #[test]
    fn unbonding_entries_are_capped() {
        let mut chain = TestChain::new(2, 100_000 * AIF);
        run(&mut chain, stake(50 * MIN));
        for _ in 0..aifactory_types::limits::UNBONDING_ENTRIES_MAX {
            assert_eq!(run(&mut chain, unstake(MIN)), TxOutcome::Success);
        }
        assert_eq!(
            run(&mut chain, unstake(MIN)),
            failed(TxError::TooManyUnbonding { max: 16 })
        );
    }
}

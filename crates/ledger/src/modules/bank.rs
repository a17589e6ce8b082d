//! Transfers between accounts.

use aifactory_types::payload::Transfer;
use aifactory_types::{Address, Event, Payload, TxError};

use super::Module;
use crate::execute::BlockContext;
use crate::state::State;

/// Transfers.
pub(crate) struct Bank;

impl Module for Bank {
    fn execute(
        state: &mut State,
        _ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        match payload {
            Payload::Transfer(t) => Some(transfer(state, sender, t).map(|e| events.push(e))),
            _ => None,
        }
    }
}

/// Moves `transfer.amount` from `sender` to `transfer.to`, creating the recipient if needed.
fn transfer(state: &mut State, sender: Address, transfer: &Transfer) -> Result<Event, TxError> {
    if transfer.amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    // One lookup for check and debit; on error the caller rolls the (unchanged) row back.
    state.tables.accounts.upsert(sender, |account| {
        account.balance =
            account
                .balance
                .checked_sub(transfer.amount)
                .ok_or(TxError::InsufficientFunds {
                    needed: transfer.amount,
                    available: account.balance,
                })?;
        Ok::<(), TxError>(())
    })?;
    state.credit(transfer.to, transfer.amount);
    Ok(Event::Transferred {
        from: sender,
        to: transfer.to,
        amount: transfer.amount,
    })
}

#[cfg(test)]
mod tests {
    use aifactory_types::{Event, TxError, TxOutcome};

    use crate::testing::TestChain;

    #[test]
    fn transfer_moves_tokens_and_pays_the_proposer() {
        let mut chain = TestChain::new(3, 1_000_000);
        let supply = chain.state.total_supply();
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 250_000));
        let built = chain.build(vec![tx]);
        let receipt = &built.outcome.receipts[0];
        assert_eq!(receipt.outcome, TxOutcome::Success);
        assert_eq!(receipt.fee_paid, 1_000);
        assert!(matches!(
            receipt.events[1],
            Event::Transferred {
                amount: 250_000,
                ..
            }
        ));
        let balance = |i| chain.state.account(&chain.address(i)).unwrap().balance;
        assert_eq!(balance(1), 1_000_000 - 250_000 - 1_000);
        assert_eq!(balance(2), 1_000_000 + 250_000);
        assert_eq!(
            balance(0),
            1_000_000 + 1_000,
            "the proposer collects the fee"
        );
        assert_eq!(chain.nonce(1), 1);
        assert_eq!(chain.state.total_supply(), supply);
    }

    #[test]
    fn transfer_creates_the_recipient() {
        let mut chain = TestChain::new(2, 1_000_000);
        let newcomer = crate::testing::test_key(50).address();
        chain.build(vec![chain.tx(1, TestChain::transfer_to(newcomer, 7))]);
        let account = chain.state.account(&newcomer).unwrap();
        assert_eq!((account.balance, account.nonce), (7, 0));
    }

    #[test]
    fn overdraft_fails_pays_the_fee_and_changes_nothing_else() {
        let mut chain = TestChain::new(2, 1_000_000);
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(0), 999_001));
        let built = chain.build(vec![tx]);
        let receipt = &built.outcome.receipts[0];
        assert_eq!(
            receipt.outcome,
            TxOutcome::Failed(TxError::InsufficientFunds {
                needed: 999_001,
                available: 999_000
            })
        );
        assert_eq!(receipt.events.len(), 1, "only the fee event");
        let account = chain.state.account(&chain.address(1)).unwrap();
        assert_eq!((account.balance, account.nonce), (999_000, 1));
    }

    #[test]
    fn zero_transfer_fails() {
        let mut chain = TestChain::new(2, 1_000_000);
        let built = chain.build(vec![
            chain.tx(1, TestChain::transfer_to(chain.address(0), 0)),
        ]);
        assert_eq!(
            built.outcome.receipts[0].outcome,
            TxOutcome::Failed(TxError::ZeroAmount)
        );
    }
}

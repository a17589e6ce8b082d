//! Executing one transaction: the admission checks every kind shares, the fee, and the
//! dispatch to the kind's module.
//!
//! Order: admission (chain id, expiry, fee floor, known sender, exact nonce, fee payable);
//! then the fee moves to the proposer and the nonce advances; then the action runs. If the
//! action fails, everything it did is rolled back and the receipt records why, but the fee
//! and nonce stay spent.
//!
//! **State growth is paid for.** After the action, the bytes of state it added (each entry's
//! encoded key and value, new or grown, over every table) are counted, and the fee must be at
//! least `fee_min + fee_per_state_byte × bytes` (`Params::fee_for_state`); if it is not, the
//! action is rolled back and fails with `StateGrowthUnpaid`, the fee and nonce spent as for
//! any failure. The whole fee goes to the proposer, so nothing is burned and supply is kept.

use aifactory_types::{
    Address, Event, Receipt, Transaction, TxError, TxOutcome, VerifiedTransaction,
};

use crate::modules;
use crate::state::{Savepoint, State};

/// What a transaction learns about the block it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's height.
    pub height: u64,
    /// The block's timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The block's proposer, who collects fees.
    pub proposer: Address,
}

impl State {
    /// Checks that `tx` may be included in a block at `ctx`, without changing anything.
    pub fn admit(&self, ctx: &BlockContext, tx: &Transaction) -> Result<(), TxError> {
        if tx.chain_id.as_str() != self.chain_id() {
            return Err(TxError::WrongChainId {
                expected: self.chain_id().to_owned(),
                got: tx.chain_id.to_string(),
            });
        }
        if tx.expiry_height < ctx.height {
            return Err(TxError::Expired {
                expiry_height: tx.expiry_height,
                height: ctx.height,
            });
        }
        let fee_min = self.params().fee_min;
        if tx.fee < fee_min {
            return Err(TxError::FeeTooLow {
                min: fee_min,
                got: tx.fee,
            });
        }
        let account = self
            .account(&tx.sender)
            .ok_or(TxError::UnknownAccount { address: tx.sender })?;
        if tx.nonce < account.nonce {
            return Err(TxError::NonceReplayed {
                expected: account.nonce,
                got: tx.nonce,
            });
        }
        if tx.nonce > account.nonce {
            return Err(TxError::NonceFromFuture {
                expected: account.nonce,
                got: tx.nonce,
            });
        }
        if account.balance < tx.fee {
            return Err(TxError::CannotPayFee {
                balance: account.balance,
                fee: tx.fee,
            });
        }
        Ok(())
    }

    /// Executes an admissible transaction and returns its receipt; an inadmissible one changes
    /// nothing and returns why.
    pub(crate) fn execute(
        &mut self,
        ctx: &BlockContext,
        verified: &VerifiedTransaction,
    ) -> Result<Receipt, TxError> {
        let tx = verified.tx();
        self.admit(ctx, tx)?;
        let mut events = Vec::with_capacity(2);
        events.push(self.charge_fee(ctx, tx));
        let before_action = self.savepoint();
        let ran = modules::execute(self, ctx, tx.sender, &tx.payload, &mut events)
            .and_then(|()| self.state_growth_paid(tx, before_action));
        let outcome = match ran {
            Ok(()) => TxOutcome::Success,
            Err(error) => {
                self.rollback(before_action);
                events.truncate(1);
                TxOutcome::Failed(error)
            }
        };
        Ok(Receipt {
            tx_hash: verified.hash(),
            fee_paid: tx.fee,
            outcome,
            events,
        })
    }

    /// Whether `tx`'s fee pays for the state its action added since `before_action`.
    fn state_growth_paid(&self, tx: &Transaction, before_action: Savepoint) -> Result<(), TxError> {
        let bytes = self.bytes_added(before_action);
        let needed = self.params().fee_for_state(bytes).unwrap_or(u64::MAX);
        if tx.fee < needed {
            return Err(TxError::StateGrowthUnpaid {
                bytes,
                needed,
                offered: tx.fee,
            });
        }
        Ok(())
    }

    fn charge_fee(&mut self, ctx: &BlockContext, tx: &Transaction) -> Event {
        self.tables.accounts.upsert(tx.sender, |account| {
            account.balance -= tx.fee; // admit() checked the balance covers the fee
            account.nonce += 1;
        });
        self.credit(ctx.proposer, tx.fee);
        Event::FeePaid {
            payer: tx.sender,
            proposer: ctx.proposer,
            amount: tx.fee,
        }
    }

    /// Adds `amount` to an account's balance, creating the account if needed.
    pub(crate) fn credit(&mut self, address: Address, amount: u64) {
        self.tables.accounts.upsert(address, |account| {
            account.balance = account
                .balance
                .checked_add(amount)
                .expect("no balance exceeds the total supply, which fits in an amount");
        });
    }
}

#[cfg(test)]
mod tests {
    use aifactory_types::block::txs_root;
    use aifactory_types::transaction::ChainId;
    use aifactory_types::{Header, SignedTransaction, VerifiedBlock};

    use super::*;
    use crate::BlockError;
    use crate::testing::TestChain;

    /// Asserts `tx` is refused with `expected` at every door: admission, block building, and a
    /// block that includes it anyway, which is refused whole with the state untouched.
    fn check_inadmissible(chain: &mut TestChain, tx: SignedTransaction, expected: TxError) {
        assert!(expected.is_admission());
        let verified = tx.verify().expect("signed");
        let ctx = chain
            .state
            .next_block_context(chain.address(0), chain.next_timestamp_ms())
            .unwrap();
        assert_eq!(
            chain.state.admit(&ctx, verified.tx()),
            Err(expected.clone())
        );

        let before = chain.state.clone();
        let header = Header {
            height: ctx.height,
            parent: before.last_block_hash(),
            timestamp_ms: ctx.timestamp_ms,
            proposer: ctx.proposer,
            txs_root: txs_root(std::slice::from_ref(&verified)),
            state_root: before.root(),
        };
        let block = VerifiedBlock::from_verified(header, vec![verified.clone()]);
        assert_eq!(
            chain.state.apply_block(&block),
            Err(BlockError::InadmissibleTransaction {
                index: 0,
                error: expected.clone()
            })
        );
        assert_eq!(chain.state.root(), before.root());
        assert_eq!(chain.state.height(), before.height());

        let sender = verified.tx().sender;
        let sender_before = chain.state.account(&sender).cloned();
        let built = chain.build(vec![verified.into_signed()]);
        assert!(built.block.txs.is_empty());
        assert_eq!(built.rejected[0].1, expected);
        assert_eq!(
            chain.state.account(&sender).cloned(),
            sender_before,
            "nothing charged"
        );
    }

    #[test]
    fn wrong_chain_id() {
        let mut chain = TestChain::new(2, 1_000_000);
        let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        tx.chain_id = ChainId::new("other-chain").unwrap();
        let tx = chain.sign(1, tx);
        let expected = TxError::WrongChainId {
            expected: "aifactory-test".into(),
            got: "other-chain".into(),
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn expired() {
        let mut chain = TestChain::new(2, 1_000_000);
        chain.build(vec![]);
        chain.build(vec![]);
        let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        tx.expiry_height = 2;
        let tx = chain.sign(1, tx);
        let expected = TxError::Expired {
            expiry_height: 2,
            height: 3,
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn fee_below_minimum() {
        let mut chain = TestChain::new(2, 1_000_000);
        let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        tx.fee = chain.state.params().fee_min - 1;
        let tx = chain.sign(1, tx);
        let expected = TxError::FeeTooLow {
            min: 1_000,
            got: 999,
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn unknown_sender() {
        let mut chain = TestChain::new(2, 1_000_000);
        let stranger = crate::testing::test_key(99);
        let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        tx.sender = stranger.address();
        let tx = tx.sign(&stranger);
        let expected = TxError::UnknownAccount {
            address: stranger.address(),
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn replayed_nonce() {
        let mut chain = TestChain::new(2, 1_000_000);
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(0), 5));
        let built = chain.build(vec![tx.clone()]);
        assert_eq!(built.block.txs.len(), 1);
        let expected = TxError::NonceReplayed {
            expected: 1,
            got: 0,
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn nonce_from_the_future() {
        let mut chain = TestChain::new(2, 1_000_000);
        let mut tx = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        tx.nonce = 1;
        let tx = chain.sign(1, tx);
        let expected = TxError::NonceFromFuture {
            expected: 0,
            got: 1,
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    #[test]
    fn fee_not_payable() {
        let mut chain = TestChain::new(2, 999);
        let tx = chain.tx(1, TestChain::transfer_to(chain.address(0), 5));
        let expected = TxError::CannotPayFee {
            balance: 999,
            fee: 1_000,
        };
        check_inadmissible(&mut chain, tx, expected);
    }

    /// A chain that charges 10 base units a byte of state added.
    fn chain_with_state_fee() -> TestChain {
        let keys: Vec<_> = (0..2).map(crate::testing::test_key).collect();
        let mut genesis = crate::testing::test_genesis(&keys, 1_000_000);
        genesis.params.fee_per_state_byte = 10;
        TestChain::from_genesis(keys, genesis)
    }

    #[test]
    fn a_transaction_pays_for_the_state_it_adds() {
        let mut chain = chain_with_state_fee();
        let newcomer = crate::testing::test_key(60).address();
        // A new account: a 32-byte address and a 28-byte empty account.
        let needed = chain.state.params().fee_for_state(60).unwrap();
        assert_eq!(needed, 1_000 + 600);

        let short = chain.tx(1, TestChain::transfer_to(newcomer, 5));
        let built = chain.build(vec![short]);
        assert_eq!(
            built.outcome.receipts[0].outcome,
            TxOutcome::Failed(TxError::StateGrowthUnpaid {
                bytes: 60,
                needed,
                offered: 1_000
            })
        );
        assert!(chain.state.account(&newcomer).is_none(), "rolled back");
        assert_eq!(
            chain.state.account(&chain.address(1)).unwrap().nonce,
            1,
            "fee spent"
        );

        let mut paid = chain.unsigned(1, TestChain::transfer_to(newcomer, 5));
        paid.fee = needed;
        let built = chain.build(vec![chain.sign(1, paid)]);
        assert_eq!(built.outcome.receipts[0].outcome, TxOutcome::Success);
        assert_eq!(chain.state.account(&newcomer).unwrap().balance, 5);

        // Paying an existing account adds nothing: fee_min is enough.
        let again = chain.tx(1, TestChain::transfer_to(newcomer, 5));
        let built = chain.build(vec![again]);
        assert_eq!(built.outcome.receipts[0].outcome, TxOutcome::Success);
        assert_eq!(
            chain.state.total_supply(),
            2_000_000 + chain.genesis.validators[0].stake
        );
    }

    #[test]
    fn nonces_in_one_block_follow_each_other() {
        let mut chain = TestChain::new(2, 1_000_000);
        let first = chain.tx(1, TestChain::transfer_to(chain.address(0), 5));
        let mut second = chain.unsigned(1, TestChain::transfer_to(chain.address(0), 5));
        second.nonce = 1;
        let second = chain.sign(1, second);
        let built = chain.build(vec![first, second.clone(), second]);
        assert_eq!(built.block.txs.len(), 2, "the duplicate is left out");
        assert!(matches!(
            built.rejected[0].1,
            TxError::NonceReplayed {
                expected: 2,
                got: 1
            }
        ));
        assert_eq!(chain.nonce(1), 2);
    }
}

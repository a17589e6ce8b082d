//! Blocks: applying a block someone proposed, and building one to propose. Both are all or
//! nothing: a block that fails any check leaves the state exactly as it was. Both begin the
//! same way (the modules' due deadlines and `begin_block` hooks, `modules/mod.rs`) and end the
//! same way ([`State::end_block`]): the modules' `end_block` hooks, the epoch's election if
//! the block is the last of its epoch, then the new height and time.

use aifactory_types::block::txs_root;
use aifactory_types::limits::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX};
use aifactory_types::{
    Address, Event, Hash, Header, Receipt, TxError, VerifiedBlock, VerifiedTransaction,
};

use crate::epoch::EpochTransition;
use crate::error::BlockError;
use crate::execute::BlockContext;
use crate::modules;
use crate::state::{ChainMeta, State};

/// What applying a block produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block's hash.
    pub block_hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// What the block did outside its transactions, in order: the due deadlines' work and the
    /// modules' hooks (rounds ending, jobs settling, slashes).
    pub events: Vec<Event>,
    /// The next epoch's validator set, if this block was the last of its epoch.
    pub epoch_transition: Option<EpochTransition>,
    /// How many due deadlines the block ran: at most
    /// [`DUE_DEADLINES_PER_BLOCK_MAX`](aifactory_types::limits::DUE_DEADLINES_PER_BLOCK_MAX),
    /// the bound on a block's deadline work; the rest rolled over to the next block.
    pub deadlines_run: usize,
}

/// A block built from candidate transactions, already applied to the state.
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    /// The block, ready to propose.
    pub block: VerifiedBlock,
    /// What applying it produced.
    pub outcome: BlockOutcome,
    /// Candidates left out, with why.
    pub rejected: Vec<(Hash, TxError)>,
}

/// What a block must fit in: a count of transactions and a size in encoded bytes. Both
/// matter: [`BLOCK_TXS_MAX`] transactions of up to `TX_BYTES_MAX` each can exceed
/// [`BLOCK_BYTES_MAX`], and a proposer that built such a block could not encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockCaps {
    /// Most transactions.
    pub(crate) txs_max: usize,
    /// Most encoded bytes, header included.
    pub(crate) bytes_max: usize,
}

impl BlockCaps {
    /// The protocol's caps.
    pub(crate) const LIMITS: BlockCaps = BlockCaps {
        txs_max: BLOCK_TXS_MAX,
        bytes_max: BLOCK_BYTES_MAX,
    };

    /// Whether `block` fits.
    fn check(&self, block: &VerifiedBlock) -> Result<(), BlockError> {
        if block.txs.len() > self.txs_max {
            return Err(BlockError::TooManyTransactions {
                count: block.txs.len(),
                max: self.txs_max,
            });
        }
        let bytes = block.encoded_len();
        if bytes > self.bytes_max {
            return Err(BlockError::TooLarge {
                bytes,
                max: self.bytes_max,
            });
        }
        Ok(())
    }
}

impl State {
    /// Applies a block proposed by someone else, checking its header against the result.
    pub fn apply_block(&mut self, block: &VerifiedBlock) -> Result<BlockOutcome, BlockError> {
        let header = &block.header;
        let ctx = self.next_block_context(header.proposer, header.timestamp_ms)?;
        if header.height != ctx.height {
            return Err(BlockError::WrongHeight {
                current: self.height(),
                got: header.height,
            });
        }
        if header.parent != self.last_block_hash() {
            return Err(BlockError::WrongParent {
                expected: self.last_block_hash(),
                got: header.parent,
            });
        }
        BlockCaps::LIMITS.check(block)?;
        let computed = block.computed_txs_root();
        if computed != header.txs_root {
            return Err(BlockError::TxsRootMismatch {
                expected: header.txs_root,
                computed,
            });
        }
        let start = self.savepoint();
        let mut events = Vec::new();
        let deadlines_run = modules::begin_block(self, &ctx, &mut events);
        let mut receipts = Vec::with_capacity(block.txs.len());
        for (index, tx) in block.txs.iter().enumerate() {
            match self.execute(&ctx, tx) {
                Ok(receipt) => receipts.push(receipt),
                Err(error) => {
                    self.rollback(start);
                    return Err(BlockError::InadmissibleTransaction { index, error });
                }
            }
        }
        let epoch_transition = self.end_block(&ctx, &mut events);
        let state_root = self.sync_tree(start);
        if state_root != header.state_root {
            self.revert_synced(start);
            return Err(BlockError::StateRootMismatch {
                expected: header.state_root,
                computed: state_root,
            });
        }
        Ok(self.finish(
            header.hash(),
            receipts,
            events,
            epoch_transition,
            deadlines_run,
        ))
    }

    /// Builds the next block from `candidates` (in order, until the next one would take the
    /// block past [`BLOCK_TXS_MAX`] transactions or [`BLOCK_BYTES_MAX`] bytes), applies it,
    /// and returns it with the candidates it refused. Candidates after the block filled up are
    /// neither included nor refused: they wait for a later block.
    pub fn build_block(
        &mut self,
        proposer: Address,
        timestamp_ms: u64,
        candidates: impl IntoIterator<Item = VerifiedTransaction>,
    ) -> Result<BuiltBlock, BlockError> {
        self.build_block_within(BlockCaps::LIMITS, proposer, timestamp_ms, candidates)
    }

    /// [`State::build_block`] under `caps`.
    pub(crate) fn build_block_within(
        &mut self,
        caps: BlockCaps,
        proposer: Address,
        timestamp_ms: u64,
        candidates: impl IntoIterator<Item = VerifiedTransaction>,
    ) -> Result<BuiltBlock, BlockError> {
        let ctx = self.next_block_context(proposer, timestamp_ms)?;
        let start = self.savepoint();
        let mut events = Vec::new();
        let deadlines_run = modules::begin_block(self, &ctx, &mut events);
        let mut included = Vec::new();
        let mut receipts = Vec::new();
        let mut rejected = Vec::new();
        let mut bytes = VerifiedBlock::EMPTY_BYTES;
        for tx in candidates {
            let tx_bytes = tx.signed().encoded_len();
            if included.len() == caps.txs_max || bytes + tx_bytes > caps.bytes_max {
                break;
            }
            match self.execute(&ctx, &tx) {
                Ok(receipt) => {
                    receipts.push(receipt);
                    included.push(tx);
                    bytes += tx_bytes;
                }
                Err(error) => rejected.push((tx.hash(), error)),
            }
        }
        let epoch_transition = self.end_block(&ctx, &mut events);
        let header = Header {
            height: ctx.height,
            parent: self.last_block_hash(),
            timestamp_ms,
            proposer,
            txs_root: txs_root(&included),
            state_root: self.sync_tree(start),
        };
        let outcome = self.finish(
            header.hash(),
            receipts,
            events,
            epoch_transition,
            deadlines_run,
        );
        assert!(bytes <= caps.bytes_max && included.len() <= caps.txs_max);
        Ok(BuiltBlock {
            block: VerifiedBlock::from_verified(header, included),
            outcome,
            rejected,
        })
    }

    /// The context of the next block, if its timestamp moves time forward.
    pub fn next_block_context(
        &self,
        proposer: Address,
        timestamp_ms: u64,
    ) -> Result<BlockContext, BlockError> {
        if timestamp_ms <= self.timestamp_ms() {
            return Err(BlockError::TimestampNotAfterParent {
                parent: self.timestamp_ms(),
                got: timestamp_ms,
            });
        }
        Ok(BlockContext {
            height: self.height() + 1,
            timestamp_ms,
            proposer,
        })
    }

    /// What every block does after its transactions: the election at the end of an epoch,
    /// then the new height and time.
    fn end_block(
        &mut self,
        ctx: &BlockContext,
        events: &mut Vec<Event>,
    ) -> Option<EpochTransition> {
        modules::end_block(self, ctx, events);
        let transition = self.end_epoch_if_last(ctx);
        self.tables.meta.insert(
            (),
            ChainMeta {
                height: ctx.height,
                timestamp_ms: ctx.timestamp_ms,
            },
        );
        transition
    }

    fn finish(
        &mut self,
        block_hash: Hash,
        receipts: Vec<Receipt>,
        events: Vec<Event>,
        epoch_transition: Option<EpochTransition>,
        deadlines_run: usize,
    ) -> BlockOutcome {
        self.seal();
        self.set_last_block_hash(block_hash);
        BlockOutcome {
            block_hash,
            state_root: self.root(),
            receipts,
            events,
            epoch_transition,
            deadlines_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use aifactory_types::Hash;

    use super::*;
    use crate::testing::TestChain;

    /// A chain and a replica that has applied nothing since genesis.
    fn chain_and_block() -> (TestChain, State, VerifiedBlock) {
        let mut chain = TestChain::new(3, 1_000_000);
        let replica = chain.state.clone();
        let txs = vec![
            chain.tx(1, TestChain::transfer_to(chain.address(2), 10)),
            chain.tx(2, TestChain::transfer_to(chain.address(1), 20)),
        ];
        let built = chain.build(txs);
        (chain, replica, built.block)
    }

    fn refused(replica: &mut State, block: &VerifiedBlock) -> BlockError {
        let root = replica.root();
        let error = replica.apply_block(block).unwrap_err();
        assert_eq!(
            replica.root(),
            root,
            "a refused block leaves the state alone"
        );
        assert_eq!(replica.height(), 0);
        error
    }

    #[test]
    fn replicas_agree() {
        let (chain, mut replica, block) = chain_and_block();
        let outcome = replica.apply_block(&block).unwrap();
        assert_eq!(outcome.state_root, chain.state.root());
        assert_eq!(outcome.block_hash, chain.state.last_block_hash());
        assert_eq!(replica.height(), 1);
        let wire = VerifiedBlock::to_block(&block);
        let decoded = aifactory_types::Block::decode(&wire.encode())
            .unwrap()
            .verify()
            .unwrap();
        assert_eq!(decoded, block);
    }

    #[test]
    fn header_checks() {
        let (_, mut replica, block) = chain_and_block();
        let mut wrong = block.clone();
        wrong.header.height = 2;
        assert!(matches!(
            refused(&mut replica, &wrong),
            BlockError::WrongHeight { got: 2, .. }
        ));

        let mut wrong = block.clone();
        wrong.header.parent = Hash([1; 32]);
        assert!(matches!(
            refused(&mut replica, &wrong),
            BlockError::WrongParent { .. }
        ));

        let mut wrong = block.clone();
        wrong.header.timestamp_ms = replica.timestamp_ms();
        assert!(matches!(
            refused(&mut replica, &wrong),
            BlockError::TimestampNotAfterParent { .. }
        ));

        let mut wrong = block.clone();
        wrong.txs.swap(0, 1);
        assert!(matches!(
            refused(&mut replica, &wrong),
            BlockError::TxsRootMismatch { .. }
        ));
    }

    #[test]
    fn a_lying_state_root_is_refused_and_rolled_back() {
        let (_, mut replica, block) = chain_and_block();
        let before: Vec<_> = replica
            .accounts()
            .map(|(a, acc)| (*a, acc.clone()))
            .collect();
        let mut wrong = block.clone();
        wrong.header.state_root = Hash([7; 32]);
        assert!(matches!(
            refused(&mut replica, &wrong),
            BlockError::StateRootMismatch { .. }
        ));
        let after: Vec<_> = replica
            .accounts()
            .map(|(a, acc)| (*a, acc.clone()))
            .collect();
        assert_eq!(before, after);
        assert_eq!(
            replica.apply_block(&block).map(|o| o.block_hash),
            Ok(block.header.hash())
        );
    }

    /// A transfer from key `sender` with the largest memo: about 500 bytes encoded.
    fn large_transfer(chain: &TestChain, sender: usize, nonce: u64) -> VerifiedTransaction {
        let memo = vec![0xab; aifactory_types::limits::MEMO_BYTES_MAX];
        let payload = aifactory_types::Payload::Transfer(aifactory_types::payload::Transfer {
            to: chain.address(0),
            amount: 1,
            memo: aifactory_types::BoundedBytes::new(memo).unwrap(),
        });
        let mut tx = chain.unsigned(sender, payload);
        tx.nonce = nonce;
        chain.sign(sender, tx).verify().unwrap()
    }

    /// Regression: blocks were capped by count only, so enough large transactions made a
    /// block the proposer could not encode within `BLOCK_BYTES_MAX`.
    #[test]
    fn build_block_caps_a_block_by_encoded_bytes() {
        let mut chain = TestChain::new(3, 1_000_000_000);
        let candidates: Vec<_> = (0..40)
            .map(|i| large_transfer(&chain, 1 + (i % 2) as usize, i / 2))
            .collect();
        let tx_bytes = candidates[0].signed().encoded_len();
        assert!(tx_bytes > 400, "large transactions: {tx_bytes} bytes");
        let caps = BlockCaps {
            txs_max: 1_000,
            bytes_max: VerifiedBlock::EMPTY_BYTES + 10 * tx_bytes + tx_bytes / 2,
        };
        let mut replica = chain.state.clone();
        let timestamp_ms = chain.next_timestamp_ms();
        let built = chain
            .state
            .build_block_within(caps, chain.address(0), timestamp_ms, candidates.clone())
            .unwrap();
        assert_eq!(built.block.txs.len(), 10, "ten fit, the eleventh does not");
        assert!(
            built.rejected.is_empty(),
            "the rest wait; they are not refused"
        );
        assert_eq!(
            built.block.encoded_len(),
            built.block.to_block().encode().len()
        );
        assert!(built.block.encoded_len() <= caps.bytes_max);
        assert_eq!(replica.apply_block(&built.block).unwrap(), built.outcome);

        // At the protocol's caps, a block of the largest transactions stays encodable.
        let built = chain.build(
            candidates[10..]
                .iter()
                .map(|t| t.signed().clone())
                .collect(),
        );
        assert_eq!(built.block.txs.len(), 30);
        assert!(built.block.to_block().encode().len() <= BLOCK_BYTES_MAX);
    }

    #[test]
    fn blocks_over_either_cap_are_refused() {
        let (_, _, block) = chain_and_block();
        let bytes = block.encoded_len();
        let fits = BlockCaps {
            txs_max: 2,
            bytes_max: bytes,
        };
        assert_eq!(fits.check(&block), Ok(()));
        let fewer = BlockCaps { txs_max: 1, ..fits };
        assert!(matches!(
            fewer.check(&block),
            Err(BlockError::TooManyTransactions { count: 2, max: 1 })
        ));
        let smaller = BlockCaps {
            bytes_max: bytes - 1,
            ..fits
        };
        assert_eq!(
            smaller.check(&block),
            Err(BlockError::TooLarge {
                bytes,
                max: bytes - 1
            })
        );
    }

    #[test]
    fn proofs_verify_against_the_root() {
        let (chain, _, _) = chain_and_block();
        let root = chain.state.root();
        let proof = chain.state.account_proof(&chain.address(1)).unwrap();
        assert!(proof.verify(&root));
        let mut tampered = proof.clone();
        tampered.account.balance += 1;
        assert!(!tampered.verify(&root));
        let mut other = proof;
        other.address = chain.address(2);
        assert!(!other.verify(&root));
        assert!(
            chain
                .state
                .account_proof(&crate::testing::test_key(77).address())
                .is_none()
        );
    }
}

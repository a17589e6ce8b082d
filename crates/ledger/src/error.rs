//! Why the ledger refuses a block.

use aifactory_types::{Hash, TxError};

/// A block the ledger will not apply; the state is left exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block is not the next height.
    #[error("block height {got} does not follow the current height {current}")]
    WrongHeight {
        /// The chain's height.
        current: u64,
        /// The block's.
        got: u64,
    },
    /// The block does not build on the last applied block.
    #[error("block's parent {got} is not the last block {expected}")]
    WrongParent {
        /// The last applied block's hash.
        expected: Hash,
        /// The block's parent.
        got: Hash,
    },
    /// The block's time does not move forward.
    #[error("block timestamp {got} ms is not after its parent's {parent} ms")]
    TimestampNotAfterParent {
        /// The parent's timestamp.
        parent: u64,
        /// The block's.
        got: u64,
    },
    /// The header's transactions root does not match the transactions.
    #[error("header commits to transactions root {expected} but they hash to {computed}")]
    TxsRootMismatch {
        /// The header's.
        expected: Hash,
        /// The transactions'.
        computed: Hash,
    },
    /// The block holds more transactions than allowed.
    #[error("block holds {count} transactions, more than {max}")]
    TooManyTransactions {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The block's encoding is larger than allowed.
    #[error("block takes {bytes} bytes encoded, more than {max}")]
    TooLarge {
        /// How many.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A transaction in the block is inadmissible; a proposer must never include one.
    #[error("transaction {index} is inadmissible: {error}")]
    InadmissibleTransaction {
        /// Its position in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// Executing the block gives a different state root than its header claims.
    #[error("header claims state root {expected} but executing the block gives {computed}")]
    StateRootMismatch {
        /// The header's.
        expected: Hash,
        /// Ours.
        computed: Hash,
    },
}

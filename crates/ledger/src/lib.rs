//! The ledger: a pure, deterministic state machine from (state, block) to (new state,
//! receipts, events).
//!
//! **Architecture invariant:** this crate does no I/O, reads no clock and draws no randomness.
//! Time arrives as the block's timestamp; there are no floats in the state, every sum is
//! checked, and every collection is an ordered map, so every node computes the same state
//! root from the same blocks, forever.
//!
//! Applying a block is all or nothing: [`State::apply_block`] either applies every
//! transaction and matches the header's state root, or returns a [`BlockError`] and leaves the
//! state untouched.

mod apply;
mod error;
mod execute;
mod modules;
mod state;
pub mod testing;

pub use apply::{BlockOutcome, BuiltBlock};
pub use error::BlockError;
pub use execute::BlockContext;
pub use state::{ChainMeta, Savepoint, SlotTree, State, Validator};

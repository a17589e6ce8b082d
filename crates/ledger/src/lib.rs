//! The ledger: a pure, deterministic state machine from (state, block) to (new state,
//! receipts, events).
//!
//! **Architecture invariant:** the crate does no I/O, reads no clock and draws no randomness.
//! Time arrives as the block's timestamp; there are no floats in the state, every sum is
//! checked, and every collection is an ordered map, so every node computes the same state
//! root from the same blocks, forever.
//!
//! Applying a block is all or nothing: [`State::apply_block`] either applies every
//! transaction and matches the header's state root, or returns a [`BlockError`] and leaves the
//! state untouched.
//!
//! The validator set is fixed for an epoch of `epoch_length_blocks` blocks and changes only
//! when the last block of an epoch is applied: the ledger then elects the next epoch's set
//! from the candidates (`JoinValidators`, `LeaveValidators`) by bonded stake, and reports it
//! in [`BlockOutcome::epoch_transition`]. [`State::validators`] is always the set for the
//! next block. The rules are in the `epoch` module.
//!
//! Between blocks, the state can be written to a snapshot stream and read back
//! ([`State::write_snapshot`] to any `std::io::Write`, [`State::read_snapshot`] from any
//! `std::io::Read`); keeping one in a file is the caller's business.

mod apply;
mod epoch;
mod error;
mod execute;
mod modules;
mod snapshot;
mod state;
pub mod testing;
mod validator_proof;

pub use apply::{BlockOutcome, BuiltBlock};
pub use epoch::EpochTransition;
pub use error::BlockError;
pub use execute::BlockContext;
pub use snapshot::{
    SNAPSHOT_ACCOUNT_SLOTS_MAX, SNAPSHOT_CANDIDATE_SLOTS_MAX, SNAPSHOT_DEADLINE_SLOTS_MAX,
    SNAPSHOT_LIFECYCLE_SLOTS_MAX, SNAPSHOT_VALIDATOR_SLOTS_MAX, SNAPSHOT_VERSION, SnapshotError,
    SnapshotHeader, SnapshotLimits, read_snapshot_header,
};
pub use state::{
    AccountsTable, Candidate, CandidatesTable, ChainMeta, CountersTable, DatasetsTable, Deadline,
    DeadlinesTable, JobsTable, MetaTable, ModelsTable, ParamsTable, ParticipantsTable,
    PhasePostsTable, RoundsTable, Savepoint, ScoresTable, SlotTree, State, TableDef, Tables,
    Validator, ValidatorsTable,
};
pub use state::{
    ChallengeVotesTable, ChallengedReceiptsTable, ChallengesTable, ChannelsTable,
    ConsumerChannelsTable, DeploymentsTable, ModelGatewaysTable, SettlementsTable,
};
pub use validator_proof::{
    VALIDATOR_SET_PROOF_BYTES_MAX, VALIDATOR_SET_PROOF_SLOTS_MAX, ValidatorSetProof,
    ValidatorSetProofError,
};

//! The ledger's state: journaled tables (declared once, in `tables.rs`), each with a Merkle
//! tree over its slots, and the state root over the tables' roots.
//!
//! Changes go into the tables at once and into the undo logs; the trees learn of them only
//! at the end of a block, when each touched entry is rehashed once. A savepoint is the length
//! of every undo log, so a failed transaction or a rejected block rolls back exactly.

mod lifecycle;
mod table;
mod tables;
mod tree;

use borsh::{BorshDeserialize, BorshSerialize};

use aifactory_crypto::merkle::{SlotProof, state_root};
use aifactory_types::{
    Account, AccountProof, Address, Amount, EntryProof, Genesis, GenesisError, Hash, Params,
};

pub(crate) use table::{Journaled, Table};
pub use tables::{
    AccountsTable, CandidatesTable, CountersTable, DatasetsTable, DeadlinesTable, JobsTable,
    MetaTable, ModelsTable, ParamsTable, ParticipantsTable, PhasePostsTable, RoundsTable,
    ScoresTable, TableDef, Tables, ValidatorsTable,
};
pub(crate) use tables::{Build, TABLE_COUNT, Visit};
pub use tables::{
    ChallengeVotesTable, ChallengedReceiptsTable, ChallengesTable, ChannelsTable,
    ConsumerChannelsTable, DeploymentsTable, ModelGatewaysTable, SettlementsTable,
};
pub use tree::SlotTree;

/// Height and time of the last applied block; part of the state root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct ChainMeta {
    /// Height of the last applied block (0 at genesis).
    pub height: u64,
    /// Its timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// A validator's entry; its voting power is its account's bonded stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Validator {
    /// The first height it validates in its current stay in the set: 0 for genesis
    /// validators, else the first height of the epoch it was elected for.
    pub since_height: u64,
}

/// A candidate's entry: an account that asked to validate (`JoinValidators`, or genesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Candidate {
    /// The height of the block in which it became a candidate (0 at genesis).
    pub since_height: u64,
}

/// Work a module asked for at a height: the key of the deadlines table, so the queue runs in
/// order of height, then kind, then id (see `modules::run_due`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Deadline {
    /// The first height at which the work is due.
    pub height: u64,
    /// Which kind of work: each module claims its own kinds.
    pub kind: u8,
    /// What the work is about (a job, a round, a channel...).
    pub id: Hash,
}

/// A point the state can roll back to: the length of each table's undo log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Savepoint([usize; TABLE_COUNT]);

/// The whole state of the ledger.
#[derive(Debug, Clone)]
pub struct State {
    chain_id: String,
    last_block_hash: Hash,
    root: Hash,
    pub(crate) tables: Tables,
}

impl State {
    /// The state at genesis, after checking the genesis.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, GenesisError> {
        genesis.validate()?;
        let mut state = State {
            chain_id: genesis.chain_id.clone(),
            last_block_hash: genesis.hash(),
            root: Hash::ZERO,
            tables: Tables::new(),
        };
        let start = state.savepoint();
        state.tables.meta.insert(
            (),
            ChainMeta {
                height: 0,
                timestamp_ms: genesis.genesis_time_ms,
            },
        );
        state.tables.params.insert((), genesis.params.clone());
        for account in &genesis.accounts {
            state
                .tables
                .accounts
                .upsert(account.address, |a| a.balance = account.balance);
        }
        for validator in &genesis.validators {
            state
                .tables
                .accounts
                .upsert(validator.address, |a| a.bonded = validator.stake);
            state
                .tables
                .validators
                .insert(validator.address, Validator { since_height: 0 });
            state
                .tables
                .candidates
                .insert(validator.address, Candidate { since_height: 0 });
        }
        state.sync_tree(start);
        state.seal();
        Ok(state)
    }

    /// A state from sealed, committed tables restored from a snapshot; its root is
    /// recomputed from them.
    pub(crate) fn from_tables(chain_id: String, last_block_hash: Hash, tables: Tables) -> Self {
        let root = state_root(&tables.roots());
        State {
            chain_id,
            last_block_hash,
            root,
            tables,
        }
    }

    /// The chain's id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Height of the last applied block.
    pub fn height(&self) -> u64 {
        self.meta().height
    }

    /// Timestamp of the last applied block (the genesis time at height 0).
    pub fn timestamp_ms(&self) -> u64 {
        self.meta().timestamp_ms
    }

    /// Hash of the last applied block (the genesis hash at height 0).
    pub fn last_block_hash(&self) -> Hash {
        self.last_block_hash
    }

    /// The state root after the last applied block.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The ledger's parameters.
    pub fn params(&self) -> &Params {
        self.tables
            .params
            .get(&())
            .expect("params are written at genesis")
    }

    /// An account, if it exists.
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.tables.accounts.get(address)
    }

    /// Every account, in address order.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.tables.accounts.iter()
    }

    /// How many accounts exist.
    pub fn account_count(&self) -> usize {
        self.tables.accounts.len()
    }

    /// The epoch of the last applied block (see [`Params::epoch_of`]).
    pub fn epoch(&self) -> u64 {
        self.params().epoch_of(self.height())
    }

    /// The epoch of the next block: the one whose set [`State::validators`] is. It is
    /// [`State::epoch`] plus one right after the last block of an epoch, else the same.
    pub fn validator_set_epoch(&self) -> u64 {
        let next = self
            .height()
            .checked_add(1)
            .expect("heights never reach 2^64");
        self.params().epoch_of(next)
    }

    /// The validator set for the next block, in address order, with each one's bonded stake
    /// now. It changes only when the last block of an epoch is applied.
    pub fn validators(&self) -> impl Iterator<Item = (Address, Amount)> + '_ {
        self.with_bonded(self.tables.validators.iter().map(|(address, _)| *address))
    }

    /// A member of the validator set, if `address` is one.
    pub fn validator(&self, address: &Address) -> Option<&Validator> {
        self.tables.validators.get(address)
    }

    /// How many validators the set holds.
    pub fn validator_count(&self) -> usize {
        self.tables.validators.len()
    }

    /// The candidates for the next election, in address order, with each one's bonded stake
    /// now (which may have fallen below `validator_stake_min` since it joined).
    pub fn candidates(&self) -> impl Iterator<Item = (Address, Amount)> + '_ {
        self.with_bonded(self.tables.candidates.iter().map(|(address, _)| *address))
    }

    /// A candidate, if `address` is one.
    pub fn candidate(&self, address: &Address) -> Option<&Candidate> {
        self.tables.candidates.get(address)
    }

    /// An account's bonded stake (0 if it has no account).
    pub(crate) fn bonded(&self, address: &Address) -> Amount {
        self.tables.accounts.get(address).map_or(0, |a| a.bonded)
    }

    /// `addresses` sorted, each with its bonded stake. Tables iterate in slot order, which is
    /// creation order; readers promise address order.
    fn with_bonded(
        &self,
        addresses: impl Iterator<Item = Address>,
    ) -> impl Iterator<Item = (Address, Amount)> + '_ {
        let mut sorted: Vec<Address> = addresses.collect();
        sorted.sort_unstable();
        sorted
            .into_iter()
            .map(|address| (address, self.bonded(&address)))
    }

    /// An account with a proof against [`State::root`], if it exists.
    pub fn account_proof(&self, address: &Address) -> Option<AccountProof> {
        self.proof::<AccountsTable>(address).map(AccountProof::from)
    }

    /// The entry under `key` in table `T`, with a proof against [`State::root`] (check it
    /// with [`TableDef::verify`]), if it exists.
    ///
    /// # Panics
    /// If changes are pending: proofs are only served between blocks.
    pub fn proof<T: TableDef>(&self, key: &T::Key) -> Option<EntryProof<T::Key, T::Value>> {
        let table = self.table::<T>();
        let value = table.get(key)?.clone();
        let (slot, siblings) = table.siblings(key)?;
        Some(EntryProof {
            key: key.clone(),
            value,
            proof: SlotProof {
                slot,
                slot_count: table.slot_count(),
                siblings,
                table_roots: self.table_roots().to_vec(),
            },
        })
    }

    /// Schedules `deadline`: its module's work runs at the start of a block at or after its
    /// height (see `modules::run_due`). Scheduling it twice schedules it once.
    pub(crate) fn schedule(&mut self, deadline: Deadline) {
        self.tables.deadlines.insert(deadline, ());
    }

    /// Cancels `deadline`; whether it was scheduled.
    pub(crate) fn unschedule(&mut self, deadline: &Deadline) -> bool {
        self.tables.deadlines.remove(deadline).is_some()
    }

    /// How many deadlines are scheduled, due or not.
    pub fn deadline_count(&self) -> usize {
        self.tables.deadlines.len()
    }

    /// The height of the first deadline in the queue, if any: a block at or past it has
    /// deadline work to do, so one that ran fewer than the cap must have left none this old.
    pub fn next_deadline_height(&self) -> Option<u64> {
        self.tables
            .deadlines
            .range(..)
            .next()
            .map(|(d, ())| d.height)
    }

    /// Every token in existence: balances, bonded and unbonding stake, and what the
    /// lifecycle holds (dataset stakes, job escrows, stakes locked in jobs).
    pub fn total_supply(&self) -> Amount {
        self.tables
            .accounts
            .iter()
            .map(|(_, account)| account.total().expect("an account's total fits the supply"))
            .try_fold(self.locked_in_lifecycle(), |sum, total| {
                sum.checked_add(total)
            })
            .expect("the supply fits in an amount")
    }

    pub(crate) fn meta(&self) -> ChainMeta {
        *self
            .tables
            .meta
            .get(&())
            .expect("meta is written at genesis")
    }

    pub(crate) fn set_last_block_hash(&mut self, hash: Hash) {
        self.last_block_hash = hash;
    }

    /// Every table's root, in tag order: what the state root hashes.
    pub(crate) fn table_roots(&self) -> [Hash; TABLE_COUNT] {
        self.tables.roots()
    }

    /// The table `T`.
    pub(crate) fn table<T: TableDef>(&self) -> &Table<T::Key, T::Value> {
        T::of(&self.tables)
    }

    /// A point to roll back to.
    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint(self.tables.journaled().map(|table| table.mark()))
    }

    /// Undoes every change since `savepoint` (not yet committed to the trees).
    pub(crate) fn rollback(&mut self, savepoint: Savepoint) {
        for (table, mark) in self.tables.journaled_mut().into_iter().zip(savepoint.0) {
            table.rollback_to(mark);
        }
    }

    /// Commits every change since `savepoint` to the trees and returns the new state root.
    pub(crate) fn sync_tree(&mut self, savepoint: Savepoint) -> Hash {
        let roots: Vec<Hash> = self
            .tables
            .journaled_mut()
            .into_iter()
            .zip(savepoint.0)
            .map(|(table, mark)| table.commit_tree(mark))
            .collect();
        self.root = state_root(&roots);
        self.root
    }

    /// Undoes every change since `savepoint`, in the tables and in the trees.
    pub(crate) fn revert_synced(&mut self, savepoint: Savepoint) {
        let roots: Vec<Hash> = self
            .tables
            .journaled_mut()
            .into_iter()
            .zip(savepoint.0)
            .map(|(table, mark)| table.revert_committed(mark))
            .collect();
        self.root = state_root(&roots);
    }

    /// Bytes of state added since `savepoint`, over every table (see
    /// [`Journaled::bytes_added`]).
    pub(crate) fn bytes_added(&self, savepoint: Savepoint) -> u64 {
        self.tables
            .journaled()
            .into_iter()
            .zip(savepoint.0)
            .map(|(table, mark)| table.bytes_added(mark))
            .sum()
    }

    /// Whether every change is final and committed: no undo log (what a snapshot needs).
    pub(crate) fn is_sealed(&self) -> bool {
        self.savepoint() == Savepoint([0; TABLE_COUNT])
    }

    /// Makes every change final.
    pub(crate) fn seal(&mut self) {
        for table in self.tables.journaled_mut() {
            table.seal();
        }
    }
}

#[cfg(test)]
mod tests {
    use aifactory_types::Payload;

    use super::*;
    use crate::testing::{TestChain, test_key};

    /// Every table's entries prove against the root, each only in its own table.
    #[test]
    fn every_table_proves_its_entries() {
        let mut chain = TestChain::new(3, 1_000_000);
        chain.build(vec![
            chain.tx(1, TestChain::transfer_to(chain.address(2), 5)),
        ]);
        let state = &chain.state;
        let root = state.root();
        let meta = state.proof::<MetaTable>(&()).unwrap();
        assert_eq!(meta.value.height, 1);
        assert!(MetaTable::verify(&meta, &root));
        let params = state.proof::<ParamsTable>(&()).unwrap();
        assert!(ParamsTable::verify(&params, &root));
        let account = state.proof::<AccountsTable>(&chain.address(2)).unwrap();
        assert!(AccountsTable::verify(&account, &root));
        assert_eq!(
            state.account_proof(&chain.address(2)),
            Some(AccountProof::from(account.clone()))
        );
        let candidate = state.proof::<CandidatesTable>(&chain.address(0)).unwrap();
        assert!(CandidatesTable::verify(&candidate, &root));

        // Key 0 stops being a candidate but keeps its seat until the epoch ends.
        chain.build(vec![chain.tx(0, Payload::LeaveValidators)]);
        let state = &chain.state;
        let root = state.root();
        assert!(state.proof::<CandidatesTable>(&chain.address(0)).is_none());
        let validator = state.proof::<ValidatorsTable>(&chain.address(0)).unwrap();
        assert!(ValidatorsTable::verify(&validator, &root));
        // Validators and candidates share key and value types: the table is the verifier's.
        let as_candidate = EntryProof {
            key: validator.key,
            value: Candidate {
                since_height: validator.value.since_height,
            },
            proof: validator.proof.clone(),
        };
        assert!(!CandidatesTable::verify(&as_candidate, &root));
        assert!(!ValidatorsTable::verify(&validator, &Hash::ZERO));

        let account = state.proof::<AccountsTable>(&chain.address(2)).unwrap();
        let mut tampered = account.clone();
        tampered.value.balance += 1;
        assert!(AccountsTable::verify(&account, &root));
        assert!(!AccountsTable::verify(&tampered, &root));
        let stranger = test_key(77).address();
        assert!(state.proof::<AccountsTable>(&stranger).is_none());
        assert!(state.proof::<ValidatorsTable>(&chain.address(1)).is_none());
    }
}

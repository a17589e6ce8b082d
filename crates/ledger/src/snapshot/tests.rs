//! Snapshots in memory: round trips, restored states that behave like the original, and
//! refusal of every kind of bad input. Files and crashes are in `tests/snapshot.rs`.

use aifactory_types::payload::{Stake, Unstake};
use aifactory_types::state_key::tag;
use aifactory_types::{Block, Payload, TxOutcome};

use super::checksum::{CHECKSUM_BYTES, SNAPSHOT_CHECKSUM, header_len};
use super::write::{header_bytes, write_table};
use super::*;
use crate::State;
use crate::state::{Candidate, Validator};
use crate::testing::lifecycle::{Cast, job_terms};
use crate::testing::{
    TestChain, TransferWorkload, filler_address, reseal_snapshot, test_genesis, test_key,
};

const AIF: u64 = 1_000_000_000;
const STAKE_MIN: u64 = 100 * AIF;

fn snapshot(state: &State) -> Vec<u8> {
    let mut bytes = Vec::new();
    let written = state.write_snapshot(&mut bytes).unwrap();
    assert_eq!(written, bytes.len() as u64);
    bytes
}

/// Reads `bytes` as one whole snapshot under the default limits.
fn restore(bytes: &[u8]) -> Result<State, SnapshotError> {
    restore_within(bytes, &SnapshotLimits::default())
}

fn restore_within(bytes: &[u8], limits: &SnapshotLimits) -> Result<State, SnapshotError> {
    let mut input = bytes;
    let state = State::read_snapshot(&mut input, limits)?;
    assert!(
        input.is_empty(),
        "a snapshot reads to its end and no further"
    );
    Ok(state)
}

/// Everything a later block could observe is the same, down to empty slots.
fn assert_same(restored: &State, original: &State) {
    assert_eq!(restored.snapshot_header(), original.snapshot_header());
    assert_eq!(restored.timestamp_ms(), original.timestamp_ms());
    assert_eq!(restored.params(), original.params());
    assert_eq!(restored.tables.meta.slots(), original.tables.meta.slots());
    assert_eq!(
        restored.tables.accounts.slots(),
        original.tables.accounts.slots()
    );
    assert_eq!(
        restored.tables.validators.slots(),
        original.tables.validators.slots()
    );
    assert_eq!(
        restored.tables.candidates.slots(),
        original.tables.candidates.slots()
    );
    assert!(restored.validators().eq(original.validators()));
    assert!(restored.candidates().eq(original.candidates()));
    for (address, _) in original.accounts() {
        assert_eq!(
            restored.account_proof(address),
            original.account_proof(address)
        );
    }
    assert_eq!(snapshot(restored), snapshot(original));
}

/// The error restoring `bytes` gives; panics, without printing the state, if it restores.
fn refused(bytes: &[u8]) -> SnapshotError {
    match restore(bytes) {
        Ok(state) => panic!("restored, with root {}", state.root()),
        Err(error) => error,
    }
}

fn round_trip(state: &State) -> State {
    let restored = restore(&snapshot(state)).unwrap();
    assert_same(&restored, state);
    restored
}

/// A chain whose blocks transfer (creating accounts), stake, unstake and withdraw.
fn busy_chain(blocks: usize) -> TestChain {
    let keys: Vec<_> = (0..6).map(test_key).collect();
    let mut genesis = test_genesis(&keys, 10_000 * AIF);
    genesis.params.unbonding_period_blocks = 1;
    let state = State::from_genesis(&genesis).unwrap();
    let mut chain = TestChain {
        state,
        keys,
        genesis,
    };
    let mut successes = [0usize; 4];
    for round in 0..blocks {
        let staker = 1 + (round / 3) % 5;
        let (kind, action) = match round % 3 {
            0 => (
                1,
                Payload::Stake(Stake {
                    amount: 2 * STAKE_MIN,
                }),
            ),
            1 => (2, Payload::Unstake(Unstake { amount: STAKE_MIN })),
            _ => (3, Payload::Withdraw),
        };
        let payer = 1 + (staker % 5);
        let to = filler_address(round as u64 % 7);
        let txs = vec![
            chain.tx(payer, TestChain::transfer_to(to, 1 + round as u64)),
            chain.tx(staker, action),
        ];
        let built = chain.build(txs);
        for (receipt, kind) in built.outcome.receipts.iter().zip([0, kind]) {
            if receipt.outcome == TxOutcome::Success {
                successes[kind] += 1;
            }
        }
    }
    assert!(
        blocks < 6 || successes.iter().all(|&n| n > 0),
        "every kind ran: {successes:?}"
    );
    chain
}

/// A snapshot made of a header and table sections given as raw bytes, with a valid checksum.
fn craft(header: &SnapshotHeader, tables: &[(u8, u32, &[u8])]) -> Vec<u8> {
    let mut bytes = header_bytes(header);
    for (tag, count, body) in tables {
        bytes.push(*tag);
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(body);
    }
    let checksum = SNAPSHOT_CHECKSUM.hash(&[&bytes]);
    bytes.extend_from_slice(&checksum.0);
    bytes
}

/// `state`'s table sections, in tag order: tag, slot count, and the slots' bytes.
fn sections(state: &State) -> Vec<(u8, u32, Vec<u8>)> {
    sections_dropping(state, 0)
}

/// `state`'s table sections as [`sections`] gives them, each without its last `dropped`
/// slots (or without any, if it has fewer).
fn sections_dropping(state: &State, dropped: usize) -> Vec<(u8, u32, Vec<u8>)> {
    /// Each table's section, written alone.
    struct Sections {
        dropped: usize,
        written: Vec<Vec<u8>>,
    }
    impl crate::state::Visit for Sections {
        type Error = std::io::Error;
        fn visit<T: crate::state::TableDef>(
            &mut self,
            table: &crate::state::Table<T::Key, T::Value>,
        ) -> std::io::Result<()> {
            let slots = table.slots();
            let kept = &slots[..slots.len().saturating_sub(self.dropped)];
            let mut bytes = Vec::new();
            write_table(&mut bytes, T::TAG, kept)?;
            self.written.push(bytes);
            Ok(())
        }
    }
    let mut raw = Sections {
        dropped,
        written: Vec::new(),
    };
    state.tables.visit(&mut raw).unwrap();
    raw.written
        .into_iter()
        .map(|bytes| {
            let count = u32::from_le_bytes(bytes[1..5].try_into().unwrap());
            (bytes[0], count, bytes[5..].to_vec())
        })
        .collect()
}

/// A snapshot of `state` with table `table` replaced by `count` slots of `body`.
fn with_section(state: &State, table: u8, count: u32, body: &[u8]) -> Vec<u8> {
    let mut parts = sections(state);
    parts[table as usize] = (table, count, body.to_vec());
    let parts: Vec<(u8, u32, &[u8])> = parts.iter().map(|(t, c, b)| (*t, *c, &b[..])).collect();
    craft(&state.snapshot_header(), &parts)
}

#[test]
fn genesis_round_trips() {
    let chain = TestChain::new(3, 1_000_000);
    round_trip(&chain.state);
}

#[test]
fn a_busy_chain_round_trips_and_restored_states_keep_up() {
    let mut chain = busy_chain(60);
    let mut restored = round_trip(&chain.state);
    for round in 0..12 {
        let newcomer = filler_address(1_000 + round);
        let tx = chain.tx(2, TestChain::transfer_to(newcomer, 5));
        let built = chain.build(vec![tx]);
        let outcome = restored.apply_block(&built.block).unwrap();
        assert_eq!(outcome, built.outcome);
        assert_same(&restored, &chain.state);
    }
}

#[test]
fn a_transfer_workload_round_trips_mid_way() {
    let workload = TransferWorkload::new(2_000, 20, 8);
    let blocks: Vec<_> = workload
        .blocks
        .iter()
        .map(|b| b.clone().verify().unwrap())
        .collect();
    let mut original = workload.genesis_state.clone();
    for block in &blocks[..4] {
        original.apply_block(block).unwrap();
    }
    let mut restored = round_trip(&original);
    for block in &blocks[4..] {
        assert_eq!(
            restored.apply_block(block).unwrap(),
            original.apply_block(block).unwrap()
        );
    }
    assert_same(&restored, &original);
}

#[test]
fn deleted_slots_keep_their_place() {
    let mut chain = TestChain::new(4, 1_000_000);
    for removed in [chain.address(2), chain.address(3)] {
        let start = chain.state.savepoint();
        chain.state.tables.accounts.remove(&removed);
        chain.state.sync_tree(start);
        chain.state.seal();
    }
    let mut restored = round_trip(&chain.state);
    assert_eq!(
        restored.tables.accounts.slots().len(),
        4,
        "empty slots are kept"
    );
    let newcomer = test_key(40).address();
    for state in [&mut chain.state, &mut restored] {
        let start = state.savepoint();
        state.credit(newcomer, 9);
        state.sync_tree(start);
        state.seal();
    }
    assert_eq!(restored.account_proof(&newcomer).unwrap().proof.slot, 4);
    assert_same(&restored, &chain.state);
}

#[test]
fn snapshots_delimit_themselves() {
    let chain = busy_chain(4);
    let genesis = TestChain::new(2, 5).state;
    let mut stream = snapshot(&chain.state);
    stream.extend(snapshot(&genesis));
    stream.extend_from_slice(b"and more");
    let mut input = stream.as_slice();
    let limits = SnapshotLimits::default();
    assert_same(
        &State::read_snapshot(&mut input, &limits).unwrap(),
        &chain.state,
    );
    assert_same(
        &State::read_snapshot(&mut input, &limits).unwrap(),
        &genesis,
    );
    assert_eq!(input, b"and more");
}

#[test]
fn a_whole_input_must_end_with_the_snapshot() {
    let state = busy_chain(3).state;
    let bytes = snapshot(&state);
    let limits = SnapshotLimits::default();
    let read = State::read_snapshot_to_end(&mut bytes.as_slice(), &limits).unwrap();
    assert_same(&read, &state);
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(matches!(
        State::read_snapshot_to_end(&mut padded.as_slice(), &limits),
        Err(SnapshotError::TrailingBytes)
    ));
}

#[test]
fn the_header_reads_alone() {
    let chain = busy_chain(4);
    let bytes = snapshot(&chain.state);
    let end = header_len(&bytes).unwrap() + CHECKSUM_BYTES;
    let header = read_snapshot_header(&mut &bytes[..end]).unwrap();
    assert_eq!(header, chain.state.snapshot_header());
    assert_eq!(header.height, 4);
    let mut cut = &bytes[..end - 1];
    assert!(matches!(
        read_snapshot_header(&mut cut),
        Err(SnapshotError::Truncated { .. })
    ));
}

#[test]
fn the_header_matches_only_its_block() {
    let mut chain = TestChain::new(2, 1_000_000);
    let built = chain.build(vec![]);
    let header = chain.state.snapshot_header();
    assert!(header.matches(&built.block.header));
    let mut other = built.block.header.clone();
    other.timestamp_ms += 1;
    assert!(!header.matches(&other), "another block at the same height");
}

#[test]
fn every_byte_flip_and_every_truncation_is_refused() {
    let chain = busy_chain(6);
    let bytes = snapshot(&chain.state);
    assert!(bytes.len() < 2_000, "small enough to try every byte");
    for cut in 0..bytes.len() {
        let error = restore(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(
                error,
                SnapshotError::Truncated { offset } if offset == cut as u64
            ),
            "cut at {cut}: {error}"
        );
    }
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut flipped = bytes.clone();
            flipped[i] ^= mask;
            assert!(restore(&flipped).is_err(), "byte {i} ^ {mask:#x} accepted");
        }
    }
}

#[test]
fn flips_behind_a_resealed_checksum_are_refused_or_harmless() {
    // With the checksums recomputed, only the root (and the checks around it) stand between
    // a changed byte and a changed state.
    let chain = busy_chain(6);
    let bytes = snapshot(&chain.state);
    let header_end = header_len(&bytes).unwrap();
    let block_hash = header_end - 64..header_end - 32;
    let chain_id = 16..16 + chain.state.chain_id().len();
    for i in 0..bytes.len() - CHECKSUM_BYTES {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        reseal_snapshot(&mut flipped);
        match restore(&flipped) {
            Err(_) => {}
            Ok(state) => {
                // Resealing restored a flipped checksum; and neither the chain id nor the
                // block hash is under the root: the caller checks them against genesis and a
                // trusted header.
                let unchanged = flipped == bytes;
                assert!(
                    unchanged || block_hash.contains(&i) || chain_id.contains(&i),
                    "byte {i}"
                );
                assert_eq!(state.root(), chain.state.root());
            }
        }
    }
}

#[test]
fn wrong_magic_and_version_are_refused() {
    let mut bytes = snapshot(&TestChain::new(2, 5).state);
    bytes[0] = b'X';
    assert!(matches!(
        restore(&bytes),
        Err(SnapshotError::NotASnapshot { .. })
    ));
    bytes[0] = MAGIC[0];
    bytes[8] = 1;
    reseal_snapshot(&mut bytes);
    assert!(matches!(
        restore(&bytes),
        Err(SnapshotError::UnsupportedVersion {
            got: 1,
            supported: SNAPSHOT_VERSION
        })
    ));
    assert!(matches!(
        restore(b""),
        Err(SnapshotError::Truncated { offset: 0 })
    ));
}

#[test]
fn oversized_counts_are_refused_before_allocating() {
    let state = busy_chain(3).state;
    let accounts = state.tables.accounts.slots().len() as u32;
    let limits = SnapshotLimits {
        account_slots_max: accounts - 1,
        ..SnapshotLimits::default()
    };
    let error = restore_within(&snapshot(&state), &limits).unwrap_err();
    assert!(
        matches!(error, SnapshotError::TooMany { count, max, .. }
            if count == u64::from(accounts) && max == u64::from(accounts) - 1),
        "{error}"
    );
    let bytes = with_section(&state, tag::META, 2, &[]);
    assert!(matches!(
        restore(&bytes),
        Err(SnapshotError::TooMany {
            count: 2,
            max: 1,
            ..
        })
    ));

    // A count of 2^32 - 1 backed by a few rows, then the end: with no limit to stop it,
    // reserving for the count would need hundreds of GiB and abort the test; growing with
    // the input does not.
    let unlimited = SnapshotLimits {
        account_slots_max: u32::MAX,
        validator_slots_max: u32::MAX,
        candidate_slots_max: u32::MAX,
        deadline_slots_max: u32::MAX,
        lifecycle_slots_max: u32::MAX,
    };
    let parts = sections(&state);
    let mut bytes = craft(
        &state.snapshot_header(),
        &[
            (tag::META, 1, &parts[0].2),
            (tag::PARAMS, 1, &parts[1].2),
            (tag::ACCOUNTS, u32::MAX, &parts[2].2),
        ],
    );
    bytes.truncate(bytes.len() - CHECKSUM_BYTES);
    let error = restore_within(&bytes, &unlimited).unwrap_err();
    assert!(
        matches!(error, SnapshotError::Truncated { offset } if offset == bytes.len() as u64),
        "{error}"
    );
}

#[test]
fn malformed_tables_are_refused() {
    let state = busy_chain(3).state;
    let meta = sections(&state).swap_remove(0).2;
    let check = |bytes: Vec<u8>, expected: &str| {
        let error = restore(&bytes).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    };
    // A bad slot marker, a table out of place.
    let mut bad_marker = meta;
    bad_marker[0] = 2;
    check(
        with_section(&state, tag::META, 1, &bad_marker),
        "slot marker 2",
    );
    let mut swapped = snapshot(&state);
    let at = header_len(&swapped).unwrap() + CHECKSUM_BYTES;
    swapped[at] = tag::PARAMS;
    reseal_snapshot(&mut swapped);
    check(swapped, "table tag 1 where table 0 belongs");
    // No metadata row, an empty slot instead of it.
    check(with_section(&state, tag::META, 0, &[]), "exactly one row");
    check(with_section(&state, tag::META, 1, &[0]), "exactly one row");
    // An account whose unbonding list is over its cap.
    let mut row = vec![1];
    row.extend_from_slice(&test_key(0).address().0);
    row.extend_from_slice(&[0; 24]);
    row.extend_from_slice(&17u32.to_le_bytes());
    check(
        with_section(&state, tag::ACCOUNTS, 1, &row),
        "exceeds the cap",
    );
}

#[test]
fn states_that_cannot_happen_are_refused_even_with_a_matching_root() {
    let chain = busy_chain(3);

    // The header's height disagrees with the metadata (the root covers only the latter).
    let mut bytes = snapshot(&chain.state);
    let height_at = header_len(&bytes).unwrap() - 72;
    bytes[height_at] ^= 1;
    reseal_snapshot(&mut bytes);
    let error = restore(&bytes).unwrap_err();
    assert!(error.to_string().contains("height"), "{error}");

    // The same key in two slots.
    let mut bytes = snapshot(&chain.state);
    let (first, second) = (chain.address(1).0, chain.address(2).0);
    let at = bytes.windows(32).position(|w| w == second).unwrap();
    bytes[at..at + 32].copy_from_slice(&first);
    reseal_snapshot(&mut bytes);
    let error = restore(&bytes).unwrap_err();
    assert!(error.to_string().contains("repeats"), "{error}");

    // More tokens than an amount holds, in a state whose root is right.
    let mut state = chain.state.clone();
    let start = state.savepoint();
    state
        .tables
        .accounts
        .upsert(chain.address(1), |a| a.balance = u64::MAX);
    state.sync_tree(start);
    state.seal();
    let error = restore(&snapshot(&state)).unwrap_err();
    assert!(
        matches!(error, SnapshotError::Invalid { ref reason } if reason.contains("tokens")),
        "{error}"
    );
}

#[test]
fn a_root_that_does_not_match_is_refused() {
    let chain = busy_chain(3);
    let mut bytes = snapshot(&chain.state);
    let root_at = header_len(&bytes).unwrap() - 32;
    bytes[root_at] ^= 1;
    reseal_snapshot(&mut bytes);
    let error = restore(&bytes).unwrap_err();
    assert!(
        matches!(error, SnapshotError::RootMismatch { actual, .. } if actual == chain.state.root()),
        "{error}"
    );
}

#[test]
fn a_block_decoded_from_bytes_applies_to_a_restored_state() {
    let mut chain = busy_chain(3);
    let mut restored = round_trip(&chain.state);
    let tx = chain.tx(1, TestChain::transfer_to(chain.address(2), 3));
    let wire = chain.build(vec![tx]).block.to_block().encode();
    let block = Block::decode(&wire).unwrap().verify().unwrap();
    assert_eq!(
        restored.apply_block(&block).unwrap().state_root,
        chain.state.root()
    );
}

#[test]
fn candidates_and_an_elected_set_round_trip_mid_epoch() {
    let keys: Vec<_> = (0..4).map(test_key).collect();
    let mut genesis = test_genesis(&keys, 10_000 * AIF);
    genesis.params.epoch_length_blocks = 3;
    let mut chain = TestChain::from_genesis(keys, genesis);
    let stake = chain.state.params().validator_stake_min;
    let txs = vec![
        chain.tx(1, TestChain::stake(stake)),
        chain.tx(2, TestChain::stake(2 * stake)),
    ];
    chain.build(txs);
    let txs = vec![
        chain.tx(1, Payload::JoinValidators),
        chain.tx(2, Payload::JoinValidators),
    ];
    chain.build(txs);
    assert_eq!(chain.state.validator_count(), 3, "elected at height 2");
    chain.build(vec![chain.tx(0, Payload::LeaveValidators)]);
    chain.build(vec![chain.tx(1, Payload::LeaveValidators)]);
    let mut restored = round_trip(&chain.state);
    assert_eq!(restored.candidates().count(), 1);
    for _ in 0..3 {
        let built = chain.build(vec![]);
        assert_eq!(restored.apply_block(&built.block).unwrap(), built.outcome);
    }
    assert_eq!(
        restored.validators().count(),
        1,
        "keys 0 and 1 left at height 5"
    );
    assert_same(&restored, &chain.state);
}

/// Regression: the state root did not commit to each table's slot count, so a snapshot with
/// an empty slot added to (or removed from) the end of a table, checksums resealed, restored
/// with the same root, and that table's next new entry then landed in another slot than on an
/// honest replica: a different root from the same blocks.
#[test]
fn padded_or_truncated_trailing_slots_are_refused() {
    let mut state = busy_chain(3).state;
    // Leave an empty slot at the end of every table that can have one.
    let ghost = filler_address(9_999);
    let start = state.savepoint();
    state.credit(ghost, 1);
    state
        .tables
        .validators
        .insert(ghost, Validator { since_height: 0 });
    state
        .tables
        .candidates
        .insert(ghost, Candidate { since_height: 0 });
    let deadline = crate::Deadline {
        height: 9,
        kind: 0,
        id: aifactory_types::Hash::ZERO,
    };
    state.schedule(deadline);
    state.sync_tree(start);
    state.seal();
    let start = state.savepoint();
    state.tables.accounts.remove(&ghost);
    state.tables.validators.remove(&ghost);
    state.tables.candidates.remove(&ghost);
    state.unschedule(&deadline);
    state.sync_tree(start);
    state.seal();
    round_trip(&state);
    let trailing_empty = [
        tag::ACCOUNTS,
        tag::VALIDATORS,
        tag::CANDIDATES,
        tag::DEADLINES,
    ];

    for (tag, count, body) in sections(&state) {
        let mut padded = body.clone();
        padded.push(0);
        let error = refused(&with_section(&state, tag, count + 1, &padded));
        if count == 0 {
            // An empty table padded with one empty slot: within every cap, but not the root.
            assert!(
                matches!(error, SnapshotError::RootMismatch { .. }),
                "empty table {tag} padded: {error}"
            );
        } else if trailing_empty.contains(&tag) {
            assert!(
                matches!(error, SnapshotError::RootMismatch { .. }),
                "table {tag} padded: {error}"
            );
            assert_eq!(body.last(), Some(&0), "table {tag} ends with an empty slot");
            let truncated = &body[..body.len() - 1];
            let error = refused(&with_section(&state, tag, count - 1, truncated));
            assert!(
                matches!(error, SnapshotError::RootMismatch { .. }),
                "table {tag} truncated: {error}"
            );
        } else {
            assert!(
                matches!(error, SnapshotError::TooMany { .. }),
                "table {tag} padded: {error}"
            );
        }
    }
}

/// A chain with entries in every lifecycle table: job 1 training (its first round closed,
/// its second started), job 2 settled and its phase messages pruned, which leaves empty slots
/// at the end of the phase-message table.
fn lifecycle_chain() -> TestChain {
    let keys: Vec<_> = (0..8).map(test_key).collect();
    let genesis = test_genesis(&keys, 1_000 * AIF);
    let mut chain = TestChain::from_genesis(keys, genesis);
    let cast = Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300)],
        validators: vec![(6, 800_000), (7, 810_000)],
    };
    let mut slow = job_terms(0, 2, 2_000_000);
    slow.deadlines.phase_blocks = 1_000;
    slow.deadlines.aggregate_blocks = 1_000;
    let training = chain.open_and_recruit(&cast, slow);
    chain.run_round(&cast, training.job);
    let settled = chain.run_job(&cast, job_terms(0, 2, 1_000_000));
    assert!(chain.state.job(settled.job).unwrap().status.is_finished());
    // The pruning starts the block after the job settles.
    chain.build(vec![]);
    chain.build(vec![]);
    chain
}

/// Regression, for the tables with entries: the lifecycle's tables hold entries (and phase
/// messages an empty slot left at the end by pruning); one slot more or less at the end of
/// any table, checksums resealed, must not restore.
#[test]
fn padded_or_truncated_trailing_slots_of_full_tables_are_refused() {
    let state = lifecycle_chain().state;
    let tables = &state.tables;
    let lifecycle = [
        tables.counters.len(),
        tables.datasets.len(),
        tables.models.len(),
        tables.jobs.len(),
        tables.participants.len(),
        tables.rounds.len(),
        tables.phase_posts.len(),
        tables.scores.len(),
    ];
    assert!(lifecycle.iter().all(|&n| n > 0), "{lifecycle:?}");
    assert!(
        matches!(tables.phase_posts.slots().last(), Some(None)),
        "pruning left an empty slot at the end of the phase messages"
    );
    round_trip(&state);
    let singletons = [tag::META, tag::PARAMS, tag::COUNTERS];
    let truncated = sections_dropping(&state, 1);
    for (tag, count, body) in sections(&state) {
        let mut padded = body.clone();
        padded.push(0);
        let error = refused(&with_section(&state, tag, count + 1, &padded));
        if singletons.contains(&tag) {
            assert!(
                matches!(error, SnapshotError::TooMany { .. }),
                "table {tag} padded: {error}"
            );
        } else {
            assert!(
                matches!(error, SnapshotError::RootMismatch { .. }),
                "table {tag} padded: {error}"
            );
        }
        if count == 0 {
            continue;
        }
        let (_, shorter, body) = &truncated[tag as usize];
        assert_eq!(*shorter, count - 1);
        let error = refused(&with_section(&state, tag, *shorter, body));
        if [tag::META, tag::PARAMS].contains(&tag) {
            // A row every state has, gone: refused before the root is even computed.
            assert!(
                matches!(error, SnapshotError::Invalid { .. }),
                "table {tag} truncated: {error}"
            );
        } else {
            assert!(
                matches!(error, SnapshotError::RootMismatch { .. }),
                "table {tag} truncated: {error}"
            );
        }
    }
}

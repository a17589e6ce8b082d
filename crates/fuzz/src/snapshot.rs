//! The snapshot target: arbitrary bytes are read as a ledger snapshot. The first byte picks a
//! mode: odd means "recompute the checksums first", so that mutations reach the decoder and the
//! root check behind them instead of stopping at a checksum. Nothing may panic; a snapshot
//! that is accepted must be exactly the bytes its state writes (one encoding per state).

use aifactory_ledger::testing::reseal_snapshot;
use aifactory_ledger::{SnapshotLimits, State, read_snapshot_header};

/// Small caps, so that a lying count costs a fuzzer little time.
const LIMITS: SnapshotLimits = SnapshotLimits {
    account_slots_max: 1 << 12,
    validator_slots_max: 1 << 8,
    candidate_slots_max: 1 << 8,
    deadline_slots_max: 1 << 8,
    lifecycle_slots_max: 1 << 8,
};

/// Runs the snapshot target on `data`.
pub fn snapshot(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_snapshot(&mut bytes);
    }
    let header = read_snapshot_header(&mut bytes.as_slice());
    let mut input = bytes.as_slice();
    let Ok(state) = State::read_snapshot(&mut input, &LIMITS) else {
        return;
    };
    let consumed = bytes.len() - input.len();
    assert_eq!(
        header.ok(),
        Some(state.snapshot_header()),
        "the header agrees with the state"
    );
    let mut written = Vec::new();
    state
        .write_snapshot(&mut written)
        .expect("writing to a Vec cannot fail");
    assert_eq!(
        written,
        bytes[..consumed],
        "a snapshot has exactly one encoding"
    );
    // Accepted means the ledger's sums hold: counting the supply must not overflow.
    let _ = state.total_supply();
}

//! Fuzz targets: one function per decoder of untrusted bytes (transactions, blocks, ledger
//! snapshots, the node's network messages, secure-aggregation messages, model files, specs,
//! CSV tables and ONNX imports, agents' update blobs), and one that drives the ledger with transactions made from
//! arbitrary bytes. Each must never panic, whatever the input.
//!
//! The same functions run in two harnesses: `fuzz/` wraps them for cargo-fuzz (coverage-guided,
//! run by `scripts/fuzz`), and this crate's tests replay the committed corpus under
//! `fuzz/corpus/<target>/` plus seeded random mutations of it on every CI run.

mod agents;
mod learn;
mod ledger;
mod network;
mod snapshot;
mod sync;

pub use agents::agent_update;
pub use learn::{learn_csv, learn_model_file, learn_onnx, learn_spec};
pub use ledger::ledger;
pub use network::{chain_block, gossip_batch};
pub use snapshot::snapshot;
pub use sync::{validator_set_proof, validator_set_proof_seed};

use aifactory_secagg as secagg;
use aifactory_secagg::RoundConfig;
use aifactory_types::{Block, SignedTransaction};

/// A fuzz target: takes any bytes, must not panic.
pub type Target = fn(&[u8]);

/// Every target, by name, as cargo-fuzz and the corpus directories name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("transaction", transaction),
    ("block", block),
    ("ledger", ledger),
    ("snapshot", snapshot),
    ("gossip_batch", gossip_batch),
    ("chain_block", chain_block),
    ("validator_set_proof", validator_set_proof),
    ("secagg_messages", secagg_messages),
    ("secagg_transcript", secagg_transcript),
    ("learn_model_file", learn_model_file),
    ("learn_spec", learn_spec),
    ("learn_csv", learn_csv),
    ("learn_onnx", learn_onnx),
    ("agent_update", agent_update),
];

/// Decodes a transaction; whatever decodes must re-encode to the same bytes (one encoding per
/// value) and survive a signature check.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = SignedTransaction::decode(data) {
        assert_eq!(tx.encode(), data, "a transaction has exactly one encoding");
        let _ = tx.verify();
    }
}

/// Decodes a block; whatever decodes must re-encode to the same bytes and survive verification.
pub fn block(data: &[u8]) {
    if let Ok(block) = Block::decode(data) {
        assert_eq!(block.encode(), data, "a block has exactly one encoding");
        let _ = block.verify();
    }
}

/// Feeds the bytes to every secure-aggregation message decoder.
pub fn secagg_messages(data: &[u8]) {
    let _ = secagg::decode_advertise(data);
    let _ = secagg::decode_advertise_list(data);
    let _ = secagg::decode_share_keys(data);
    let _ = secagg::decode_share_bundle(data);
    let _ = secagg::decode_masked_input(data);
    let _ = secagg::decode_survivor_list(data);
    let _ = secagg::decode_consistency_check(data);
    let _ = secagg::decode_unmask_request(data);
    let _ = secagg::decode_unmask_response(data);
    let _ = RoundConfig::decode(data);
    let _ = secagg::decode_commitment(data);
}

/// Decodes a secure-aggregation transcript and, if it decodes, replays it.
pub fn secagg_transcript(data: &[u8]) {
    if let Ok(transcript) = secagg::decode_transcript(data) {
        let _ = transcript.verify();
    }
}

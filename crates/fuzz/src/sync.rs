//! What a syncing node decodes from a peer before it trusts anything: validator-set proofs,
//! which name the next epoch's validators against a finalized header's state root.

use std::sync::LazyLock;

use aifactory_ledger::testing::TestChain;
use aifactory_ledger::{State, ValidatorSetProof};
use aifactory_types::Address;

/// The state every seed proof is taken from.
static STATE: LazyLock<State> = LazyLock::new(|| TestChain::new(4, 1_000_000).state);

/// Decodes a validator-set proof; whatever decodes must re-encode to the same bytes, and a
/// proof that verifies against the seed state's root must name exactly its validators.
pub fn validator_set_proof(data: &[u8]) {
    if let Ok(proof) = ValidatorSetProof::decode(data) {
        assert_eq!(proof.encode(), data, "a proof has exactly one encoding");
        if let Ok(set) = proof.verify(STATE.root()) {
            let expected: Vec<Address> = STATE.validators().map(|(address, _)| address).collect();
            assert_eq!(set, expected, "a proof of this root names this state's set");
        }
    }
}

/// The seed: the proof of the seed state's validator set.
pub fn validator_set_proof_seed() -> Vec<u8> {
    STATE.validator_set_proof().encode()
}

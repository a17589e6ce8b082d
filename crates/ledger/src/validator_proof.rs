//! Proof of a state's validator set against its state root, for a node that syncs from a peer:
//! it knows a block header (verified by a finalization) and needs the set that header's state
//! names, without the whole state.
//!
//! The proof carries the validators table whole (every slot, empty ones included, as a
//! snapshot records it) and the roots of the other tables. The verifier rebuilds the
//! validators table exactly as the snapshot reader does ([`Table::restore`]), hashes the state
//! root from the rebuilt root and the others in tag order, and accepts only if it is the root
//! it was given. The whole table rather than a proof per validator, because the set is read
//! from the table's rows: a proof per row could leave rows out.
//!
//! The set is addresses only. A validator's stake lives in the accounts table and consensus
//! weighs every participant equally, so proving stakes would cost a Merkle path per validator
//! for nothing the verifier uses.

use borsh::{BorshDeserialize, BorshSerialize};

use aifactory_crypto::merkle::state_root;
use aifactory_types::codec::{self, DecodeError};
use aifactory_types::state_key::tag;
use aifactory_types::{Address, Hash};

use crate::SNAPSHOT_VALIDATOR_SLOTS_MAX;
use crate::state::{Journaled, State, Table, TableDef, Validator, ValidatorsTable};

/// Most validator slots a proof may carry: as many as a snapshot may.
pub const VALIDATOR_SET_PROOF_SLOTS_MAX: u32 = SNAPSHOT_VALIDATOR_SLOTS_MAX;

/// Bytes of one occupied slot: the marker, the address, the entry.
const SLOT_BYTES_MAX: usize = 1 + 32 + 8;

/// Most bytes an encoded proof may take: the roots, then every slot occupied.
pub const VALIDATOR_SET_PROOF_BYTES_MAX: usize =
    4 + (tag::COUNT - 1) * 32 + 4 + VALIDATOR_SET_PROOF_SLOTS_MAX as usize * SLOT_BYTES_MAX;

/// A state's validators table and the other tables' roots: enough to check the validator set
/// against the state root.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorSetProof {
    /// The root of every table except the validators', in tag order.
    pub other_roots: Vec<Hash>,
    /// The validators table's slots in order, `None` where a validator left.
    pub slots: Vec<Option<(Address, Validator)>>,
}

/// Why a validator set proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetProofError {
    /// The bytes are not a proof.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The proof names a different number of table roots than the state has tables.
    #[error("the proof has {got} other table roots; the state has {expected}")]
    RootCount {
        /// Roots in the proof.
        got: usize,
        /// Roots a state has besides the validators'.
        expected: usize,
    },
    /// The proof holds more slots than any state may.
    #[error("the proof has {got} validator slots, more than the limit of {max}")]
    TooManySlots {
        /// Slots in the proof.
        got: usize,
        /// The limit.
        max: u32,
    },
    /// Two slots hold the same validator.
    #[error("validator slot {slot} repeats an earlier slot's address")]
    DuplicateSlot {
        /// The repeating slot.
        slot: u32,
    },
    /// The proof does not hash to the state root it was checked against.
    #[error("the proof hashes to state root {actual}, not {expected}")]
    RootMismatch {
        /// The root the proof was checked against.
        expected: Hash,
        /// The root the proof makes.
        actual: Hash,
    },
}

impl State {
    /// The proof of [`State::validators`] against [`State::root`].
    pub fn validator_set_proof(&self) -> ValidatorSetProof {
        assert!(self.is_sealed(), "proofs are taken between blocks");
        let roots = self.table_roots();
        let other_roots = roots
            .iter()
            .enumerate()
            .filter(|(table, _)| *table != usize::from(ValidatorsTable::TAG))
            .map(|(_, root)| *root)
            .collect();
        ValidatorSetProof {
            other_roots,
            slots: self.tables.validators.slots().to_vec(),
        }
    }
}

impl ValidatorSetProof {
    /// The proof's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a proof from untrusted bytes, refusing more than
    /// [`VALIDATOR_SET_PROOF_BYTES_MAX`] of them before decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, ValidatorSetProofError> {
        let proof: ValidatorSetProof =
            codec::decode("validator set proof", bytes, VALIDATOR_SET_PROOF_BYTES_MAX)?;
        proof.check_shape()?;
        Ok(proof)
    }

    /// The validator set, in address order, if the proof hashes to `root`.
    pub fn verify(&self, root: Hash) -> Result<Vec<Address>, ValidatorSetProofError> {
        self.check_shape()?;
        let table = Table::restore(ValidatorsTable::TAG, self.slots.clone())
            .map_err(|slot| ValidatorSetProofError::DuplicateSlot { slot })?;
        let mut roots = self.other_roots.clone();
        roots.insert(usize::from(ValidatorsTable::TAG), table.root());
        let actual = state_root(&roots);
        if actual != root {
            return Err(ValidatorSetProofError::RootMismatch {
                expected: root,
                actual,
            });
        }
        let mut validators: Vec<Address> = table.iter().map(|(address, _)| *address).collect();
        validators.sort_unstable();
        Ok(validators)
    }

    fn check_shape(&self) -> Result<(), ValidatorSetProofError> {
        let expected = tag::COUNT - 1;
        if self.other_roots.len() != expected {
            return Err(ValidatorSetProofError::RootCount {
                got: self.other_roots.len(),
                expected,
            });
        }
        if self.slots.len() > VALIDATOR_SET_PROOF_SLOTS_MAX as usize {
            return Err(ValidatorSetProofError::TooManySlots {
                got: self.slots.len(),
                max: VALIDATOR_SET_PROOF_SLOTS_MAX,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{test_genesis_all_validators, test_key};

    /// A genesis state with four validators.
    fn genesis_state() -> State {
        let keys: Vec<_> = (0..4).map(test_key).collect();
        let genesis = test_genesis_all_validators(&keys, 1_000_000);
        State::from_genesis(&genesis).expect("the test genesis is valid")
    }

    fn expected_set(state: &State) -> Vec<Address> {
        state.validators().map(|(address, _)| address).collect()
    }

    #[test]
    fn round_trip() {
        let state = genesis_state();
        let proof = state.validator_set_proof();
        let decoded = ValidatorSetProof::decode(&proof.encode()).expect("decodes");
        assert_eq!(decoded, proof);
        assert_eq!(decoded.verify(state.root()), Ok(expected_set(&state)));
    }

    /// Every change to a proof must be refused: the set is only as good as the root check.
    #[test]
    fn tampered_proofs_are_refused() {
        let state = genesis_state();
        let root = state.root();
        let proof = state.validator_set_proof();
        let check = |what: &str, tampered: ValidatorSetProof| {
            let result = tampered.verify(root);
            assert!(result.is_err(), "{what}: accepted {result:?}");
        };

        let mut entry = proof.clone();
        entry.slots[1] = Some((test_key(99).address(), Validator { since_height: 0 }));
        check("a replaced validator", entry);

        let mut since = proof.clone();
        since.slots[0].as_mut().expect("occupied").1.since_height = 7;
        check("a changed entry", since);

        let mut omitted = proof.clone();
        omitted.slots.pop();
        check("an omitted validator", omitted);

        let mut emptied = proof.clone();
        emptied.slots[2] = None;
        check("an emptied slot", emptied);

        let mut added = proof.clone();
        added.slots.push(Some((
            test_key(99).address(),
            Validator { since_height: 0 },
        )));
        check("an added validator", added);

        let mut swapped = proof.clone();
        swapped.other_roots.swap(0, 1);
        check("swapped roots", swapped);

        let mut duplicated = proof.clone();
        duplicated.slots[1] = duplicated.slots[0];
        assert_eq!(
            duplicated.verify(root),
            Err(ValidatorSetProofError::DuplicateSlot { slot: 1 })
        );

        let mut short = proof.clone();
        short.other_roots.pop();
        assert!(matches!(
            short.verify(root),
            Err(ValidatorSetProofError::RootCount { .. })
        ));

        assert!(matches!(
            proof.verify(Hash::ZERO),
            Err(ValidatorSetProofError::RootMismatch { .. })
        ));
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let bytes = genesis_state().validator_set_proof().encode();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(ValidatorSetProof::decode(&trailing).is_err());
        assert!(ValidatorSetProof::decode(&bytes[..bytes.len() - 1]).is_err());
        let oversized = vec![0u8; VALIDATOR_SET_PROOF_BYTES_MAX + 1];
        assert!(matches!(
            ValidatorSetProof::decode(&oversized),
            Err(ValidatorSetProofError::Decode(
                DecodeError::Oversized { .. }
            ))
        ));
    }
}

//! Hashing rules of the two Merkle structures the chain commits to, and the verification of
//! their proofs. Building the structures is the ledger's job; checking them is everyone's, so
//! the rules live here where a light client can use them without the ledger.
//!
//! **The state tree** is a binary crit-bit (PATRICIA) tree over 256-bit keys (BLAKE3 hashes of
//! the state's keys). A leaf hashes `key ‖ value_hash`; a branch that splits its keys at bit
//! `b` (0 = the most significant bit of the key's first byte) hashes `left ‖ right`, where
//! keys with bit `b` clear go left. Leaves and each branch depth use distinct BLAKE3 keys, so
//! one 64-byte compression per node commits to the node's kind and depth. The empty tree's
//! root is 32 zero bytes.
//!
//! **A list root** (the transactions of a block) is a binary tree over the list's items,
//! pairing neighbours level by level and carrying an odd last item up unchanged; the empty
//! list's root is 32 zero bytes.

use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::Hash;

/// The depth of a key in bits.
pub const KEY_BITS: usize = 256;

fn leaf_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| blake3::derive_key("aifactory 2026 state tree leaf v1", &[]))
}

fn branch_keys() -> &'static [[u8; 32]; KEY_BITS] {
    static KEYS: OnceLock<[[u8; 32]; KEY_BITS]> = OnceLock::new();
    KEYS.get_or_init(|| {
        std::array::from_fn(|bit| {
            blake3::derive_key(
                "aifactory 2026 state tree branch v1",
                &(bit as u16).to_le_bytes(),
            )
        })
    })
}

fn list_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| blake3::derive_key("aifactory 2026 list tree node v1", &[]))
}

fn keyed_pair(key: &[u8; 32], left: &[u8; 32], right: &[u8; 32]) -> Hash {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left);
    both[32..].copy_from_slice(right);
    Hash(*blake3::keyed_hash(key, &both).as_bytes())
}

/// The hash of a state-tree leaf holding `value_hash` under `key`.
pub fn leaf_hash(key: &Hash, value_hash: &Hash) -> Hash {
    keyed_pair(leaf_key(), &key.0, &value_hash.0)
}

/// The hash of a state-tree branch splitting at `bit`.
pub fn branch_hash(bit: u8, left: &Hash, right: &Hash) -> Hash {
    keyed_pair(&branch_keys()[bit as usize], &left.0, &right.0)
}

/// Bit `bit` of `key`, most significant bit of the first byte first.
pub fn key_bit(key: &Hash, bit: u8) -> bool {
    let byte = key.0[bit as usize / 8];
    (byte >> (7 - bit % 8)) & 1 == 1
}

/// One step of a state proof: the sibling met at the branch splitting on `bit`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProofStep {
    /// The bit the branch splits on.
    pub bit: u8,
    /// The hash of the branch's other child.
    pub sibling: Hash,
}

/// Proof that a key holds a value in the state tree: the siblings from the leaf up to the root.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct StateProof {
    /// Siblings ordered from the leaf's parent up to the root.
    pub steps: Vec<ProofStep>,
}

impl StateProof {
    /// The root implied by `key` holding `value_hash`, or `None` if the steps are malformed
    /// (their bits must strictly decrease from the leaf up).
    pub fn implied_root(&self, key: &Hash, value_hash: &Hash) -> Option<Hash> {
        let mut hash = leaf_hash(key, value_hash);
        let mut below: Option<u8> = None;
        for step in &self.steps {
            if below.is_some_and(|b| step.bit >= b) {
                return None;
            }
            below = Some(step.bit);
            hash = if key_bit(key, step.bit) {
                branch_hash(step.bit, &step.sibling, &hash)
            } else {
                branch_hash(step.bit, &hash, &step.sibling)
            };
        }
        Some(hash)
    }

    /// Whether `key` holding `value_hash` is part of the tree whose root is `root`.
    pub fn verify(&self, root: &Hash, key: &Hash, value_hash: &Hash) -> bool {
        self.implied_root(key, value_hash).as_ref() == Some(root)
    }
}

/// The root of a list of hashes (see the module docs for the shape).
pub fn list_root(items: &[Hash]) -> Hash {
    if items.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = items.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => keyed_pair(list_key(), &left.0, &right.0),
                [odd] => *odd,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_domain;

    fn h(n: u32) -> Hash {
        hash_domain("test", &[&n.to_le_bytes()])
    }

    #[test]
    fn bits_are_msb_first() {
        let mut key = Hash::ZERO;
        key.0[0] = 0b1000_0000;
        key.0[1] = 0b0000_0001;
        assert!(key_bit(&key, 0));
        assert!(!key_bit(&key, 1));
        assert!(key_bit(&key, 15));
    }

    #[test]
    fn two_leaf_proof() {
        let (ka, kb) = (h(1), h(2));
        let split = (0..=255u8)
            .find(|&b| key_bit(&ka, b) != key_bit(&kb, b))
            .unwrap();
        let (va, vb) = (h(10), h(20));
        let (la, lb) = (leaf_hash(&ka, &va), leaf_hash(&kb, &vb));
        let root = if key_bit(&ka, split) {
            branch_hash(split, &lb, &la)
        } else {
            branch_hash(split, &la, &lb)
        };
        let proof = StateProof {
            steps: vec![ProofStep {
                bit: split,
                sibling: lb,
            }],
        };
        assert!(proof.verify(&root, &ka, &va));
        assert!(!proof.verify(&root, &ka, &vb), "a tampered value must fail");
        assert!(!proof.verify(&root, &kb, &va), "a tampered key must fail");
    }

    #[test]
    fn steps_must_climb() {
        let proof = StateProof {
            steps: vec![
                ProofStep {
                    bit: 3,
                    sibling: h(1),
                },
                ProofStep {
                    bit: 3,
                    sibling: h(2),
                },
            ],
        };
        assert_eq!(proof.implied_root(&h(0), &h(0)), None);
    }

    #[test]
    fn list_roots() {
        assert_eq!(list_root(&[]), Hash::ZERO);
        assert_eq!(list_root(&[h(1)]), h(1));
        let two = keyed_pair(list_key(), &h(1).0, &h(2).0);
        assert_eq!(list_root(&[h(1), h(2)]), two);
        assert_eq!(
            list_root(&[h(1), h(2), h(3)]),
            keyed_pair(list_key(), &two.0, &h(3).0)
        );
        assert_ne!(list_root(&[h(2), h(1)]), two, "order matters");
    }
}

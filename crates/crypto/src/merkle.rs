//! Hashing rules of the Merkle structures the chain commits to, and the verification of their
//! proofs. Building the structures is the ledger's job; checking them is everyone's, so the
//! rules live here where a light client can use them without the ledger.
//!
//! **Slot trees.** Each table of the state gives every entry a slot (a `u32`, assigned in order
//! of creation and never reused) and commits to its entries with a binary tree of fixed depth
//! [`SLOT_TREE_DEPTH`] over the slots. An empty slot is 32 zero bytes; a node whose children
//! are both zero is zero; any other node at height `h` (leaves are height 0) hashes
//! `left ‖ right` in the domain of height `h`. The leaf of an entry is defined by its table
//! (see `aifactory_types::state_key`).
//!
//! **A table's root** hashes its slot tree's root and its slot count (`u32`, little-endian: how
//! many slots the table has ever used, empty ones included) in the table-root domain. The
//! count decides where the table's next new entry goes, so it is state: two tables with the
//! same rows but different counts must not hash alike.
//!
//! **The state root** hashes the tables' roots, in tag order, in the state-root domain.
//!
//! **A list root** (the transactions of a block) pairs neighbours level by level, carrying an
//! odd last item up unchanged; the empty list's root is 32 zero bytes.

use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::{Domain, Hash};

/// Height of a slot tree: slots are `u32`.
pub const SLOT_TREE_DEPTH: usize = 32;

static STATE_ROOT: Domain = Domain::new("aifactory 2026-11 state root v1");
static TABLE_ROOT: Domain = Domain::new("aifactory 2026-11 table root v1");
static LIST_NODE: Domain = Domain::new("aifactory 2026-11 list tree node v1");

fn node_domain_keys() -> &'static [[u8; 32]; SLOT_TREE_DEPTH + 1] {
    static KEYS: OnceLock<[[u8; 32]; SLOT_TREE_DEPTH + 1]> = OnceLock::new();
    KEYS.get_or_init(|| {
        std::array::from_fn(|height| {
            let context = format!("aifactory 2026-11 slot tree node height {height} v1");
            blake3::derive_key(&context, b"")
        })
    })
}

/// The node at `height` (1 to 32) over two children.
pub fn node_hash(height: usize, left: &Hash, right: &Hash) -> Hash {
    if *left == Hash::ZERO && *right == Hash::ZERO {
        return Hash::ZERO;
    }
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&left.0);
    both[32..].copy_from_slice(&right.0);
    Hash::from(blake3::keyed_hash(&node_domain_keys()[height], &both))
}

/// A table's root: its slot tree's root and how many slots it has used.
pub fn table_root(tree_root: &Hash, slot_count: u32) -> Hash {
    TABLE_ROOT.hash(&[&tree_root.0, &slot_count.to_le_bytes()])
}

/// The state root over the tables' roots ([`table_root`]), in tag order.
pub fn state_root(table_roots: &[Hash]) -> Hash {
    let mut hasher = STATE_ROOT.hasher();
    for root in table_roots {
        hasher.update(&root.0);
    }
    Hash::from(hasher.finalize())
}

/// Proof that a leaf sits at a slot of a slot tree, and where that tree sits in the state.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SlotProof {
    /// The leaf's slot.
    pub slot: u32,
    /// How many slots the leaf's table has used (more than `slot`).
    pub slot_count: u32,
    /// The siblings from the leaf's up to the root's children ([`SLOT_TREE_DEPTH`] of them).
    pub siblings: Vec<Hash>,
    /// The root of every table, in tag order; one of them is the tree the leaf is in.
    pub table_roots: Vec<Hash>,
}

impl SlotProof {
    /// The root of the table implied by `leaf` (its slot tree's root with the slot count), or
    /// `None` if the proof is malformed.
    pub fn table_root(&self, leaf: &Hash) -> Option<Hash> {
        if self.siblings.len() != SLOT_TREE_DEPTH
            || *leaf == Hash::ZERO
            || self.slot >= self.slot_count
        {
            return None;
        }
        let mut hash = *leaf;
        for (level, sibling) in self.siblings.iter().enumerate() {
            hash = if (self.slot >> level) & 1 == 1 {
                node_hash(level + 1, sibling, &hash)
            } else {
                node_hash(level + 1, &hash, sibling)
            };
        }
        Some(table_root(&hash, self.slot_count))
    }

    /// Whether `leaf` is in table number `table` of the state whose root is `root`.
    pub fn verify(&self, root: &Hash, table: usize, leaf: &Hash) -> bool {
        let Some(table_root) = self.table_root(leaf) else {
            return false;
        };
        self.table_roots.get(table) == Some(&table_root) && state_root(&self.table_roots) == *root
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
                [left, right] => LIST_NODE.hash_pair(left, right),
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

    static TEST: Domain = Domain::new("merkle test");

    fn h(n: u32) -> Hash {
        TEST.hash(&[&n.to_le_bytes()])
    }

    /// A one-leaf tree at `slot`, built by the definition.
    fn single_leaf_root(slot: u32, leaf: Hash) -> Hash {
        (0..SLOT_TREE_DEPTH).fold(leaf, |hash, level| {
            if (slot >> level) & 1 == 1 {
                node_hash(level + 1, &Hash::ZERO, &hash)
            } else {
                node_hash(level + 1, &hash, &Hash::ZERO)
            }
        })
    }

    #[test]
    fn zero_children_make_zero() {
        assert_eq!(node_hash(3, &Hash::ZERO, &Hash::ZERO), Hash::ZERO);
        assert_ne!(node_hash(3, &h(1), &Hash::ZERO), Hash::ZERO);
        assert_ne!(
            node_hash(3, &h(1), &h(2)),
            node_hash(4, &h(1), &h(2)),
            "heights differ"
        );
    }

    #[test]
    fn single_leaf_proof() {
        let slot = 5;
        let leaf = h(9);
        let table_roots = vec![h(100), table_root(&single_leaf_root(slot, leaf), 6)];
        let proof = SlotProof {
            slot,
            slot_count: 6,
            siblings: vec![Hash::ZERO; SLOT_TREE_DEPTH],
            table_roots: table_roots.clone(),
        };
        let root = state_root(&table_roots);
        assert!(proof.verify(&root, 1, &leaf));
        assert!(!proof.verify(&root, 0, &leaf), "wrong table");
        assert!(!proof.verify(&root, 1, &h(10)), "tampered leaf");
        let moved = SlotProof {
            slot: 4,
            ..proof.clone()
        };
        assert!(!moved.verify(&root, 1, &leaf), "wrong slot");
        let recounted = SlotProof {
            slot_count: 7,
            ..proof.clone()
        };
        assert!(!recounted.verify(&root, 1, &leaf), "wrong slot count");
        let outside = SlotProof {
            slot_count: 5,
            ..proof.clone()
        };
        assert!(!outside.verify(&root, 1, &leaf), "a slot past the count");
        let short = SlotProof {
            siblings: vec![],
            ..proof
        };
        assert!(!short.verify(&root, 1, &leaf), "malformed");
    }

    #[test]
    fn list_roots() {
        assert_eq!(list_root(&[]), Hash::ZERO);
        assert_eq!(list_root(&[h(1)]), h(1));
        let two = LIST_NODE.hash_pair(&h(1), &h(2));
        assert_eq!(list_root(&[h(1), h(2)]), two);
        assert_eq!(
            list_root(&[h(1), h(2), h(3)]),
            LIST_NODE.hash_pair(&two, &h(3))
        );
        assert_ne!(list_root(&[h(2), h(1)]), two, "order matters");
    }
}

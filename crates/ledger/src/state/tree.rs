//! A slot tree: the fixed-depth binary Merkle tree over one table's slots (hashing rules in
//! `aifactory_crypto::merkle`), stored level by level.
//!
//! Updates are incremental and batched: [`SlotTree::set`] records a leaf and its slot, and
//! [`SlotTree::commit`] rehashes, level by level, only the nodes above changed slots, each
//! once however many of its leaves changed. Levels are stored only as far as slots are used;
//! everything to their right is zero by definition and costs nothing.

use aifactory_crypto::Hash;
use aifactory_crypto::merkle::{SLOT_TREE_DEPTH, node_hash};

/// One table's Merkle tree over its slots.
#[derive(Debug, Clone)]
pub struct SlotTree {
    /// `levels[h][i]` is node `i` at height `h`; level 0 holds the leaves.
    levels: Vec<Vec<Hash>>,
    /// Slots set since the last commit.
    dirty: Vec<u32>,
}

impl Default for SlotTree {
    fn default() -> Self {
        SlotTree {
            levels: vec![Vec::new(); SLOT_TREE_DEPTH + 1],
            dirty: Vec::new(),
        }
    }
}

impl SlotTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The committed tree over `leaves` (slot order, zero for an empty slot), hashed level by
    /// level: what a restored table starts from.
    pub(crate) fn from_leaves(leaves: Vec<Hash>) -> Self {
        let mut levels = Vec::with_capacity(SLOT_TREE_DEPTH + 1);
        levels.push(leaves);
        for height in 1..=SLOT_TREE_DEPTH {
            let level: Vec<Hash> = levels[height - 1]
                .chunks(2)
                .map(|pair| node_hash(height, &pair[0], pair.get(1).unwrap_or(&Hash::ZERO)))
                .collect();
            levels.push(level);
        }
        SlotTree {
            levels,
            dirty: Vec::new(),
        }
    }

    /// Sets the leaf at `slot` (zero empties it); takes effect at the next commit.
    pub fn set(&mut self, slot: u32, leaf: Hash) {
        let leaves = &mut self.levels[0];
        let index = slot as usize;
        if index >= leaves.len() {
            leaves.resize(index + 1, Hash::ZERO);
        }
        leaves[index] = leaf;
        self.dirty.push(slot);
    }

    /// Rehashes everything above the slots set since the last commit; returns the root.
    pub fn commit(&mut self) -> Hash {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for height in 1..=SLOT_TREE_DEPTH {
            let (below, above) = self.levels.split_at_mut(height);
            let children = &below[height - 1];
            let level = &mut above[0];
            for index in dirty.iter_mut() {
                *index /= 2;
            }
            dirty.dedup();
            let child = |i: usize| children.get(i).copied().unwrap_or(Hash::ZERO);
            let needed = children.len().div_ceil(2);
            if level.len() < needed {
                level.resize(needed, Hash::ZERO);
            }
            for &index in &dirty {
                let i = index as usize;
                let hash = node_hash(height, &child(2 * i), &child(2 * i + 1));
                if i < level.len() {
                    level[i] = hash;
                }
            }
        }
        self.root()
    }

    /// The root as of the last commit.
    pub fn root(&self) -> Hash {
        self.levels[SLOT_TREE_DEPTH]
            .first()
            .copied()
            .unwrap_or(Hash::ZERO)
    }

    /// The siblings of `slot`'s leaf from the bottom up, as of the last commit.
    ///
    /// # Panics
    /// If changes are pending: proofs are only served for committed states.
    pub fn siblings(&self, slot: u32) -> Vec<Hash> {
        assert!(
            self.dirty.is_empty(),
            "proof requested with uncommitted changes"
        );
        (0..SLOT_TREE_DEPTH)
            .map(|height| {
                let index = (slot as usize >> height) ^ 1;
                self.levels[height]
                    .get(index)
                    .copied()
                    .unwrap_or(Hash::ZERO)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use aifactory_crypto::Domain;
    use proptest::prelude::*;

    use super::*;

    static TEST: Domain = Domain::new("slot tree test");

    fn h(n: u64) -> Hash {
        TEST.hash(&[&n.to_le_bytes()])
    }

    /// The root computed from scratch, by the definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        let mut level = leaves.to_vec();
        for height in 1..=SLOT_TREE_DEPTH {
            level = level
                .chunks(2)
                .map(|pair| node_hash(height, &pair[0], pair.get(1).unwrap_or(&Hash::ZERO)))
                .collect();
        }
        level.first().copied().unwrap_or(Hash::ZERO)
    }

    #[test]
    fn empty_tree_and_trailing_zeros() {
        let mut tree = SlotTree::new();
        assert_eq!(tree.commit(), Hash::ZERO);
        tree.set(0, h(1));
        let one = tree.commit();
        tree.set(7, h(2));
        tree.commit();
        tree.set(7, Hash::ZERO);
        assert_eq!(
            tree.commit(),
            one,
            "a zeroed last slot is as if it never was"
        );
    }

    proptest! {
        /// A tree rebuilt from its leaves takes further updates exactly like the original.
        #[test]
        fn rebuilt_tree_keeps_up(
            leaves in prop::collection::vec(0u64..4, 0..200),
            writes in prop::collection::vec((0u32..260, 0u64..4), 0..60),
        ) {
            let leaf = |value: u64| if value == 0 { Hash::ZERO } else { h(value) };
            let mut original = SlotTree::new();
            for (slot, &value) in leaves.iter().enumerate() {
                original.set(slot as u32, leaf(value));
            }
            original.commit();
            let mut rebuilt = SlotTree::from_leaves(leaves.iter().map(|&v| leaf(v)).collect());
            prop_assert_eq!(rebuilt.root(), original.root());
            for (slot, value) in writes {
                original.set(slot, leaf(value));
                rebuilt.set(slot, leaf(value));
                prop_assert_eq!(rebuilt.commit(), original.commit());
                prop_assert_eq!(rebuilt.siblings(slot), original.siblings(slot));
            }
        }

        #[test]
        fn incremental_root_equals_reference(
            writes in prop::collection::vec((0u32..300, 0u64..5), 1..300),
            commit_every in 1usize..40,
        ) {
            let mut tree = SlotTree::new();
            let mut model = vec![Hash::ZERO; 300];
            for (i, (slot, value)) in writes.into_iter().enumerate() {
                let leaf = if value == 0 { Hash::ZERO } else { h(value) };
                tree.set(slot, leaf);
                model[slot as usize] = leaf;
                if i % commit_every == 0 {
                    prop_assert_eq!(tree.commit(), reference_root(&model));
                }
            }
            let root = tree.commit();
            prop_assert_eq!(root, reference_root(&model));
            let rebuilt = SlotTree::from_leaves(model.clone());
            prop_assert_eq!(rebuilt.root(), root);
            for (slot, leaf) in model.iter().enumerate() {
                if *leaf == Hash::ZERO {
                    continue;
                }
                let siblings = tree.siblings(slot as u32);
                let implied = siblings.iter().enumerate().fold(*leaf, |hash, (height, sibling)| {
                    if (slot >> height) & 1 == 1 {
                        node_hash(height + 1, sibling, &hash)
                    } else {
                        node_hash(height + 1, &hash, sibling)
                    }
                });
                prop_assert_eq!(implied, root);
                prop_assert_eq!(rebuilt.siblings(slot as u32), siblings);
            }
        }
    }
}

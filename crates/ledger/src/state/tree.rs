//! The authenticated state tree: a binary crit-bit tree over 256-bit keys whose root commits
//! to every (key, value hash) pair (hashing rules in `aifactory_crypto::merkle`).
//!
//! Updates are incremental: changing a leaf marks the branches above it dirty, and
//! [`StateTree::root`] rehashes only dirty branches, each once, however many of its leaves
//! changed. A crit-bit tree's shape depends only on its set of keys, so the same contents
//! always give the same root, whatever order they were written in.

use aifactory_crypto::Hash;
use aifactory_crypto::merkle::{ProofStep, StateProof, branch_hash, key_bit, leaf_hash};

/// A child pointer: an index into the leaf or the branch arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Leaf(u32),
    Branch(u32),
}

#[derive(Debug, Clone)]
struct Leaf {
    key: Hash,
    hash: Hash,
}

#[derive(Debug, Clone)]
struct Branch {
    /// The first bit at which the keys below differ.
    bit: u8,
    children: [Node; 2],
    hash: Hash,
    dirty: bool,
}

/// A crit-bit Merkle tree held in two arenas, with free lists for removed nodes.
#[derive(Debug, Clone, Default)]
pub struct StateTree {
    leaves: Vec<Leaf>,
    branches: Vec<Branch>,
    free_leaves: Vec<u32>,
    free_branches: Vec<u32>,
    root: Option<Node>,
    len: usize,
}

/// The first bit at which two different keys differ.
fn crit_bit(a: &Hash, b: &Hash) -> u8 {
    let (index, x) =
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| x ^ y)
            .enumerate()
            .find(|(_, x)| *x != 0)
            .expect("crit_bit of equal keys");
    (index * 8 + x.leading_zeros() as usize) as u8
}

impl StateTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys the tree holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets `key` to hold `value_hash`, inserting it if absent.
    pub fn insert(&mut self, key: Hash, value_hash: Hash) {
        let hash = leaf_hash(&key, &value_hash);
        let Some(root) = self.root else {
            self.root = Some(self.alloc_leaf(Leaf { key, hash }));
            self.len += 1;
            return;
        };
        let closest = self.closest_leaf(root, &key);
        if self.leaves[closest as usize].key == key {
            self.mark_path_dirty(&key);
            self.leaves[closest as usize].hash = hash;
            return;
        }
        let crit = crit_bit(&key, &self.leaves[closest as usize].key);
        // Walk down to where the new branch belongs: above the first node splitting past `crit`.
        let mut parent: Option<(u32, usize)> = None;
        let mut node = root;
        while let Node::Branch(index) = node {
            let branch = &mut self.branches[index as usize];
            if branch.bit > crit {
                break;
            }
            branch.dirty = true;
            let side = key_bit(&key, branch.bit) as usize;
            parent = Some((index, side));
            node = branch.children[side];
        }
        let leaf = self.alloc_leaf(Leaf { key, hash });
        let children = if key_bit(&key, crit) {
            [node, leaf]
        } else {
            [leaf, node]
        };
        let branch = self.alloc_branch(Branch {
            bit: crit,
            children,
            hash: Hash::ZERO,
            dirty: true,
        });
        self.set_child(parent, branch);
        self.len += 1;
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &Hash) -> bool {
        let Some(root) = self.root else {
            return false;
        };
        let closest = self.closest_leaf(root, key);
        if self.leaves[closest as usize].key != *key {
            return false;
        }
        let mut grandparent: Option<(u32, usize)> = None;
        let mut parent: Option<(u32, usize)> = None;
        let mut node = root;
        while let Node::Branch(index) = node {
            let branch = &mut self.branches[index as usize];
            branch.dirty = true;
            let side = key_bit(key, branch.bit) as usize;
            grandparent = parent;
            parent = Some((index, side));
            node = branch.children[side];
        }
        self.free_leaves.push(closest);
        self.len -= 1;
        match parent {
            None => self.root = None,
            Some((index, side)) => {
                let sibling = self.branches[index as usize].children[1 - side];
                self.free_branches.push(index);
                self.set_child(grandparent, sibling);
            }
        }
        true
    }

    /// The root hash, rehashing the branches changed since the last call.
    pub fn root(&mut self) -> Hash {
        match self.root {
            None => Hash::ZERO,
            Some(node) => self.rehash(node),
        }
    }

    /// A proof that `key` is in the tree, or `None` if it is absent.
    ///
    /// # Panics
    /// If changes are pending: call [`StateTree::root`] first.
    pub fn prove(&self, key: &Hash) -> Option<StateProof> {
        let mut node = self.root?;
        let mut steps = Vec::new();
        while let Node::Branch(index) = node {
            let branch = &self.branches[index as usize];
            assert!(!branch.dirty, "proof requested with uncommitted changes");
            let side = key_bit(key, branch.bit) as usize;
            steps.push(ProofStep {
                bit: branch.bit,
                sibling: self.hash_of(branch.children[1 - side]),
            });
            node = branch.children[side];
        }
        let Node::Leaf(index) = node else {
            unreachable!("the walk ends at a leaf")
        };
        if self.leaves[index as usize].key != *key {
            return None;
        }
        steps.reverse();
        Some(StateProof { steps })
    }

    fn hash_of(&self, node: Node) -> Hash {
        match node {
            Node::Leaf(index) => self.leaves[index as usize].hash,
            Node::Branch(index) => self.branches[index as usize].hash,
        }
    }

    fn rehash(&mut self, node: Node) -> Hash {
        let index = match node {
            Node::Leaf(index) => return self.leaves[index as usize].hash,
            Node::Branch(index) => index as usize,
        };
        if !self.branches[index].dirty {
            return self.branches[index].hash;
        }
        let [left, right] = self.branches[index].children;
        let left = self.rehash(left);
        let right = self.rehash(right);
        let branch = &mut self.branches[index];
        branch.hash = branch_hash(branch.bit, &left, &right);
        branch.dirty = false;
        branch.hash
    }

    fn closest_leaf(&self, mut node: Node, key: &Hash) -> u32 {
        loop {
            match node {
                Node::Leaf(index) => return index,
                Node::Branch(index) => {
                    let branch = &self.branches[index as usize];
                    node = branch.children[key_bit(key, branch.bit) as usize];
                }
            }
        }
    }

    /// Marks dirty every branch on `key`'s path from the root.
    fn mark_path_dirty(&mut self, key: &Hash) {
        let mut node = self.root;
        while let Some(Node::Branch(index)) = node {
            let branch = &mut self.branches[index as usize];
            branch.dirty = true;
            node = Some(branch.children[key_bit(key, branch.bit) as usize]);
        }
    }

    fn set_child(&mut self, parent: Option<(u32, usize)>, child: Node) {
        match parent {
            None => self.root = Some(child),
            Some((index, side)) => self.branches[index as usize].children[side] = child,
        }
    }

    fn alloc_leaf(&mut self, leaf: Leaf) -> Node {
        match self.free_leaves.pop() {
            Some(index) => {
                self.leaves[index as usize] = leaf;
                Node::Leaf(index)
            }
            None => {
                self.leaves.push(leaf);
                Node::Leaf(u32::try_from(self.leaves.len() - 1).expect("leaf arena overflow"))
            }
        }
    }

    fn alloc_branch(&mut self, branch: Branch) -> Node {
        match self.free_branches.pop() {
            Some(index) => {
                self.branches[index as usize] = branch;
                Node::Branch(index)
            }
            None => {
                self.branches.push(branch);
                Node::Branch(u32::try_from(self.branches.len() - 1).expect("branch arena overflow"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aifactory_crypto::hash_domain;
    use proptest::prelude::*;

    use super::*;

    fn h(n: u64) -> Hash {
        hash_domain("tree test", &[&n.to_le_bytes()])
    }

    /// The root computed from scratch, by the definition, for comparison.
    fn reference_root(entries: &BTreeMap<Hash, Hash>) -> Hash {
        fn subtree(items: &[(Hash, Hash)]) -> Hash {
            if let [(key, value)] = items {
                return leaf_hash(key, value);
            }
            let bit = crit_bit(&items[0].0, &items[items.len() - 1].0);
            let split = items.partition_point(|(k, _)| !key_bit(k, bit));
            branch_hash(bit, &subtree(&items[..split]), &subtree(&items[split..]))
        }
        let items: Vec<(Hash, Hash)> = entries.iter().map(|(k, v)| (*k, *v)).collect();
        if items.is_empty() {
            Hash::ZERO
        } else {
            subtree(&items)
        }
    }

    #[test]
    fn empty_and_single() {
        let mut tree = StateTree::new();
        assert_eq!(tree.root(), Hash::ZERO);
        tree.insert(h(1), h(2));
        assert_eq!(tree.root(), leaf_hash(&h(1), &h(2)));
        assert!(
            tree.prove(&h(1))
                .unwrap()
                .verify(&tree.root(), &h(1), &h(2))
        );
        assert!(tree.remove(&h(1)));
        assert!(!tree.remove(&h(1)));
        assert_eq!(tree.root(), Hash::ZERO);
    }

    proptest! {
        #[test]
        fn incremental_root_equals_reference(
            ops in prop::collection::vec((0u64..64, 0u64..1000, any::<bool>()), 1..200),
            commit_every in 1usize..20,
        ) {
            let mut tree = StateTree::new();
            let mut model = BTreeMap::new();
            for (i, (key, value, remove)) in ops.into_iter().enumerate() {
                if remove {
                    prop_assert_eq!(tree.remove(&h(key)), model.remove(&h(key)).is_some());
                } else {
                    tree.insert(h(key), h(value));
                    model.insert(h(key), h(value));
                }
                if i % commit_every == 0 {
                    prop_assert_eq!(tree.root(), reference_root(&model));
                }
            }
            let root = tree.root();
            prop_assert_eq!(root, reference_root(&model));
            prop_assert_eq!(tree.len(), model.len());
            for (key, value) in &model {
                let proof = tree.prove(key).expect("present keys have proofs");
                prop_assert!(proof.verify(&root, key, value));
                prop_assert!(!proof.verify(&root, key, &h(u64::MAX)), "tampered value verified");
            }
            prop_assert!(tree.prove(&h(1_000_000)).is_none());
        }

        #[test]
        fn order_of_writes_does_not_matter(mut keys in prop::collection::vec(0u64..10_000, 1..100)) {
            let mut forward = StateTree::new();
            for k in &keys { forward.insert(h(*k), h(k + 1)); }
            keys.reverse();
            let mut backward = StateTree::new();
            for k in &keys { backward.insert(h(*k), h(k + 1)); }
            prop_assert_eq!(forward.root(), backward.root());
        }
    }
}

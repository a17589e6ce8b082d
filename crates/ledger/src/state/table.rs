//! A journaled table: one collection of the state (accounts, validators, ...), kept in an
//! ordered map, with an undo log so that a failed transaction or a rejected block can be rolled
//! back exactly, and with the keys it touched fed to the state tree at the end of a block.

use std::collections::BTreeMap;

use aifactory_crypto::Hash;
use aifactory_types::state_key::{tree_key, value_hash};
use borsh::BorshSerialize;

use super::tree::StateTree;

/// An ordered map with an undo log.
#[derive(Debug, Clone)]
pub(crate) struct Table<K, V> {
    tag: u8,
    rows: BTreeMap<K, V>,
    /// Previous values in the order they were overwritten.
    undo: Vec<(K, Option<V>)>,
}

impl<K, V> Table<K, V>
where
    K: Ord + Clone + BorshSerialize,
    V: Clone + BorshSerialize,
{
    /// An empty table whose keys are separated from other tables' by `tag`.
    pub(crate) fn new(tag: u8) -> Self {
        Table {
            tag,
            rows: BTreeMap::new(),
            undo: Vec::new(),
        }
    }

    /// The value under `key`.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.rows.get(key)
    }

    /// Every row, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.rows.iter()
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Writes `value` under `key`.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        let previous = self.rows.insert(key.clone(), value);
        self.undo.push((key, previous));
    }

    /// Changes the value under `key` in place, creating it with `V::default()` if absent.
    pub(crate) fn upsert<R>(&mut self, key: K, change: impl FnOnce(&mut V) -> R) -> R
    where
        V: Default,
    {
        let previous = self.rows.get(&key).cloned();
        let value = self.rows.entry(key.clone()).or_default();
        let result = change(value);
        self.undo.push((key, previous));
        result
    }

    /// Deletes the row under `key`.
    #[allow(dead_code)] // no kind deletes rows yet; registries will
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let previous = self.rows.remove(key);
        if previous.is_some() {
            self.undo.push((key.clone(), previous.clone()));
        }
        previous
    }

    /// Where the table's key sits in the state tree.
    pub(crate) fn tree_key(&self, key: &K) -> Hash {
        tree_key(self.tag, key)
    }

    fn touched_since(&self, mark: usize) -> Vec<K> {
        let mut keys: Vec<K> = self.undo[mark..].iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn write_to_tree(&self, tree: &mut StateTree, keys: &[K]) {
        for key in keys {
            let position = self.tree_key(key);
            match self.rows.get(key) {
                Some(value) => tree.insert(position, value_hash(value)),
                None => {
                    tree.remove(&position);
                }
            }
        }
    }
}

/// What the state needs from every table, whatever its types: savepoints, rollback, and
/// feeding changes to the tree.
pub(crate) trait Journaled {
    /// The undo log's length: a savepoint.
    fn mark(&self) -> usize;
    /// Undoes every change after `mark`.
    fn rollback_to(&mut self, mark: usize);
    /// Writes every key changed after `mark` into the tree.
    fn sync_tree(&self, tree: &mut StateTree, mark: usize);
    /// Undoes every change after `mark` that was already written to the tree, in both.
    fn revert_synced(&mut self, tree: &mut StateTree, mark: usize);
    /// Forgets the undo log: the changes are final.
    fn seal(&mut self);
}

impl<K, V> Journaled for Table<K, V>
where
    K: Ord + Clone + BorshSerialize,
    V: Clone + BorshSerialize,
{
    fn mark(&self) -> usize {
        self.undo.len()
    }

    fn rollback_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let (key, previous) = self.undo.pop().expect("length checked above");
            match previous {
                Some(value) => self.rows.insert(key, value),
                None => self.rows.remove(&key),
            };
        }
    }

    fn sync_tree(&self, tree: &mut StateTree, mark: usize) {
        self.write_to_tree(tree, &self.touched_since(mark));
    }

    fn revert_synced(&mut self, tree: &mut StateTree, mark: usize) {
        let keys = self.touched_since(mark);
        self.rollback_to(mark);
        self.write_to_tree(tree, &keys);
    }

    fn seal(&mut self) {
        self.undo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aifactory_types::state_key::tree_key;

    #[test]
    fn rollback_restores_every_kind_of_change() {
        let mut table: Table<u8, u32> = Table::new(0);
        table.insert(1, 10);
        table.insert(2, 20);
        table.seal();
        let mark = table.mark();
        table.insert(1, 11);
        table.upsert(3, |v| *v += 30);
        table.remove(&2);
        table.upsert(1, |v| *v += 1);
        assert_eq!(table.get(&1), Some(&12));
        table.rollback_to(mark);
        assert_eq!(table.iter().collect::<Vec<_>>(), vec![(&1, &10), (&2, &20)]);
    }

    #[test]
    fn revert_after_sync_restores_the_root() {
        let mut tree = StateTree::new();
        let mut table: Table<u8, u32> = Table::new(0);
        table.insert(1, 10);
        table.sync_tree(&mut tree, 0);
        table.seal();
        let before = tree.root();
        table.insert(1, 11);
        table.insert(2, 5);
        table.sync_tree(&mut tree, 0);
        assert_ne!(tree.root(), before);
        table.revert_synced(&mut tree, 0);
        assert_eq!(tree.root(), before);
        assert_eq!(table.get(&2), None);
    }

    #[test]
    fn tags_separate_tables() {
        assert_ne!(tree_key(0, &1u8), tree_key(1, &1u8));
    }
}

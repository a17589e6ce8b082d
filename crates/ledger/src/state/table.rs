//! A journaled table: one collection of the state (accounts, validators, ...), with an undo
//! log so that a failed transaction or a rejected block rolls back exactly, and a slot tree
//! that commits to its contents.
//!
//! Each key gets a slot when it is first written: the next unused one, so slots follow the
//! order of creation, which every node replays identically. A deleted key's slot stays empty
//! forever. Rows are found through a hash map (randomly seeded, so crafted keys cannot make it
//! slow), which is only ever looked up, never iterated: iteration goes through the slots, in
//! slot order. A table declared *ordered* also keeps its keys in a B-tree, journaled with the
//! rows, for iteration in key order over a range or a prefix ([`Table::range`]): a queue by
//! height, or "every round of job X" under a key that starts with the job.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeBounds;

use foldhash::fast::RandomState;
use std::hash::Hash as StdHash;

use aifactory_crypto::Hash;
use aifactory_crypto::merkle::table_root;
use aifactory_types::state_key::leaf_hash_with;
use borsh::BorshSerialize;

use super::tree::SlotTree;

/// An undo record: a key's slot and its value before a change (`None` if it was absent).
#[derive(Debug, Clone)]
struct Undo<K, V> {
    key: K,
    slot: u32,
    previous: Option<V>,
}

/// A map from keys to values with slots, an undo log, and a Merkle tree.
#[derive(Debug, Clone)]
pub struct Table<K, V> {
    tag: u8,
    /// Each key's slot.
    index: HashMap<K, u32, RandomState>,
    /// Each key's slot in key order, if the table is ordered.
    ordered: Option<BTreeMap<K, u32>>,
    /// Each slot's key and value, `None` once deleted.
    slots: Vec<Option<(K, V)>>,
    undo: Vec<Undo<K, V>>,
    tree: SlotTree,
}

impl<K, V> Table<K, V>
where
    K: Ord + StdHash + Clone + BorshSerialize,
    V: Clone + Default + BorshSerialize,
{
    /// An empty table committed under `tag`, keeping its keys in order if `ordered`.
    pub(crate) fn new(tag: u8, ordered: bool) -> Self {
        Table {
            tag,
            index: HashMap::default(),
            ordered: ordered.then(BTreeMap::new),
            slots: Vec::new(),
            undo: Vec::new(),
            tree: SlotTree::new(),
        }
    }

    /// The value under `key`.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        let slot = *self.index.get(key)?;
        self.slots[slot as usize].as_ref().map(|(_, value)| value)
    }

    /// Every row, in slot (creation) order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().flatten().map(|(key, value)| (key, value))
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The rows whose keys fall in `range`, in key order.
    ///
    /// # Panics
    /// If the table is not declared ordered.
    pub(crate) fn range<R: RangeBounds<K>>(&self, range: R) -> impl Iterator<Item = (&K, &V)> {
        let ordered = self
            .ordered
            .as_ref()
            .expect("range queries need a table declared ordered");
        ordered.range(range).map(|(_, &slot)| {
            let (key, value) = self.slots[slot as usize]
                .as_ref()
                .expect("an indexed slot is occupied");
            (key, value)
        })
    }

    /// Writes `value` under `key`.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        *self.entry(key) = value;
    }

    /// Changes the value under `key` in place, creating it with `V::default()` if absent.
    pub(crate) fn upsert<R>(&mut self, key: K, change: impl FnOnce(&mut V) -> R) -> R {
        change(self.entry(key))
    }

    /// The value under `key` for writing, created with `V::default()` if absent; the undo
    /// log records what was there.
    fn entry(&mut self, key: K) -> &mut V {
        let next_slot = u32::try_from(self.slots.len()).expect("a table holds at most 2^32 rows");
        match self.index.entry(key) {
            Entry::Occupied(occupied) => {
                let slot = *occupied.get();
                let (key, value) = self.slots[slot as usize]
                    .as_mut()
                    .expect("an indexed slot is occupied");
                self.undo.push(Undo {
                    key: key.clone(),
                    slot,
                    previous: Some(value.clone()),
                });
                value
            }
            Entry::Vacant(vacant) => {
                let key = vacant.key().clone();
                vacant.insert(next_slot);
                if let Some(ordered) = &mut self.ordered {
                    ordered.insert(key.clone(), next_slot);
                }
                self.undo.push(Undo {
                    key: key.clone(),
                    slot: next_slot,
                    previous: None,
                });
                self.slots.push(Some((key, V::default())));
                let (_, value) = self
                    .slots
                    .last_mut()
                    .and_then(Option::as_mut)
                    .expect("just pushed");
                value
            }
        }
    }

    /// Deletes the row under `key`; its slot stays empty.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.index.remove(key)?;
        if let Some(ordered) = &mut self.ordered {
            ordered.remove(key);
        }
        let (key, value) = self.slots[slot as usize]
            .take()
            .expect("an indexed slot is occupied");
        self.undo.push(Undo {
            key,
            slot,
            previous: Some(value.clone()),
        });
        Some(value)
    }

    /// Every slot in order, `None` where a row was deleted: what a snapshot records.
    pub(crate) fn slots(&self) -> &[Option<(K, V)>] {
        &self.slots
    }

    /// A committed, sealed table holding exactly `slots` (as [`Table::slots`] gave them),
    /// its index and tree rebuilt; or the first slot whose key repeats an earlier slot's.
    pub(crate) fn restore(tag: u8, slots: Vec<Option<(K, V)>>) -> Result<Self, u32> {
        let mut table = Self::from_slots(tag, false, slots)?;
        table.rebuild_tree();
        Ok(table)
    }

    /// A sealed table holding exactly `slots`, its index built but its tree still empty
    /// (hashing waits until the input is known to be whole: [`Journaled::rebuild_tree`]); or
    /// the first slot whose key repeats an earlier slot's.
    pub(crate) fn from_slots(
        tag: u8,
        ordered: bool,
        slots: Vec<Option<(K, V)>>,
    ) -> Result<Self, u32> {
        let occupied = slots.iter().flatten().count();
        let mut index = HashMap::with_capacity_and_hasher(occupied, RandomState::default());
        for (slot, entry) in slots.iter().enumerate() {
            let slot = u32::try_from(slot).expect("a table holds at most 2^32 rows");
            if let Some((key, _)) = entry
                && index.insert(key.clone(), slot).is_some()
            {
                return Err(slot);
            }
        }
        let ordered = ordered.then(|| index.iter().map(|(k, &slot)| (k.clone(), slot)).collect());
        Ok(Table {
            tag,
            index,
            ordered,
            slots,
            undo: Vec::new(),
            tree: SlotTree::new(),
        })
    }

    /// `key`'s slot and the siblings of its leaf, as of the last commit.
    pub(crate) fn siblings(&self, key: &K) -> Option<(u32, Vec<Hash>)> {
        let slot = *self.index.get(key)?;
        Some((slot, self.tree.siblings(slot)))
    }

    /// Slots changed after undo position `mark`, sorted and without repeats.
    fn touched_slots(&self, mark: usize) -> Vec<u32> {
        let mut slots: Vec<u32> = self.undo[mark..].iter().map(|undo| undo.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    fn write_leaves(&mut self, slots: &[u32]) {
        let mut scratch = Vec::with_capacity(256);
        for &slot in slots {
            let leaf = match self.slots.get(slot as usize) {
                Some(Some((key, value))) => leaf_hash_with(&mut scratch, self.tag, key, value),
                _ => Hash::ZERO,
            };
            self.tree.set(slot, leaf);
        }
    }
}

/// What the state needs from every table, whatever its types: savepoints, rollback, and
/// committing changes to the tree.
pub(crate) trait Journaled {
    /// How many slots the table has used, empty ones included: where its next new key goes.
    fn slot_count(&self) -> u32;
    /// The table's root as of the last commit: its slot tree's root and its slot count
    /// (`aifactory_crypto::merkle::table_root`).
    fn root(&self) -> Hash;
    /// Hashes the whole tree from the slots (a table restored with [`Table::from_slots`]).
    fn rebuild_tree(&mut self);
    /// The undo log's length: a savepoint.
    fn mark(&self) -> usize;
    /// Undoes every change after `mark`.
    fn rollback_to(&mut self, mark: usize);
    /// Writes every change after `mark` into the tree and returns the table's root.
    fn commit_tree(&mut self, mark: usize) -> Hash;
    /// Undoes every change after `mark` that was already committed to the tree, in both;
    /// returns the table's root.
    fn revert_committed(&mut self, mark: usize) -> Hash;
    /// Forgets the undo log: the changes are final.
    fn seal(&mut self);
    /// Bytes of state added after `mark`: for each entry changed since, how much longer its
    /// encoded key and value are than before (an absent entry counts 0; shrinking counts 0).
    fn bytes_added(&self, mark: usize) -> u64;
}

impl<K, V> Journaled for Table<K, V>
where
    K: Ord + StdHash + Clone + BorshSerialize,
    V: Clone + Default + BorshSerialize,
{
    fn slot_count(&self) -> u32 {
        u32::try_from(self.slots.len()).expect("a table holds at most 2^32 rows")
    }

    fn root(&self) -> Hash {
        table_root(&self.tree.root(), self.slot_count())
    }

    fn rebuild_tree(&mut self) {
        let mut scratch = Vec::with_capacity(256);
        let leaves = self
            .slots
            .iter()
            .map(|entry| match entry {
                Some((key, value)) => leaf_hash_with(&mut scratch, self.tag, key, value),
                None => Hash::ZERO,
            })
            .collect();
        self.tree = SlotTree::from_leaves(leaves);
    }

    fn mark(&self) -> usize {
        self.undo.len()
    }

    fn rollback_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Undo {
                key,
                slot,
                previous,
            } = self.undo.pop().expect("length checked above");
            match previous {
                Some(value) => {
                    self.index.insert(key.clone(), slot);
                    if let Some(ordered) = &mut self.ordered {
                        ordered.insert(key.clone(), slot);
                    }
                    self.slots[slot as usize] = Some((key, value));
                }
                None => {
                    self.index.remove(&key);
                    if let Some(ordered) = &mut self.ordered {
                        ordered.remove(&key);
                    }
                    let last = self.slots.pop().flatten();
                    assert!(
                        slot as usize == self.slots.len() && last.is_some_and(|(k, _)| k == key),
                        "created slots are undone in reverse order"
                    );
                }
            }
        }
    }

    fn commit_tree(&mut self, mark: usize) -> Hash {
        let slots = self.touched_slots(mark);
        self.write_leaves(&slots);
        self.tree.commit();
        self.root()
    }

    fn revert_committed(&mut self, mark: usize) -> Hash {
        let slots = self.touched_slots(mark);
        self.rollback_to(mark);
        self.write_leaves(&slots);
        self.tree.commit();
        self.root()
    }

    fn seal(&mut self) {
        self.undo.clear();
    }

    fn bytes_added(&self, mark: usize) -> u64 {
        let size = |key: &K, value: &V| -> u64 {
            let bytes =
                borsh::object_length(key).and_then(|k| Ok(k + borsh::object_length(value)?));
            bytes.expect("counting bytes cannot fail") as u64
        };
        // Each slot's size before its first change after `mark`.
        let mut before: BTreeMap<u32, u64> = BTreeMap::new();
        for undo in &self.undo[mark..] {
            before
                .entry(undo.slot)
                .or_insert_with(|| undo.previous.as_ref().map_or(0, |v| size(&undo.key, v)));
        }
        before
            .into_iter()
            .map(|(slot, before)| {
                let after = match self.slots.get(slot as usize) {
                    Some(Some((key, value))) => size(key, value),
                    _ => 0,
                };
                after.saturating_sub(before)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(table: &Table<u8, u32>) -> Vec<(u8, u32)> {
        table.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn rollback_restores_every_kind_of_change() {
        let mut table: Table<u8, u32> = Table::new(0, false);
        table.insert(1, 10);
        table.insert(2, 20);
        table.commit_tree(0);
        table.seal();
        let mark = table.mark();
        table.insert(1, 11);
        table.upsert(3, |v| *v += 30);
        table.remove(&2);
        table.upsert(1, |v| *v += 1);
        table.insert(2, 21);
        assert_eq!(contents(&table), vec![(1, 12), (3, 30), (2, 21)]);
        table.rollback_to(mark);
        assert_eq!(contents(&table), vec![(1, 10), (2, 20)]);
    }

    #[test]
    fn revert_after_commit_restores_the_root() {
        let mut table: Table<u8, u32> = Table::new(0, false);
        table.insert(1, 10);
        table.commit_tree(0);
        table.seal();
        let before = table.root();
        table.insert(1, 11);
        table.insert(2, 5);
        table.remove(&2);
        table.insert(3, 7);
        assert_ne!(table.commit_tree(0), before);
        assert_eq!(table.revert_committed(0), before);
        assert_eq!(table.get(&2), None);
        assert_eq!(contents(&table), vec![(1, 10)]);
    }

    #[test]
    fn ordered_tables_range_in_key_order_and_roll_back() {
        let mut table: Table<u8, u32> = Table::new(0, true);
        for key in [5, 1, 9, 3] {
            table.insert(key, u32::from(key) * 10);
        }
        table.commit_tree(0);
        table.seal();
        let keys = |table: &Table<u8, u32>, from: u8| -> Vec<u8> {
            table.range(from..).map(|(k, _)| *k).collect()
        };
        assert_eq!(keys(&table, 0), [1, 3, 5, 9]);
        assert_eq!(keys(&table, 4), [5, 9]);
        let mark = table.mark();
        table.remove(&3);
        table.insert(4, 40);
        table.insert(9, 91);
        assert_eq!(keys(&table, 0), [1, 4, 5, 9]);
        table.rollback_to(mark);
        assert_eq!(keys(&table, 0), [1, 3, 5, 9]);
        let restored = Table::from_slots(0, true, table.slots().to_vec()).unwrap();
        assert_eq!(keys(&restored, 2), [3, 5, 9]);
    }

    #[test]
    fn bytes_added_counts_growth_not_churn() {
        let mut table: Table<u8, Vec<u8>> = Table::new(0, false);
        table.insert(1, vec![0; 10]);
        table.commit_tree(0);
        table.seal();
        let mark = table.mark();
        assert_eq!(table.bytes_added(mark), 0);
        table.insert(2, vec![0; 3]); // 1 + 4 + 3 new
        table.upsert(1, |v| v.extend([0; 5])); // 5 longer
        table.insert(2, vec![0; 4]); // 1 longer than when created: counted once
        assert_eq!(table.bytes_added(mark), 9 + 5);
        table.remove(&1);
        assert_eq!(
            table.bytes_added(mark),
            9,
            "deleting refunds nothing, adds nothing"
        );
        table.rollback_to(mark);
        assert_eq!(table.bytes_added(mark), 0);
    }

    #[test]
    fn tags_separate_tables() {
        let mut a: Table<u8, u32> = Table::new(0, false);
        let mut b: Table<u8, u32> = Table::new(1, false);
        a.insert(1, 1);
        b.insert(1, 1);
        assert_ne!(a.commit_tree(0), b.commit_tree(0));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The root changes exactly when the table's contents (keys, values, slots) do.
        #[test]
        fn root_tracks_contents(ops in prop::collection::vec((0u8..6, 0u32..3, 0u8..3), 1..60)) {
            let mut table: Table<u8, u32> = Table::new(2, false);
            let mut previous = (table.slots.clone(), table.commit_tree(0));
            for (key, value, kind) in ops {
                let mark = table.mark();
                match kind {
                    0 => table.insert(key, value),
                    1 => { table.remove(&key); }
                    _ => { table.upsert(key, |v| *v = v.wrapping_add(value)); }
                }
                let root = table.commit_tree(mark);
                table.seal();
                let contents = table.slots.clone();
                prop_assert_eq!(contents == previous.0, root == previous.1);
                previous = (contents, root);
            }
        }
    }
}

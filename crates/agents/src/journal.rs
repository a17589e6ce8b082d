//! An agent's own durable state: one small JSON file per kind of record, replaced crash-safely
//! (`aifactory_store::durable`), so that after `kill -9` the agent finds either what it had
//! before a change or what it had after, never a torn file. An agent writes what it is about to
//! send here *before* sending it, which is how a restart re-sends the same message rather than
//! making a new one.

use std::path::{Path, PathBuf};

use aifactory_store::durable::{Access, write_durably};
use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value of type `T` kept in one file: read at start, written whole on every change.
#[derive(Debug)]
pub struct Journal<T> {
    path: PathBuf,
    value: T,
}

impl<T: Serialize + DeserializeOwned + Default + Clone> Journal<T> {
    /// Opens the journal at `path`, or starts an empty one if the file does not exist yet; a
    /// file that does not parse is an error (never silently replaced: it may hold secrets or
    /// the record of a message already sent).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let value = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a valid agent journal", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Journal {
            path: path.to_owned(),
            value,
        })
    }

    /// The current value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// Changes the value and makes the change durable before returning; if writing fails the
    /// value in memory stays as it was.
    pub fn update<R>(&mut self, change: impl FnOnce(&mut T) -> R) -> anyhow::Result<R> {
        let mut next = self.value.clone();
        let out = change(&mut next);
        let bytes = serde_json::to_vec_pretty(&next).expect("a journal serialises");
        write_durably(&self.path, &bytes, Access::OwnerOnly)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.value = next;
        Ok(out)
    }
}

/// Writes `bytes` to `dir/name` crash-safely (for blobs an agent computed and must post
/// unchanged after a restart).
pub fn save_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    write_durably(&path, bytes, Access::OwnerOnly)
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads `dir/name` if it exists.
pub fn load_file(dir: &Path, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_change_survives_reopening_and_a_corrupt_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut journal: Journal<BTreeMap<String, u64>> = Journal::open(&path).unwrap();
        assert!(journal.get().is_empty());
        journal.update(|m| m.insert("job 1".into(), 7)).unwrap();
        let reopened: Journal<BTreeMap<String, u64>> = Journal::open(&path).unwrap();
        assert_eq!(reopened.get().get("job 1"), Some(&7));

        std::fs::write(&path, b"{ not json").unwrap();
        let error = Journal::<BTreeMap<String, u64>>::open(&path).unwrap_err();
        assert!(format!("{error:#}").contains("not a valid agent journal"));
    }

    #[test]
    fn a_failed_write_leaves_the_value_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("state.json");
        let mut journal: Journal<Vec<u8>> = Journal::open(&path).unwrap();
        assert!(journal.update(|v| v.push(1)).is_err());
        assert!(journal.get().is_empty());
    }
}

//! Snapshot files, written so that a crash at any moment (kill -9, power loss) leaves either
//! the previous file or the new one, whole, and never a torn one.
//!
//! This is the ledger's only filesystem code, and the state machine never calls it: the
//! node saves and loads between blocks. Applying blocks still does no I/O.
//!
//! `save_snapshot` writes `<path>.tmp`, fsyncs it, renames it over `<path>`, then fsyncs the
//! directory. Each step has its reason:
//! - **fsync before rename:** otherwise the rename can reach the disk before the data, and a
//!   power loss leaves `<path>` naming a file with missing or zeroed blocks.
//! - **rename:** it replaces the name atomically; any reader, and any crash, sees the old file
//!   or the new one.
//! - **fsync of the directory:** the rename lives in the directory; until that is on disk a
//!   power loss can bring the old snapshot back. The node prunes or skips blocks older than
//!   its snapshot once `save_snapshot` returns, so returning early would lose them.
//!
//! A crash leaves at most a stale `<path>.tmp`, which the next save overwrites and loading
//! never reads. Two saves to the same path at once are not supported.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{SnapshotError, SnapshotLimits};
use crate::state::State;

/// Read buffer for loading: large reads, few system calls.
const LOAD_BUFFER_BYTES: usize = 1024 * 1024;

/// Writes `state`'s snapshot to `path` durably and atomically (see the module docs); returns
/// the snapshot's size in bytes.
pub fn save_snapshot(state: &State, path: &Path) -> io::Result<u64> {
    let temp = temp_path(path);
    let written = write_synced(state, &temp).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    fs::rename(&temp, path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()?;
    Ok(written)
}

/// Reads the snapshot file at `path`, refusing it as [`State::read_snapshot`] would, and if
/// anything follows the snapshot in the file.
pub fn load_snapshot(path: &Path, limits: &SnapshotLimits) -> Result<State, SnapshotError> {
    let file = File::open(path).map_err(SnapshotError::Io)?;
    let mut reader = BufReader::with_capacity(LOAD_BUFFER_BYTES, file);
    let state = State::read_snapshot(&mut reader, limits)?;
    if !reader.fill_buf().map_err(SnapshotError::Io)?.is_empty() {
        return Err(SnapshotError::TrailingBytes);
    }
    Ok(state)
}

/// `<path>.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

fn write_synced(state: &State, path: &Path) -> io::Result<u64> {
    let mut file = File::create(path)?;
    let written = state.write_snapshot(&mut file)?;
    file.sync_all()?;
    Ok(written)
}

//! Crash-safe writes of whole small files, for everything that keeps state on disk (the blob
//! store, the wallet's key files, the node's configuration and proofs): write a temporary file
//! beside the target, fsync it, rename it over the target, fsync the directory. After a crash
//! the target holds its old content or the new, never a torn mix, and a write that returned
//! survives. The blob store streams its blobs and renames them under its accounting lock
//! (`write.rs`), so it shares only [`sync_dir`].

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a file that [`write_durably`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// As the process's umask has it: for files that hold no secret.
    Default,
    /// Its owner only (mode 0600 on Unix) from the moment it exists: for secrets.
    OwnerOnly,
}

/// Writes `bytes` to `path` crash-safely (see the module docs), through `<path>.tmp`; the
/// directory must exist. On failure the temporary file is removed and `path` is as before.
pub fn write_durably(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    write_durably_with(path, access, |file| file.write_all(bytes))
}

/// [`write_durably`] for content streamed by `write` (a ledger snapshot, say) rather than held
/// in memory: `write` fills the temporary file, which is then synced and renamed the same way.
/// Returns what `write` returned.
pub fn write_durably_with<T>(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    let temp = temp_path(path);
    let written = write_synced(&temp, access, write)
        .and_then(|written| fs::rename(&temp, path).map(|()| written))
        .inspect_err(|_| {
            let _ = fs::remove_file(&temp);
        })?;
    sync_dir(parent(path))?;
    Ok(written)
}

/// Flushes a directory's entries (new files, renames, removals) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_synced<T>(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if access == Access::OwnerOnly {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options.open(path)?;
    let written = write(&mut file)?;
    file.sync_all()?;
    Ok(written)
}

/// `<path>.tmp`: the extension is added, not replaced, so `a.json` and `a.toml` never share one.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_durably(&path, b"first, and longer", Access::Default).unwrap();
        write_durably(&path, b"second", Access::Default).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.toml"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        write_durably(&path, b"old", Access::Default).unwrap();
        // A directory in the way of the temporary file makes the write fail.
        fs::create_dir(temp_path(&path)).unwrap();
        assert!(write_durably(&path, b"new", Access::Default).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn streamed_writes_return_what_the_writer_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.bin");
        let written = write_durably_with(&path, Access::Default, |file| {
            file.write_all(b"abc")?;
            file.write_all(b"def")?;
            Ok(6u64)
        })
        .unwrap();
        assert_eq!(written, 6);
        assert_eq!(fs::read(&path).unwrap(), b"abcdef");
        let failed = write_durably_with(&path, Access::Default, |file| {
            file.write_all(b"torn")?;
            Err::<(), _>(io::Error::other("the writer gave up"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"abcdef", "the old file stays");
        assert!(!temp_path(&path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn owner_only_files_are_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.json");
        write_durably(&path, b"secret", Access::OwnerOnly).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

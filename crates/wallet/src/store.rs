//! The key store directory: one `NAME.json` per key.

use std::fs;
use std::path::{Path, PathBuf};

use aifactory_crypto::{Address, SecretKey};
use aifactory_store::durable::{Access, write_durably};

use crate::WalletError;
use crate::file::{KdfParams, KeyFile};
use crate::mnemonic::{key_from_phrase, new_phrase};

/// How a new key is kept on disk.
#[derive(Debug, Clone, Copy)]
pub enum Protection<'a> {
    /// Encrypted under this passphrase.
    Passphrase(&'a str),
    /// In the clear: throwaway devnet keys only.
    InsecurePlaintext,
}

impl Protection<'_> {
    fn passphrase(&self) -> Option<&str> {
        match self {
            Protection::Passphrase(passphrase) => Some(passphrase),
            Protection::InsecurePlaintext => None,
        }
    }
}

/// A key's public facts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: Address,
    /// Whether it is encrypted at rest.
    pub encrypted: bool,
}

/// A directory of key files.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
    kdf: KdfParams,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> WalletError + '_ {
    move |source| WalletError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn check_name(name: &str) -> Result<(), WalletError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(WalletError::InvalidName(name.to_owned()));
    }
    Ok(())
}

impl Keystore {
    /// The key store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Keystore {
            dir: dir.into(),
            kdf: KdfParams::default(),
        }
    }

    /// Uses other Argon2id costs for keys written from now on (tests use cheap ones).
    pub fn with_kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Makes a new random key; returns its facts and its backup phrase (show it once).
    pub fn create(
        &self,
        name: &str,
        protection: Protection<'_>,
    ) -> Result<(KeyInfo, String), WalletError> {
        let phrase = new_phrase();
        let key = key_from_phrase(&phrase)?;
        let info = self.store(name, &key, protection)?;
        Ok((info, phrase))
    }

    /// Rebuilds a key from its backup phrase.
    pub fn recover(
        &self,
        name: &str,
        phrase: &str,
        protection: Protection<'_>,
    ) -> Result<KeyInfo, WalletError> {
        let key = key_from_phrase(phrase)?;
        self.store(name, &key, protection)
    }

    /// Stores a key given as 64 hex characters.
    pub fn import(
        &self,
        name: &str,
        secret_hex: &str,
        protection: Protection<'_>,
    ) -> Result<KeyInfo, WalletError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(secret_hex.trim(), &mut bytes)
            .map_err(|_| WalletError::InvalidSecret)?;
        self.store(name, &SecretKey::from_bytes(bytes), protection)
    }

    /// Stores `key` under `name`, refusing to overwrite.
    pub fn store(
        &self,
        name: &str,
        key: &SecretKey,
        protection: Protection<'_>,
    ) -> Result<KeyInfo, WalletError> {
        check_name(name)?;
        let path = self.path(name);
        if path.exists() {
            return Err(WalletError::AlreadyExists(name.to_owned()));
        }
        fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let file = KeyFile::seal(name, key, protection.passphrase(), self.kdf);
        let json = serde_json::to_vec_pretty(&file).expect("key files serialise");
        // Owner-only from the start: the file may hold the key in the clear.
        write_durably(&path, &json, Access::OwnerOnly).map_err(io_error(&path))?;
        Ok(KeyInfo {
            name: name.to_owned(),
            address: file.address,
            encrypted: file.is_encrypted(),
        })
    }

    /// Reads a key file.
    pub fn file(&self, name: &str) -> Result<KeyFile, WalletError> {
        check_name(name)?;
        let path = self.path(name);
        let bytes = match fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WalletError::NotFound(name.to_owned()));
            }
            other => other.map_err(io_error(&path))?,
        };
        serde_json::from_slice(&bytes).map_err(|e| WalletError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// A key's public facts.
    pub fn show(&self, name: &str) -> Result<KeyInfo, WalletError> {
        let file = self.file(name)?;
        Ok(KeyInfo {
            name: file.name.clone(),
            address: file.address,
            encrypted: file.is_encrypted(),
        })
    }

    /// Opens a key for signing.
    pub fn load(&self, name: &str, passphrase: Option<&str>) -> Result<SecretKey, WalletError> {
        self.file(name)?.open(passphrase)
    }

    /// Every key, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>, WalletError> {
        let entries = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(io_error(&self.dir))?,
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                file_name.strip_suffix(".json").map(str::to_owned)
            })
            .filter(|name| check_name(name).is_ok())
            .collect();
        names.sort();
        names.iter().map(|name| self.show(name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Keystore) {
        let dir = tempfile::tempdir().unwrap();
        let keystore = Keystore::new(dir.path().join("keys")).with_kdf(KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        });
        (dir, keystore)
    }

    #[test]
    fn create_list_load_recover() {
        let (_dir, keys) = store();
        let (alice, phrase) = keys.create("alice", Protection::Passphrase("pw")).unwrap();
        keys.create("bob", Protection::InsecurePlaintext).unwrap();
        let names: Vec<String> = keys.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(
            keys.load("alice", Some("pw")).unwrap().address(),
            alice.address
        );
        let recovered = keys
            .recover("alice2", &phrase, Protection::Passphrase("x"))
            .unwrap();
        assert_eq!(recovered.address, alice.address);
    }

    #[test]
    fn errors_are_specific() {
        let (_dir, keys) = store();
        keys.create("alice", Protection::Passphrase("pw")).unwrap();
        assert!(matches!(
            keys.create("alice", Protection::InsecurePlaintext),
            Err(WalletError::AlreadyExists(_))
        ));
        assert!(matches!(
            keys.load("carol", None),
            Err(WalletError::NotFound(_))
        ));
        assert!(matches!(
            keys.load("alice", Some("no")),
            Err(WalletError::WrongPassphrase(_))
        ));
        assert!(matches!(
            keys.create("../evil", Protection::InsecurePlaintext),
            Err(WalletError::InvalidName(_))
        ));
        assert!(matches!(
            keys.import("x", "abcd", Protection::InsecurePlaintext),
            Err(WalletError::InvalidSecret)
        ));
    }

    #[test]
    fn import_then_export_round_trips() {
        let (_dir, keys) = store();
        let secret = hex::encode([5u8; 32]);
        let info = keys
            .import("imp", &secret, Protection::Passphrase("pw"))
            .unwrap();
        let key = keys.load("imp", Some("pw")).unwrap();
        assert_eq!(hex::encode(key.to_bytes()), secret);
        assert_eq!(key.address(), info.address);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, keys) = store();
        keys.create("alice", Protection::Passphrase("pw")).unwrap();
        let mode = fs::metadata(dir.path().join("keys/alice.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

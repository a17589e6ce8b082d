//! Why a key-store operation failed.

/// A key-store failure, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// No key file of that name.
    #[error("no key named {0:?}: see `aifactory keys list`")]
    NotFound(String),
    /// A key file of that name already exists; keys are never overwritten.
    #[error("a key named {0:?} already exists; choose another name")]
    AlreadyExists(String),
    /// The name would not make a safe file name.
    #[error("key names are 1 to 64 letters, digits, '-' or '_'; got {0:?}")]
    InvalidName(String),
    /// Decryption failed: the passphrase is wrong or the file was altered.
    #[error("wrong passphrase for key {0:?} (or its file was altered)")]
    WrongPassphrase(String),
    /// The backup phrase is not a valid 24-word BIP-39 English phrase.
    #[error("invalid backup phrase: {0}")]
    InvalidPhrase(String),
    /// A secret key given in hex is not 32 bytes of hex.
    #[error("a secret key is 64 hexadecimal characters")]
    InvalidSecret,
    /// A key file is not valid.
    #[error("key file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file system refused.
    #[error("key store at {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

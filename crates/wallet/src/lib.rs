//! The key store: a directory of ed25519 keys, each in its own JSON file, encrypted at rest
//! with a key stretched from a passphrase by Argon2id and sealed with ChaCha20-Poly1305.
//!
//! A new key comes with a 24-word BIP-39 phrase, shown once, from which the same key can be
//! recovered anywhere. Files are written to a temporary name, synced, then renamed, so a crash
//! never leaves a half-written key. Plaintext files exist only for throwaway devnets, and say
//! so in their name.

mod error;
mod file;
mod mnemonic;
mod store;

pub use error::WalletError;
pub use file::{KdfParams, KeyFile, Sealed};
pub use mnemonic::{key_from_phrase, new_phrase};
pub use store::{KeyInfo, Keystore, Protection};

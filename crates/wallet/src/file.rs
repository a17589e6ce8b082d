//! The key file: what is on disk for one key, and sealing and opening its secret.

use aifactory_crypto::{Address, SecretKey};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::WalletError;

/// Argon2id cost parameters, stored with each file so they can rise over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended Argon2id setting (19 MiB, two passes, one lane).
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// How a key file protects its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sealed {
    /// Encrypted with a key stretched from a passphrase.
    Argon2idChacha20poly1305 {
        /// The Argon2id costs.
        kdf: KdfParams,
        /// The Argon2id salt, hex.
        salt_hex: String,
        /// The AEAD nonce, hex.
        nonce_hex: String,
        /// The sealed secret key with its tag, hex; the address is the associated data.
        ciphertext_hex: String,
    },
    /// Not encrypted: for throwaway devnet keys only.
    InsecurePlaintext {
        /// The secret key, hex.
        secret_hex: String,
    },
}

/// One key on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// The format version.
    pub version: u32,
    /// The key's name.
    pub name: String,
    /// The key's address, readable without the passphrase.
    pub address: Address,
    /// The secret, sealed or not.
    pub secret: Sealed,
}

fn stretch(passphrase: &str, salt: &[u8], kdf: KdfParams) -> Zeroizing<[u8; 32]> {
    let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .expect("stored Argon2 parameters were valid when written");
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .expect("a 32-byte output and a 16-byte salt are valid");
    key
}

impl KeyFile {
    /// Seals `key` under `passphrase`, or stores it in the clear when `passphrase` is `None`.
    pub fn seal(name: &str, key: &SecretKey, passphrase: Option<&str>, kdf: KdfParams) -> Self {
        let address = key.address();
        let secret = Zeroizing::new(key.to_bytes());
        let sealed = match passphrase {
            None => Sealed::InsecurePlaintext {
                secret_hex: hex::encode(secret.as_ref()),
            },
            Some(passphrase) => {
                let mut salt = [0u8; 16];
                let mut nonce = [0u8; 12];
                OsRng.fill_bytes(&mut salt);
                OsRng.fill_bytes(&mut nonce);
                let stretched = stretch(passphrase, &salt, kdf);
                let cipher = ChaCha20Poly1305::new(Key::from_slice(stretched.as_ref()));
                let payload = Payload {
                    msg: secret.as_ref(),
                    aad: address.as_bytes(),
                };
                let ciphertext = cipher
                    .encrypt(Nonce::from_slice(&nonce), payload)
                    .expect("encryption into a Vec cannot fail");
                Sealed::Argon2idChacha20poly1305 {
                    kdf,
                    salt_hex: hex::encode(salt),
                    nonce_hex: hex::encode(nonce),
                    ciphertext_hex: hex::encode(ciphertext),
                }
            }
        };
        KeyFile {
            version: 1,
            name: name.to_owned(),
            address,
            secret: sealed,
        }
    }

    /// Whether opening needs a passphrase.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.secret, Sealed::Argon2idChacha20poly1305 { .. })
    }

    /// Opens the secret; `passphrase` is ignored for plaintext files.
    pub fn open(&self, passphrase: Option<&str>) -> Result<SecretKey, WalletError> {
        let corrupt = |reason: &str| WalletError::Corrupt {
            path: self.name.clone(),
            reason: reason.to_owned(),
        };
        let secret: Zeroizing<Vec<u8>> = match &self.secret {
            Sealed::InsecurePlaintext { secret_hex } => {
                Zeroizing::new(hex::decode(secret_hex).map_err(|_| corrupt("secret is not hex"))?)
            }
            Sealed::Argon2idChacha20poly1305 {
                kdf,
                salt_hex,
                nonce_hex,
                ciphertext_hex,
            } => {
                let passphrase =
                    passphrase.ok_or_else(|| WalletError::WrongPassphrase(self.name.clone()))?;
                let salt = hex::decode(salt_hex).map_err(|_| corrupt("salt is not hex"))?;
                let nonce = hex::decode(nonce_hex).map_err(|_| corrupt("nonce is not hex"))?;
                let ciphertext =
                    hex::decode(ciphertext_hex).map_err(|_| corrupt("ciphertext is not hex"))?;
                if nonce.len() != 12 || salt.len() < 8 {
                    return Err(corrupt("salt or nonce has the wrong length"));
                }
                Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
                    .map_err(|_| corrupt("invalid Argon2 parameters"))?;
                let stretched = stretch(passphrase, &salt, *kdf);
                let cipher = ChaCha20Poly1305::new(Key::from_slice(stretched.as_ref()));
                let payload = Payload {
                    msg: &ciphertext,
                    aad: self.address.as_bytes(),
                };
                Zeroizing::new(
                    cipher
                        .decrypt(Nonce::from_slice(&nonce), payload)
                        .map_err(|_| WalletError::WrongPassphrase(self.name.clone()))?,
                )
            }
        };
        let bytes: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("secret is not 32 bytes"))?;
        let key = SecretKey::from_bytes(bytes);
        if key.address() != self.address {
            return Err(corrupt("secret does not match the recorded address"));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn seal_then_open() {
        let key = SecretKey::from_bytes([9; 32]);
        let file = KeyFile::seal("k", &key, Some("correct horse"), FAST);
        assert!(file.is_encrypted());
        assert_eq!(
            file.open(Some("correct horse")).unwrap().address(),
            key.address()
        );
        assert!(matches!(
            file.open(Some("wrong")),
            Err(WalletError::WrongPassphrase(_))
        ));
        assert!(matches!(
            file.open(None),
            Err(WalletError::WrongPassphrase(_))
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let key = SecretKey::from_bytes([9; 32]);
        let mut file = KeyFile::seal("k", &key, Some("pw"), FAST);
        file.address = SecretKey::from_bytes([8; 32]).address();
        assert!(
            file.open(Some("pw")).is_err(),
            "the address is bound to the ciphertext"
        );
        let json = serde_json::to_string(&KeyFile::seal("k", &key, Some("pw"), FAST)).unwrap();
        assert!(
            !json.contains(&hex::encode([9u8; 32])),
            "no secret in the clear"
        );
    }

    #[test]
    fn plaintext_for_devnets() {
        let key = SecretKey::from_bytes([7; 32]);
        let file = KeyFile::seal("dev", &key, None, FAST);
        assert!(!file.is_encrypted());
        assert_eq!(file.open(None).unwrap().address(), key.address());
    }
}

//! The cryptographic vocabulary every other crate speaks: 32-byte BLAKE3 hashes, ed25519 keys
//! and signatures (verified with ZIP-215 rules, so single and batch verification always agree,
//! as consensus needs), checksummed account addresses, and the hashing rules of the Merkle
//! structures whose roots the chain commits to.
//!
//! Nothing here does I/O or reads a clock. Randomness appears only in key generation and in
//! the random coefficients of batch verification, neither of which can change a result.

mod address;
mod batch;
mod hash;
mod keys;
pub mod merkle;
mod namespace;
mod text;

pub use address::{ADDRESS_HRP, Address, AddressError};
pub use batch::{SignedMessage, verify_batch};
pub use hash::{Domain, Hash, HashParseError};
pub use keys::{SecretKey, Signature, SignatureError, is_small_order};
pub use namespace::{NAMESPACE_BYTES_MIN, Namespace};

//! The vocabulary shared by every part of AI Factory: transactions, blocks, accounts, genesis,
//! receipts and events, with their canonical binary encoding (Borsh, with a cap on every
//! length; see `docs/encoding.md`) and every limit on outside input.
//!
//! Types here carry no behaviour beyond encoding, hashing and signature checks; the ledger
//! gives them meaning.

pub mod account;
pub mod amount;
pub mod block;
pub mod codec;
pub mod error;
pub mod event;
pub mod genesis;
pub mod lifecycle;
pub mod limits;
pub mod params;
pub mod payload;
pub mod receipt;
pub mod state_key;
pub mod transaction;

pub use account::{Account, TREASURY, Unbonding};
pub use amount::Amount;
pub use block::{Block, Header, VerifiedBlock};
pub use codec::{BoundedBytes, BoundedString, BoundedVec, DecodeError};
pub use error::TxError;
pub use event::{Event, PayoutRole, SlashReason};
pub use genesis::{Genesis, GenesisAccount, GenesisError, GenesisValidator};
pub use params::{Params, ParamsError};
pub use payload::Payload;
pub use receipt::{Receipt, TxOutcome};
pub use state_key::{AccountProof, EntryProof};
pub use transaction::{SignedTransaction, Transaction, VerifiedTransaction};

pub use aifactory_crypto::{Address, Hash, SecretKey, Signature, SignatureError};

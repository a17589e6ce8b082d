//! How the state's entries are placed in the state tree, and proofs of accounts that a client
//! checks against a block's state root without trusting the node that served them.
//!
//! Each table of the state has a one-byte tag. An entry's position in the tree is BLAKE3 with
//! context [`STATE_KEY_CONTEXT`] over `tag ‖ borsh(key)`; the value it contributes is BLAKE3 with
//! context [`STATE_VALUE_CONTEXT`] over `borsh(value)`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::hash_domain;
use aifactory_crypto::merkle::StateProof;

use crate::codec::encode;
use crate::{Account, Address, Hash};

/// BLAKE3 context of a state entry's position in the tree.
pub const STATE_KEY_CONTEXT: &str = "aifactory 2026-11 state key v1";

/// BLAKE3 context of a state value's hash.
pub const STATE_VALUE_CONTEXT: &str = "aifactory 2026-11 state value v1";

/// The tables of the state and their tags. Never reuse a tag.
pub mod tag {
    /// Chain metadata: height and time of the last block.
    pub const META: u8 = 0;
    /// The ledger's parameters.
    pub const PARAMS: u8 = 1;
    /// Accounts by address.
    pub const ACCOUNTS: u8 = 2;
    /// Validators by address.
    pub const VALIDATORS: u8 = 3;
}

/// Where `key` of the table tagged `tag` sits in the state tree.
pub fn tree_key<K: BorshSerialize>(tag: u8, key: &K) -> Hash {
    hash_domain(STATE_KEY_CONTEXT, &[&[tag], &encode(key)])
}

/// The hash a state value contributes to the tree.
pub fn value_hash<V: BorshSerialize>(value: &V) -> Hash {
    hash_domain(STATE_VALUE_CONTEXT, &[&encode(value)])
}

/// An account's contents with a proof that they are in the state under a given root.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountProof {
    /// Whose account.
    pub address: Address,
    /// Its contents.
    pub account: Account,
    /// The path from its leaf to the root.
    pub proof: StateProof,
}

impl AccountProof {
    /// Whether the account's contents are in the state whose root is `root`.
    pub fn verify(&self, root: &Hash) -> bool {
        let key = tree_key(tag::ACCOUNTS, &self.address);
        self.proof.verify(root, &key, &value_hash(&self.account))
    }
}

//! How the state's entries are committed to, and proofs of entries (of any table; accounts
//! have their own shape for the API) that a client checks against a block's state root
//! without trusting the node that served them.
//!
//! The state is a fixed list of tables, each with a one-byte tag that is also its position in
//! the state root (see `aifactory_crypto::merkle`). An entry's leaf is the hash, in
//! [`STATE_LEAF_DOMAIN`], of `tag ‖ borsh(key) ‖ borsh(value)`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use aifactory_crypto::Domain;
use aifactory_crypto::merkle::SlotProof;

use crate::{Account, Address, Hash};

/// Domain of a state entry's leaf.
pub static STATE_LEAF_DOMAIN: Domain = Domain::new("aifactory 2026-11 state leaf v1");

/// The tables of the state and their tags. Tags are dense and never reused.
pub mod tag {
    /// Chain metadata: height and time of the last block.
    pub const META: u8 = 0;
    /// The ledger's parameters.
    pub const PARAMS: u8 = 1;
    /// Accounts by address.
    pub const ACCOUNTS: u8 = 2;
    /// The current validator set, by address.
    pub const VALIDATORS: u8 = 3;
    /// Candidates for the validator set, by address.
    pub const CANDIDATES: u8 = 4;
    /// Work due at a height, by (height, kind, id).
    pub const DEADLINES: u8 = 5;
    /// Counters of the lifecycle's sequential ids.
    pub const COUNTERS: u8 = 6;
    /// Datasets by id.
    pub const DATASETS: u8 = 7;
    /// Models by id.
    pub const MODELS: u8 = 8;
    /// Jobs by id.
    pub const JOBS: u8 = 9;
    /// Participants of jobs, by (job, address).
    pub const PARTICIPANTS: u8 = 10;
    /// Rounds of jobs, by (job, sequence).
    pub const ROUNDS: u8 = 11;
    /// Phase messages, by (job, round, phase, poster).
    pub const PHASE_POSTS: u8 = 12;
    /// Validators' scores, by (job, validator).
    pub const SCORES: u8 = 13;
    /// What each settled job paid, by job.
    pub const SETTLEMENTS: u8 = 14;
    /// Deployments by id.
    pub const DEPLOYMENTS: u8 = 15;
    /// Live deployments by (model, gateway).
    pub const MODEL_GATEWAYS: u8 = 16;
    /// Open payment channels by id.
    pub const CHANNELS: u8 = 17;
    /// Open payment channels by (consumer, channel).
    pub const CONSUMER_CHANNELS: u8 = 18;
    /// Challenges of inference receipts, by id.
    pub const CHALLENGES: u8 = 19;
    /// Votes on challenges, by (challenge, voter).
    pub const CHALLENGE_VOTES: u8 = 20;
    /// Challenged receipts, by receipt id.
    pub const CHALLENGED_RECEIPTS: u8 = 21;
    /// How many tables there are.
    pub const COUNT: usize = 22;
}

/// The leaf of `key` holding `value` in the table tagged `tag`.
pub fn leaf_hash<K: BorshSerialize, V: BorshSerialize>(tag: u8, key: &K, value: &V) -> Hash {
    leaf_hash_with(&mut Vec::with_capacity(128), tag, key, value)
}

/// [`leaf_hash`] encoding into `scratch`, so that hashing many leaves allocates once.
pub fn leaf_hash_with<K: BorshSerialize, V: BorshSerialize>(
    scratch: &mut Vec<u8>,
    tag: u8,
    key: &K,
    value: &V,
) -> Hash {
    scratch.clear();
    scratch.push(tag);
    borsh::to_writer(&mut *scratch, key).expect("writing to a Vec cannot fail");
    borsh::to_writer(&mut *scratch, value).expect("writing to a Vec cannot fail");
    STATE_LEAF_DOMAIN.hash(&[scratch])
}

/// An entry of a state table, with a proof that it is in the state under a given root.
///
/// The proof does not say which table it is for: the verifier names the table, because two
/// tables can share key and value types (validators and candidates do) and a proof of one must
/// not pass for the other.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EntryProof<K, V> {
    /// The entry's key.
    pub key: K,
    /// Its value.
    pub value: V,
    /// Where its leaf sits.
    pub proof: SlotProof,
}

impl<K: BorshSerialize, V: BorshSerialize> EntryProof<K, V> {
    /// Whether the entry is in the table tagged `tag` of the state whose root is `root`.
    pub fn verify(&self, tag: u8, root: &Hash) -> bool {
        let leaf = leaf_hash(tag, &self.key, &self.value);
        self.proof.verify(root, usize::from(tag), &leaf)
    }
}

/// An account's contents with a proof that they are in the state under a given root: the
/// accounts table's [`EntryProof`], with the field names the API and the CLI use.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountProof {
    /// Whose account.
    pub address: Address,
    /// Its contents.
    pub account: Account,
    /// Where its leaf sits.
    pub proof: SlotProof,
}

impl AccountProof {
    /// Whether the account's contents are in the state whose root is `root`.
    pub fn verify(&self, root: &Hash) -> bool {
        let leaf = leaf_hash(tag::ACCOUNTS, &self.address, &self.account);
        self.proof.verify(root, usize::from(tag::ACCOUNTS), &leaf)
    }
}

impl From<EntryProof<Address, Account>> for AccountProof {
    fn from(entry: EntryProof<Address, Account>) -> Self {
        AccountProof {
            address: entry.key,
            account: entry.value,
            proof: entry.proof,
        }
    }
}

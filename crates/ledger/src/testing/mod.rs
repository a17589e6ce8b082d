//! A small chain for tests, benchmarks and fuzzing: deterministic keys, a genesis that funds
//! them, and helpers to sign transactions and build blocks. Not used by production code.

use aifactory_crypto::SignedMessage;
use aifactory_types::payload::{Stake, Transfer, Unstake};
use aifactory_types::transaction::ChainId;
use aifactory_types::{
    Address, Amount, Event, Genesis, GenesisAccount, GenesisValidator, Hash, Params, Payload,
    SecretKey, SignedTransaction, Transaction, TxError, TxOutcome, VerifiedTransaction,
};

use crate::{BuiltBlock, State};

pub mod lifecycle;

/// The chain id of test chains.
pub const TEST_CHAIN_ID: &str = "aifactory-test";

/// The deterministic key number `index` of test chains.
pub fn test_key(index: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
    seed[31] = 0xa1;
    SecretKey::from_bytes(seed)
}

/// A genesis funding `keys` with `balance` each; the first key is the only validator, with
/// `validator_stake_min` bonded.
pub fn test_genesis(keys: &[SecretKey], balance: Amount) -> Genesis {
    let params = Params::default();
    Genesis {
        chain_id: TEST_CHAIN_ID.to_owned(),
        genesis_time_ms: 1_700_000_000_000,
        accounts: keys
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balance,
            })
            .collect(),
        validators: vec![GenesisValidator {
            address: keys[0].address(),
            stake: params.validator_stake_min,
        }],
        params,
    }
}

/// [`test_genesis`] with every key a validator, each with `validator_stake_min` bonded: a set
/// of several validators, for certificate and sync tests.
pub fn test_genesis_all_validators(keys: &[SecretKey], balance: Amount) -> Genesis {
    let mut genesis = test_genesis(keys, balance);
    let stake = genesis.params.validator_stake_min;
    genesis.validators = keys
        .iter()
        .map(|key| GenesisValidator {
            address: key.address(),
            stake,
        })
        .collect();
    genesis
}

/// A state with funded keys, and helpers to drive it.
#[derive(Debug, Clone)]
pub struct TestChain {
    /// The state.
    pub state: State,
    /// The funded keys, in order.
    pub keys: Vec<SecretKey>,
    /// The genesis the state started from.
    pub genesis: Genesis,
}

impl TestChain {
    /// A chain whose `accounts` keys each hold `balance`.
    pub fn new(accounts: usize, balance: Amount) -> Self {
        let keys: Vec<SecretKey> = (0..accounts).map(test_key).collect();
        let genesis = test_genesis(&keys, balance);
        Self::from_genesis(keys, genesis)
    }

    /// A chain started from `genesis`, signing with `keys`.
    pub fn from_genesis(keys: Vec<SecretKey>, genesis: Genesis) -> Self {
        let state = State::from_genesis(&genesis).expect("the test genesis is valid");
        TestChain {
            state,
            keys,
            genesis,
        }
    }

    /// The address of key `index`.
    pub fn address(&self, index: usize) -> Address {
        self.keys[index].address()
    }

    /// The next nonce of key `index`'s account.
    pub fn nonce(&self, index: usize) -> u64 {
        self.state
            .account(&self.address(index))
            .map_or(0, |a| a.nonce)
    }

    /// A transaction from key `index` at its next nonce, with the minimum fee.
    pub fn unsigned(&self, index: usize, payload: Payload) -> Transaction {
        Transaction {
            chain_id: ChainId::new(TEST_CHAIN_ID).expect("short"),
            sender: self.address(index),
            nonce: self.nonce(index),
            fee: self.state.params().fee_min,
            expiry_height: self.state.height() + 100,
            payload,
        }
    }

    /// Signs `tx` with key `index`.
    pub fn sign(&self, index: usize, tx: Transaction) -> SignedTransaction {
        tx.sign(&self.keys[index])
    }

    /// A signed transaction from key `index` at its next nonce.
    pub fn tx(&self, index: usize, payload: Payload) -> SignedTransaction {
        self.sign(index, self.unsigned(index, payload))
    }

    /// A transfer payload.
    pub fn transfer_to(to: Address, amount: Amount) -> Payload {
        Payload::Transfer(Transfer {
            to,
            amount,
            memo: Default::default(),
        })
    }

    /// A stake payload.
    pub fn stake(amount: Amount) -> Payload {
        Payload::Stake(Stake { amount })
    }

    /// An unstake payload.
    pub fn unstake(amount: Amount) -> Payload {
        Payload::Unstake(Unstake { amount })
    }

    /// Builds a block of one transaction from key `index`, which must be admitted; its outcome
    /// and events.
    pub fn run_one(&mut self, index: usize, payload: Payload) -> (TxOutcome, Vec<Event>) {
        let built = self.build(vec![self.tx(index, payload)]);
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        let receipt = built.outcome.receipts[0].clone();
        (receipt.outcome, receipt.events)
    }

    /// [`run_one`](Self::run_one) for a transaction that must succeed; its events.
    pub fn ok(&mut self, index: usize, payload: Payload) -> Vec<Event> {
        let (outcome, events) = self.run_one(index, payload);
        assert_eq!(outcome, TxOutcome::Success);
        events
    }

    /// [`run_one`](Self::run_one) for a transaction that must fail; why it failed.
    pub fn fails(&mut self, index: usize, payload: Payload) -> TxError {
        match self.run_one(index, payload).0 {
            TxOutcome::Failed(error) => error,
            TxOutcome::Success => panic!("expected a failure"),
        }
    }

    /// Builds empty blocks until the state's height is `height`.
    pub fn build_until(&mut self, height: u64) {
        while self.state.height() < height {
            self.build(vec![]);
        }
    }

    /// The timestamp the next block uses: one second after the last.
    pub fn next_timestamp_ms(&self) -> u64 {
        self.state.timestamp_ms() + 1_000
    }

    /// Builds and applies the next block from `txs` (proposed by key 0).
    pub fn build(&mut self, txs: Vec<SignedTransaction>) -> BuiltBlock {
        let verified: Vec<VerifiedTransaction> = txs
            .into_iter()
            .map(|tx| tx.verify().expect("test transactions are signed"))
            .collect();
        let proposer = self.address(0);
        let timestamp_ms = self.next_timestamp_ms();
        self.state
            .build_block(proposer, timestamp_ms, verified)
            .expect("the timestamp moves forward")
    }
}

/// A transfer workload for benchmarks: a state with `accounts` accounts, and blocks of
/// transfers signed by `senders` of them, built on a proposer's copy of the state.
#[derive(Debug)]
pub struct TransferWorkload {
    /// The state before any of the blocks.
    pub genesis_state: State,
    /// The blocks, in order, each applicable after the previous.
    pub blocks: Vec<aifactory_types::Block>,
}

/// A deterministic address that is not a key anyone holds (recipients in workloads).
pub fn filler_address(index: u64) -> Address {
    static FILLER: aifactory_crypto::Domain = aifactory_crypto::Domain::new("aifactory filler");
    Address(FILLER.hash(&[&index.to_le_bytes()]).0)
}

impl TransferWorkload {
    /// Builds `blocks` blocks of `senders` transfers each over a state of `accounts` accounts.
    pub fn new(accounts: usize, senders: usize, blocks: usize) -> Self {
        assert!(senders <= accounts && senders > 0);
        let keys: Vec<SecretKey> = (0..senders).map(test_key).collect();
        let mut genesis = test_genesis(&keys, 1_000_000_000_000);
        genesis
            .accounts
            .extend((senders..accounts).map(|i| GenesisAccount {
                address: filler_address(i as u64),
                balance: 1,
            }));
        let genesis_state = State::from_genesis(&genesis).expect("valid");
        let mut chain = TestChain {
            state: genesis_state.clone(),
            keys,
            genesis,
        };
        let built = (0..blocks)
            .map(|b| {
                let txs = (0..senders)
                    .map(|s| {
                        let to = filler_address(((b * senders + s) * 7919 % accounts) as u64);
                        chain.tx(s, TestChain::transfer_to(to, 1 + s as u64))
                    })
                    .collect();
                chain.build(txs).block.to_block()
            })
            .collect();
        TransferWorkload {
            genesis_state,
            blocks: built,
        }
    }
}

/// Runs `f` on `block`'s signatures as raw ed25519 messages, the way `verify_batch` takes them:
/// for benchmarks that set the ledger's verification beside the bare curve arithmetic.
pub fn with_raw_signatures<R>(
    block: &aifactory_types::Block,
    f: impl FnOnce(&[SignedMessage<'_>]) -> R,
) -> R {
    let digests: Vec<Hash> = block.txs.iter().map(|t| t.tx.signing_digest()).collect();
    let messages: Vec<SignedMessage<'_>> = block
        .txs
        .iter()
        .zip(&digests)
        .map(|(t, digest)| SignedMessage {
            signer: &t.tx.sender,
            message: digest.as_bytes(),
            signature: &t.signature,
        })
        .collect();
    f(&messages)
}

/// Recomputes both checksums of `bytes` as if they were a snapshot, whatever they hold, so
/// that fuzzed or hand-edited snapshots get past the checksums to the decoder. Never panics.
pub fn reseal_snapshot(bytes: &mut [u8]) {
    crate::snapshot::reseal(bytes);
}

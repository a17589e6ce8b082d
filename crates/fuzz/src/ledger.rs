//! The ledger target: arbitrary bytes become a block's worth of signed transactions (valid,
//! inadmissible and failing alike) from a small test chain; the block is built, encoded,
//! decoded and applied on a replica. Nothing may panic, the replica must agree, and no token may
//! appear or vanish. Bytes that decode as a transaction are thrown in as well. Epochs are two
//! blocks long, so the block is the last of epoch 0 and runs the validator election too.

use std::sync::OnceLock;

use aifactory_ledger::testing::{TestChain, test_genesis, test_key};
use aifactory_types::payload::{Stake, Unstake};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Block, Payload, SignedTransaction, VerifiedTransaction};

const ACCOUNTS: usize = 4;
const OP_BYTES: usize = 12;
const OPS_MAX: usize = 64;

fn genesis_chain() -> &'static TestChain {
    static CHAIN: OnceLock<TestChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let keys: Vec<_> = (0..ACCOUNTS).map(test_key).collect();
        let mut genesis = test_genesis(&keys, 1_000_000_000_000);
        genesis.params.epoch_length_blocks = 2;
        genesis.params.validators_max = 2;
        TestChain::from_genesis(keys, genesis)
    })
}

fn op(chain: &TestChain, bytes: &[u8]) -> SignedTransaction {
    let sender = bytes[0] as usize % ACCOUNTS;
    let amount = u64::from_le_bytes(bytes[3..11].try_into().expect("8 bytes"));
    let to = chain.address(bytes[2] as usize % ACCOUNTS);
    let payload = match bytes[1] % 6 {
        0 => TestChain::transfer_to(to, amount),
        1 => Payload::Stake(Stake { amount }),
        2 => Payload::Unstake(Unstake { amount }),
        3 => Payload::Withdraw,
        4 => Payload::JoinValidators,
        _ => Payload::LeaveValidators,
    };
    let mut tx = chain.unsigned(sender, payload);
    let flags = bytes[11];
    tx.nonce = tx.nonce.wrapping_add(u64::from(flags & 3)).wrapping_sub(1);
    if flags & 4 != 0 {
        tx.fee = amount % 3_000;
    }
    if flags & 8 != 0 {
        tx.expiry_height = 0;
    }
    if flags & 16 != 0 {
        tx.chain_id = ChainId::new("other").expect("short");
    }
    chain.sign(sender, tx)
}

/// Runs the ledger target on `data`.
pub fn ledger(data: &[u8]) {
    let mut chain = genesis_chain().clone();
    let mut replica = chain.state.clone();
    let supply = chain.state.total_supply();
    let mut candidates: Vec<VerifiedTransaction> = data
        .chunks_exact(OP_BYTES)
        .take(OPS_MAX)
        .filter_map(|bytes| op(&chain, bytes).verify().ok())
        .collect();
    if let Ok(tx) = SignedTransaction::decode(data) {
        candidates.extend(tx.verify().ok());
    }
    let proposer = chain.address(0);
    let built = chain
        .state
        .build_block(proposer, chain.next_timestamp_ms(), candidates)
        .expect("time moves forward");
    assert_eq!(chain.state.total_supply(), supply, "tokens conserved");

    let bytes = built.block.to_block().encode();
    let block = Block::decode(&bytes)
        .expect("a built block decodes")
        .verify()
        .expect("a built block verifies");
    let outcome = replica.apply_block(&block).expect("a built block applies");
    assert_eq!(outcome.state_root, chain.state.root(), "replicas agree");
    let transition = outcome.epoch_transition.expect("height 1 ends epoch 0");
    assert!(!transition.validators.is_empty(), "the set is never empty");
    assert!(replica.validators().eq(transition.validators.into_iter()));
}

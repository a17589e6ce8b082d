//! Property tests of the ledger over random sequences of valid and invalid transactions:
//! conservation of tokens, nonces, determinism across replicas, proofs, and validator
//! elections at epoch boundaries.

use std::collections::BTreeSet;

use proptest::prelude::*;

use aifactory_ledger::testing::{TestChain, test_genesis, test_key};
use aifactory_ledger::{SnapshotLimits, State};
use aifactory_types::payload::{Stake, Unstake};
use aifactory_types::transaction::ChainId;
use aifactory_types::{Address, Amount, Block, Payload, SignedTransaction, TxOutcome};

const AIF: u64 = 1_000_000_000;
const ACCOUNTS: usize = 5;

/// One random transaction, before it is signed.
#[derive(Debug, Clone)]
struct Op {
    sender: usize,
    action: Action,
    nonce_skew: i8,
    fee: u64,
    wrong_chain: bool,
}

#[derive(Debug, Clone)]
enum Action {
    Transfer { to: usize, amount: u64 },
    Stake(u64),
    Unstake(u64),
    Withdraw,
    Join,
    Leave,
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![0..3u64, (0..1_500u64).prop_map(|a| a * AIF), any::<u64>()]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..ACCOUNTS + 2, amount()).prop_map(|(to, amount)| Action::Transfer { to, amount }),
        2 => amount().prop_map(Action::Stake),
        2 => amount().prop_map(Action::Unstake),
        1 => Just(Action::Withdraw),
        2 => Just(Action::Join),
        1 => Just(Action::Leave),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..ACCOUNTS + 1, // the last sender is unknown to the chain
        action(),
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop_oneof![8 => Just(1_000u64), 1 => Just(999u64), 1 => Just(600 * AIF)],
        prop::bool::weighted(0.05),
    )
        .prop_map(|(sender, action, nonce_skew, fee, wrong_chain)| Op {
            sender,
            action,
            nonce_skew,
            fee,
            wrong_chain,
        })
}

fn address(chain: &TestChain, index: usize) -> Address {
    if index < ACCOUNTS {
        chain.address(index)
    } else {
        test_key(index + 100).address()
    }
}

/// Signs `op` against the chain's current nonces.
fn sign(chain: &TestChain, op: &Op) -> SignedTransaction {
    let key = if op.sender < ACCOUNTS {
        chain.keys[op.sender].clone()
    } else {
        test_key(op.sender + 100)
    };
    let payload = match op.action {
        Action::Transfer { to, amount } => TestChain::transfer_to(address(chain, to), amount),
        Action::Stake(amount) => Payload::Stake(Stake { amount }),
        Action::Unstake(amount) => Payload::Unstake(Unstake { amount }),
        Action::Withdraw => Payload::Withdraw,
        Action::Join => Payload::JoinValidators,
        Action::Leave => Payload::LeaveValidators,
    };
    let nonce = chain
        .state
        .account(&key.address())
        .map_or(0, |a| a.nonce)
        .saturating_add_signed(op.nonce_skew.into());
    let mut tx = chain.unsigned(0, payload);
    tx.sender = key.address();
    tx.nonce = nonce;
    tx.fee = op.fee;
    if op.wrong_chain {
        tx.chain_id = ChainId::new("elsewhere").unwrap();
    }
    tx.sign(&key)
}

/// Signs each op against the nonces as they will be when it runs, as a wallet would.
fn sign_block(chain: &TestChain, ops: &[Op]) -> Vec<SignedTransaction> {
    let mut txs = Vec::new();
    let mut shadow = chain.clone();
    for op in ops {
        let tx = sign(&shadow, op);
        txs.push(tx.clone());
        shadow.build(vec![tx]);
    }
    txs
}

/// Two states no later block can tell apart: header, accounts in slot order, proofs (slots
/// included) of every account and of one that does not exist yet.
fn check_same(restored: &State, original: &State) -> Result<(), TestCaseError> {
    prop_assert_eq!(restored.snapshot_header(), original.snapshot_header());
    prop_assert!(restored.accounts().eq(original.accounts()));
    prop_assert!(restored.validators().eq(original.validators()));
    for (address, _) in original.accounts() {
        prop_assert_eq!(
            restored.account_proof(address),
            original.account_proof(address)
        );
    }
    let stranger = test_key(999).address();
    prop_assert_eq!(
        restored.account_proof(&stranger),
        original.account_proof(&stranger)
    );
    Ok(())
}

fn check_proofs(state: &State) -> Result<(), TestCaseError> {
    let root = state.root();
    for (address, _) in state.accounts() {
        let proof = state.account_proof(address).expect("present");
        prop_assert!(proof.verify(&root));
        let mut tampered = proof.clone();
        tampered.account.nonce += 1;
        prop_assert!(!tampered.verify(&root));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants(blocks in prop::collection::vec(prop::collection::vec(op(), 0..12), 1..10)) {
        let mut chain = TestChain::new(ACCOUNTS, 1_000 * AIF);
        let mut replica = chain.state.clone();
        let supply = chain.genesis.total_supply().unwrap();
        let mut accepted = BTreeSet::new();

        for ops in &blocks {
            let txs = sign_block(&chain, ops);
            let root_before = chain.state.root();
            let built = chain.build(txs);

            // Conservation: balances + bonded + unbonding never change in total.
            prop_assert_eq!(chain.state.total_supply(), supply);

            // Nonces: each included transaction used a fresh (sender, nonce).
            for tx in &built.block.txs {
                prop_assert!(accepted.insert((tx.tx().sender, tx.tx().nonce)), "nonce reused");
            }
            for (_, error) in &built.rejected {
                prop_assert!(error.is_admission());
            }
            for receipt in &built.outcome.receipts {
                if let TxOutcome::Failed(error) = &receipt.outcome {
                    prop_assert!(!error.is_admission());
                }
            }

            // Determinism: a replica applying the block from its bytes lands on the same root.
            let bytes = built.block.to_block().encode();
            let block = Block::decode(&bytes).unwrap().verify().unwrap();
            let outcome = replica.apply_block(&block).unwrap();
            prop_assert_eq!(outcome.state_root, chain.state.root());
            prop_assert_eq!(&outcome.receipts, &built.outcome.receipts);
            prop_assert_ne!(root_before, chain.state.root(), "every block moves the chain");
        }

        // Nonces of each sender are exactly 0..n.
        for index in 0..ACCOUNTS {
            let used: Vec<u64> = accepted
                .iter()
                .filter(|(sender, _)| *sender == chain.address(index))
                .map(|(_, nonce)| *nonce)
                .collect();
            prop_assert_eq!(used, (0..chain.nonce(index)).collect::<Vec<_>>());
        }
        check_proofs(&chain.state)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A state restored from a snapshot taken after any block behaves exactly like the
    /// original for every later block, whether it applies them or builds them itself.
    #[test]
    fn restored_snapshots_are_indistinguishable(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..12), 1..10),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut chain = TestChain::new(ACCOUNTS, 1_000 * AIF);
        let cut = cut.index(blocks.len());
        let mut restored = None;
        for (index, ops) in blocks.iter().enumerate() {
            if index == cut {
                let mut bytes = Vec::new();
                chain.state.write_snapshot(&mut bytes).unwrap();
                let state = State::read_snapshot(&mut bytes.as_slice(), &SnapshotLimits::default())
                    .unwrap();
                check_same(&state, &chain.state)?;
                restored = Some(state);
            }
            let txs = sign_block(&chain, ops);
            let candidates: Vec<_> = txs.iter().map(|tx| tx.clone().verify().unwrap()).collect();
            let (proposer, timestamp_ms) = (chain.address(0), chain.next_timestamp_ms());
            let built = chain.build(txs);
            let Some(restored) = restored.as_mut() else { continue };

            // Building from the same candidates makes the same block and outcome...
            let rebuilt = restored.clone().build_block(proposer, timestamp_ms, candidates).unwrap();
            prop_assert_eq!(&rebuilt.block, &built.block);
            prop_assert_eq!(&rebuilt.outcome, &built.outcome);
            prop_assert_eq!(&rebuilt.rejected, &built.rejected);
            // ...and applying the block gives the same root and receipts.
            let outcome = restored.apply_block(&built.block).unwrap();
            prop_assert_eq!(&outcome, &built.outcome);
            check_same(restored, &chain.state)?;
        }
    }
}

/// Blocks per epoch in the election properties: boundaries at heights 3, 7, 11, ...
const EPOCH: u64 = 4;
/// Seats per epoch in the election properties.
const SEATS: usize = 3;

/// Stake-sized amounts: mostly whole multiples of `stake_min` (100 AIF), sometimes odd.
fn stake_amount() -> impl Strategy<Value = u64> {
    prop_oneof![4 => (1..5u64).prop_map(|n| n * 100 * AIF), 1 => amount()]
}

/// Transactions that mostly succeed and often change candidacies and stakes.
fn epoch_op() -> impl Strategy<Value = Op> {
    let action = prop_oneof![
        4 => stake_amount().prop_map(Action::Stake),
        2 => stake_amount().prop_map(Action::Unstake),
        4 => Just(Action::Join),
        2 => Just(Action::Leave),
        1 => Just(Action::Withdraw),
        1 => (0..ACCOUNTS, amount()).prop_map(|(to, amount)| Action::Transfer { to, amount }),
    ];
    (
        0..ACCOUNTS,
        action,
        prop_oneof![12 => Just(0i8), 1 => Just(1i8)],
    )
        .prop_map(|(sender, action, nonce_skew)| Op {
            sender,
            action,
            nonce_skew,
            fee: 1_000,
            wrong_chain: false,
        })
}

/// A chain with short epochs, three seats, a validator bar of twice `stake_min`, a short
/// unbonding period, and keys 0 and 1 as genesis validators.
fn epoch_chain() -> TestChain {
    let keys: Vec<_> = (0..ACCOUNTS).map(test_key).collect();
    let mut genesis = test_genesis(&keys, 1_000 * AIF);
    genesis.params.epoch_length_blocks = EPOCH;
    genesis.params.validators_max = SEATS as u32;
    genesis.params.validator_stake_min = 2 * genesis.params.stake_min;
    genesis.params.unbonding_period_blocks = 3;
    genesis.validators[0].stake = genesis.params.validator_stake_min;
    let mut second = genesis.validators[0].clone();
    second.address = keys[1].address();
    genesis.validators.push(second);
    TestChain::from_genesis(keys, genesis)
}

/// The validator set with each member's `since_height`.
fn seats(state: &State) -> Vec<(Address, u64)> {
    state
        .validators()
        .map(|(address, _)| (address, state.validator(&address).unwrap().since_height))
        .collect()
}

/// What the election must have produced from the candidates left after it: the largest
/// bonded stakes first, ties to the lower address, at most `SEATS`.
fn elected(state: &State) -> Vec<Address> {
    let mut ranked: Vec<(Address, Amount)> = state.candidates().collect();
    ranked.sort_by(|(a, x), (b, y)| y.cmp(x).then(a.cmp(b)));
    let mut winners: Vec<Address> = ranked.into_iter().take(SEATS).map(|(a, _)| a).collect();
    winners.sort();
    winners
}

/// The election's rules, checked after the block at the state's height.
fn check_election(
    state: &State,
    before: &[(Address, u64)],
    transition: Option<&aifactory_ledger::EpochTransition>,
) -> Result<(), TestCaseError> {
    let height = state.height();
    let after = seats(state);
    prop_assert!(!after.is_empty(), "the set is never empty");
    prop_assert!(after.len() <= SEATS);
    let bar = state.params().validator_stake_min;
    let Some(transition) = transition else {
        prop_assert!(!state.params().is_epoch_last(height));
        prop_assert_eq!(&after, before, "the set changes only at a boundary");
        return Ok(());
    };
    prop_assert!(state.params().is_epoch_last(height));
    prop_assert_eq!(transition.epoch, height / EPOCH + 1);
    for (address, bonded) in state.candidates() {
        prop_assert!(bonded >= bar, "candidates under the bar were dropped");
        prop_assert!(state.candidate(&address).unwrap().since_height <= height);
    }
    if transition.kept_without_candidates {
        prop_assert_eq!(state.candidates().count(), 0);
        prop_assert_eq!(&after, before);
        return Ok(());
    }
    let members: Vec<Address> = after.iter().map(|(a, _)| *a).collect();
    prop_assert_eq!(&members, &elected(state));
    for (address, since_height) in &after {
        prop_assert!(state.account(address).unwrap().bonded >= bar);
        match before.iter().find(|(a, _)| a == address) {
            Some((_, kept)) => prop_assert_eq!(since_height, kept, "stayers keep their height"),
            None => prop_assert_eq!(*since_height, height + 1, "newcomers start next block"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Over random stake, unstake, withdraw, join, leave and transfer transactions across
    /// several epochs: tokens are conserved; the set changes only at the last block of an
    /// epoch, into exactly the top stakes of the qualified candidates, never empty and never
    /// over its cap; a replica applying the blocks agrees with the builder; and a state
    /// restored from a snapshot taken mid-epoch computes the same roots and sets after it.
    #[test]
    fn validator_sets_change_only_at_epoch_boundaries(
        blocks in prop::collection::vec(prop::collection::vec(epoch_op(), 0..8), 6..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut chain = epoch_chain();
        let mut replica = chain.state.clone();
        let supply = chain.genesis.total_supply().unwrap();
        let cut = cut.index(blocks.len());
        let mut restored = None;
        let mut boundaries = 0;

        for (index, ops) in blocks.iter().enumerate() {
            if index == cut {
                let mut bytes = Vec::new();
                chain.state.write_snapshot(&mut bytes).unwrap();
                let state = State::read_snapshot(&mut bytes.as_slice(), &SnapshotLimits::default())
                    .unwrap();
                check_same(&state, &chain.state)?;
                prop_assert!(state.candidates().eq(chain.state.candidates()));
                restored = Some(state);
            }
            let before = seats(&chain.state);
            let txs = sign_block(&chain, ops);
            let built = chain.build(txs);
            prop_assert_eq!(chain.state.total_supply(), supply);
            let transition = built.outcome.epoch_transition.as_ref();
            check_election(&chain.state, &before, transition)?;
            boundaries += usize::from(transition.is_some());

            let bytes = built.block.to_block().encode();
            let block = Block::decode(&bytes).unwrap().verify().unwrap();
            prop_assert_eq!(&replica.apply_block(&block).unwrap(), &built.outcome);
            if let Some(restored) = restored.as_mut() {
                prop_assert_eq!(&restored.apply_block(&block).unwrap(), &built.outcome);
                prop_assert!(restored.validators().eq(chain.state.validators()));
                prop_assert!(restored.candidates().eq(chain.state.candidates()));
            }
        }
        prop_assert!(boundaries >= 1);
        prop_assert!(replica.validators().eq(chain.state.validators()));
    }
}

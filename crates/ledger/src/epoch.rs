//! Epochs and the validator set.
//!
//! Heights are grouped into epochs of `epoch_length_blocks` (see `aifactory_types::params`):
//! epoch `e` is heights `e·L ..= (e+1)·L - 1`. The validator set is fixed for a whole epoch,
//! so consensus can run one engine per epoch over a known set. It changes in one place only:
//! when the last block of an epoch is applied (built or verified, the same code), after that
//! block's transactions, the ledger elects the next epoch's set:
//!
//! 1. Candidates whose bonded stake is below `validator_stake_min` stop being candidates
//!    (they may stake and `JoinValidators` again). Unbonding stake does not count.
//! 2. The rest are ranked by bonded stake, largest first, ties by address, and the first
//!    `validators_max` form the next set.
//! 3. If nobody qualifies, the set stays as it is: the chain never runs out of validators.
//!
//! Newcomers' `since_height` is the first height of the new epoch; members who stay keep
//! theirs. So a validator who unstakes below the bar, or sends `LeaveValidators`, keeps
//! validating until the epoch ends. [`crate::BlockOutcome::epoch_transition`] reports each
//! election.
//!
//! The work is a sort of the candidates once an epoch; their number is bounded by the bonded
//! supply over `validator_stake_min` plus the joins of one epoch, since step 1 sweeps the
//! rest. Everything iterates in slot or address order, never hash order, so every node
//! elects the same set.

use std::collections::BTreeSet;

use aifactory_types::{Address, Amount};

use crate::execute::BlockContext;
use crate::state::{State, Validator};

/// What the last block of an epoch decided about the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochTransition {
    /// The epoch that begins with the next block.
    pub epoch: u64,
    /// Its validator set, in address order, with each member's bonded stake.
    pub validators: Vec<(Address, Amount)>,
    /// Who entered the set, in address order.
    pub joined: Vec<Address>,
    /// Who left the set, in address order.
    pub left: Vec<Address>,
    /// Candidates dropped for holding less than `validator_stake_min`, in address order.
    pub candidates_dropped: Vec<Address>,
    /// No candidate qualified, so the set was kept as it was.
    pub kept_without_candidates: bool,
}

impl State {
    /// Runs the election if `ctx`'s block is the last of its epoch; called after the block's
    /// transactions, inside its savepoint.
    pub(crate) fn end_epoch_if_last(&mut self, ctx: &BlockContext) -> Option<EpochTransition> {
        self.params()
            .is_epoch_last(ctx.height)
            .then(|| self.elect(ctx.height))
    }

    fn elect(&mut self, last_height: u64) -> EpochTransition {
        let first_height = last_height
            .checked_add(1)
            .expect("heights never reach 2^64");
        let validator_stake_min = self.params().validator_stake_min;
        let validators_max = self.params().validators_max as usize;

        let (mut ranked, mut dropped): (Vec<_>, Vec<_>) = self
            .candidates()
            .partition(|&(_, bonded)| bonded >= validator_stake_min);
        dropped.sort_unstable();
        let candidates_dropped: Vec<Address> = dropped.iter().map(|&(a, _)| a).collect();
        for address in &candidates_dropped {
            self.tables.candidates.remove(address);
        }

        ranked.sort_unstable_by(|(a, a_bonded), (b, b_bonded)| {
            b_bonded.cmp(a_bonded).then_with(|| a.cmp(b))
        });
        ranked.truncate(validators_max);
        let kept_without_candidates = ranked.is_empty();
        let (joined, left) = if kept_without_candidates {
            (Vec::new(), Vec::new())
        } else {
            let next: BTreeSet<Address> = ranked.iter().map(|&(a, _)| a).collect();
            self.seat(&next, first_height)
        };
        let transition = EpochTransition {
            epoch: self.params().epoch_of(first_height),
            validators: self.validators().collect(),
            joined,
            left,
            candidates_dropped,
            kept_without_candidates,
        };
        assert!(
            !transition.validators.is_empty(),
            "the chain never runs out of validators"
        );
        assert!(
            kept_without_candidates || transition.validators.len() <= validators_max,
            "an election seats at most validators_max validators"
        );
        transition
    }

    /// Makes `next` the validator set; returns who joined and who left, in address order.
    fn seat(
        &mut self,
        next: &BTreeSet<Address>,
        first_height: u64,
    ) -> (Vec<Address>, Vec<Address>) {
        let current: BTreeSet<Address> = self.tables.validators.iter().map(|(a, _)| *a).collect();
        let left: Vec<Address> = current.difference(next).copied().collect();
        let joined: Vec<Address> = next.difference(&current).copied().collect();
        for address in &left {
            self.tables.validators.remove(address);
        }
        // In address order, so newcomers take the same slots on every node.
        for &address in &joined {
            self.tables.validators.insert(
                address,
                Validator {
                    since_height: first_height,
                },
            );
        }
        (joined, left)
    }
}

#[cfg(test)]
mod tests {
    use aifactory_types::{Address, Payload, TxError, TxOutcome};

    use super::EpochTransition;
    use crate::testing::{TestChain, test_genesis, test_key};

    const AIF: u64 = 1_000_000_000;
    /// Blocks per epoch in these tests: epochs end at heights 3, 7, 11, ...
    const EPOCH: u64 = 4;

    /// Five funded keys; key 0 is the genesis validator. Validators need twice `stake_min`,
    /// and at most two sit at once.
    fn chain() -> TestChain {
        let keys: Vec<_> = (0..5).map(test_key).collect();
        let mut genesis = test_genesis(&keys, 100_000 * AIF);
        genesis.params.epoch_length_blocks = EPOCH;
        genesis.params.validators_max = 2;
        genesis.params.validator_stake_min = 2 * genesis.params.stake_min;
        genesis.validators[0].stake = genesis.params.validator_stake_min;
        TestChain::from_genesis(keys, genesis)
    }

    fn min(chain: &TestChain) -> u64 {
        chain.state.params().validator_stake_min
    }

    /// Runs each (key, payload) in its own block and asserts each succeeded.
    fn run_ok(chain: &mut TestChain, txs: &[(usize, Payload)]) {
        for (key, payload) in txs {
            let tx = chain.tx(*key, payload.clone());
            let built = chain.build(vec![tx]);
            assert_eq!(
                built.outcome.receipts[0].outcome,
                TxOutcome::Success,
                "key {key}: {payload:?}"
            );
        }
    }

    /// Key `key` stakes the validator minimum and stands for the set, a block each.
    fn stand(chain: &mut TestChain, key: usize) {
        let stake = min(chain);
        run_ok(
            chain,
            &[
                (key, TestChain::stake(stake)),
                (key, Payload::JoinValidators),
            ],
        );
    }

    /// The height from which key `key` has sat in the set.
    fn since_height(chain: &TestChain, key: usize) -> u64 {
        chain
            .state
            .validator(&chain.address(key))
            .unwrap()
            .since_height
    }

    fn set(chain: &TestChain) -> Vec<Address> {
        chain.state.validators().map(|(a, _)| a).collect()
    }

    fn sorted(mut addresses: Vec<Address>) -> Vec<Address> {
        addresses.sort();
        addresses
    }

    /// Builds to the end of the current epoch and returns the election's outcome.
    fn finish_epoch(chain: &mut TestChain) -> EpochTransition {
        let last = chain
            .state
            .params()
            .last_height_of(chain.state.validator_set_epoch())
            .unwrap();
        chain.build_until(last - 1);
        let before = set(chain);
        let built = chain.build(vec![]);
        assert_eq!(chain.state.height(), last);
        let transition = built
            .outcome
            .epoch_transition
            .expect("the epoch's last block");
        assert_eq!(transition.epoch, chain.state.validator_set_epoch());
        assert_eq!(
            transition.validators,
            chain.state.validators().collect::<Vec<_>>()
        );
        let mut expected = before;
        expected.retain(|a| !transition.left.contains(a));
        expected.extend(&transition.joined);
        assert_eq!(sorted(expected), set(chain));
        transition
    }

    #[test]
    fn the_set_changes_only_at_the_last_block_of_an_epoch() {
        let mut chain = chain();
        stand(&mut chain, 1);
        assert_eq!(set(&chain), [chain.address(0)], "height 2: not yet");
        let built = chain.build(vec![]);
        assert_eq!(chain.state.height(), 3);
        let transition = built.outcome.epoch_transition.unwrap();
        assert_eq!(transition.epoch, 1);
        assert_eq!(transition.joined, [chain.address(1)]);
        assert!(transition.left.is_empty() && !transition.kept_without_candidates);
        assert_eq!(
            set(&chain),
            sorted(vec![chain.address(0), chain.address(1)])
        );
        assert_eq!(since_height(&chain, 1), 4);
        assert_eq!(since_height(&chain, 0), 0);
        assert_eq!(
            (chain.state.epoch(), chain.state.validator_set_epoch()),
            (0, 1)
        );
        for _ in 0..3 {
            assert_eq!(chain.build(vec![]).outcome.epoch_transition, None);
        }
        let transition = finish_epoch(&mut chain);
        assert!(transition.joined.is_empty() && transition.left.is_empty());
        assert_eq!(since_height(&chain, 0), 0, "stayers keep their height");
    }

    #[test]
    fn the_largest_stakes_win_and_ties_go_to_the_lower_address() {
        let mut chain = chain();
        let stake = min(&chain);
        run_ok(
            &mut chain,
            &[
                (1, TestChain::stake(stake + 1)),
                (2, TestChain::stake(stake + 1)),
                (3, TestChain::stake(stake + 1)),
            ],
        );
        let joins: Vec<_> = (1..4)
            .map(|k| chain.tx(k, Payload::JoinValidators))
            .collect();
        chain.build(joins);
        finish_epoch(&mut chain);
        let mut expected: Vec<_> = (1..4).map(|k| chain.address(k)).collect();
        expected.sort();
        expected.truncate(2);
        assert_eq!(
            set(&chain),
            expected,
            "key 0 has the least stake and loses its seat"
        );

        // More stake wins a seat at the next boundary.
        let loser = (1..4).map(|k| chain.address(k)).max().unwrap();
        let loser_key = (1..4).find(|&k| chain.address(k) == loser).unwrap();
        run_ok(&mut chain, &[(loser_key, TestChain::stake(stake))]);
        let transition = finish_epoch(&mut chain);
        assert_eq!(transition.joined, [loser]);
        assert_eq!(transition.left, [expected[1]]);
    }

    #[test]
    fn unstaking_below_the_bar_keeps_the_seat_until_the_boundary() {
        let mut chain = chain();
        let stake = min(&chain);
        stand(&mut chain, 1);
        finish_epoch(&mut chain);
        assert_eq!(set(&chain).len(), 2);
        // Unbonding stake does not count: half of it leaves bonded stake below the bar.
        run_ok(&mut chain, &[(1, TestChain::unstake(stake / 2))]);
        assert!(
            chain.state.validator(&chain.address(1)).is_some(),
            "still sitting"
        );
        let transition = finish_epoch(&mut chain);
        assert_eq!(transition.left, [chain.address(1)]);
        assert_eq!(transition.candidates_dropped, [chain.address(1)]);
        assert!(chain.state.candidate(&chain.address(1)).is_none());
        assert_eq!(set(&chain), [chain.address(0)]);
    }

    #[test]
    fn leaving_takes_effect_at_the_boundary_but_never_empties_the_set() {
        let mut chain = chain();
        stand(&mut chain, 1);
        finish_epoch(&mut chain);
        run_ok(&mut chain, &[(0, Payload::LeaveValidators)]);
        assert_eq!(set(&chain).len(), 2);
        let transition = finish_epoch(&mut chain);
        assert_eq!(transition.left, [chain.address(0)]);
        assert_eq!(set(&chain), [chain.address(1)]);

        // The last candidate leaves: nobody qualifies, so the set stays.
        run_ok(&mut chain, &[(1, Payload::LeaveValidators)]);
        let transition = finish_epoch(&mut chain);
        assert!(transition.kept_without_candidates);
        assert_eq!(set(&chain), [chain.address(1)]);
        assert_eq!(chain.state.candidates().count(), 0);
    }

    #[test]
    fn joining_needs_the_validator_stake_not_just_any_stake() {
        let mut chain = chain();
        let stake_min = chain.state.params().stake_min;
        run_ok(&mut chain, &[(1, TestChain::stake(stake_min))]);
        let built = chain.build(vec![chain.tx(1, Payload::JoinValidators)]);
        assert_eq!(
            built.outcome.receipts[0].outcome,
            TxOutcome::Failed(TxError::ValidatorStakeTooLow {
                min: 2 * stake_min,
                bonded: stake_min
            })
        );
    }

    #[test]
    fn a_replica_applying_the_boundary_block_elects_the_same_set() {
        let mut chain = chain();
        let stake = min(&chain);
        let mut replica = chain.state.clone();
        let blocks = [
            vec![
                (1, TestChain::stake(stake)),
                (2, TestChain::stake(2 * stake)),
            ],
            vec![(1, Payload::JoinValidators)],
            vec![(2, Payload::JoinValidators)],
        ];
        for txs in blocks {
            let txs = txs.into_iter().map(|(k, p)| chain.tx(k, p)).collect();
            let built = chain.build(txs);
            let outcome = replica.apply_block(&built.block).unwrap();
            assert_eq!(outcome, built.outcome);
        }
        assert_eq!(chain.state.height(), EPOCH - 1);
        assert!(replica.validators().eq(chain.state.validators()));
        let set = set(&chain);
        assert_eq!(set.len(), 2);
        assert!(set.contains(&chain.address(2)), "the largest stake wins");
    }
}

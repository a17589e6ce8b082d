//! One module per kind of action, each registered once in [`modules!`]: the list drives
//! payload dispatch, each module's block hooks, and the deadline queue.
//!
//! ## A block, seen by the modules
//!
//! 1. **Due deadlines**: the deadlines table, in key order (height, kind, id), yields what is
//!    due at or before this height, at most [`DUE_DEADLINES_PER_BLOCK_MAX`]; each is removed
//!    and handed to the module that claims its kind. What does not fit rolls over to the next
//!    block, still in key order, so however much falls due at once a block's work is bounded
//!    and every replica runs the same items in the same block. The block's outcome says how
//!    many ran (`BlockOutcome::deadlines_run`), so that bound can be checked from outside.
//! 2. Every module's `begin_block`, in registration order.
//! 3. The transactions.
//! 4. Every module's `end_block`, in registration order; then the epoch's election if the
//!    block ends an epoch (`epoch.rs`).
//!
//! Hooks cannot fail: they run inside the block's savepoint and change state deterministically;
//! a hook that finds the state broken panics. Each module checks everything before it
//! changes anything it cannot roll back, returns the event it caused, and never touches fees
//! or nonces (the envelope's business, in `execute.rs`).
//!
//! A new kind is a new payload variant, a new module implementing [`Module`] (its tables are
//! one line each in `state/tables.rs`), and one line in [`modules!`]. Exactly one module
//! claims each payload; `every_payload_kind_has_exactly_one_module` checks it.

mod bank;
mod candidacy;
mod challenges;
mod channels;
mod deployments;
mod jobs;
mod registry;
mod rounds;
mod royalties;
mod scores;
mod settlement;
mod staking;
mod treasury;

use aifactory_types::limits::DUE_DEADLINES_PER_BLOCK_MAX;
use aifactory_types::{Address, Event, Hash, Payload, TxError};

use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// A module of the ledger: the payload kinds it runs, its block hooks, its deadlines. Each
/// appends the events it causes to `events`.
pub(crate) trait Module {
    /// Runs `payload` for `sender` if it is one of this module's kinds (`None` if it is not);
    /// on error the caller rolls back whatever was changed and drops the events.
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>>;

    /// Runs at the start of every block, after the due deadlines, before the transactions.
    fn begin_block(_state: &mut State, _ctx: &BlockContext, _events: &mut Vec<Event>) {}

    /// Runs at the end of every block, after the transactions, before an epoch's election.
    fn end_block(_state: &mut State, _ctx: &BlockContext, _events: &mut Vec<Event>) {}

    /// Does the work of `deadline` if its kind is this module's (`None` if it is not); the
    /// deadline is already out of the queue.
    fn on_due(
        _state: &mut State,
        _ctx: &BlockContext,
        _deadline: &Deadline,
        _events: &mut Vec<Event>,
    ) -> Option<()> {
        None
    }
}

/// The kinds of deadline, one per kind of work; each is claimed by one module.
pub(crate) mod deadline_kind {
    /// A job's recruiting closes (`jobs`).
    pub(crate) const RECRUIT: u8 = 1;
    /// A round's phase or aggregation closes (`rounds`).
    pub(crate) const ROUND: u8 = 2;
    /// A job's score commits close (`scores`).
    pub(crate) const COMMIT: u8 = 3;
    /// A job's score reveals close (`scores`).
    pub(crate) const REVEAL: u8 = 4;
    /// A finished job's phase messages are pruned, a bounded batch per block (`rounds`).
    pub(crate) const PRUNE: u8 = 5;
    /// A payment channel expired: it closes and refunds its consumer (`channels`).
    pub(crate) const CHANNEL_EXPIRY: u8 = 6;
    /// A challenge's votes closed: it is tallied and resolved (`challenges`).
    pub(crate) const CHALLENGE_VOTE: u8 = 7;
    /// An undeployed gateway's challenge window ended: its stake returns (`deployments`).
    pub(crate) const UNDEPLOY: u8 = 8;
}

/// A deadline's id for the object numbered `subject` (a job, channel or deployment) and a
/// round's sequence number (0 for anything else): the id's first 12 bytes, big-endian.
pub(crate) fn deadline_id(subject: u64, round: u32) -> Hash {
    let mut id = Hash::ZERO;
    id.0[..8].copy_from_slice(&subject.to_be_bytes());
    id.0[8..12].copy_from_slice(&round.to_be_bytes());
    id
}

/// A deadline's kind, and the subject and round its id names: what each module's `on_due`
/// matches on.
pub(crate) fn deadline_subject(deadline: &Deadline) -> (u8, u64, u32) {
    let id = &deadline.id.0;
    let subject = u64::from_be_bytes(id[..8].try_into().expect("8 bytes"));
    let round = u32::from_be_bytes(id[8..12].try_into().expect("4 bytes"));
    (deadline.kind, subject, round)
}

/// The deadline of `kind` for `subject` (and `round`) due the block after `last_height`, the
/// last height of a stage.
pub(crate) fn deadline_after(last_height: u64, kind: u8, subject: u64, round: u32) -> Deadline {
    Deadline {
        height: last_height
            .checked_add(1)
            .expect("heights never reach 2^64"),
        kind,
        id: deadline_id(subject, round),
    }
}

/// Runs the deadlines due at `ctx`'s height, oldest first, at most
/// [`DUE_DEADLINES_PER_BLOCK_MAX`]; returns how many ran.
fn run_due(state: &mut State, ctx: &BlockContext, events: &mut Vec<Event>) -> usize {
    let due: Vec<Deadline> = state
        .tables
        .deadlines
        .range(..)
        .map(|(deadline, ())| *deadline)
        .take_while(|deadline| deadline.height <= ctx.height)
        .take(DUE_DEADLINES_PER_BLOCK_MAX)
        .collect();
    for deadline in &due {
        state.unschedule(deadline);
        on_due(state, ctx, deadline, events);
    }
    due.len()
}

/// Registers the modules, in the order their hooks run.
macro_rules! modules {
    ($($(#[$attr:meta])* $module:path),+ $(,)?) => {
        /// Runs `payload` for `sender` in the module that claims it, appending what it did to
        /// `events`; on error the caller rolls back whatever was changed and drops the events.
        pub(crate) fn execute(
            state: &mut State,
            ctx: &BlockContext,
            sender: Address,
            payload: &Payload,
            events: &mut Vec<Event>,
        ) -> Result<(), TxError> {
            let outcome = None;
            $(
                $(#[$attr])*
                let outcome = outcome.or_else(|| {
                    <$module as Module>::execute(state, ctx, sender, payload, events)
                });
            )+
            outcome.expect("every payload kind is registered with a module")
        }

        /// What every block does before its transactions: due deadlines, then each module's
        /// `begin_block`; returns how many deadlines ran.
        pub(crate) fn begin_block(
            state: &mut State,
            ctx: &BlockContext,
            events: &mut Vec<Event>,
        ) -> usize {
            let ran = run_due(state, ctx, events);
            $(
                $(#[$attr])*
                let () = <$module as Module>::begin_block(state, ctx, events);
            )+
            ran
        }

        /// What every block does after its transactions: each module's `end_block`.
        pub(crate) fn end_block(state: &mut State, ctx: &BlockContext, events: &mut Vec<Event>) {
            $(
                $(#[$attr])*
                let () = <$module as Module>::end_block(state, ctx, events);
            )+
        }

        /// Hands `deadline` to the module that claims its kind.
        fn on_due(state: &mut State, ctx: &BlockContext, deadline: &Deadline, events: &mut Vec<Event>) {
            let claimed = false;
            $(
                $(#[$attr])*
                let claimed = claimed
                    || <$module as Module>::on_due(state, ctx, deadline, events).is_some();
            )+
            assert!(claimed, "deadline kind {} has no module", deadline.kind);
        }

        /// How many modules claim `payload`, running it on a scratch `state`.
        #[cfg(test)]
        fn claimants(state: &State, ctx: &BlockContext, sender: Address, payload: &Payload) -> usize {
            let claimed = 0;
            $(
                $(#[$attr])*
                let claimed = claimed + usize::from(
                    <$module as Module>::execute(&mut state.clone(), ctx, sender, payload, &mut Vec::new())
                        .is_some(),
                );
            )+
            claimed
        }
    };
}

modules!(
    bank::Bank,
    staking::Staking,
    candidacy::Candidacy,
    registry::Registry,
    jobs::Jobs,
    rounds::Rounds,
    scores::Scores,
    deployments::Deployments,
    channels::Channels,
    challenges::Challenges,
    #[cfg(test)]
    tests::Probe,
);

#[cfg(test)]
mod tests {
    use aifactory_types::Hash;
    use aifactory_types::payload::{Stake, Unstake};

    use super::*;
    use crate::testing::TestChain;

    /// The deadline kind of [`Probe`].
    const PROBE: u8 = 0xff;

    /// A module for tests that claims the deadlines of kind [`PROBE`] and does nothing else.
    pub(super) struct Probe;

    impl Module for Probe {
        fn execute(
            _state: &mut State,
            _ctx: &BlockContext,
            _sender: Address,
            _payload: &Payload,
            _events: &mut Vec<Event>,
        ) -> Option<Result<(), TxError>> {
            None
        }

        fn on_due(
            _state: &mut State,
            ctx: &BlockContext,
            deadline: &Deadline,
            _events: &mut Vec<Event>,
        ) -> Option<()> {
            (deadline.kind == PROBE).then(|| assert!(deadline.height <= ctx.height))
        }
    }

    fn probe(height: u64, n: u64) -> Deadline {
        let mut id = Hash::ZERO;
        id.0[..8].copy_from_slice(&n.to_be_bytes());
        Deadline {
            height,
            kind: PROBE,
            id,
        }
    }

    /// The scheduled deadlines, in queue order.
    fn queue(state: &State) -> Vec<Deadline> {
        state.tables.deadlines.range(..).map(|(d, ())| *d).collect()
    }

    /// Far more deadlines fall due at once than a block may run: each block runs exactly the
    /// limit, oldest first, the rest roll over, and a replica applying the blocks agrees.
    #[test]
    fn due_deadlines_are_bounded_per_block_and_roll_over_in_order() {
        let mut chain = TestChain::new(2, 1_000_000);
        let limit = DUE_DEADLINES_PER_BLOCK_MAX;
        let heavy = 2 * limit + limit / 2;
        let start = chain.state.savepoint();
        for n in 0..heavy as u64 {
            // Due at heights 1 and 2, interleaved in scheduling order.
            chain.state.schedule(probe(1 + n % 2, n));
        }
        chain.state.schedule(probe(50, 0));
        chain.state.sync_tree(start);
        chain.state.seal();
        let mut replica = chain.state.clone();
        let mut expected = queue(&chain.state);
        assert!(expected.is_sorted());
        for ran in [limit, limit, limit / 2, 0] {
            let built = chain.build(vec![]);
            assert_eq!(built.outcome.deadlines_run, ran, "the outcome counts them");
            assert_eq!(replica.apply_block(&built.block).unwrap(), built.outcome);
            expected.drain(..ran);
            assert_eq!(
                queue(&chain.state),
                expected,
                "at height {}",
                built.block.header.height
            );
        }
        assert_eq!(queue(&chain.state), [probe(50, 0)], "not due yet");
        chain.build_until(50);
        assert_eq!(chain.state.deadline_count(), 0);
    }

    #[test]
    fn a_due_deadline_is_run_once_even_if_its_block_is_rolled_back() {
        let mut chain = TestChain::new(2, 1_000_000);
        let start = chain.state.savepoint();
        chain.state.schedule(probe(1, 7));
        chain.state.sync_tree(start);
        chain.state.seal();
        let mut replica = chain.state.clone();
        let built = chain.build(vec![]);
        assert_eq!(chain.state.deadline_count(), 0);
        let mut lying = built.block.clone();
        lying.header.state_root = Hash([9; 32]);
        assert!(replica.apply_block(&lying).is_err());
        assert_eq!(
            replica.deadline_count(),
            1,
            "the refused block's work is undone"
        );
        replica.apply_block(&built.block).unwrap();
        assert_eq!(replica.root(), chain.state.root());
    }

    /// One payload of every kind. The match has no wildcard, so a new kind does not compile
    /// until it is listed here, and then the test checks that a module claims it.
    fn one_of_each() -> Vec<Payload> {
        use crate::testing::lifecycle::{blob, dataset_terms, job_terms, model_terms, report};
        use aifactory_types::lifecycle::*;
        let all = vec![
            TestChain::transfer_to(Address([1; 32]), 1),
            Payload::Stake(Stake { amount: 1 }),
            Payload::Unstake(Unstake { amount: 1 }),
            Payload::Withdraw,
            Payload::JoinValidators,
            Payload::LeaveValidators,
            Payload::RegisterDataset(dataset_terms("d", 10)),
            Payload::UpdateDataset(UpdateDataset {
                dataset: 1,
                licence: Licence::Text(blob("licence")),
                price: 1,
            }),
            Payload::RetireDataset(RetireDataset { dataset: 1 }),
            Payload::RegisterModel(model_terms()),
            Payload::OpenJob(job_terms(1, 2, 1_000)),
            Payload::CancelJob(CancelJob { job: 1 }),
            Payload::ClaimJob(ClaimJob { job: 1 }),
            Payload::JoinJob(JoinJob {
                job: 1,
                dataset: 1,
                terms_hash: Hash::ZERO,
            }),
            Payload::PostPhase(PostPhase {
                job: 1,
                round: 1,
                phase: 0,
                data: PhaseData::Blob(Hash::ZERO),
            }),
            Payload::CloseRound(CloseRound {
                job: 1,
                round: 1,
                aggregate: Hash::ZERO,
                model: Hash::ZERO,
                contributions: Default::default(),
            }),
            Payload::CommitScore(CommitScore {
                job: 1,
                commitment: Hash::ZERO,
                stake: 1,
            }),
            Payload::RevealScore(RevealScore {
                job: 1,
                salt: Hash::ZERO,
                report: report(1),
            }),
            Payload::Deploy(Deploy {
                model: 1,
                price_per_call: 1,
                gateway_bps: 0,
                stake: 1,
                url: Default::default(),
            }),
            Payload::Undeploy(Undeploy { deployment: 1 }),
            Payload::OpenChannel(OpenChannel {
                deployment: 1,
                deposit: 1,
                expiry_height: 1,
            }),
            Payload::TopUpChannel(TopUpChannel {
                channel: 1,
                amount: 1,
            }),
            Payload::ExtendChannel(ExtendChannel {
                channel: 1,
                expiry_height: 1,
            }),
            Payload::ClaimChannels(ClaimChannels {
                claims: Default::default(),
            }),
            Payload::CloseChannel(CloseChannel { channel: 1 }),
            Payload::Challenge(ChallengeReceipt {
                receipt: InferenceReceipt::default()
                    .sign(&aifactory_types::SecretKey::from_bytes([1; 32])),
                bond: 1,
            }),
            Payload::VoteChallenge(VoteChallenge {
                challenge: 1,
                verdict: Verdict::GatewayWrong,
                stake: 1,
            }),
        ];
        for payload in &all {
            match payload {
                Payload::Transfer(_)
                | Payload::Stake(_)
                | Payload::Unstake(_)
                | Payload::Withdraw
                | Payload::JoinValidators
                | Payload::LeaveValidators
                | Payload::RegisterDataset(_)
                | Payload::UpdateDataset(_)
                | Payload::RetireDataset(_)
                | Payload::RegisterModel(_)
                | Payload::OpenJob(_)
                | Payload::CancelJob(_)
                | Payload::ClaimJob(_)
                | Payload::JoinJob(_)
                | Payload::PostPhase(_)
                | Payload::CloseRound(_)
                | Payload::CommitScore(_)
                | Payload::RevealScore(_)
                | Payload::Deploy(_)
                | Payload::Undeploy(_)
                | Payload::OpenChannel(_)
                | Payload::TopUpChannel(_)
                | Payload::ExtendChannel(_)
                | Payload::ClaimChannels(_)
                | Payload::CloseChannel(_)
                | Payload::Challenge(_)
                | Payload::VoteChallenge(_) => {}
            }
        }
        all
    }

    #[test]
    fn every_payload_kind_has_exactly_one_module() {
        let chain = TestChain::new(2, 1_000_000);
        let ctx = chain
            .state
            .next_block_context(chain.address(0), chain.next_timestamp_ms())
            .unwrap();
        for payload in one_of_each() {
            let claimed = claimants(&chain.state, &ctx, chain.address(1), &payload);
            assert_eq!(claimed, 1, "{payload:?}");
        }
    }
}

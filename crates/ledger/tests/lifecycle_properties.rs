//! Property tests over random lifecycles: providers drop out of random phases, trainers
//! vanish or close, validators commit, reveal or not, with random scores. Whatever happens,
//! tokens are conserved to the base unit, the escrow is paid out exactly once, the survivors
//! of every phase are exactly those who posted before it ended, and a replica applying the
//! same blocks agrees on every root and receipt.

use std::collections::BTreeSet;

use proptest::prelude::*;

use aifactory_ledger::State;
use aifactory_ledger::testing::TestChain;
use aifactory_ledger::testing::lifecycle::{Cast, blob, job_terms, report, salt};
use aifactory_types::lifecycle::{
    CloseRound, CommitScore, Contribution, JobStatus, PhaseData, PostPhase, RevealScore, RoundStage,
};
use aifactory_types::{Address, BoundedVec, Event, Payload, PayoutRole, SignedTransaction};

/// What happens in one round attempt: which providers post (a bit each), and whether the
/// trainer closes it.
#[derive(Debug, Clone)]
struct RoundPlay {
    posters: u8,
    trainer_closes: bool,
}

/// What each of three validators does: commits?, reveals?, its metric.
#[derive(Debug, Clone)]
struct ValidatorPlay {
    commits: bool,
    reveals: bool,
    metric: u64,
}

fn round_play() -> impl Strategy<Value = RoundPlay> {
    (0u8..8, prop::bool::weighted(0.8)).prop_map(|(posters, trainer_closes)| RoundPlay {
        posters,
        trainer_closes,
    })
}

fn validator_play() -> impl Strategy<Value = ValidatorPlay> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        500_000u64..1_000_000,
    )
        .prop_map(|(commits, reveals, metric)| ValidatorPlay {
            commits,
            reveals,
            metric,
        })
}

fn cast() -> Cast {
    Cast {
        developer: 1,
        sponsor: 2,
        trainer: 3,
        providers: vec![(4, 100), (5, 300), (6, 600)],
        validators: vec![(7, 0), (8, 0), (9, 0)],
    }
}

/// A chain and a replica that applies every block the chain builds.
struct Pair {
    chain: TestChain,
    replica: State,
    events: Vec<Event>,
}

impl Pair {
    fn build(&mut self, txs: Vec<SignedTransaction>) -> Result<(), TestCaseError> {
        let supply = self.chain.state.total_supply();
        let built = self.chain.build(txs);
        let outcome = self
            .replica
            .apply_block(&built.block)
            .expect("a built block applies");
        prop_assert_eq!(&outcome, &built.outcome);
        prop_assert_eq!(self.chain.state.total_supply(), supply);
        self.events.extend(outcome.events);
        for receipt in outcome.receipts {
            self.events.extend(receipt.events);
        }
        Ok(())
    }

    fn build_until(&mut self, height: u64) -> Result<(), TestCaseError> {
        while self.chain.state.height() < height {
            self.build(vec![])?;
        }
        Ok(())
    }
}

fn play(
    rounds: Vec<RoundPlay>,
    validators: Vec<ValidatorPlay>,
) -> Result<JobStatus, TestCaseError> {
    let cast = cast();
    let mut chain = TestChain::new(10, 1_000_000_000_000);
    let mut terms = job_terms(0, 3, 1_000_003);
    terms.providers_min = 2;
    let scripted = chain.open_and_recruit(&cast, terms);
    let job = scripted.job;
    let replica = chain.state.clone();
    let mut pair = Pair {
        chain,
        replica,
        events: Vec::new(),
    };
    let mut plays = rounds.into_iter();
    while pair.chain.state.job(job).unwrap().status == JobStatus::Training {
        let Some(play) = plays.next() else { break };
        let seq = pair.chain.state.job(job).unwrap().rounds_started;
        let posters: Vec<usize> = (0..3)
            .filter(|i| play.posters & (1 << i) != 0)
            .map(|i| 4 + i)
            .collect();
        let txs = posters
            .iter()
            .map(|&p| {
                pair.chain.tx(
                    p,
                    Payload::PostPhase(PostPhase {
                        job,
                        round: seq,
                        phase: 0,
                        data: PhaseData::Blob(blob("update")),
                    }),
                )
            })
            .collect();
        pair.build(txs)?;
        let deadline = pair.chain.state.round(job, seq).unwrap().deadline;
        if pair.chain.state.round(job, seq).unwrap().stage == RoundStage::Posting {
            pair.build_until(deadline + 1)?;
        }
        // The survivors are exactly the posters.
        let recorded: BTreeSet<Address> = pair
            .chain
            .state
            .phase_posts(job, seq, 0)
            .map(|(a, _)| a)
            .collect();
        let expected: BTreeSet<Address> = posters.iter().map(|&p| pair.chain.address(p)).collect();
        prop_assert_eq!(recorded, expected);
        if pair.chain.state.round(job, seq).unwrap().stage != RoundStage::Aggregating {
            continue;
        }
        if play.trainer_closes {
            let contributions = posters
                .iter()
                .map(|&p| Contribution {
                    provider: pair.chain.address(p),
                    samples: 50,
                })
                .collect();
            let close = Payload::CloseRound(CloseRound {
                job,
                round: seq,
                aggregate: blob("aggregate"),
                model: blob(&format!("model {seq}")),
                contributions: BoundedVec::new(contributions).unwrap(),
            });
            pair.build(vec![pair.chain.tx(3, close)])?;
        } else {
            let deadline = pair.chain.state.round(job, seq).unwrap().deadline;
            pair.build_until(deadline + 1)?;
        }
    }
    if pair.chain.state.job(job).unwrap().status == JobStatus::Committing {
        let commits = cast
            .validators
            .iter()
            .zip(&validators)
            .filter(|(_, play)| play.commits)
            .map(|(&(v, _), play)| {
                let commitment =
                    report(play.metric).commitment(job, &pair.chain.address(v), &salt(v));
                pair.chain.tx(
                    v,
                    Payload::CommitScore(CommitScore {
                        job,
                        commitment,
                        stake: 1_000_000,
                    }),
                )
            })
            .collect();
        pair.build(commits)?;
        let until = pair.chain.state.job(job).unwrap().stage_deadline;
        if pair.chain.state.job(job).unwrap().status == JobStatus::Committing {
            pair.build_until(until + 1)?;
        }
        if pair.chain.state.job(job).unwrap().status == JobStatus::Revealing {
            let reveals = cast
                .validators
                .iter()
                .zip(&validators)
                .filter(|(_, play)| play.commits && play.reveals)
                .map(|(&(v, _), play)| {
                    pair.chain.tx(
                        v,
                        Payload::RevealScore(RevealScore {
                            job,
                            salt: salt(v),
                            report: report(play.metric),
                        }),
                    )
                })
                .collect();
            pair.build(reveals)?;
        }
    }
    // Run out every deadline: the job must end.
    let height = pair.chain.state.height();
    pair.build_until(height + 40)?;
    let end = pair.chain.state.job(job).unwrap().clone();
    prop_assert!(end.status.is_finished(), "{:?}", end.status);
    prop_assert_eq!(end.escrow, 0);
    for (_, participant) in pair.chain.state.participants(job) {
        prop_assert_eq!(participant.stake, 0, "every stake returned or slashed");
    }
    // The escrow went out exactly once: what the job paid, stakes aside, is the budget.
    let paid: u64 = pair
        .events
        .iter()
        .filter_map(|e| match e {
            Event::JobPaid {
                job: j,
                role,
                amount,
                ..
            } if *j == job && *role != PayoutRole::StakeReturned => Some(*amount),
            _ => None,
        })
        .sum();
    prop_assert_eq!(paid, 1_000_003);
    prop_assert_eq!(pair.replica.root(), pair.chain.state.root());
    Ok(end.status)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_lifecycles_conserve_tokens_and_agree(
        rounds in prop::collection::vec(round_play(), 1..6),
        validators in prop::collection::vec(validator_play(), 3),
    ) {
        play(rounds, validators)?;
    }
}

/// The strategies reach both ends: a settled job and a failed one.
#[test]
fn the_plays_can_settle_and_fail() {
    let closes = RoundPlay {
        posters: 0b111,
        trainer_closes: true,
    };
    let honest = ValidatorPlay {
        commits: true,
        reveals: true,
        metric: 900_000,
    };
    let settled = play(
        vec![closes.clone(), closes],
        vec![honest.clone(), honest.clone(), honest],
    )
    .unwrap();
    assert!(matches!(settled, JobStatus::Settled { .. }), "{settled:?}");
    let vanished = RoundPlay {
        posters: 0b011,
        trainer_closes: false,
    };
    let failed = play(vec![vanished], vec![]).unwrap();
    assert!(matches!(failed, JobStatus::Failed { .. }), "{failed:?}");
}

//! Challenges of gateways' answers: `Challenge` puts a signed receipt up for a vote behind a
//! bond; `VoteChallenge` lets any account give its verdict behind a stake until `vote_until`;
//! the `CHALLENGE_VOTE` deadline tallies the votes by stake the block after.
//!
//! The receipt's signature was checked before execution, with the transaction's (a forged
//! receipt never reaches this module). The outcome, each division made with [`split`]:
//!
//! - **Upheld** (most of the stake found the gateway wrong, with at least
//!   `challenge_voters_min` voters): `gateway_slash_bps` of the deployment's stake is slashed
//!   and shared 50 % to the challenger, 20 % to the majority's voters by stake, 30 % to the
//!   treasury; the bond goes back; an active deployment is suspended.
//! - **Rejected** (most of the stake found it right, or the blobs missing): the bond is shared
//!   40 % to the gateway, 40 % to the majority's voters, 20 % to the treasury.
//! - **Undecided** (a tie or too few voters): the bond goes back.
//!
//! Every vote's stake goes back whatever the outcome, and the deployment's stake cannot
//! return to its gateway while a challenge of it is open.

use aifactory_types::lifecycle::{
    BASIS_POINTS_WHOLE, Challenge, ChallengeError, ChallengeId, ChallengeReceipt, ChallengeRole,
    ChallengeStatus, DeploymentStatus, Verdict, Vote, VoteChallenge,
};
use aifactory_types::limits::CHALLENGE_VOTERS_MAX;
use aifactory_types::{Address, Amount, Event, Payload, SlashReason, TREASURY, TxError};

use super::settlement::split;
use super::{Module, deadline_after, deadline_kind, deadline_subject, registry, treasury};
use crate::execute::BlockContext;
use crate::state::{Deadline, State};

/// An upheld challenge's slash: challenger, majority voters, treasury, in basis points.
const SLASH_SHARES: [u64; 3] = [5_000, 2_000, 3_000];

/// A rejected challenge's bond: gateway, majority voters, treasury, in basis points.
const BOND_SHARES: [u64; 3] = [4_000, 4_000, 2_000];

/// Challenge receipts, vote on them, resolve them.
pub(crate) struct Challenges;

impl Module for Challenges {
    fn execute(
        state: &mut State,
        ctx: &BlockContext,
        sender: Address,
        payload: &Payload,
        events: &mut Vec<Event>,
    ) -> Option<Result<(), TxError>> {
        let result = match payload {
            Payload::Challenge(c) => challenge(state, ctx, sender, c),
            Payload::VoteChallenge(v) => vote(state, ctx, sender, v),
            _ => return None,
        };
        Some(result.map(|event| events.push(event)))
    }

    fn on_due(
        state: &mut State,
        _ctx: &BlockContext,
        deadline: &Deadline,
        events: &mut Vec<Event>,
    ) -> Option<()> {
        match deadline_subject(deadline) {
            (deadline_kind::CHALLENGE_VOTE, challenge, _) => resolve(state, challenge, events),
            _ => return None,
        }
        Some(())
    }
}

fn challenge(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    terms: &ChallengeReceipt,
) -> Result<Event, TxError> {
    let params = &state.params().inference;
    let (bond_min, window, vote_blocks) = (
        params.challenge_bond_min,
        params.challenge_window_blocks,
        params.challenge_vote_blocks,
    );
    if terms.bond < bond_min {
        return Err(ChallengeError::BondTooLow { min: bond_min }.into());
    }
    let receipt = &terms.receipt.receipt;
    if receipt.chain_id.as_str() != state.chain_id() {
        return Err(ChallengeError::WrongChain {
            got: receipt.chain_id.to_string(),
        }
        .into());
    }
    let id = receipt.deployment;
    let deployment = state
        .deployment(id)
        .filter(|d| d.status != DeploymentStatus::Retired)
        .ok_or(ChallengeError::DeploymentGone { deployment: id })?;
    if deployment.gateway != terms.receipt.gateway
        || deployment.model != receipt.model
        || deployment.model_hash != receipt.model_hash
    {
        return Err(ChallengeError::ReceiptMismatch { deployment: id }.into());
    }
    let last = receipt.height.saturating_add(window);
    if ctx.height < receipt.height || ctx.height > last {
        return Err(ChallengeError::OutsideWindow {
            receipt_height: receipt.height,
            last,
        }
        .into());
    }
    let open = deployment
        .challenges_open
        .checked_add(1)
        .ok_or(ChallengeError::TooManyOpen { deployment: id })?;
    let receipt_id = receipt.id();
    if let Some(challenge) = state.receipt_challenge(&receipt_id) {
        return Err(ChallengeError::AlreadyChallenged { challenge }.into());
    }
    treasury::lock(state, sender, terms.bond)?;
    let challenge = registry::next_id(state, |c| &mut c.challenges);
    let vote_until = ctx
        .height
        .checked_add(vote_blocks)
        .expect("heights never reach 2^64");
    state.tables.challenges.insert(
        challenge,
        Challenge {
            receipt: receipt.clone(),
            receipt_id,
            challenger: sender,
            bond: terms.bond,
            deployment: id,
            vote_until,
            status: ChallengeStatus::Voting,
            voters: 0,
            wrong_stake: 0,
            right_stake: 0,
        },
    );
    state
        .tables
        .challenged_receipts
        .insert(receipt_id, challenge);
    state
        .tables
        .deployments
        .upsert(id, |d| d.challenges_open = open);
    state.schedule(deadline_after(
        vote_until,
        deadline_kind::CHALLENGE_VOTE,
        challenge,
        0,
    ));
    Ok(Event::Challenged {
        challenge,
        deployment: id,
        challenger: sender,
        bond: terms.bond,
        vote_until,
    })
}

fn vote(
    state: &mut State,
    ctx: &BlockContext,
    sender: Address,
    vote: &VoteChallenge,
) -> Result<Event, TxError> {
    let id = vote.challenge;
    let challenge = state
        .challenge(id)
        .ok_or(ChallengeError::UnknownChallenge { challenge: id })?;
    if challenge.status != ChallengeStatus::Voting || ctx.height > challenge.vote_until {
        return Err(ChallengeError::VotingClosed {
            challenge: id,
            vote_until: challenge.vote_until,
        }
        .into());
    }
    let gateway = state
        .deployment(challenge.deployment)
        .expect("a challenged deployment is kept while its challenge is open")
        .gateway;
    if sender == challenge.challenger || sender == gateway {
        return Err(ChallengeError::PartyCannotVote { challenge: id }.into());
    }
    if state.tables.challenge_votes.get(&(id, sender)).is_some() {
        return Err(ChallengeError::AlreadyVoted { challenge: id }.into());
    }
    let min = state.params().inference.challenge_vote_stake_min;
    if vote.stake < min {
        return Err(ChallengeError::VoteStakeTooLow { min }.into());
    }
    if usize::from(challenge.voters) >= CHALLENGE_VOTERS_MAX {
        return Err(ChallengeError::VotersFull {
            challenge: id,
            max: CHALLENGE_VOTERS_MAX,
        }
        .into());
    }
    treasury::lock(state, sender, vote.stake)?;
    state.tables.challenge_votes.insert(
        (id, sender),
        Vote {
            verdict: vote.verdict,
            stake: vote.stake,
        },
    );
    let add = |sum: Amount| {
        sum.checked_add(vote.stake)
            .expect("locked stakes fit the supply")
    };
    state.tables.challenges.upsert(id, |c| {
        c.voters += 1;
        match vote.verdict {
            Verdict::GatewayWrong => c.wrong_stake = add(c.wrong_stake),
            Verdict::GatewayRight | Verdict::BlobsMissing => c.right_stake = add(c.right_stake),
        }
    });
    Ok(Event::ChallengeVoted {
        challenge: id,
        voter: sender,
        verdict: vote.verdict,
        stake: vote.stake,
    })
}

/// The outcome of a tally: a strict majority of the voting stake, from enough voters.
fn outcome(challenge: &Challenge, voters_min: u16) -> ChallengeStatus {
    let (wrong, right) = (
        u128::from(challenge.wrong_stake),
        u128::from(challenge.right_stake),
    );
    let total = wrong + right;
    if challenge.voters < voters_min {
        ChallengeStatus::Undecided
    } else if wrong * 2 > total {
        ChallengeStatus::Upheld
    } else if right * 2 > total {
        ChallengeStatus::Rejected
    } else {
        ChallengeStatus::Undecided
    }
}

/// Credits `amount` to `account` for `challenge`, with its event; nothing if it is zero.
fn pay(
    state: &mut State,
    challenge: ChallengeId,
    account: Address,
    role: ChallengeRole,
    amount: Amount,
    events: &mut Vec<Event>,
) {
    if amount == 0 {
        return;
    }
    state.credit(account, amount);
    events.push(Event::ChallengePaid {
        challenge,
        account,
        role,
        amount,
    });
}

/// Splits `amount` three ways by `shares` (in basis points): the first to `first`, the second
/// among `majority` by stake (in address order), the third to the treasury.
fn share_out(
    state: &mut State,
    challenge: ChallengeId,
    amount: Amount,
    shares: [u64; 3],
    first: (Address, ChallengeRole),
    majority: &[(Address, Amount)],
    events: &mut Vec<Event>,
) {
    let parts = split(amount, &shares).expect("the shares are not all zero");
    pay(state, challenge, first.0, first.1, parts[0], events);
    let stakes: Vec<u64> = majority.iter().map(|(_, stake)| *stake).collect();
    // A decided challenge has a majority, and every vote's stake is positive.
    let voters = split(parts[1], &stakes).expect("a decided challenge has a majority");
    for ((voter, _), part) in majority.iter().zip(voters) {
        pay(state, challenge, *voter, ChallengeRole::Voter, part, events);
    }
    pay(
        state,
        challenge,
        TREASURY,
        ChallengeRole::Treasury,
        parts[2],
        events,
    );
}

/// Tallies challenge `id`'s votes and carries out the outcome.
fn resolve(state: &mut State, id: ChallengeId, events: &mut Vec<Event>) {
    let challenge = state
        .challenge(id)
        .expect("a scheduled challenge exists")
        .clone();
    let params = &state.params().inference;
    let (voters_min, slash_bps) = (params.challenge_voters_min, params.gateway_slash_bps);
    let outcome = outcome(&challenge, voters_min);
    let votes: Vec<(Address, Vote)> = state
        .challenge_votes(id)
        .map(|(voter, vote)| (voter, vote.clone()))
        .collect();
    for (voter, vote) in &votes {
        pay(
            state,
            id,
            *voter,
            ChallengeRole::StakeReturned,
            vote.stake,
            events,
        );
    }
    let majority = |wrong: bool| -> Vec<(Address, Amount)> {
        votes
            .iter()
            .filter(|(_, v)| (v.verdict == Verdict::GatewayWrong) == wrong)
            .map(|(voter, v)| (*voter, v.stake))
            .collect()
    };
    let deployment = state
        .deployment(challenge.deployment)
        .expect("a challenged deployment is kept while its challenge is open")
        .clone();
    let bond_back = (challenge.challenger, ChallengeRole::BondReturned);
    match outcome {
        ChallengeStatus::Upheld => {
            let slash_weights = [
                u64::from(slash_bps),
                u64::from(BASIS_POINTS_WHOLE - slash_bps),
            ];
            let slashed =
                split(deployment.stake, &slash_weights).expect("the whole is positive")[0];
            state.tables.deployments.upsert(challenge.deployment, |d| {
                d.stake -= slashed;
                if d.status == DeploymentStatus::Active {
                    d.status = DeploymentStatus::Suspended;
                }
            });
            events.push(Event::Slashed {
                account: deployment.gateway,
                amount: slashed,
                reason: SlashReason::WrongInference,
                job: None,
            });
            let first = (challenge.challenger, ChallengeRole::Challenger);
            let wrong = majority(true);
            share_out(state, id, slashed, SLASH_SHARES, first, &wrong, events);
            pay(state, id, bond_back.0, bond_back.1, challenge.bond, events);
        }
        ChallengeStatus::Rejected => {
            let first = (deployment.gateway, ChallengeRole::Gateway);
            let right = majority(false);
            share_out(
                state,
                id,
                challenge.bond,
                BOND_SHARES,
                first,
                &right,
                events,
            );
        }
        ChallengeStatus::Undecided | ChallengeStatus::Voting => {
            pay(state, id, bond_back.0, bond_back.1, challenge.bond, events);
        }
    }
    state.tables.challenges.upsert(id, |c| c.status = outcome);
    state.tables.deployments.upsert(challenge.deployment, |d| {
        d.challenges_open = d
            .challenges_open
            .checked_sub(1)
            .expect("an open challenge is counted");
    });
    events.push(Event::ChallengeResolved {
        challenge: id,
        outcome,
    });
}

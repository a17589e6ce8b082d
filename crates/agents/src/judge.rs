//! Judging challenged answers, the validator's second duty: for every challenge still taking
//! votes, fetch the deployed model, the input and the gateway's output by hash, run the model
//! exactly as a gateway does ([`Served`]), compare by the chain's rule
//! ([`outputs_match`], `docs/inference.md`) and vote with a stake.
//!
//! A verdict is journaled before its vote is sent, so a restart sends the same vote (or finds
//! it sent), never a different one. A blob the nodes do not have is a `blobs_missing` verdict;
//! a node that cannot be reached is no verdict at all, and the challenge is tried again on the
//! next wake-up.

use std::collections::BTreeMap;

use aifactory_client::views::inference::ChallengeView;
use aifactory_client::views::lifecycle::{LIST_LIMIT_MAX, PageRequest};
use aifactory_learn::predict::Probabilities;
use aifactory_types::lifecycle::{
    ChallengeId, ChallengeStatus, MICROS_PER_UNIT, Output, Verdict, VoteChallenge, most_probable,
    outputs_match,
};
use aifactory_types::{Amount, Payload};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::gateway::models::Served;
use crate::journal::Journal;
use crate::nodes::Nodes;
use crate::outbox::Sent;
use crate::recipe::fetch_blob;
use crate::runtime::Agent;

/// What the judge has decided so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JudgeState {
    /// Every challenge at or below this id is decided or over: listing starts after it.
    pub settled_through: ChallengeId,
    /// The verdict reached on each challenge voted on (or being voted on).
    pub verdicts: BTreeMap<ChallengeId, Verdict>,
}

/// Votes on challenges of gateways' answers.
pub struct Judge {
    /// The stake behind each vote; the chain's minimum if `None`.
    stake: Option<Amount>,
    journal: Journal<JudgeState>,
}

/// The outbox label of the vote on `challenge`.
fn label(challenge: ChallengeId) -> String {
    format!("challenge {challenge} vote")
}

impl Judge {
    /// Opens the judge's journal in the agent's state directory.
    pub fn new(stake: Option<Amount>, agent: &Agent) -> anyhow::Result<Self> {
        Ok(Judge {
            stake,
            journal: Journal::open(&agent.state_dir.join("judge.json"))?,
        })
    }

    /// Looks at every challenge after the last settled one, judges and votes on those still
    /// open that it may vote on, and sends any journaled vote not yet sent.
    pub async fn tick(&mut self, agent: &mut Agent) -> anyhow::Result<()> {
        let me = agent.outbox.address();
        let mut after = self.journal.get().settled_through;
        // Set at the first challenge that needs another look: none after it counts as settled.
        let mut blocked = false;
        loop {
            let page = PageRequest {
                after,
                limit: LIST_LIMIT_MAX,
            };
            let page = agent
                .nodes
                .call(|c| async move { c.challenges(page).await })
                .await?;
            for item in &page.items {
                let (id, challenge) = (item.id, &item.challenge);
                let open = challenge.status == ChallengeStatus::Voting
                    && page.height <= challenge.vote_until;
                if open
                    && challenge.challenger != me
                    && let Err(error) = self.vote(agent, id).await
                {
                    let error = format!("{error:#}");
                    tracing::warn!(challenge = id, error, "cannot judge the challenge yet");
                    blocked = true;
                }
                if !blocked {
                    self.journal.update(|s| s.settled_through = id)?;
                    agent.outbox.forget(&label(id))?;
                }
            }
            match page.next_after {
                Some(next) => after = next,
                None => return Ok(()),
            }
        }
    }

    /// Judges challenge `id` if it has no verdict yet, journals it, and sends the vote unless
    /// it was sent already.
    async fn vote(&mut self, agent: &mut Agent, id: ChallengeId) -> anyhow::Result<()> {
        if agent.outbox.outcome(&label(id)).is_some() {
            return Ok(());
        }
        let view = agent
            .nodes
            .call(|c| async move { c.challenge(id).await })
            .await?;
        if view.deployment.value.gateway == agent.outbox.address() {
            return Ok(());
        }
        let verdict = match self.journal.get().verdicts.get(&id) {
            Some(verdict) => *verdict,
            None => {
                let verdict = judge(&agent.nodes, &view).await?;
                tracing::info!(challenge = id, ?verdict, "judged a challenged answer");
                self.journal.update(|s| s.verdicts.insert(id, verdict))?;
                verdict
            }
        };
        let min = view.params.value.inference.challenge_vote_stake_min;
        let stake = self.stake.map_or(min, |s| s.max(min));
        let payload = Payload::VoteChallenge(VoteChallenge {
            challenge: id,
            verdict,
            stake,
        });
        let sent = agent.outbox.send(&agent.nodes, &label(id), payload).await?;
        if let Sent::Refused(error) = &sent {
            tracing::warn!(challenge = id, %error, "the vote was refused");
        } else {
            tracing::info!(challenge = id, ?verdict, outcome = ?sent, "voted on a challenge");
        }
        Ok(())
    }
}

/// The verdict on the challenge `view` proves: the deployed model re-run on the input and
/// compared with the gateway's output. An error means no verdict can be reached now (a node
/// unreachable, the model blob unreadable), not that the gateway is right or wrong.
pub async fn judge(nodes: &Nodes, view: &ChallengeView) -> anyhow::Result<Verdict> {
    let receipt = &view.challenge.value.receipt;
    let mut blobs = Vec::with_capacity(2);
    for hash in [receipt.input_hash, receipt.output_hash] {
        match nodes.blob(&hash).await {
            Ok(bytes) => blobs.push(bytes),
            Err(error) if error.is_not_found() => return Ok(Verdict::BlobsMissing),
            Err(error) => return Err(error).with_context(|| format!("fetching blob {hash}")),
        }
    }
    let deployment = &view.deployment;
    let model = nodes
        .call(|c| async move { c.model(deployment.value.model).await })
        .await?;
    let bytes = fetch_blob(nodes, &deployment.value.model_hash).await?;
    let served = Served::from_blob(
        deployment.key,
        deployment.value.clone(),
        &model.model.value.artifact,
        &bytes,
    )?;
    let tolerance =
        view.params.value.inference.challenge_tolerance_micros as f32 / MICROS_PER_UNIT as f32;
    let (input, output) = (&blobs[0], &blobs[1]);
    let Some(stated) = Output::parse(output) else {
        return Ok(Verdict::GatewayWrong);
    };
    // An answer to an input the model cannot read is wrong: the gateway should have refused it.
    let Some(features) = std::str::from_utf8(input)
        .ok()
        .and_then(|text| served.features(text).ok())
    else {
        return Ok(Verdict::GatewayWrong);
    };
    let rerun = tokio::task::spawn_blocking(move || served.predict(&features))
        .await
        .context("the model run panicked")??;
    let right = outputs_match(&stated, &as_output(&rerun), tolerance);
    Ok(if right {
        Verdict::GatewayRight
    } else {
        Verdict::GatewayWrong
    })
}

/// A model's probabilities as an answer: each row's most probable class stated.
fn as_output(probabilities: &Probabilities) -> Output {
    let classes = probabilities.classes.max(1);
    Output {
        classes,
        predicted: probabilities
            .p
            .chunks_exact(classes)
            .map(most_probable)
            .collect(),
        probabilities: probabilities.p.clone(),
    }
}

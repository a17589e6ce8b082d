//! What every role shares at run time: its nodes, its outbox, its state directory, the loop
//! that wakes it on each new block (or after a quiet interval), and reading the chain's jobs.
//!
//! Roles are *level-triggered*: on every wake-up a role reads where each of its jobs stands on
//! chain and does what that state calls for, checking its journal for what it already did.
//! Events only say "look again"; a missed event costs a poll interval, never a missed phase,
//! which is what lets an agent restart at any moment and carry on.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use aifactory_client::EventStream;
use aifactory_client::views::lifecycle::{JobItem, LIST_LIMIT_MAX, PageRequest};
use aifactory_wallet::Keystore;
use anyhow::{Context as _, anyhow};
use futures::StreamExt;

use crate::config::{AgentSettings, Drill};
use crate::nodes::Nodes;
use crate::outbox::Outbox;

/// A running agent's connections and durable parts.
#[derive(Debug)]
pub struct Agent {
    /// The nodes it talks to.
    pub nodes: Nodes,
    /// Its transactions.
    pub outbox: Outbox,
    /// Its state directory.
    pub state_dir: PathBuf,
    poll: Duration,
}

impl Agent {
    /// Opens the key, the state directory and the outbox the settings name.
    pub fn start(settings: &AgentSettings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.state_dir)
            .with_context(|| format!("creating {}", settings.state_dir.display()))?;
        let passphrase = match &settings.passphrase_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => std::env::var("AIFACTORY_PASSPHRASE").ok(),
        };
        let key = Keystore::new(settings.home.join("keys"))
            .load(&settings.key, passphrase.as_deref())
            .map_err(|e| anyhow!("opening key {:?}: {e}", settings.key))?;
        let outbox = Outbox::open(key, settings.fee, &settings.state_dir.join("outbox.json"))?;
        Ok(Agent {
            nodes: Nodes::new(&settings.nodes)?,
            outbox,
            state_dir: settings.state_dir.clone(),
            poll: Duration::from_millis(settings.poll_ms.max(10)),
        })
    }

    /// Every job on chain, in id order.
    pub async fn jobs(&self) -> anyhow::Result<Vec<JobItem>> {
        let mut items = Vec::new();
        let mut after = 0;
        loop {
            let page = PageRequest {
                after,
                limit: LIST_LIMIT_MAX,
            };
            let page = self
                .nodes
                .call(|c| async move { c.jobs(page).await })
                .await?;
            items.extend(page.items);
            match page.next_after {
                Some(next) => after = next,
                None => return Ok(items),
            }
        }
    }
}

/// One role's work on each wake-up.
pub trait Role {
    /// The role's name in logs.
    const NAME: &'static str;

    /// Reads the chain and does what it calls for; an error is logged and the next wake-up
    /// tries again.
    fn tick(&mut self, agent: &mut Agent) -> impl Future<Output = anyhow::Result<()>>;
}

/// Runs `role` until `stop` completes: a tick, then a wait for the next block or the poll
/// interval, again and again.
pub async fn run<R: Role>(mut agent: Agent, mut role: R, stop: impl Future<Output = ()>) {
    tracing::info!(role = R::NAME, address = %agent.outbox.address(), "agent started");
    let mut stop = std::pin::pin!(stop);
    let mut events: Option<EventStream> = None;
    loop {
        if let Err(error) = role.tick(&mut agent).await {
            tracing::warn!(
                role = R::NAME,
                error = format!("{error:#}"),
                "tick failed; will retry"
            );
        }
        tokio::select! {
            () = &mut stop => break,
            () = next_block(&agent, &mut events, agent.poll) => {}
        }
    }
    tracing::info!(role = R::NAME, "agent stopped");
}

/// Aborts the process, as `kill -9` would (no destructor runs, nothing is flushed), if the
/// drill says to crash before this message: round `seq`'s, phase `phase` of it if given.
pub fn crash_if_drilled(drill: &Drill, seq: u32, phase: Option<u8>) {
    let phase_matches = match (drill.crash_before_phase, phase) {
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => false,
        (None, _) => true,
    };
    if drill.crash_before_round == Some(seq) && phase_matches {
        tracing::warn!(
            round = seq,
            ?phase,
            "drill: crashing before sending this message"
        );
        std::process::abort();
    }
}

/// Waits for the next event from the node, or `poll` at most; (re)opens the stream as needed.
async fn next_block(agent: &Agent, events: &mut Option<EventStream>, poll: Duration) {
    if events.is_none() {
        *events = tokio::time::timeout(poll, agent.nodes.client().events())
            .await
            .ok()
            .and_then(Result::ok);
    }
    let Some(stream) = events else {
        tokio::time::sleep(poll).await;
        return;
    };
    match tokio::time::timeout(poll, stream.next()).await {
        Ok(Some(Ok(_))) | Err(_) => {}
        Ok(Some(Err(_)) | None) => *events = None,
    }
}

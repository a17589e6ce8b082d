//! What every role shares at run time: its nodes, its outbox, its state directory, the loop
//! that wakes it on each new block (or after a quiet interval), and reading the chain's jobs.
//!
//! Roles are *level-triggered*: on every wake-up a role reads where each of its jobs stands on
//! chain and does what that state calls for, checking its journal for what it already did.
//! Events only say "look again"; a missed event costs a poll interval, never a missed phase,
//! which is what lets an agent restart at any moment and carry on.
//!
//! An agent wakes once per finalized block whose events name a job, not once per event: a
//! block of ten posted updates is one look at the chain, not forty, and blocks of transfers
//! alone are no look at all. Blocks already waiting on the stream are taken together into that
//! one look, and it covers only the jobs they name ([`Look`]). Everything is looked at again
//! at the start, after a quiet poll interval, after a failed tick, and whenever the stream may
//! have lost events.
//!
//! A challenge of a gateway's answer names no job but wakes every agent for a full look, so a
//! validator judges it without waiting for the poll interval.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use aifactory_client::EventStream;
use aifactory_client::views::ChainEvent;
use aifactory_client::views::lifecycle::{JobItem, LIST_LIMIT_MAX, PageRequest};
use aifactory_types::Event;
use aifactory_types::lifecycle::JobId;
use aifactory_wallet::Keystore;
use anyhow::{Context as _, anyhow};
use futures::{FutureExt as _, StreamExt};
use tokio::time::Instant;

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

    /// The jobs `look` covers that `wanted` picks (by id, before anything is fetched), read
    /// from the chain: on a full look one listing of every job, else each named job alone.
    pub async fn jobs_in(
        &self,
        look: &Look,
        wanted: impl Fn(JobId) -> bool,
    ) -> anyhow::Result<Vec<JobItem>> {
        let Look::Jobs(ids) = look else {
            let mut all = self.jobs().await?;
            all.retain(|item| wanted(item.id));
            return Ok(all);
        };
        let mut items = Vec::new();
        for &id in ids.iter().filter(|id| wanted(**id)) {
            let view = self.nodes.call(|c| async move { c.job(id).await }).await?;
            items.push(JobItem {
                id,
                job: view.entries.job.value,
            });
        }
        Ok(items)
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

/// What a wake-up asks a role to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// Every job: the first look, a quiet poll interval, a failed tick, or a stream that may
    /// have lost events.
    Everything,
    /// The jobs the new blocks' events name; no other job changed.
    Jobs(BTreeSet<JobId>),
}

impl Look {
    /// Whether job `id` may have changed since the last look.
    pub fn includes(&self, id: JobId) -> bool {
        match self {
            Look::Everything => true,
            Look::Jobs(ids) => ids.contains(&id),
        }
    }
}

/// One role's work on each wake-up.
pub trait Role {
    /// The role's name in logs.
    const NAME: &'static str;

    /// Reads the chain where `look` says it may have changed and does what it calls for; an
    /// error is logged and the next wake-up looks at everything again.
    fn tick(&mut self, agent: &mut Agent, look: &Look) -> impl Future<Output = anyhow::Result<()>>;
}

/// Runs `role` until `stop` completes: a tick, then a wait for the next block or the poll
/// interval, again and again.
pub async fn run<R: Role>(mut agent: Agent, mut role: R, stop: impl Future<Output = ()>) {
    tracing::info!(role = R::NAME, address = %agent.outbox.address(), "agent started");
    let mut stop = std::pin::pin!(stop);
    let mut wakeups = Wakeups::default();
    let mut look = Look::Everything;
    loop {
        let failed = match role.tick(&mut agent, &look).await {
            Ok(()) => false,
            Err(error) => {
                tracing::warn!(
                    role = R::NAME,
                    error = format!("{error:#}"),
                    "tick failed; will retry"
                );
                true
            }
        };
        tokio::select! {
            () = &mut stop => break,
            next = wakeups.next(&agent.nodes, agent.poll) => {
                look = if failed { Look::Everything } else { next };
            }
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

/// The event stream an agent wakes on, and where it stands in it.
#[derive(Default)]
struct Wakeups {
    stream: Option<EventStream>,
    /// The last height whose `Block` event arrived: a reopened stream resumes after it.
    seen: Option<u64>,
    /// The jobs the events of the block being received so far name.
    pending: BTreeSet<JobId>,
    /// Whether those events include one that names no job but calls for a look (a challenge).
    pending_everything: bool,
}

impl Wakeups {
    /// Returns the jobs named by finalized blocks once one names any (with every block already
    /// waiting behind it taken in), or [`Look::Everything`] after `poll` at most; (re)opens the
    /// stream as needed, from the first height not yet seen.
    async fn next(&mut self, nodes: &Nodes, poll: Duration) -> Look {
        let deadline = Instant::now() + poll;
        let mut news = BTreeSet::new();
        loop {
            if self.stream.is_none() {
                let client = nodes.client();
                let open = async {
                    match self.seen {
                        Some(height) => client.events_from(height + 1).await,
                        None => client.events().await,
                    }
                };
                match tokio::time::timeout_at(deadline, open).await {
                    Ok(Ok(stream)) => self.stream = Some(stream),
                    // A pruned or unreachable history: start again from now on (a role reads
                    // the state anyway, so nothing is missed but a wake-up).
                    Ok(Err(_)) => {
                        self.seen = None;
                        tokio::time::sleep_until(deadline).await;
                        return Look::Everything;
                    }
                    Err(_) => return Look::Everything,
                }
            }
            let stream = self.stream.as_mut().expect("opened above");
            let next = if !news.is_empty() {
                // Take in what is already here, then wake.
                match stream.next().now_or_never() {
                    Some(next) => next,
                    None => return Look::Jobs(news),
                }
            } else {
                match tokio::time::timeout_at(deadline, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => return Look::Everything,
                }
            };
            match next {
                Some(Ok(ChainEvent::Ledger { event, .. })) => {
                    self.pending.extend(event.job());
                    self.pending_everything |= matches!(event, Event::Challenged { .. });
                }
                Some(Ok(ChainEvent::Block { height, .. })) => {
                    self.seen = Some(height);
                    news.append(&mut self.pending);
                    if std::mem::take(&mut self.pending_everything) {
                        return Look::Everything;
                    }
                }
                Some(Ok(ChainEvent::Lagged { .. })) => return Look::Everything,
                Some(Ok(ChainEvent::TxIncluded { .. })) => {}
                Some(Err(_)) | None => {
                    self.stream = None;
                    if !news.is_empty() {
                        return Look::Jobs(news);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aifactory_api::testing::{TestNode, TestServer, start, unlimited};
    use aifactory_ledger::testing::TestChain;
    use aifactory_ledger::testing::lifecycle::{job_terms, model_terms};
    use aifactory_types::Payload;
    use aifactory_types::amount::BASE_UNITS_PER_AIF;

    use super::*;

    /// A quiet interval short enough for a test, long enough for a sealed block to arrive.
    const POLL: Duration = Duration::from_millis(400);

    async fn submit(nodes: &Nodes, server: &TestServer, key: usize, payload: Payload) {
        let tx = server.node.chain().tx(key, payload);
        nodes.client().submit_tx(&tx).await.unwrap();
    }

    #[tokio::test]
    async fn an_agent_wakes_for_the_jobs_blocks_name_and_a_reopened_stream_resumes() {
        let chain = TestChain::new(3, 10_000 * BASE_UNITS_PER_AIF);
        let server = start(TestNode::sealing_over(chain), unlimited()).await;
        let nodes = Nodes::new(&[server.base_url()]).unwrap();
        let mut wakeups = Wakeups::default();
        let everything = Look::Everything;
        assert_eq!(
            wakeups.next(&nodes, POLL).await,
            everything,
            "a quiet interval"
        );

        let to = server.node.chain().address(2);
        submit(&nodes, &server, 1, TestChain::transfer_to(to, 5)).await;
        submit(&nodes, &server, 0, Payload::RegisterModel(model_terms())).await;
        assert_eq!(
            wakeups.next(&nodes, POLL).await,
            everything,
            "a transfer and a model name no job: no news"
        );
        assert_eq!(wakeups.seen, Some(2), "their blocks did arrive");

        let open = || Payload::OpenJob(job_terms(1, 2, BASE_UNITS_PER_AIF));
        submit(&nodes, &server, 0, open()).await;
        let job_one = Look::Jobs(BTreeSet::from([1]));
        assert_eq!(wakeups.next(&nodes, POLL * 10).await, job_one);
        assert_eq!(wakeups.seen, Some(3));

        // The stream drops; a job opens meanwhile; the reopened stream replays its block.
        wakeups.stream = None;
        submit(&nodes, &server, 0, open()).await;
        let job_two = Look::Jobs(BTreeSet::from([2]));
        assert_eq!(wakeups.next(&nodes, POLL * 10).await, job_two);
        assert_eq!(wakeups.seen, Some(4));
    }
}

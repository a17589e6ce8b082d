//! The ledger as a commonware `Application`: building blocks (`propose`) and re-executing
//! them (`verify`). marshal's `Inline` wrapper turns this into simplex's automaton: it fetches
//! the parent, checks the parent link and height, and only then calls us; it broadcasts our
//! proposals and stores what we verify.
//!
//! - **propose** builds on the parent's post-state with `State::build_block` from the
//!   mempool's candidates, stamped `max(local clock, parent + 1 ms)` and paid to our address.
//!   With no candidates it waits for one to arrive, or for the empty-block interval since
//!   the parent's timestamp to pass, before it builds an empty block: an idle chain makes one
//!   block per interval, a busy one as fast as consensus goes.
//! - **verify** checks the signatures (but not again those of transactions its mempool holds
//!   verbatim: see [`Chain::execute`]), then executes the block on a copy of the parent's
//!   post-state with `State::apply_block`, which checks height, parent, timestamp order, the
//!   transactions root, admission of every transaction and the state root. Any failure is
//!   permanent, so the answer is `false`. A timestamp too far ahead of the local clock is not
//!   (yet) a failure: the verifier waits until it is within the allowed drift.
//! - Both leave the post-state in [`Chain`]'s pending map, so a block proposed or verified
//!   here is never executed twice, and finalization adopts the state as is. When a parent's
//!   state is missing (pruned, or after a restart) it is rebuilt by replaying the ancestry
//!   from the nearest known state.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aifactory_ledger::State;
use aifactory_types::{Address, VerifiedTransaction};
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Context;
use commonware_consensus::{Application, Block as _};
use commonware_cryptography::ed25519::PublicKey;
use commonware_cryptography::{Digested, Digestible};
use commonware_runtime::Clock;
use futures::StreamExt;
use futures::future;
use tracing::{debug, warn};

use crate::block::{ChainBlock, Digest};
use crate::chain::Chain;
use crate::limits::{BLOCK_TIMESTAMP_DRIFT_MS_MAX, PROPOSAL_TXS_MAX};

/// Builds and verifies ledger blocks for consensus.
#[derive(Debug, Clone)]
pub struct LedgerApplication {
    chain: Chain,
    proposer: Address,
    empty_block_interval: Duration,
}

impl LedgerApplication {
    /// An application over `chain` that proposes as `proposer` (our validator address), at
    /// most one empty block per `empty_block_interval`.
    pub fn new(chain: Chain, proposer: Address, empty_block_interval: Duration) -> Self {
        LedgerApplication {
            chain,
            proposer,
            empty_block_interval,
        }
    }

    /// The mempool's candidates for a block on `parent`. While there are none it waits for
    /// one to be admitted or for the empty-block interval after the parent to pass.
    async fn paced_candidates(
        &self,
        clock: &impl Clock,
        parent: &State,
    ) -> Vec<VerifiedTransaction> {
        let interval_ms = u64::try_from(self.empty_block_interval.as_millis()).unwrap_or(u64::MAX);
        let due_ms = parent.timestamp_ms().saturating_add(interval_ms);
        loop {
            let admitted = self.chain.next_admission();
            let candidates = self.chain.mempool().take(parent, PROPOSAL_TXS_MAX);
            if !candidates.is_empty() || now_ms(clock) >= due_ms {
                return candidates;
            }
            let due = clock.sleep_until(UNIX_EPOCH + Duration::from_millis(due_ms));
            future::select(pin!(admitted), pin!(due)).await;
        }
    }

    /// The post-state of `digest`, replaying blocks from `ancestry` (which yields `digest`'s
    /// block first, then its ancestors) down to the nearest known state. `None` if the chain
    /// leaves the finalized one or a block in it does not execute: both are permanent.
    async fn state_after(
        &self,
        digest: Digest,
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> Option<Arc<State>> {
        let mut want = digest;
        let mut missing = Vec::new();
        let base = loop {
            if let Some(state) = self.chain.state_after(&want) {
                break state;
            }
            let block = ancestry.next().await?;
            let finalized_height = self.chain.finalized().height();
            if block.digest() != want || block.inner().header().height <= finalized_height {
                debug!(
                    height = block.inner().header().height,
                    "ancestry leaves the finalized chain"
                );
                return None;
            }
            want = block.parent();
            missing.push(block);
        };
        let mut state = base;
        for block in missing.into_iter().rev() {
            let (next, outcome) = match self.chain.execute(&state, block.inner()) {
                Ok(done) => done,
                Err(error) => {
                    warn!(%error, "an ancestor does not execute");
                    return None;
                }
            };
            self.chain
                .insert_pending(block.digest(), next.clone(), outcome);
            state = Arc::new(next);
        }
        Some(state)
    }
}

/// Milliseconds since the Unix epoch on `clock`.
fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<E: Clock> Application<E> for LedgerApplication {
    type SigningScheme = Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (clock, _context): (E, Self::Context),
        ancestry: impl Ancestry<ChainBlock>,
        _input: (),
    ) -> Option<Digested<ChainBlock>> {
        let parent = ancestry.peek()?.digest();
        let parent_state = self.state_after(parent, ancestry).await?;
        let mut state = State::clone(&parent_state);
        let candidates = self.paced_candidates(&clock, &state).await;
        let timestamp_ms = now_ms(&clock).max(state.timestamp_ms() + 1);
        let built = state
            .build_block(self.proposer, timestamp_ms, candidates)
            .expect("the timestamp is after the parent's");
        let block = ChainBlock::new(built.block.to_block());
        let digest = block.digest();
        debug!(
            height = block.header().height,
            txs = block.block().txs.len(),
            left_out = built.rejected.len(),
            "proposing"
        );
        self.chain.insert_pending(digest, state, built.outcome);
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (clock, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        if self.chain.state_after(&block.digest()).is_some() {
            return true;
        }
        let timestamp_ms = block.inner().header().timestamp_ms;
        let horizon_ms = now_ms(&clock).saturating_add(BLOCK_TIMESTAMP_DRIFT_MS_MAX);
        if timestamp_ms > horizon_ms {
            let wait_until = timestamp_ms - BLOCK_TIMESTAMP_DRIFT_MS_MAX;
            clock
                .sleep_until(UNIX_EPOCH + Duration::from_millis(wait_until))
                .await;
        }
        let Some(parent_state) = self.state_after(block.parent(), ancestry).await else {
            return false;
        };
        match self.chain.execute(&parent_state, block.inner()) {
            Ok((state, outcome)) => {
                self.chain.insert_pending(block.digest(), state, outcome);
                true
            }
            Err(error) => {
                warn!(height = block.inner().header().height, %error, "refusing block");
                false
            }
        }
    }
}

//! Epochs: the validator set changes only between them, and each epoch runs its own simplex
//! instance over that epoch's participants.
//!
//! - **Boundaries.** Epoch `e` spans heights `e·L ..= (e+1)·L − 1` (commonware's
//!   `FixedEpocher`, `L` the genesis parameter `epoch_length_blocks`). The ledger recomputes the
//!   set when it applies an epoch's last block, so the state after that block names the next
//!   epoch's participants. marshal's `Inline` wrapper re-proposes the last block for any later
//!   view of the old epoch, so no epoch's chain runs past its boundary.
//! - **Transition.** When the finalizer applies a boundary block it sends an [`EpochStart`]; the
//!   [`Orchestrator`] registers the new participants with [`EpochSchemes`] (which marshal uses
//!   to check certificates by epoch), starts a simplex engine whose genesis is the boundary
//!   block, on that epoch's subchannel of the vote, certificate and resolver channels, and stops
//!   the old engine. A node outside the set runs the engine as a verifier: it follows and
//!   finalizes but never votes (a full node is one that is never in the set).
//! - **Falling behind.** A vote on a later epoch's subchannel means peers have moved on: the
//!   orchestrator asks marshal for the current epoch's boundary finalization from that peer, and
//!   the chain of boundaries then carries the node forward one epoch at a time.
//! - **Storage.** Each epoch's simplex journal is its own partition (`{prefix}-simplex-{epoch}`),
//!   so a restart resumes the current epoch's journal and never replays an old one. Entering
//!   epoch `e` deletes epoch `e − 1`'s journal: its blocks and certificates are in marshal's
//!   archives, and a crash before the delete repeats it when the node enters `e` again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commonware_consensus::marshal::standard::Inline;
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::{self, ForwardPolicy, SkipBudget, SkipPolicy};
use commonware_consensus::types::{Epoch, Epocher, FixedEpocher, Height, ViewDelta};
use commonware_cryptography::certificate::{Provider, Scheme as _, Scoped};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::sha256::Sha256;
use commonware_macros::select_loop;
use commonware_p2p::utils::mux::{Builder, Muxer};
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::telemetry::metrics::MetricsExt;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::NonZeroDuration;
use commonware_utils::ordered::Set;
use commonware_utils::vec::NonEmptyVec;
use futures::StreamExt;
use futures::channel::mpsc;
use rand_core_0_10::CryptoRng;
use tracing::{debug, info, warn};

use crate::application::LedgerApplication;
use crate::block::{ChainBlock, Digest};
use crate::engine::{
    CONSENSUS_NAMESPACE, MAILBOX_SIZE, MarshalMailbox, REPLAY_BUFFER, Timeouts, VIEW_RETENTION,
    WRITE_BUFFER,
};

/// The participant set of every epoch this node has entered, for marshal's certificate checks.
#[derive(Debug, Clone, Default)]
pub struct EpochSchemes {
    schemes: Arc<Mutex<BTreeMap<Epoch, Arc<Scheme>>>>,
}

impl EpochSchemes {
    /// Records `epoch`'s scheme (signing if `key` is a participant, verify-only otherwise) and
    /// returns it.
    pub fn register(
        &self,
        epoch: Epoch,
        participants: Set<PublicKey>,
        key: &PrivateKey,
    ) -> Arc<Scheme> {
        let scheme = Scheme::signer(CONSENSUS_NAMESPACE, participants.clone(), key.clone())
            .unwrap_or_else(|| Scheme::verifier(CONSENSUS_NAMESPACE, participants));
        let scheme = Arc::new(scheme);
        self.schemes
            .lock()
            .expect("a thread panicked holding the epoch schemes")
            .insert(epoch, scheme.clone());
        scheme
    }
}

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<Scheme>> {
        self.schemes
            .lock()
            .expect("a thread panicked holding the epoch schemes")
            .get(&epoch)
            .cloned()
            .map(Scoped::scheme)
    }
}

/// An epoch to enter: its number, its participants, and the block it starts from (the previous
/// epoch's last block, or genesis).
#[derive(Debug, Clone)]
pub struct EpochStart {
    /// The epoch.
    pub epoch: Epoch,
    /// Its consensus participants.
    pub participants: Set<PublicKey>,
    /// The digest of the block its first view builds on.
    pub anchor: Digest,
}

/// Where the finalizer announces epoch boundaries.
#[derive(Debug, Clone)]
pub struct EpochMailbox {
    sender: mpsc::UnboundedSender<EpochStart>,
}

impl EpochMailbox {
    /// Asks the orchestrator to enter `start.epoch` (ignored if it already has).
    pub fn enter(&self, start: EpochStart) {
        // A closed orchestrator means the node is stopping.
        let _ = self.sender.unbounded_send(start);
    }
}

/// The orchestrator's queue of epochs to enter.
#[derive(Debug)]
pub struct EpochQueue {
    receiver: mpsc::UnboundedReceiver<EpochStart>,
}

/// A mailbox and the queue behind it.
pub fn channel() -> (EpochMailbox, EpochQueue) {
    let (sender, receiver) = mpsc::unbounded();
    (EpochMailbox { sender }, EpochQueue { receiver })
}

/// The automaton, relay and reporter every epoch's engine shares.
pub type Wrapped<E> = Inline<E, Scheme, LedgerApplication, ChainBlock, FixedEpocher>;

/// One epoch's simplex configuration.
type EngineConfig<E, B> = simplex::Config<
    Scheme,
    RoundRobin<Sha256>,
    B,
    Digest,
    Wrapped<E>,
    Wrapped<E>,
    Wrapped<E>,
    Sequential,
>;

/// Runs one simplex engine at a time, the current epoch's.
pub struct Orchestrator<E, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
{
    /// The runtime context engines are started on.
    pub context: E,
    /// Our consensus key.
    pub key: PrivateKey,
    /// The ledger application behind marshal's wrapper.
    pub application: Wrapped<E>,
    /// Blocks misbehaving peers.
    pub blocker: B,
    /// marshal, for boundary finalizations when peers are ahead.
    pub marshal: MarshalMailbox,
    /// The schemes by epoch, shared with marshal.
    pub schemes: EpochSchemes,
    /// Epoch boundaries.
    pub epocher: FixedEpocher,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// Storage partition prefix.
    pub partition_prefix: String,
    /// The page cache simplex's journal reads through.
    pub page_cache: CacheRef,
}

impl<E, B> Orchestrator<E, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    /// Starts the orchestrator over the three consensus channels; it enters each epoch queued.
    pub fn start<S, R>(
        self,
        queue: EpochQueue,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) -> Handle<()>
    where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        self.context
            .child("epochs")
            .spawn(move |context| self.run(context, queue, votes, certificates, resolver))
    }

    async fn run<S, R>(
        self,
        context: E,
        mut queue: EpochQueue,
        (vote_sender, vote_receiver): (S, R),
        (certificate_sender, certificate_receiver): (S, R),
        (resolver_sender, resolver_receiver): (S, R),
    ) where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (mux, mut votes, mut ahead) =
            Muxer::builder(context.child("votes_mux"), vote_sender, vote_receiver)
                .with_backup()
                .build();
        mux.start();
        let (mux, mut certificates) = Muxer::builder(
            context.child("certificates_mux"),
            certificate_sender,
            certificate_receiver,
        )
        .build();
        mux.start();
        let (mux, mut resolver) = Muxer::new(
            context.child("resolver_mux"),
            resolver_sender,
            resolver_receiver,
        );
        mux.start();

        let epoch_gauge = context.gauge("epoch", "the consensus epoch this node is in");
        let set_gauge = context.gauge("validators", "validators in the current epoch's set");
        let voting_gauge = context.gauge("voting", "1 if this node votes in the current epoch");
        let mut current: Option<(Epoch, Handle<()>)> = None;
        let mut hinted = BTreeSet::new();
        select_loop! {
            context,
            on_stopped => {
                debug!("stopping the epoch orchestrator");
            },
            Some(start) = queue.receiver.next() else break => {
                if current.as_ref().is_some_and(|(epoch, _)| *epoch >= start.epoch) {
                    continue;
                }
                let scheme = self.schemes.register(start.epoch, start.participants.clone(), &self.key);
                let channels = (
                    votes.register(start.epoch.get()).await,
                    certificates.register(start.epoch.get()).await,
                    resolver.register(start.epoch.get()).await,
                );
                let (Ok(votes), Ok(certificates), Ok(resolver)) = channels else {
                    debug!(epoch = %start.epoch, "the network is closed");
                    break;
                };
                let engine = simplex::Engine::new(
                    context.child("simplex").with_attribute("epoch", start.epoch),
                    self.engine_config(start.epoch, scheme.as_ref().clone(), start.anchor),
                );
                let handle = engine.start(votes, certificates, resolver);
                if let Some((old, handle)) = current.replace((start.epoch, handle)) {
                    // Join it before deleting its journal: the engine's actors are aborted
                    // only once its own task has seen the abort, and until then its voter may
                    // still sync the journal (a panic on the deleted blob).
                    handle.abort();
                    let _ = handle.await;
                    debug!(epoch = %old, "left epoch");
                }
                if let Some(previous) = start.epoch.get().checked_sub(1) {
                    remove_journal(&context, self.journal_partition(previous)).await;
                }
                hinted.clear();
                epoch_gauge.set(i64::try_from(start.epoch.get()).unwrap_or(i64::MAX));
                set_gauge.set(i64::try_from(start.participants.len()).unwrap_or(i64::MAX));
                voting_gauge.set(i64::from(scheme.me().is_some()));
                info!(
                    epoch = %start.epoch,
                    participants = start.participants.len(),
                    voting = scheme.me().is_some(),
                    "entered epoch"
                );
            },
            Some((their_epoch, (from, _))) = ahead.recv() else break => {
                let Some((ours, _)) = &current else { continue };
                if Epoch::new(their_epoch) <= *ours || !hinted.insert(from.clone()) {
                    continue;
                }
                // A peer votes in a later epoch: fetch our epoch's last finalized block from it.
                let boundary = self.epocher.last(*ours).expect("every epoch has a last height");
                debug!(%boundary, ?from, "a peer is in a later epoch; fetching our boundary");
                self.marshal.hint_finalized(boundary, NonEmptyVec::new(from));
            },
        }
        if let Some((_, handle)) = current {
            handle.abort();
        }
    }

    /// The partition of epoch `epoch`'s simplex journal.
    fn journal_partition(&self, epoch: impl std::fmt::Display) -> String {
        format!("{}-simplex-{epoch}", self.partition_prefix)
    }

    fn engine_config(&self, epoch: Epoch, scheme: Scheme, anchor: Digest) -> EngineConfig<E, B> {
        let timeouts = self.timeouts;
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker: self.blocker.clone(),
            automaton: self.application.clone(),
            relay: self.application.clone(),
            reporter: self.application.clone(),
            strategy: Sequential,
            partition: self.journal_partition(epoch),
            mailbox_size: MAILBOX_SIZE,
            epoch,
            floor: simplex::Floor::Genesis(anchor),
            replay_buffer: REPLAY_BUFFER,
            write_buffer: WRITE_BUFFER,
            page_cache: self.page_cache.clone(),
            leader_timeout: timeouts.leader,
            certification_timeout: timeouts.certification,
            timeout_retry: timeouts.retry,
            view_retention: ViewDelta::new(VIEW_RETENTION),
            skip: SkipPolicy::Enabled {
                timeout: timeouts.skip,
                budget: SkipBudget::Participants,
            },
            fetch_timeout: NonZeroDuration::new(timeouts.fetch).expect("non-zero fetch timeout"),
            fetch_retry_delay: Duration::from_millis(100),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        }
    }
}

/// Deletes a finished epoch's simplex journal `partition` (nothing if it is already gone).
async fn remove_journal(storage: &impl Storage, partition: String) {
    match storage.remove(&partition, None).await {
        Ok(()) => debug!(partition, "deleted a finished epoch's journal"),
        Err(commonware_runtime::Error::PartitionMissing(_)) => {}
        Err(error) => warn!(partition, %error, "could not delete a finished epoch's journal"),
    }
}

/// The epoch a node whose finalized height is `height` runs: the one the next block belongs to.
pub fn epoch_after(epocher: &FixedEpocher, height: u64) -> Epoch {
    epocher
        .containing(Height::new(height.saturating_add(1)))
        .expect("a fixed epocher covers every height")
        .epoch()
}

/// Whether `height` is the last of its epoch (applying it changes the validator set).
pub fn is_boundary(epocher: &FixedEpocher, height: u64) -> bool {
    let epoch = epocher
        .containing(Height::new(height))
        .expect("a fixed epocher covers every height")
        .epoch();
    epocher.last(epoch) == Some(Height::new(height))
}

impl<E, B> std::fmt::Debug for Orchestrator<E, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("partition_prefix", &self.partition_prefix)
            .finish_non_exhaustive()
    }
}

//! Finalized blocks, from marshal to the ledger.
//!
//! marshal reports `Update::Block` for each finalized block, in height order, only after the
//! block and its finalization are durable in its archives. [`FinalizerMailbox`] (the reporter
//! marshal calls, synchronously) queues each block with its acknowledgement; [`run`] applies
//! them one at a time to the finalized state through [`Chain::finalize`] and only then
//! acknowledges, so marshal's processed height never passes what the ledger has applied. The
//! queue is bounded by marshal itself: it hands out at most `max_pending_acks` blocks before
//! it waits for acknowledgements. Tips carry no durability and are ignored. Each new block's
//! outcome is recorded on disk ([`crate::outcomes`]) before the block is published or
//! acknowledged.

use std::sync::Arc;

use commonware_actor::Feedback;
use commonware_consensus::Reporter;
use commonware_consensus::marshal::Update;
use commonware_cryptography::Digested;
use commonware_utils::Acknowledgement;
use commonware_utils::acknowledgement::Exact;
use futures::StreamExt;
use futures::channel::mpsc;
use tracing::debug;

use commonware_consensus::types::FixedEpocher;
use tracing::warn;

use crate::block::{ChainBlock, to_digest};
use crate::chain::{Chain, FinalizedBlock};
use crate::epochs::{self, EpochMailbox, EpochStart};
use crate::keys;
use crate::outcomes::{OutcomeRecord, Outcomes, Stopped};
use crate::snapshots::SnapshotWriter;

type Queued = (Digested<ChainBlock>, Exact);

/// The reporter marshal delivers finalized blocks to.
#[derive(Debug, Clone)]
pub struct FinalizerMailbox {
    sender: mpsc::UnboundedSender<Queued>,
}

/// The receiving end, consumed by [`run`].
#[derive(Debug)]
pub struct FinalizerQueue {
    receiver: mpsc::UnboundedReceiver<Queued>,
}

/// A mailbox and the queue behind it.
pub fn channel() -> (FinalizerMailbox, FinalizerQueue) {
    let (sender, receiver) = mpsc::unbounded();
    (FinalizerMailbox { sender }, FinalizerQueue { receiver })
}

impl Reporter for FinalizerMailbox {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Update::Tip(..) => Feedback::Ok,
            Update::Block(block, ack) => match self.sender.unbounded_send((block, ack)) {
                Ok(()) => Feedback::Ok,
                Err(_) => Feedback::Closed,
            },
        }
    }
}

/// Where epoch boundaries are announced.
#[derive(Debug, Clone)]
pub struct Epochs {
    /// Epoch boundaries.
    pub epocher: FixedEpocher,
    /// The orchestrator's mailbox.
    pub mailbox: EpochMailbox,
}

/// Applies one finalized block to `chain`, records its outcome durably in `outcomes`, then
/// publishes it; the block with its outcome if it was new. Record before publish: a
/// subscriber that hears of a block can always read its outcome back (see [`crate::outcomes`]).
pub async fn apply(
    chain: &Chain,
    outcomes: &Outcomes,
    block: &ChainBlock,
) -> Result<Option<Arc<FinalizedBlock>>, Stopped> {
    let Some(finalized) = chain.finalize(block) else {
        return Ok(None);
    };
    let record = OutcomeRecord {
        txs_before: 0, // numbered by the archive
        hash: finalized.block.hash(),
        state_root: finalized.state_root,
        receipts: finalized.receipts.clone(),
        events: finalized.events.clone(),
    };
    outcomes
        .record(block.header().height, to_digest(block.hash()), record)
        .await?;
    chain.publish(finalized.clone());
    Ok(Some(finalized))
}

/// Applies queued finalized blocks to `chain` and acknowledges each after it is applied;
/// offers each new finalized state to `snapshots`, and after an epoch's last block records the
/// next validator set's proof (with `snapshots`) and asks the orchestrator to enter the next
/// epoch with the participants the new state names.
pub async fn run(
    chain: Chain,
    outcomes: Outcomes,
    mut queue: FinalizerQueue,
    snapshots: Option<SnapshotWriter>,
    epochs: Epochs,
) {
    while let Some((block, ack)) = queue.receiver.next().await {
        let height = block.inner().header().height;
        let Ok(applied) = apply(&chain, &outcomes, block.inner()).await else {
            // Shutting down: unacknowledged, so marshal redelivers the block after a restart.
            return;
        };
        let applied = applied.is_some();
        debug!(height, applied, "finalized");
        if applied && let Some(writer) = &snapshots {
            writer.offer(&chain.finalized());
        }
        if epochs::is_boundary(&epochs.epocher, height) {
            enter_next(&chain, &epochs, snapshots.as_ref(), height, block.inner());
        }
        ack.acknowledge();
    }
}

fn enter_next(
    chain: &Chain,
    epochs: &Epochs,
    snapshots: Option<&SnapshotWriter>,
    height: u64,
    block: &ChainBlock,
) {
    let state = chain.finalized();
    if state.height() != height {
        // A redelivered boundary from an older epoch: already entered the next one.
        return;
    }
    // Before the acknowledgement, so a crash before it is durable redelivers the block.
    if let Some(writer) = snapshots {
        writer.record_boundary(&state);
    }
    let epoch = epochs::epoch_after(&epochs.epocher, height);
    match keys::validator_set(&state) {
        Ok(participants) => epochs.mailbox.enter(EpochStart {
            epoch,
            participants,
            anchor: to_digest(block.hash()),
        }),
        Err(error) => warn!(%error, epoch = %epoch, "the next validator set has an invalid key"),
    }
}

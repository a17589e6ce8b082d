//! Finalized blocks, from marshal to the ledger.
//!
//! marshal reports `Update::Block` for each finalized block, in height order, only after the
//! block and its finalization are durable in its archives. [`FinalizerMailbox`] (the reporter
//! marshal calls, synchronously) queues each block with its acknowledgement; [`run`] applies
//! them one at a time to the finalized state through [`Chain::finalize`] and only then
//! acknowledges, so marshal's processed height never passes what the ledger has applied. The
//! queue is bounded by marshal itself: it hands out at most `max_pending_acks` blocks before
//! it waits for acknowledgements. Tips carry no durability and are ignored.

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
use crate::chain::Chain;
use crate::epochs::{self, EpochMailbox, EpochStart};
use crate::keys;
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

/// Applies queued finalized blocks to `chain` and acknowledges each after it is applied;
/// offers each new finalized state to `snapshots`, and after an epoch's last block records the
/// next validator set's proof (with `snapshots`) and asks the orchestrator to enter the next
/// epoch with the participants the new state names.
pub async fn run(
    chain: Chain,
    mut queue: FinalizerQueue,
    snapshots: Option<SnapshotWriter>,
    epochs: Epochs,
) {
    while let Some((block, ack)) = queue.receiver.next().await {
        let height = block.inner().header().height;
        let applied = chain.finalize(block.inner());
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

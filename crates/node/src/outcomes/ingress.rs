//! The outcome archive's mailbox: what the finalizer and the API send its [`super::actor`].

use std::sync::{Arc, Mutex};

use futures::SinkExt;
use futures::channel::{mpsc, oneshot};

use aifactory_types::Hash;

use super::{OutcomeRecord, TxLocation};
use crate::block::{Digest, to_digest};

/// A request to the actor.
pub(crate) enum Message {
    /// Record `record` at `height` under the block digest `key`, and its transactions'
    /// locations, synced; answer when durable. `record.txs_before` is assigned here.
    Record {
        height: u64,
        key: Digest,
        record: OutcomeRecord,
        durable: oneshot::Sender<()>,
    },
    /// The record at `height`, if there is one.
    Get {
        height: u64,
        reply: oneshot::Sender<Option<OutcomeRecord>>,
    },
    /// Where the transaction with this id is, if recorded.
    Locate {
        tx: Digest,
        reply: oneshot::Sender<Option<TxLocation>>,
    },
}

/// The actor has stopped (the node is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the outcome archive has stopped")]
pub struct Stopped;

/// A handle on the outcome archive; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outcomes {
    sender: mpsc::Sender<Message>,
    /// The contiguous run of recorded heights that ends at the highest, as of the last
    /// durable record: `(lowest, tip)`.
    range: Arc<Mutex<Option<(u64, u64)>>>,
}

impl Outcomes {
    pub(crate) fn new(
        sender: mpsc::Sender<Message>,
        range: Arc<Mutex<Option<(u64, u64)>>>,
    ) -> Self {
        Outcomes { sender, range }
    }

    /// Records the outcome of the finalized block at `height` and where its transactions
    /// are, and returns once both are on disk. A height already recorded is left as it is.
    pub async fn record(
        &self,
        height: u64,
        key: Digest,
        record: OutcomeRecord,
    ) -> Result<(), Stopped> {
        let (durable, done) = oneshot::channel();
        let message = Message::Record {
            height,
            key,
            record,
            durable,
        };
        self.sender
            .clone()
            .send(message)
            .await
            .map_err(|_| Stopped)?;
        done.await.map_err(|_| Stopped)
    }

    /// The outcome recorded at `height`, if any (`None` also once the node is stopping).
    pub async fn get(&self, height: u64) -> Option<OutcomeRecord> {
        let (reply, answer) = oneshot::channel();
        let message = Message::Get { height, reply };
        self.sender.clone().send(message).await.ok()?;
        answer.await.ok()?
    }

    /// Where the finalized transaction `tx` is, if its block's outcome is recorded.
    pub async fn locate(&self, tx: Hash) -> Option<TxLocation> {
        let (reply, answer) = oneshot::channel();
        let message = Message::Locate {
            tx: to_digest(tx),
            reply,
        };
        self.sender.clone().send(message).await.ok()?;
        answer.await.ok()?
    }

    /// The recorded heights a reader can rely on, `(lowest, tip)`: the contiguous run ending
    /// at the highest recorded one (older runs, left by a node upgraded from before outcomes
    /// were kept, are not offered), or `None` before the first record.
    pub fn range(&self) -> Option<(u64, u64)> {
        *self.range.lock().expect("no panic holds the range lock")
    }
}

//! The outcome archive's loop: one task owns the archive (its writes consume it) and answers
//! the [`Outcomes`] mailbox in order, so a read after a record sees it.

use std::sync::{Arc, Mutex};

use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Metrics, Spawner, Storage};
use commonware_storage::archive::{Archive as _, Identifier, immutable};
use futures::StreamExt;
use futures::channel::mpsc;

use super::ingress::Message;
use super::{OutcomeRecord, Outcomes};
use crate::block::Digest;
use crate::engine::{MAILBOX_SIZE, archive_config};

/// The task that owns the archive.
pub struct Actor<E: Storage + Metrics + Clock> {
    archive: immutable::Archive<E, Digest, OutcomeRecord>,
    mailbox: mpsc::Receiver<Message>,
    range: Arc<Mutex<Option<(u64, u64)>>>,
}

/// Opens (or creates) the outcome archive under `prefix`; returns its actor, to start, and
/// the handle on it.
pub async fn init<E: Storage + Metrics + Clock>(
    context: E,
    prefix: &str,
    page_cache: &CacheRef,
) -> (Actor<E>, Outcomes) {
    let archive = immutable::Archive::init(
        context,
        archive_config(prefix, "block-outcomes", page_cache, ()),
    )
    .await
    .expect("the block outcomes archive opens");
    let range = Arc::new(Mutex::new(last_run(&archive)));
    let (sender, mailbox) = mpsc::channel(MAILBOX_SIZE.get());
    let outcomes = Outcomes::new(sender, range.clone());
    let actor = Actor {
        archive,
        mailbox,
        range,
    };
    (actor, outcomes)
}

/// The contiguous run of indices that ends at the archive's highest.
fn last_run<E: Storage + Metrics + Clock>(
    archive: &immutable::Archive<E, Digest, OutcomeRecord>,
) -> Option<(u64, u64)> {
    archive.ranges().last()
}

impl<E: Storage + Metrics + Clock + Spawner> Actor<E> {
    /// Runs the loop on `context` until every handle is dropped.
    pub fn start(self, context: E) -> commonware_runtime::Handle<()> {
        context.spawn(move |_| self.run())
    }

    async fn run(mut self) {
        while let Some(message) = self.mailbox.next().await {
            match message {
                Message::Record {
                    height,
                    key,
                    record,
                    durable,
                } => {
                    // A failed write is fatal: the node must not publish what it did not keep.
                    self.archive = self
                        .archive
                        .put_sync(height, key, &record)
                        .await
                        .unwrap_or_else(|e| panic!("recording block {height}'s outcome: {e}"));
                    *self.range.lock().expect("no panic holds the range lock") =
                        last_run(&self.archive);
                    let _ = durable.send(());
                }
                Message::Get { height, reply } => {
                    let record = self
                        .archive
                        .get(Identifier::Index(height))
                        .await
                        .unwrap_or_else(|e| panic!("reading block {height}'s outcome: {e}"));
                    let _ = reply.send(record);
                }
            }
        }
    }
}

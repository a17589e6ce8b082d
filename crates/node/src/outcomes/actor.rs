//! The outcome archives' loop: one task owns both archives (their writes consume them) and
//! answers the [`Outcomes`] mailbox in order, so a read after a record sees it.

use std::sync::{Arc, Mutex};

use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Metrics, Spawner, Storage};
use commonware_storage::archive::{Archive as _, Identifier, immutable};
use futures::StreamExt;
use futures::channel::mpsc;

use super::ingress::Message;
use super::{OutcomeRecord, Outcomes, TxLocation};
use crate::block::{Digest, to_digest};
use crate::engine::{MAILBOX_SIZE, archive_config};

/// The task that owns the archives.
pub struct Actor<E: Storage + Metrics + Clock> {
    archive: immutable::Archive<E, Digest, OutcomeRecord>,
    txs: immutable::Archive<E, Digest, TxLocation>,
    /// The index the next recorded transaction gets in `txs`.
    txs_next: u64,
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
        context.child("blocks"),
        archive_config(prefix, "block-outcomes", page_cache, ()),
    )
    .await
    .expect("the block outcomes archive opens");
    let txs = immutable::Archive::init(
        context.child("txs"),
        archive_config(prefix, "tx-locations", page_cache, ()),
    )
    .await
    .expect("the transaction locations archive opens");
    let txs_next = match archive.last_index() {
        None => 0,
        Some(last) => {
            let record: OutcomeRecord = archive
                .get(Identifier::Index(last))
                .await
                .expect("the last block outcome reads")
                .expect("the last index has a record");
            record.txs_before + record.receipts.len() as u64
        }
    };
    let range = Arc::new(Mutex::new(last_run(&archive)));
    let (sender, mailbox) = mpsc::channel(MAILBOX_SIZE.get());
    let outcomes = Outcomes::new(sender, range.clone());
    let actor = Actor {
        archive,
        txs,
        txs_next,
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

    /// Records the block at `height` unless it is already: its transactions' locations,
    /// synced, then its outcome, synced. A failed write is fatal: the node must not publish
    /// what it did not keep.
    async fn record(mut self, height: u64, key: Digest, mut record: OutcomeRecord) -> Self {
        let recorded = self
            .archive
            .has(Identifier::Index(height))
            .await
            .unwrap_or_else(|e| panic!("reading block {height}'s outcome: {e}"));
        if recorded {
            return self;
        }
        record.txs_before = self.txs_next;
        for (offset, receipt) in (0u64..).zip(&record.receipts) {
            let location = TxLocation {
                height,
                index: u32::try_from(offset).expect("blocks hold fewer than 2^32 transactions"),
            };
            self.txs = self
                .txs
                .put(
                    record.txs_before + offset,
                    to_digest(receipt.tx_hash),
                    &location,
                )
                .await
                .unwrap_or_else(|e| panic!("recording block {height}'s transactions: {e}"));
        }
        self.txs = self
            .txs
            .sync()
            .await
            .unwrap_or_else(|e| panic!("syncing block {height}'s transactions: {e}"));
        self.txs_next = record.txs_before + record.receipts.len() as u64;
        self.archive = self
            .archive
            .put_sync(height, key, &record)
            .await
            .unwrap_or_else(|e| panic!("recording block {height}'s outcome: {e}"));
        *self.range.lock().expect("no panic holds the range lock") = last_run(&self.archive);
        self
    }

    async fn run(mut self) {
        loop {
            let Some(message) = self.mailbox.next().await else {
                return;
            };
            match message {
                Message::Record {
                    height,
                    key,
                    record,
                    durable,
                } => {
                    self = self.record(height, key, record).await;
                    let _ = durable.send(());
                }
                Message::Locate { tx, reply } => {
                    let location = self
                        .txs
                        .get(Identifier::Key(&tx))
                        .await
                        .unwrap_or_else(|e| panic!("reading transaction {tx}'s location: {e}"));
                    let _ = reply.send(location);
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

//! The gateway's durable record of the highest voucher of each channel: what it may claim.
//!
//! An append-only log of fixed 124-byte records, `channel u64 ‖ amount u64 ‖ signature [64] ‖
//! input hash [32] ‖ check [8]`, where `check` is the first 8 bytes of the record's hash in
//! [`VOUCHER_LOG_DOMAIN`]. A voucher is written and synced before the answer it pays for is
//! sent, by one writer thread that takes every record waiting and syncs them together (group
//! commit: a slow disk makes the next batch bigger, not the queue longer).
//!
//! Reopening keeps, per channel, the record with the highest amount. A short or bad last
//! record is a write torn by a crash and is cut off; a bad record followed by a good one is
//! corruption, and the log refuses to open, naming the offset, rather than guess. When the log
//! passes [`COMPACT_BYTES`] it is rewritten with one record per channel, crash-safely (a
//! synced temporary file renamed over it), so a crash leaves the old log or the new, whole.
//!
//! There is no lock to leave behind: a channel's state is its highest record, here, and what
//! the chain says was claimed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use aifactory_crypto::Domain;
use aifactory_store::durable::{Access, sync_dir, write_durably};
use aifactory_types::lifecycle::ChannelId;
use aifactory_types::{Amount, Hash, Signature};
use tokio::sync::oneshot;

/// Domain of a record's check.
pub static VOUCHER_LOG_DOMAIN: Domain = Domain::new("aifactory 2026-12 gateway voucher log v1");

/// Bytes of one record.
pub const RECORD_BYTES: usize = 8 + 8 + 64 + 32 + 8;

/// Size past which the log is rewritten with one record per channel.
pub const COMPACT_BYTES: u64 = 64 * 1024 * 1024;

/// Most records one group commit writes.
const BATCH_RECORDS_MAX: usize = 4_096;

/// A consumer's voucher as the gateway accepted it, with the input it paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoucherRecord {
    /// The channel.
    pub channel: ChannelId,
    /// The cumulative amount.
    pub amount: Amount,
    /// The consumer's signature over it.
    pub signature: Signature,
    /// Plain BLAKE3 of the input it paid for (so a retried request is recognised).
    pub input_hash: Hash,
}

impl VoucherRecord {
    fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut bytes = [0u8; RECORD_BYTES];
        bytes[..8].copy_from_slice(&self.channel.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.amount.to_le_bytes());
        bytes[16..80].copy_from_slice(&self.signature.0);
        bytes[80..112].copy_from_slice(&self.input_hash.0);
        let check = VOUCHER_LOG_DOMAIN.hash(&[&bytes[..112]]);
        bytes[112..].copy_from_slice(&check.0[..8]);
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; RECORD_BYTES] = bytes.try_into().ok()?;
        let check = VOUCHER_LOG_DOMAIN.hash(&[&bytes[..112]]);
        if check.0[..8] != bytes[112..] {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Some(VoucherRecord {
            channel: u64_at(0),
            amount: u64_at(8),
            signature: Signature(bytes[16..80].try_into().expect("64 bytes")),
            input_hash: Hash(bytes[80..112].try_into().expect("32 bytes")),
        })
    }
}

/// Why the log cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum VoucherLogError {
    /// The disk failed.
    #[error("voucher log {path}: {source}")]
    Io {
        /// The log.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A bad record is followed by good ones: not a torn write.
    #[error(
        "voucher log {path} is corrupt at byte {offset}: a bad record is followed by good ones; \
         restore it from a backup (the chain's claims are safe either way)"
    )]
    Corrupt {
        /// The log.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
    },
}

/// The highest record of every channel, read from the log at `path` (cutting off a torn tail).
fn recover(path: &Path) -> Result<(BTreeMap<ChannelId, VoucherRecord>, u64), VoucherLogError> {
    let io_error = |source| VoucherLogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes).map_err(io_error)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(e)),
    }
    let mut highest: BTreeMap<ChannelId, VoucherRecord> = BTreeMap::new();
    let mut good_end = 0usize;
    let mut first_bad: Option<usize> = None;
    for (index, chunk) in bytes.chunks(RECORD_BYTES).enumerate() {
        let offset = index * RECORD_BYTES;
        match VoucherRecord::decode(chunk) {
            Some(record) => {
                if let Some(bad) = first_bad {
                    return Err(VoucherLogError::Corrupt {
                        path: path.to_owned(),
                        offset: bad as u64,
                    });
                }
                keep_highest(&mut highest, record);
                good_end = offset + RECORD_BYTES;
            }
            None => {
                first_bad.get_or_insert(offset);
            }
        }
    }
    if good_end < bytes.len() {
        // A torn last write: cut it off so appends follow the last good record.
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error)?;
        file.set_len(good_end as u64).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
    }
    Ok((highest, good_end as u64))
}

fn keep_highest(highest: &mut BTreeMap<ChannelId, VoucherRecord>, record: VoucherRecord) {
    let entry = highest.entry(record.channel).or_insert(record);
    if record.amount > entry.amount {
        *entry = record;
    }
}

/// A request to the writer: records to make durable, and who waits for them.
type Pending = (Vec<VoucherRecord>, oneshot::Sender<io::Result<()>>);

/// The log's writer: a thread that appends and syncs every record waiting, then answers.
#[derive(Debug, Clone)]
pub struct VoucherLog {
    queue: mpsc::Sender<Pending>,
}

impl VoucherLog {
    /// Opens (or creates) the log at `path`, recovering it, and starts its writer; returns the
    /// writer and the highest record of every channel.
    pub fn open(
        path: &Path,
    ) -> Result<(Self, BTreeMap<ChannelId, VoucherRecord>), VoucherLogError> {
        let (highest, len) = recover(path)?;
        let io_error = |source| VoucherLogError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io_error)?;
        }
        let (queue, requests) = mpsc::channel::<Pending>();
        let mut writer = Writer {
            path: path.to_owned(),
            file,
            len,
            highest: highest.clone(),
        };
        std::thread::Builder::new()
            .name("voucher-log".into())
            .spawn(move || writer.run(requests))
            .map_err(io_error)?;
        Ok((VoucherLog { queue }, highest))
    }

    /// Makes `record` durable; returns once it is synced to disk. An error means the disk
    /// failed: the gateway must not answer, and should stop.
    pub async fn write(&self, record: VoucherRecord) -> io::Result<()> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((vec![record], done))
            .map_err(|_| io::Error::other("the voucher log's writer stopped"))?;
        wait.await
            .map_err(|_| io::Error::other("the voucher log's writer stopped"))?
    }
}

struct Writer {
    path: PathBuf,
    file: File,
    len: u64,
    highest: BTreeMap<ChannelId, VoucherRecord>,
}

impl Writer {
    fn run(&mut self, requests: mpsc::Receiver<Pending>) {
        while let Ok(first) = requests.recv() {
            let mut batch = vec![first];
            let mut records = batch[0].0.len();
            while records < BATCH_RECORDS_MAX {
                match requests.try_recv() {
                    Ok(next) => {
                        records += next.0.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            let result = self.append(batch.iter().flat_map(|(r, _)| r.iter().copied()));
            let failed = result.is_err();
            for (_, done) in batch {
                let _ = done.send(match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                });
            }
            if failed {
                // A disk that failed once is not written again: every later write fails.
                return;
            }
        }
    }

    fn append(&mut self, records: impl Iterator<Item = VoucherRecord>) -> io::Result<()> {
        let mut bytes = Vec::new();
        for record in records {
            bytes.extend_from_slice(&record.encode());
            keep_highest(&mut self.highest, record);
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.len += bytes.len() as u64;
        if self.len > COMPACT_BYTES {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log with one record per channel, crash-safely, and appends to that.
    fn compact(&mut self) -> io::Result<()> {
        let bytes: Vec<u8> = self.highest.values().flat_map(|r| r.encode()).collect();
        write_durably(&self.path, &bytes, Access::Default)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.len = bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record(channel: u64, amount: u64) -> VoucherRecord {
        VoucherRecord {
            channel,
            amount,
            signature: Signature([amount as u8; 64]),
            input_hash: Hash([channel as u8; 32]),
        }
    }

    fn write_all(path: &Path, records: &[VoucherRecord]) -> BTreeMap<ChannelId, VoucherRecord> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (log, highest) = VoucherLog::open(path).unwrap();
        runtime.block_on(async {
            for r in records {
                log.write(*r).await.unwrap();
            }
        });
        highest
    }

    #[test]
    fn reopening_keeps_the_highest_voucher_of_each_channel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouchers.log");
        write_all(
            &path,
            &[record(1, 10), record(2, 5), record(1, 30), record(1, 20)],
        );
        let (_, highest) = VoucherLog::open(&path).unwrap();
        assert_eq!(highest.len(), 2);
        assert_eq!(highest[&1], record(1, 30));
        assert_eq!(highest[&2], record(2, 5));
    }

    /// A crash can cut the last write anywhere: every cut reopens to the records before it,
    /// and appending after a reopen continues the log. A flipped byte in the last record is a
    /// torn tail; in an earlier one, corruption that refuses to open.
    #[test]
    fn torn_tails_are_cut_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouchers.log");
        let records = [record(1, 10), record(2, 20), record(1, 40)];
        write_all(&path, &records);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(whole.len(), 3 * RECORD_BYTES);
        for cut in 0..whole.len() {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let (_, highest) = VoucherLog::open(&path).unwrap();
            let kept = cut / RECORD_BYTES;
            let mut expected = BTreeMap::new();
            for r in &records[..kept] {
                keep_highest(&mut expected, *r);
            }
            assert_eq!(highest, expected, "cut at {cut}");
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                (kept * RECORD_BYTES) as u64
            );
        }
        for flip in 0..whole.len() {
            let mut bytes = whole.clone();
            bytes[flip] ^= 0x40;
            std::fs::write(&path, &bytes).unwrap();
            let opened = VoucherLog::open(&path);
            if flip >= 2 * RECORD_BYTES {
                let (_, highest) = opened.unwrap();
                assert_eq!(
                    highest[&1],
                    record(1, 10),
                    "flip at {flip}: the tail is cut"
                );
            } else {
                let offset = (flip / RECORD_BYTES * RECORD_BYTES) as u64;
                assert!(
                    matches!(opened, Err(VoucherLogError::Corrupt { offset: o, .. }) if o == offset),
                    "flip at {flip}"
                );
            }
        }
    }

    proptest! {
        /// However writes, crashes (a cut anywhere in the last batch) and compactions
        /// interleave, a reopened log holds exactly one record per channel, at least the
        /// highest amount acknowledged before the crash.
        #[test]
        fn one_state_per_channel_after_writes_crashes_and_compaction(
            batches in prop::collection::vec(prop::collection::vec((0u64..4, 1u64..1_000), 1..8), 1..6),
            cut in any::<prop::sample::Index>(),
            compact_after in any::<prop::sample::Index>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("vouchers.log");
            let mut acknowledged: BTreeMap<ChannelId, Amount> = BTreeMap::new();
            let compact_at = compact_after.index(batches.len());
            for (i, batch) in batches.iter().enumerate() {
                let records: Vec<VoucherRecord> = batch.iter().map(|&(c, a)| record(c, a)).collect();
                write_all(&path, &records);
                for r in &records {
                    let a = acknowledged.entry(r.channel).or_default();
                    *a = (*a).max(r.amount);
                }
                if i == compact_at {
                    let (highest, len) = recover(&path).unwrap();
                    let mut writer = Writer {
                        path: path.clone(),
                        file: OpenOptions::new().append(true).open(&path).unwrap(),
                        len,
                        highest,
                    };
                    writer.compact().unwrap();
                }
            }
            // A crash in a write that was never acknowledged: a partial record at the end.
            let torn = record(9, 1).encode();
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            file.write_all(&torn[..cut.index(RECORD_BYTES)]).unwrap();
            drop(file);
            let (_, highest) = VoucherLog::open(&path).unwrap();
            prop_assert_eq!(highest.keys().copied().collect::<Vec<_>>(), acknowledged.keys().copied().collect::<Vec<_>>());
            for (channel, amount) in &acknowledged {
                prop_assert_eq!(highest[channel].amount, *amount);
            }
        }
    }
}

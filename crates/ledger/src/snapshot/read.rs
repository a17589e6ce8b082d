//! Reading a snapshot from untrusted bytes: the header, each table's slots (every count
//! capped before anything is allocated for it), the checksum; then the tables are rebuilt
//! (index, tree) and the state is refused unless it hashes to the root it claims and holds
//! together (metadata present, heights agree, parameters valid, the token supply fits).
//!
//! The checksum is compared before any tree is hashed, so corrupted input costs a decode and
//! no more.

use std::io::{self, BufRead, Read};

use borsh::BorshDeserialize;

use aifactory_types::limits::CHAIN_ID_BYTES_MAX;
use aifactory_types::{Account, Address, Hash};

use super::checksum::{
    CHECKSUM_BYTES, ChecksumReader, HEADER_CHECKSUM, HEADER_PREFIX_BYTES, HEADER_SUFFIX_BYTES,
    SNAPSHOT_CHECKSUM,
};
use super::{
    MAGIC, SLOTS_RESERVED_FIRST, SNAPSHOT_VERSION, SnapshotError, SnapshotHeader, SnapshotLimits,
};
use crate::state::{Build, State, Table, TableDef, Tables};

/// A table's slots as read, before the table is rebuilt from them.
type Slots<K, V> = Vec<Option<(K, V)>>;

/// Reads every table's section from a stream, in tag order, into tables whose trees are not
/// hashed yet.
struct TableReader<'a, R, F> {
    reader: &'a mut ChecksumReader<R, F>,
    limits: &'a SnapshotLimits,
}

impl<R: Read, F: FnMut(&[u8])> Build for TableReader<'_, R, F> {
    type Error = SnapshotError;

    fn build<T: TableDef>(&mut self) -> Result<Table<T::Key, T::Value>, SnapshotError> {
        let slots_max = T::snapshot_slots_max(self.limits);
        let slots = read_slots(self.reader, T::TAG, T::NAME, slots_max)?;
        Table::from_slots(T::TAG, T::ORDERED, slots).map_err(|slot| SnapshotError::Invalid {
            reason: format!("{}: slot {slot} repeats an earlier slot's key", T::NAME),
        })
    }
}

impl State {
    /// Reads a snapshot that [`State::write_snapshot`] wrote, leaving `input` just after it;
    /// refuses anything torn, corrupted, over `limits`, or not hashing to its recorded root.
    ///
    /// The result is self-consistent, not trusted: check its [`State::snapshot_header`]
    /// against a verified block header and the chain id against genesis before using it.
    /// `input` should be buffered: the reader asks for a few bytes at a time.
    pub fn read_snapshot(
        input: &mut impl Read,
        limits: &SnapshotLimits,
    ) -> Result<State, SnapshotError> {
        let mut hasher = SNAPSHOT_CHECKSUM.hasher();
        let mut reader = ChecksumReader::new(input, |bytes: &[u8]| {
            hasher.update(bytes);
        });
        let header = read_header(&mut reader)?;
        let tables = Tables::build(&mut TableReader {
            reader: &mut reader,
            limits,
        })?;
        let end = reader.offset();
        let recorded = reader
            .read_unabsorbed::<CHECKSUM_BYTES>()
            .map_err(|e| error_at(&reader, e))?;
        drop(reader);
        let computed = Hash::from(hasher.finalize());
        if computed.0 != recorded {
            return Err(SnapshotError::ChecksumMismatch {
                offset: end,
                recorded: Hash(recorded),
                computed,
            });
        }
        restore(header, tables)
    }
}

impl State {
    /// Reads a snapshot that must be the whole of `input` (a file's contents, say): refuses it
    /// as [`State::read_snapshot`] does, and with [`SnapshotError::TrailingBytes`] if anything
    /// follows its end.
    pub fn read_snapshot_to_end(
        input: &mut impl BufRead,
        limits: &SnapshotLimits,
    ) -> Result<State, SnapshotError> {
        let state = State::read_snapshot(input, limits)?;
        if !input.fill_buf().map_err(SnapshotError::Io)?.is_empty() {
            return Err(SnapshotError::TrailingBytes);
        }
        Ok(state)
    }
}

/// Reads a snapshot's header and checks its checksum, reading nothing after it: a cheap look
/// at what a snapshot holds. Like the rest of the snapshot, it is trusted only once matched.
pub fn read_snapshot_header(input: &mut impl Read) -> Result<SnapshotHeader, SnapshotError> {
    read_header(&mut ChecksumReader::new(input, |_: &[u8]| {}))
}

/// The error for `error`, which reading at the reader's offset produced.
fn error_at<R: Read, F: FnMut(&[u8])>(
    reader: &ChecksumReader<R, F>,
    error: io::Error,
) -> SnapshotError {
    let offset = reader.offset();
    if reader.ended() {
        SnapshotError::Truncated { offset }
    } else if error.kind() == io::ErrorKind::InvalidData {
        SnapshotError::Malformed {
            offset,
            reason: error.to_string(),
        }
    } else {
        SnapshotError::Io(error)
    }
}

fn malformed<R: Read, F: FnMut(&[u8])>(
    reader: &ChecksumReader<R, F>,
    reason: String,
) -> SnapshotError {
    SnapshotError::Malformed {
        offset: reader.offset(),
        reason,
    }
}

fn take<const N: usize, R: Read, F: FnMut(&[u8])>(
    reader: &mut ChecksumReader<R, F>,
) -> Result<[u8; N], SnapshotError> {
    let mut bytes = [0u8; N];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| error_at(reader, e))?;
    Ok(bytes)
}

fn take_u32<R: Read, F: FnMut(&[u8])>(
    reader: &mut ChecksumReader<R, F>,
) -> Result<u32, SnapshotError> {
    take::<4, _, _>(reader).map(u32::from_le_bytes)
}

fn read_header<R: Read, F: FnMut(&[u8])>(
    reader: &mut ChecksumReader<R, F>,
) -> Result<SnapshotHeader, SnapshotError> {
    let magic = take::<8, _, _>(reader)?;
    if magic != MAGIC {
        return Err(SnapshotError::NotASnapshot { got: magic });
    }
    let version = take_u32(reader)?;
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnsupportedVersion {
            got: version,
            supported: SNAPSHOT_VERSION,
        });
    }
    let chain_id_len = take_u32(reader)?;
    if chain_id_len as usize > CHAIN_ID_BYTES_MAX {
        return Err(SnapshotError::TooMany {
            what: "chain id bytes",
            count: chain_id_len.into(),
            max: CHAIN_ID_BYTES_MAX as u64,
        });
    }
    let mut bytes = Vec::with_capacity(HEADER_PREFIX_BYTES + CHAIN_ID_BYTES_MAX);
    bytes.extend_from_slice(&magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&chain_id_len.to_le_bytes());
    let mut chain_id = vec![0u8; chain_id_len as usize];
    reader
        .read_exact(&mut chain_id)
        .map_err(|e| error_at(reader, e))?;
    bytes.extend_from_slice(&chain_id);
    let suffix = take::<HEADER_SUFFIX_BYTES, _, _>(reader)?;
    bytes.extend_from_slice(&suffix);
    let checksum = take::<CHECKSUM_BYTES, _, _>(reader)?;
    if HEADER_CHECKSUM.hash(&[&bytes]).0 != checksum {
        return Err(SnapshotError::HeaderCorrupted);
    }
    let chain_id = String::from_utf8(chain_id)
        .map_err(|_| malformed(reader, "the chain id is not UTF-8".into()))?;
    let (height, hashes) = suffix.split_at(8);
    let (block_hash, root) = hashes.split_at(32);
    Ok(SnapshotHeader {
        chain_id,
        height: u64::from_le_bytes(height.try_into().expect("8 bytes")),
        last_block_hash: Hash(block_hash.try_into().expect("32 bytes")),
        state_root: Hash(root.try_into().expect("32 bytes")),
    })
}

/// One table's slots. The vector grows by doubling, never past the declared count, so a
/// lying count costs at most twice what the bytes actually read justify.
fn read_slots<K, V, R, F>(
    reader: &mut ChecksumReader<R, F>,
    expected_tag: u8,
    what: &'static str,
    slots_max: u32,
) -> Result<Slots<K, V>, SnapshotError>
where
    K: BorshDeserialize,
    V: BorshDeserialize,
    R: Read,
    F: FnMut(&[u8]),
{
    let [got_tag] = take::<1, _, _>(reader)?;
    if got_tag != expected_tag {
        let reason = format!("table tag {got_tag} where table {expected_tag} belongs");
        return Err(malformed(reader, reason));
    }
    let count = take_u32(reader)?;
    if count > slots_max {
        return Err(SnapshotError::TooMany {
            what,
            count: count.into(),
            max: slots_max.into(),
        });
    }
    let count = count as usize;
    let mut slots = Vec::with_capacity(count.min(SLOTS_RESERVED_FIRST));
    for _ in 0..count {
        if slots.len() == slots.capacity() {
            slots.reserve_exact(slots.len().min(count - slots.len()));
        }
        let [present] = take::<1, _, _>(reader)?;
        let slot = match present {
            0 => None,
            1 => Some(read_row(reader)?),
            other => {
                return Err(malformed(
                    reader,
                    format!("slot marker {other}, not 0 or 1"),
                ));
            }
        };
        slots.push(slot);
    }
    Ok(slots)
}

fn read_row<K, V, R, F>(reader: &mut ChecksumReader<R, F>) -> Result<(K, V), SnapshotError>
where
    K: BorshDeserialize,
    V: BorshDeserialize,
    R: Read,
    F: FnMut(&[u8]),
{
    let key = K::deserialize_reader(reader).map_err(|e| error_at(reader, e))?;
    let value = V::deserialize_reader(reader).map_err(|e| error_at(reader, e))?;
    Ok((key, value))
}

/// Hashes the trees of checksummed tables and checks the state they make.
fn restore(header: SnapshotHeader, mut tables: Tables) -> Result<State, SnapshotError> {
    let height = singleton(tables.meta.slots(), "chain metadata")?.height;
    if height != header.height {
        return Err(SnapshotError::Invalid {
            reason: format!(
                "the header says height {} but the metadata {height}",
                header.height
            ),
        });
    }
    let params = singleton(tables.params.slots(), "parameters")?;
    params.validate().map_err(|e| SnapshotError::Invalid {
        reason: format!("the parameters are invalid: {e}"),
    })?;
    supply_fits(tables.accounts.slots())?;
    for table in tables.journaled_mut() {
        table.rebuild_tree();
    }
    let state = State::from_tables(header.chain_id, header.last_block_hash, tables);
    if state.root() != header.state_root {
        return Err(SnapshotError::RootMismatch {
            expected: header.state_root,
            actual: state.root(),
        });
    }
    Ok(state)
}

/// The only row of a table keyed by `()`, which every state has from genesis on.
fn singleton<'a, V>(slots: &'a [Option<((), V)>], what: &str) -> Result<&'a V, SnapshotError> {
    match slots {
        [Some(((), value))] => Ok(value),
        _ => Err(SnapshotError::Invalid {
            reason: format!("the {what} table must hold exactly one row"),
        }),
    }
}

/// Every token fits in an amount, as the ledger's arithmetic relies on.
fn supply_fits(accounts: &[Option<(Address, Account)>]) -> Result<(), SnapshotError> {
    accounts
        .iter()
        .flatten()
        .try_fold(0u64, |sum, (_, account)| sum.checked_add(account.total()?))
        .map(drop)
        .ok_or_else(|| SnapshotError::Invalid {
            reason: "the accounts hold more tokens than an amount can count".into(),
        })
}

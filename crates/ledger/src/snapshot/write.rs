//! Writing a snapshot: the header, every table slot by slot, the checksum; streamed through
//! a 64 KiB chunk, so writing a state of any size needs no more memory than that.

use std::io::{self, Write};

use borsh::BorshSerialize;

use aifactory_types::limits::CHAIN_ID_BYTES_MAX;

use super::checksum::{ChecksumWriter, HEADER_CHECKSUM, SNAPSHOT_CHECKSUM};
use super::{MAGIC, SNAPSHOT_VERSION, SnapshotHeader};
use crate::state::{State, Table, TableDef, Visit};

/// Writes every table's section to a stream, in tag order.
pub(super) struct TableWriter<W>(pub(super) W);

impl<W: Write> Visit for TableWriter<W> {
    type Error = io::Error;

    fn visit<T: TableDef>(&mut self, table: &Table<T::Key, T::Value>) -> io::Result<()> {
        write_table(&mut self.0, T::TAG, table.slots())
    }
}

impl State {
    /// Writes the state's snapshot to `out` (format in `docs/snapshot.md`) and flushes it;
    /// returns how many bytes it wrote.
    pub fn write_snapshot(&self, out: &mut impl Write) -> io::Result<u64> {
        assert!(self.is_sealed(), "snapshots are taken between blocks");
        let mut hasher = SNAPSHOT_CHECKSUM.hasher();
        let mut writer = ChecksumWriter::new(&mut *out, |chunk: &[u8]| {
            hasher.update(chunk);
        });
        writer.write_all(&header_bytes(&self.snapshot_header()))?;
        let mut tables = TableWriter(writer);
        self.tables.visit(&mut tables)?;
        let (out, written) = tables.0.finish()?;
        out.write_all(hasher.finalize().as_bytes())?;
        out.flush()?;
        Ok(written + 32)
    }

    /// What the state's snapshot would say about itself.
    pub fn snapshot_header(&self) -> SnapshotHeader {
        SnapshotHeader {
            chain_id: self.chain_id().to_owned(),
            height: self.height(),
            last_block_hash: self.last_block_hash(),
            state_root: self.root(),
        }
    }
}

/// The header's bytes, its checksum included.
pub(super) fn header_bytes(header: &SnapshotHeader) -> Vec<u8> {
    let chain_id = header.chain_id.as_bytes();
    assert!(
        chain_id.len() <= CHAIN_ID_BYTES_MAX,
        "genesis checks the chain id's length"
    );
    let mut bytes = Vec::with_capacity(160);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(chain_id.len() as u32).to_le_bytes());
    bytes.extend_from_slice(chain_id);
    bytes.extend_from_slice(&header.height.to_le_bytes());
    bytes.extend_from_slice(&header.last_block_hash.0);
    bytes.extend_from_slice(&header.state_root.0);
    let checksum = HEADER_CHECKSUM.hash(&[&bytes]);
    bytes.extend_from_slice(&checksum.0);
    bytes
}

/// One table: its tag, its slot count, then each slot (`0`, or `1` and the row).
pub(super) fn write_table<K: BorshSerialize, V: BorshSerialize>(
    out: &mut impl Write,
    tag: u8,
    slots: &[Option<(K, V)>],
) -> io::Result<()> {
    let count = u32::try_from(slots.len()).expect("a table holds at most 2^32 rows");
    out.write_all(&[tag])?;
    out.write_all(&count.to_le_bytes())?;
    for slot in slots {
        match slot {
            None => out.write_all(&[0])?,
            Some((key, value)) => {
                out.write_all(&[1])?;
                key.serialize(out)?;
                value.serialize(out)?;
            }
        }
    }
    Ok(())
}

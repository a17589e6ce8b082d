//! Length-capped containers for the wire: decoding refuses a length above the cap before
//! reading or allocating for a single element.

use std::io::{Error as IoError, ErrorKind, Read, Result as IoResult, Write};

use borsh::{BorshDeserialize, BorshSerialize};

/// Elements preallocated before any has been read, whatever length the input claims.
const PREALLOCATE_MAX: usize = 1024;

/// Reads a `u32` length prefix and refuses it above `max`.
fn read_len<R: Read>(reader: &mut R, max: usize) -> IoResult<usize> {
    let len = u32::deserialize_reader(reader)? as usize;
    if len > max {
        return Err(IoError::new(
            ErrorKind::InvalidData,
            format!("length {len} above the limit {max}"),
        ));
    }
    Ok(len)
}

/// A `Vec<T>` of at most `MAX` elements on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoundedVec<T, const MAX: usize>(pub Vec<T>);

impl<T: BorshSerialize, const MAX: usize> BorshSerialize for BoundedVec<T, MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> IoResult<()> {
        assert!(
            self.0.len() <= MAX,
            "encoding {} elements above the limit {MAX}",
            self.0.len()
        );
        self.0.serialize(writer)
    }
}

impl<T: BorshDeserialize, const MAX: usize> BorshDeserialize for BoundedVec<T, MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        let len = read_len(reader, MAX)?;
        let mut items = Vec::with_capacity(len.min(PREALLOCATE_MAX));
        for _ in 0..len {
            items.push(T::deserialize_reader(reader)?);
        }
        Ok(BoundedVec(items))
    }
}

/// A byte string of at most `MAX` bytes on the wire, read in one go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoundedBytes<const MAX: usize>(pub Vec<u8>);

impl<const MAX: usize> BorshSerialize for BoundedBytes<MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> IoResult<()> {
        assert!(
            self.0.len() <= MAX,
            "encoding {} bytes above the limit {MAX}",
            self.0.len()
        );
        self.0.serialize(writer)
    }
}

impl<const MAX: usize> BorshDeserialize for BoundedBytes<MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        let len = read_len(reader, MAX)?;
        // Read in bounded steps so a lying prefix cannot make us allocate MAX up front.
        let mut bytes = Vec::with_capacity(len.min(1 << 16));
        let read = reader.take(len as u64).read_to_end(&mut bytes)?;
        if read != len {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                "byte string shorter than its length",
            ));
        }
        Ok(BoundedBytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_above_the_cap_are_refused_before_reading() {
        let encoded = borsh::to_vec(&vec![1u16; 5]).unwrap();
        assert!(borsh::from_slice::<BoundedVec<u16, 4>>(&encoded).is_err());
        assert_eq!(
            borsh::from_slice::<BoundedVec<u16, 5>>(&encoded).unwrap().0,
            vec![1u16; 5]
        );
        // A huge claimed length with no body fails without allocating it.
        assert!(
            borsh::from_slice::<BoundedBytes<{ u32::MAX as usize }>>(&u32::MAX.to_le_bytes())
                .is_err()
        );
    }
}

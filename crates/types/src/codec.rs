//! The canonical binary encoding: Borsh (little-endian fixed-width integers, `u32` length
//! prefixes, one-byte enum tags; see `docs/encoding.md`), plus wrappers that refuse any length
//! above a named cap before allocating, and a decoder that refuses oversized input and
//! trailing bytes. Borsh gives each value exactly one encoding, so hashes of encodings are
//! well defined, and it has libraries in most languages, so other clients can speak it.

use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Why bytes from outside could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the type allows; nothing was decoded.
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    Oversized {
        /// What was being decoded.
        what: &'static str,
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid encoding (truncated, bad tag, cap exceeded, trailing bytes).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What was wrong, from the decoder.
        reason: String,
    },
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("writing to a Vec cannot fail")
}

/// Decodes exactly one `T` from `bytes`, refusing input over `max` bytes and trailing bytes.
pub fn decode<T: BorshDeserialize>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::Oversized {
            what,
            len: bytes.len(),
            max,
        });
    }
    borsh::from_slice(bytes).map_err(|error| DecodeError::Malformed {
        what,
        reason: error.to_string(),
    })
}

fn read_length<R: Read>(reader: &mut R, max: usize) -> io::Result<usize> {
    let len = u32::deserialize_reader(reader)? as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("length {len} exceeds the cap of {max}"),
        ));
    }
    Ok(len)
}

fn write_length<W: Write>(writer: &mut W, len: usize) -> io::Result<()> {
    let len = u32::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length exceeds u32"))?;
    BorshSerialize::serialize(&len, writer)
}

/// A list of at most `MAX` items, encoded like a Borsh `Vec` (and like a list in JSON, where
/// the cap holds too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = <Vec<T> as Deserialize>::deserialize(deserializer)?;
        BoundedVec::new(items).map_err(serde::de::Error::custom)
    }
}

/// Error for a collection or text built over its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{len} exceeds the cap of {max}")]
pub struct CapExceeded {
    /// The attempted length.
    pub len: usize,
    /// The cap.
    pub max: usize,
}

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// Wraps `items` if there are at most `MAX` of them.
    pub fn new(items: Vec<T>) -> Result<Self, CapExceeded> {
        if items.len() > MAX {
            return Err(CapExceeded {
                len: items.len(),
                max: MAX,
            });
        }
        Ok(BoundedVec(items))
    }

    /// Appends an item if there is room.
    pub fn push(&mut self, item: T) -> Result<(), CapExceeded> {
        if self.0.len() >= MAX {
            return Err(CapExceeded {
                len: self.0.len() + 1,
                max: MAX,
            });
        }
        self.0.push(item);
        Ok(())
    }

    /// Removes and returns the last item, if any.
    pub fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    /// Keeps only the items `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    /// The items.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        BoundedVec(Vec::new())
    }
}

impl<T, const MAX: usize> Deref for BoundedVec<T, MAX> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// Items may be changed in place: their count cannot, so the cap still holds.
impl<T, const MAX: usize> DerefMut for BoundedVec<T, MAX> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T: BorshSerialize, const MAX: usize> BorshSerialize for BoundedVec<T, MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        write_length(writer, self.0.len())?;
        self.0.iter().try_for_each(|item| item.serialize(writer))
    }
}

impl<T: BorshDeserialize, const MAX: usize> BorshDeserialize for BoundedVec<T, MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let len = read_length(reader, MAX)?;
        // With the cap checked, Borsh's own `Vec` decoder reads the items from the length on:
        // it reads bytes in bulk (secure aggregation's vectors are megabytes), and it
        // preallocates only a few KiB (bytes: 1 MiB) however long a lying length claims.
        let prefix = u32::try_from(len)
            .expect("the length was read as a u32")
            .to_le_bytes();
        let items = Vec::<T>::deserialize_reader(&mut prefix.as_slice().chain(reader))?;
        Ok(BoundedVec(items))
    }
}

/// Bytes of at most `MAX`, encoded like a Borsh `Vec<u8>`.
pub type BoundedBytes<const MAX: usize> = BoundedVec<u8, MAX>;

/// UTF-8 text of at most `MAX` bytes, encoded like a Borsh `String`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct BoundedString<const MAX: usize>(String);

impl<const MAX: usize> BoundedString<MAX> {
    /// Wraps `text` if it is at most `MAX` bytes.
    pub fn new(text: impl Into<String>) -> Result<Self, CapExceeded> {
        let text = text.into();
        if text.len() > MAX {
            return Err(CapExceeded {
                len: text.len(),
                max: MAX,
            });
        }
        Ok(BoundedString(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> std::fmt::Display for BoundedString<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for BoundedString<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        BoundedString::new(text).map_err(serde::de::Error::custom)
    }
}

impl<const MAX: usize> BorshSerialize for BoundedString<MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        write_length(writer, self.0.len())?;
        writer.write_all(self.0.as_bytes())
    }
}

impl<const MAX: usize> BorshDeserialize for BoundedString<MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let len = read_length(reader, MAX)?;
        let mut bytes = vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        String::from_utf8(bytes)
            .map(BoundedString)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_enforced_in_json_too() {
        let within: BoundedVec<u16, 3> = serde_json::from_str("[1, 2, 3]").unwrap();
        assert_eq!(within.len(), 3);
        let over = serde_json::from_str::<BoundedVec<u16, 3>>("[1, 2, 3, 4]").unwrap_err();
        assert!(over.to_string().contains('4'), "{over}");
    }

    #[test]
    fn caps_are_enforced_on_decode() {
        let within: BoundedVec<u16, 3> = BoundedVec::new(vec![1, 2, 3]).unwrap();
        let bytes = encode(&within);
        assert_eq!(
            decode::<BoundedVec<u16, 3>>("list", &bytes, 100).unwrap(),
            within
        );
        let error = decode::<BoundedVec<u16, 2>>("list", &bytes, 100).unwrap_err();
        assert!(matches!(error, DecodeError::Malformed { .. }), "{error}");
    }

    #[test]
    fn lying_length_fails_without_allocating() {
        let bytes = u32::MAX.to_le_bytes();
        assert!(decode::<BoundedVec<u64, { usize::MAX }>>("list", &bytes, 100).is_err());
    }

    #[test]
    fn bytes_decode_whole_and_a_short_or_lying_body_is_refused() {
        const MAX: usize = 3 << 20;
        let bytes: BoundedBytes<MAX> =
            BoundedVec::new((0..MAX).map(|i| i as u8).collect()).unwrap();
        let encoded = encode(&bytes);
        assert_eq!(
            decode::<BoundedBytes<MAX>>("bytes", &encoded, usize::MAX).unwrap(),
            bytes
        );
        let short = &encoded[..encoded.len() - 1];
        assert!(decode::<BoundedBytes<MAX>>("bytes", short, usize::MAX).is_err());
        let lying = u32::MAX.to_le_bytes();
        assert!(decode::<BoundedBytes<{ u32::MAX as usize }>>("bytes", &lying, 100).is_err());
    }

    #[test]
    fn oversized_and_trailing_input_is_refused() {
        let bytes = encode(&7u32);
        assert!(matches!(
            decode::<u32>("n", &bytes, 3),
            Err(DecodeError::Oversized { len: 4, max: 3, .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode::<u32>("n", &trailing, 10),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn strings_must_be_utf8_and_short() {
        assert!(BoundedString::<3>::new("abcd").is_err());
        let mut bytes = encode(&BoundedString::<8>::new("ab").unwrap());
        bytes[4] = 0xff;
        assert!(decode::<BoundedString<8>>("text", &bytes, 100).is_err());
    }

    #[test]
    fn push_respects_the_cap() {
        let mut list: BoundedVec<u8, 1> = BoundedVec::default();
        list.push(1).unwrap();
        assert_eq!(list.push(2), Err(CapExceeded { len: 2, max: 1 }));
    }
}

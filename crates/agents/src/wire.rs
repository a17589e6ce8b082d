//! The blobs a round exchanges besides models: a provider's update and the trainer's aggregate,
//! both "samples, then a vector of f32". Models themselves are `learn` model files
//! (safetensors with the spec and the job's featurizer), so any tool reads them.
//!
//! Layout (little-endian): the magic `AIFVEC01`, the samples as a u64, the length as a u32, then
//! that many f32. Decoding checks the magic, the exact length the job's model needs, that
//! nothing trails, and that every value is finite: the bytes come from other parties.

use thiserror::Error;

const MAGIC: &[u8; 8] = b"AIFVEC01";
const HEADER_BYTES: usize = 8 + 8 + 4;

/// A vector with the samples behind it: a provider's update (its parameters after local
/// training minus the round's start), or an aggregate (the combined update and the total).
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    /// Rows it was computed from.
    pub samples: u64,
    /// The values, in the model's parameter layout.
    pub values: Vec<f32>,
}

/// Why a blob is not a valid update or aggregate.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    /// It does not start with the magic, or is shorter than the header.
    #[error("not an update blob (bad magic or too short)")]
    NotAnUpdate,
    /// It holds a different number of values than the model has parameters.
    #[error("the blob holds {got} values; the model has {expected} parameters")]
    WrongLength {
        /// Values the header or body says.
        got: usize,
        /// Parameters of the model.
        expected: usize,
    },
    /// Value `index` is NaN or infinite.
    #[error("value {index} is not finite")]
    NotFinite {
        /// Its position.
        index: usize,
    },
}

impl Weighted {
    /// The blob's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let len = u32::try_from(self.values.len()).expect("models are far below 2^32 parameters");
        let mut out = Vec::with_capacity(HEADER_BYTES + 4 * self.values.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.samples.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        for v in &self.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads a blob that must hold exactly `expected` values.
    pub fn decode(bytes: &[u8], expected: usize) -> Result<Self, WireError> {
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(WireError::NotAnUpdate);
        }
        let samples = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")) as usize;
        let body = &bytes[HEADER_BYTES..];
        if len != expected || body.len() != 4 * expected {
            return Err(WireError::WrongLength {
                got: if len != expected { len } else { body.len() / 4 },
                expected,
            });
        }
        let values: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(WireError::NotFinite { index });
        }
        Ok(Weighted { samples, values })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn decode_inverts_encode(samples: u64, values in proptest::collection::vec(-1e6f32..1e6, 0..64)) {
            let w = Weighted { samples, values };
            prop_assert_eq!(Weighted::decode(&w.encode(), w.values.len()), Ok(w));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128), expected in 0usize..32) {
            let _ = Weighted::decode(&bytes, expected);
        }
    }

    #[test]
    fn wrong_length_trailing_bytes_and_nan_are_refused() {
        let w = Weighted {
            samples: 3,
            values: vec![1.0, 2.0],
        };
        let bytes = w.encode();
        assert_eq!(
            Weighted::decode(&bytes, 3),
            Err(WireError::WrongLength {
                got: 2,
                expected: 3
            })
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            Weighted::decode(&trailing, 2),
            Err(WireError::WrongLength { .. })
        ));
        let nan = Weighted {
            samples: 3,
            values: vec![1.0, f32::NAN],
        }
        .encode();
        assert_eq!(
            Weighted::decode(&nan, 2),
            Err(WireError::NotFinite { index: 1 })
        );
        assert_eq!(Weighted::decode(b"AIFVEC0", 0), Err(WireError::NotAnUpdate));
    }
}

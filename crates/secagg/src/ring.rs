//! Arithmetic modulo 2^k and the bit-packed wire form of vectors in that ring.
//!
//! Inside the protocol every coordinate is a `u64` added and subtracted with wrapping: since
//! 2^k divides 2^64, reducing once at the end (`reduce`) gives the same result as reducing
//! after every step. On the wire a vector is packed to exactly k bits per coordinate, so the
//! bytes a client sends shrink with k.

use crate::error::{Error, Result};

/// The mask selecting the low `bits` bits of a `u64`.
pub fn modulus_mask(bits: u32) -> u64 {
    assert!(
        (1..=64).contains(&bits),
        "modulus bits out of range: {bits}"
    );
    if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Reduces every coordinate modulo 2^bits, in place.
pub fn reduce(values: &mut [u64], bits: u32) {
    let mask = modulus_mask(bits);
    values.iter_mut().for_each(|v| *v &= mask);
}

/// `acc += x` coordinate-wise, wrapping (exact modulo 2^k for every k ≤ 64).
pub fn add_assign(acc: &mut [u64], x: &[u64]) {
    assert_eq!(acc.len(), x.len(), "ring vectors of different lengths");
    acc.iter_mut()
        .zip(x)
        .for_each(|(a, b)| *a = a.wrapping_add(*b));
}

/// Reads a residue modulo 2^bits as the signed integer in [-2^(bits-1), 2^(bits-1)).
pub fn centred(value: u64, bits: u32) -> i128 {
    let value = value & modulus_mask(bits);
    let half = 1u128 << (bits - 1);
    if u128::from(value) >= half {
        i128::from(value) - (1i128 << bits)
    } else {
        i128::from(value)
    }
}

/// Bytes needed to pack `len` coordinates of `bits` bits each.
pub fn packed_len(len: usize, bits: u32) -> usize {
    (len * bits as usize).div_ceil(8)
}

/// Packs the low `bits` bits of every coordinate, little-endian, with no padding between.
pub fn pack(values: &[u64], bits: u32) -> Vec<u8> {
    let mask = modulus_mask(bits);
    let mut out = Vec::with_capacity(packed_len(values.len(), bits));
    let mut acc: u128 = 0;
    let mut filled: u32 = 0;
    for v in values {
        acc |= u128::from(v & mask) << filled;
        filled += bits;
        while filled >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out.push(acc as u8);
    }
    out
}

/// Unpacks `len` coordinates of `bits` bits; refuses a wrong length or non-zero padding, so
/// every vector has exactly one encoding.
pub fn unpack(bytes: &[u8], bits: u32, len: usize) -> Result<Vec<u64>> {
    let expected = packed_len(len, bits);
    if bytes.len() != expected {
        return Err(Error::Decode {
            what: "packed vector",
            reason: format!("{} bytes, expected {expected}", bytes.len()),
        });
    }
    let mask = modulus_mask(bits);
    let mut out = Vec::with_capacity(len);
    let mut acc: u128 = 0;
    let mut filled: u32 = 0;
    let mut input = bytes.iter();
    for _ in 0..len {
        while filled < bits {
            let byte = input.next().expect("length checked above");
            acc |= u128::from(*byte) << filled;
            filled += 8;
        }
        out.push((acc as u64) & mask);
        acc >>= bits;
        filled -= bits;
    }
    if acc != 0 {
        return Err(Error::Decode {
            what: "packed vector",
            reason: "non-zero padding bits".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_then_unpack_is_identity(bits in 1u32..=64, raw in proptest::collection::vec(any::<u64>(), 0..200)) {
            let mut values = raw;
            reduce(&mut values, bits);
            let bytes = pack(&values, bits);
            prop_assert_eq!(bytes.len(), packed_len(values.len(), bits));
            prop_assert_eq!(unpack(&bytes, bits, values.len()).unwrap(), values);
        }
    }

    #[test]
    fn unpack_refuses_padding_and_length() {
        // 3 values of 3 bits use 9 bits: the last byte has 7 padding bits.
        let bytes = pack(&[1, 2, 3], 3);
        let mut dirty = bytes.clone();
        *dirty.last_mut().unwrap() |= 0x80;
        assert!(unpack(&dirty, 3, 3).is_err());
        assert!(unpack(&bytes[..1], 3, 3).is_err());
    }

    #[test]
    fn centred_reads_the_top_half_as_negative() {
        assert_eq!(centred(7, 3), -1);
        assert_eq!(centred(3, 3), 3);
        assert_eq!(centred(u64::MAX, 64), -1);
    }
}

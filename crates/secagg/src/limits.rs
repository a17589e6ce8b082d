//! Every bound on what this crate accepts from outside, in one place.
//!
//! Decoders and state machines refuse anything above these before allocating for it; the
//! compile-time checks at the bottom pin down how the limits relate to each other.

/// Most clients a round may have on its roster (one share each, so Shamir x-coordinates fit).
pub const CLIENTS_MAX: usize = 4_096;

/// Longest parameter vector a round may aggregate.
pub const PARAMS_MAX: usize = 1 << 23;

/// Most bits of precision a quantised coordinate may carry.
pub const VALUE_BITS_MAX: u32 = 24;

/// Widest modulus 2^k of the masked arithmetic; the ring is `u64`.
pub const MODULUS_BITS_MAX: u32 = 64;

/// Largest sample count one client may claim for FedAvg weighting.
pub const SAMPLE_COUNT_MAX: u32 = 1 << 24;

/// Largest packed masked vector, in bytes (every coordinate at the widest modulus).
pub const PACKED_BYTES_MAX: usize = (PARAMS_MAX + 1) * 8;

/// Largest single encoded message accepted by a decoder, in bytes.
pub const MESSAGE_BYTES_MAX: usize = PACKED_BYTES_MAX + (1 << 20);

/// Largest encoded transcript accepted by `Transcript::decode`, in bytes.
pub const TRANSCRIPT_BYTES_MAX: usize = 1 << 32;

/// Most neighbours one client may have (the complete graph has `CLIENTS_MAX - 1`).
pub const NEIGHBOURS_MAX: usize = CLIENTS_MAX - 1;

/// Longest human-readable reason carried in an error, in bytes.
pub const REASON_BYTES_MAX: usize = 256;

const _: () = assert!(CLIENTS_MAX < u32::MAX as usize);
const _: () = assert!(PARAMS_MAX < u32::MAX as usize);
const _: () = assert!(VALUE_BITS_MAX < MODULUS_BITS_MAX);
const _: () = assert!(MESSAGE_BYTES_MAX > PACKED_BYTES_MAX);
const _: () = assert!(TRANSCRIPT_BYTES_MAX > MESSAGE_BYTES_MAX);
// A Shamir x-coordinate is `holder + 1`: it must stay far below the field prime 2^61 - 1.
const _: () = assert!((CLIENTS_MAX as u64) < (1u64 << 61) - 1);

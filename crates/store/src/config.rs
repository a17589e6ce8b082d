//! The store's limits, named `*_max` with their unit.

/// Limits of one blob store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// The largest blob accepted, in bytes; longer content is refused while it streams in.
    pub blob_bytes_max: u64,
    /// The most content bytes the store holds in all (the quota); chunk files are not counted.
    pub store_bytes_max: u64,
}

/// The default `blob_bytes_max`: 4 GiB, room for a large ONNX model.
pub const BLOB_BYTES_MAX_DEFAULT: u64 = 4 << 30;
/// The default `store_bytes_max`: 256 GiB.
pub const STORE_BYTES_MAX_DEFAULT: u64 = 256 << 30;

const _: () = assert!(BLOB_BYTES_MAX_DEFAULT <= STORE_BYTES_MAX_DEFAULT);

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            blob_bytes_max: BLOB_BYTES_MAX_DEFAULT,
            store_bytes_max: STORE_BYTES_MAX_DEFAULT,
        }
    }
}

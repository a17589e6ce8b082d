//! cargo-fuzz entry for the `gossip_batch` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::gossip_batch(data));

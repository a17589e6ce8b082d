//! cargo-fuzz entry for the `chain_block` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::chain_block(data));

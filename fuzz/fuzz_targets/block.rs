//! cargo-fuzz entry for the `block` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::block(data));

//! cargo-fuzz entry for the `snapshot` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::snapshot(data));

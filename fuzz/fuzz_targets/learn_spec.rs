//! cargo-fuzz entry for the `learn_spec` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::learn_spec(data));

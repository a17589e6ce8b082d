//! cargo-fuzz entry for the `validator_set_proof` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::validator_set_proof(data));

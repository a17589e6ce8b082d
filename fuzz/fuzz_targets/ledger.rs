//! cargo-fuzz entry for the `ledger` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::ledger(data));

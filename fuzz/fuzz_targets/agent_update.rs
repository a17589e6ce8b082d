//! cargo-fuzz entry for the `agent_update` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::agent_update(data));

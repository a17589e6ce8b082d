//! cargo-fuzz entry for the `secagg_transcript` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::secagg_transcript(data));

//! cargo-fuzz entry for the `learn_onnx` target (see crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aifactory_fuzz::learn_onnx(data));

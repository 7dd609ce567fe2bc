#![no_main]
//! Thin wrapper: the checks live in `checks/`, shared with `tests/fuzz_regressions.rs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| seawall_fuzz::ops_model(data));

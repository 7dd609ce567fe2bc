//! The fuzz checks: each takes arbitrary bytes and panics if seawall panics,
//! hangs, misreads or misclassifies the input they describe.
//!
//! They are plain functions so that two callers share them: the cargo-fuzz
//! targets in `fuzz/fuzz_targets/` (one line each) and
//! `tests/fuzz_regressions.rs`, which replays the seed corpus and every crash
//! artifact through them on stable Rust.

mod decode;
mod files;
mod input;
mod ops;
mod recover;

pub use decode::decode_record;
pub use ops::ops_model;
pub use recover::recover_segment;

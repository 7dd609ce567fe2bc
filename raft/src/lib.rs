//! # seawall-raft
//!
//! openraft 0.9 storage on the seawall write-ahead log, and a three-node
//! key-value example built on it.
//!
//! - [`types`]: the openraft type configuration ([`TypeConfig`]).
//! - [`codec`]: how entries, votes and log ids become bytes.

#![deny(missing_docs)]
// openraft's `StorageError` and `RPCError` are over 200 bytes, and its
// traits return them by value; boxing them at this crate's edges would only
// unbox them again for openraft.
#![allow(clippy::result_large_err)]

pub mod codec;
pub mod types;

pub use types::TypeConfig;

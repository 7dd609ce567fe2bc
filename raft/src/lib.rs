//! # seawall-raft
//!
//! openraft 0.9 storage on the seawall write-ahead log, and a three-node
//! key-value example built on it.
//!
//! - [`types`]: the openraft type configuration ([`TypeConfig`]).
//! - [`codec`]: how entries, votes and log ids become bytes.
//! - [`mem_log_store`]: a temporary in-memory log store, until seawall's
//!   log-store API is released. [`NodeLogStore`] names the one in use.
//! - [`state_machine`]: the key-value state machine and its snapshots.

#![deny(missing_docs)]
// openraft's `StorageError` and `RPCError` are over 200 bytes, and its
// traits return them by value; boxing them at this crate's edges would only
// unbox them again for openraft.
#![allow(clippy::result_large_err)]

pub mod codec;
pub mod mem_log_store;
pub mod state_machine;
pub mod types;

pub use types::TypeConfig;

/// The log store every node uses: the one place to switch stores.
///
/// TEMPORARY: the in-memory store, until seawall's log-store API lands.
pub type NodeLogStore = mem_log_store::MemLogStore;

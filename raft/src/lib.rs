//! # seawall-raft
//!
//! openraft 0.9 storage on the seawall write-ahead log, and a three-node
//! key-value example built on it.
//!
//! - [`types`]: the openraft type configuration ([`TypeConfig`]).
//! - [`codec`]: how entries, votes and log ids become bytes.
//! - [`log_store`]: `RaftLogStorage` on a seawall `Wal`.
//! - [`state_machine`]: the key-value state machine and its snapshots.
//! - [`transport`], [`network`], [`server`], [`client`]: the wire protocol,
//!   openraft's network over it, a node's server, and a client.
//! - [`node`]: starting a node.
//!
//! The design (how each storage method maps onto seawall) is in README.md.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//! use seawall_raft::client::Client;
//!
//! # async fn demo() -> Result<(), seawall_raft::client::ClientError> {
//! let addrs = BTreeMap::from([(1, "127.0.0.1:7001".to_string()), (2, "127.0.0.1:7002".into()), (3, "127.0.0.1:7003".into())]);
//! let mut client = Client::new(addrs);
//! let index = client.write("greeting", "hello", Duration::from_secs(10)).await?;
//! assert_eq!(client.read("greeting", Duration::from_secs(10)).await?.as_deref(), Some("hello"));
//! # let _ = index; Ok(()) }
//! ```

#![deny(missing_docs)]
// openraft's `StorageError` and `RPCError` are over 200 bytes, and its
// traits return them by value; boxing them at this crate's edges would only
// unbox them again for openraft.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod codec;
pub mod log_store;
pub mod network;
pub mod node;
pub mod server;
pub mod state_machine;
pub mod transport;
pub mod types;

pub use types::TypeConfig;

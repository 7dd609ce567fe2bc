//! The openraft type configuration and the key-value example's application types.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A node's id in the cluster. Ids are chosen by the operator and never reused.
pub type NodeId = u64;

/// What a cluster member is reachable at: the address its server listens on
/// (peer RPCs and clients share one port).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `host:port`, for example `127.0.0.1:7001`.
    pub addr: String,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// A command of the key-value state machine: the application data of a log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Sets `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
}

/// What applying a [`Request`] returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The value the key held before, if any.
    pub previous: Option<String>,
}

openraft::declare_raft_types!(
    /// The type configuration of every seawall-raft node: `u64` node ids,
    /// [`Node`] addresses, [`Request`] commands, snapshots held in memory as
    /// bytes, and the tokio runtime.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry of this configuration.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of this configuration.
pub type LogId = openraft::LogId<NodeId>;
/// A vote of this configuration.
pub type Vote = openraft::Vote<NodeId>;
/// A storage error of this configuration.
pub type StorageError = openraft::StorageError<NodeId>;
/// A Raft node of this configuration.
pub type Raft = openraft::Raft<TypeConfig>;

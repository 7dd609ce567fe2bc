//! Starting a node: its stores, its `Raft`, and its server on one address.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use openraft::{Config, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::log_store::SeawallLogStore;
use crate::network::Network;
use crate::server::serve;
use crate::state_machine::{KvReader, KvStateMachine};
use crate::types::{NodeId, Raft};

/// What a node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Where the node keeps its state machine snapshot (`<dir>/sm`) and its log (`<dir>/log`).
    pub dir: PathBuf,
    /// The address to listen on, `host:port`; peers and clients connect to it.
    pub addr: String,
}

/// A running node.
pub struct NodeHandle {
    /// The node's Raft handle.
    pub raft: Raft,
    /// Its state machine's data.
    pub kv: KvReader,
    /// The address it listens on (with the port filled in if `addr` asked for port 0).
    pub addr: String,
    server: JoinHandle<()>,
}

impl NodeHandle {
    /// Stops serving and shuts Raft down.
    pub async fn shutdown(self) {
        self.server.abort();
        let _ = self.raft.shutdown().await;
    }
}

/// The Raft settings of the example, tuned for a loaded two-core machine
/// (elections must not fire while a busy node is merely slow) and for
/// frequent snapshots, so that purging and snapshot installation run often.
pub fn raft_config() -> Config {
    Config {
        cluster_name: "seawall-raft-example".into(),
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        install_snapshot_timeout: 2000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(500),
        max_in_snapshot_log_to_keep: 100,
        ..Config::default()
    }
}

/// Any failure to start a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The Raft configuration is invalid.
    #[error("invalid raft config: {0}")]
    Config(#[from] openraft::ConfigError),
    /// A store failed to open.
    #[error("storage: {0}")]
    Storage(#[from] crate::types::StorageError),
    /// Raft failed to start.
    #[error("raft: {0}")]
    Raft(#[from] openraft::error::Fatal<NodeId>),
    /// The address could not be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Opens the stores in `cfg.dir`, starts Raft and serves `cfg.addr`.
pub async fn start(cfg: NodeConfig) -> Result<NodeHandle, StartError> {
    let config = Arc::new(raft_config().validate()?);
    let sm = KvStateMachine::open(cfg.dir.join("sm"))?;
    let kv = sm.reader();
    let log = SeawallLogStore::open(cfg.dir.join("log"))?;
    let listener =
        TcpListener::bind(&cfg.addr).await.map_err(|source| StartError::Bind { addr: cfg.addr.clone(), source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: cfg.addr.clone(), source })?;
    let raft = Raft::new(cfg.id, config, Network, log, sm).await?;
    let server = tokio::spawn(serve(listener, raft.clone(), kv.clone()));
    Ok(NodeHandle { raft, kv, addr: addr.to_string(), server })
}

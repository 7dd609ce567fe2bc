//! openraft's `RaftNetwork` over the crate's TCP transport: one lazily opened connection per peer.
//!
//! openraft creates one client per target and calls it from one replication
//! task at a time (`&mut self`), so a client owns a single connection and
//! uses it for one exchange at a time. Any failure drops the connection; the
//! next call reconnects. A peer that cannot be reached is reported as
//! [`Unreachable`], which makes openraft back off before it retries, instead
//! of spinning on a killed node.

use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};

use crate::transport::{Conn, Message, Reply, TransportError};
use crate::types::{Node, NodeId, TypeConfig};

/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Creates a [`PeerClient`] for each peer openraft replicates to.
#[derive(Clone, Debug, Default)]
pub struct Network;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        PeerClient { target, addr: node.addr.clone(), conn: None }
    }
}

/// The connection to one peer.
#[derive(Debug)]
pub struct PeerClient {
    target: NodeId,
    addr: String,
    conn: Option<Conn>,
}

type RpcResult<T, E = openraft::error::Infallible> = Result<T, RPCError<NodeId, Node, RaftError<NodeId, E>>>;

impl PeerClient {
    /// One exchange; connects first if needed.
    async fn call<E: std::error::Error>(
        &mut self,
        msg: Message,
        option: &RPCOption,
    ) -> Result<Reply, RPCError<NodeId, Node, RaftError<NodeId, E>>> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => Conn::connect(&self.addr, CONNECT_TIMEOUT)
                .await
                .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?,
        };
        match conn.call(&msg, option.hard_ttl()).await {
            Ok(reply) => {
                self.conn = Some(conn);
                Ok(reply)
            }
            Err(e @ (TransportError::Connect { .. } | TransportError::Closed)) => {
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }

    fn remote<T, E: std::error::Error>(&self, res: Result<T, RaftError<NodeId, E>>) -> RpcResult<T, E> {
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// A reply of the wrong kind: the peer runs something else.
fn unexpected<E: std::error::Error>(reply: Reply) -> RPCError<NodeId, Node, RaftError<NodeId, E>> {
    let e = TransportError::Io(std::io::Error::other(format!("unexpected reply {reply:?}")));
    RPCError::Network(NetworkError::new(&e))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        match self.call(Message::AppendEntries(rpc), &option).await? {
            Reply::AppendEntries(res) => self.remote(res),
            other => Err(unexpected(other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        match self.call(Message::InstallSnapshot(rpc), &option).await? {
            Reply::InstallSnapshot(res) => self.remote(res),
            other => Err(unexpected(other)),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption) -> RpcResult<VoteResponse<NodeId>> {
        match self.call(Message::Vote(rpc), &option).await? {
            Reply::Vote(res) => self.remote(res),
            other => Err(unexpected(other)),
        }
    }
}

//! A client of the key-value example: finds the leader, writes, reads, and asks single nodes for their state.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::server::CLIENT_WAIT;
use crate::state_machine::KvState;
use crate::transport::{Conn, Message, Reply, Status, TransportError};
use crate::types::{Node, NodeId, Request};

/// How long one exchange may take: the node's own wait plus a margin.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(CLIENT_WAIT.as_secs() + 2);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The pause after every node failed to answer at all (all down, or the
/// machine overloaded): retry pacing, so a client does not spin on refused
/// connections until its deadline. Never used to wait for a known event.
const ROUND_BACKOFF: Duration = Duration::from_millis(50);

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The deadline passed before any node accepted the request.
    #[error("no leader accepted the request within {deadline:?}; last problem: {last}")]
    Deadline {
        /// The deadline given.
        deadline: Duration,
        /// The last failure seen.
        last: String,
    },
    /// The node could not be reached or did not answer.
    #[error("node {node}: {source}")]
    Transport {
        /// The node asked.
        node: NodeId,
        /// What failed.
        #[source]
        source: TransportError,
    },
    /// The node answered with a failure.
    #[error("node {node} failed: {reason}")]
    Failed {
        /// The node asked.
        node: NodeId,
        /// Its reason.
        reason: String,
    },
    /// The node answered with a reply of the wrong kind.
    #[error("node {node} answered {reply}")]
    Unexpected {
        /// The node asked.
        node: NodeId,
        /// The reply, for people.
        reply: String,
    },
    /// The node id is not one this client knows.
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
}

/// A client of a cluster. It remembers the last leader it found and keeps
/// one connection per node.
#[derive(Debug)]
pub struct Client {
    addrs: BTreeMap<NodeId, String>,
    conns: BTreeMap<NodeId, Conn>,
    leader: Option<NodeId>,
}

impl Client {
    /// A client of the nodes at these addresses.
    pub fn new(addrs: BTreeMap<NodeId, String>) -> Client {
        Client { addrs, conns: BTreeMap::new(), leader: None }
    }

    /// Sets `key` to `value` through the leader; returns the log index of
    /// the write once it is committed and applied. An error means the write
    /// may or may not have happened.
    pub async fn write(&mut self, key: &str, value: &str, deadline: Duration) -> Result<u64, ClientError> {
        let req = Request::Set { key: key.into(), value: value.into() };
        self.via_leader(
            deadline,
            || Message::Write(req.clone()),
            |reply| match reply {
                Reply::Written { index, .. } => Some(index),
                _ => None,
            },
        )
        .await
    }

    /// A linearizable read of `key` through the leader.
    pub async fn read(&mut self, key: &str, deadline: Duration) -> Result<Option<String>, ClientError> {
        self.via_leader(
            deadline,
            || Message::Read { key: key.into() },
            |reply| match reply {
                Reply::Value(v) => Some(v),
                _ => None,
            },
        )
        .await
    }

    /// Makes `node` initialize the cluster with `members`.
    pub async fn init(&mut self, node: NodeId, members: BTreeMap<NodeId, Node>) -> Result<(), ClientError> {
        match self.call(node, &Message::Init { members }).await? {
            Reply::Initialized => Ok(()),
            other => Err(reply_error(node, other)),
        }
    }

    /// `node`'s view of the cluster.
    pub async fn status(&mut self, node: NodeId) -> Result<Status, ClientError> {
        match self.call(node, &Message::Status).await? {
            Reply::Status(s) => Ok(s),
            other => Err(reply_error(node, other)),
        }
    }

    /// Waits (inside the node, on its progress events) until `node` has
    /// applied the entry at `index`; fails after `timeout`.
    pub async fn await_applied(&mut self, node: NodeId, index: u64, timeout: Duration) -> Result<Status, ClientError> {
        let msg = Message::AwaitApplied { index, timeout_ms: timeout.as_millis() as u64 };
        match self.exchange(node, &msg, timeout + ATTEMPT_TIMEOUT).await? {
            Reply::Status(s) => Ok(s),
            other => Err(reply_error(node, other)),
        }
    }

    /// Everything `node` has applied.
    pub async fn state(&mut self, node: NodeId) -> Result<KvState, ClientError> {
        match self.call(node, &Message::State).await? {
            Reply::State(s) => Ok(s),
            other => Err(reply_error(node, other)),
        }
    }

    /// One exchange with one node, no redirection. A failed connection is
    /// dropped; the next call reconnects.
    pub async fn call(&mut self, node: NodeId, msg: &Message) -> Result<Reply, ClientError> {
        self.exchange(node, msg, ATTEMPT_TIMEOUT).await
    }

    async fn exchange(&mut self, node: NodeId, msg: &Message, timeout: Duration) -> Result<Reply, ClientError> {
        let addr = self.addrs.get(&node).ok_or(ClientError::UnknownNode(node))?.clone();
        let transport = |source| ClientError::Transport { node, source };
        if let Some(mut conn) = self.conns.remove(&node) {
            match conn.call(msg, timeout).await {
                Ok(reply) => {
                    self.conns.insert(node, conn);
                    return Ok(reply);
                }
                // A kept connection to a node that restarted since. Send
                // again on a new connection: if the request did reach the
                // old server, repeating it is harmless, since every message
                // is idempotent (a write sets a key to a value).
                Err(TransportError::Closed | TransportError::Io(_)) => {}
                Err(e) => return Err(transport(e)),
            }
        }
        let mut conn = Conn::connect(&addr, CONNECT_TIMEOUT).await.map_err(transport)?;
        let reply = conn.call(msg, timeout).await.map_err(transport)?;
        self.conns.insert(node, conn);
        Ok(reply)
    }

    /// Sends `make()` to the leader, following redirections and moving on
    /// from nodes that fail, until `accept` takes a reply or `deadline` passes.
    async fn via_leader<T>(
        &mut self,
        deadline: Duration,
        make: impl Fn() -> Message,
        accept: impl Fn(Reply) -> Option<T>,
    ) -> Result<T, ClientError> {
        let until = Instant::now() + deadline;
        let ids: Vec<NodeId> = self.addrs.keys().copied().collect();
        let mut target = self.leader.unwrap_or(ids[0]);
        let mut last = String::from("no attempt");
        let mut unreachable_in_a_row = 0;
        while Instant::now() < until {
            let next = ids[(ids.iter().position(|&i| i == target).unwrap_or(0) + 1) % ids.len()];
            match self.call(target, &make()).await {
                Ok(Reply::NotLeader { leader: Some((id, node)) }) => {
                    unreachable_in_a_row = 0;
                    last = format!("node {target} redirected to node {id}");
                    self.addrs.entry(id).or_insert(node.addr);
                    target = if id == target { next } else { id };
                }
                Ok(Reply::NotLeader { leader: None }) => {
                    // The node already waited for an election to finish.
                    unreachable_in_a_row = 0;
                    last = format!("node {target} knows no leader");
                    target = next;
                }
                Ok(reply) => {
                    unreachable_in_a_row = 0;
                    let text = format!("{reply:?}");
                    if let Some(v) = accept(reply) {
                        self.leader = Some(target);
                        return Ok(v);
                    }
                    last = format!("node {target} answered {text}");
                    target = next;
                }
                Err(e) => {
                    last = e.to_string();
                    target = next;
                    unreachable_in_a_row += 1;
                    if unreachable_in_a_row >= ids.len() {
                        unreachable_in_a_row = 0;
                        tokio::time::sleep(ROUND_BACKOFF).await;
                    }
                }
            }
        }
        Err(ClientError::Deadline { deadline, last })
    }
}

fn reply_error(node: NodeId, reply: Reply) -> ClientError {
    match reply {
        Reply::Failed { reason } => ClientError::Failed { node, reason },
        other => ClientError::Unexpected { node, reply: format!("{other:?}") },
    }
}

//! The wire protocol: request and reply messages, and length-delimited frames over TCP that carry them one at a time.
//!
//! A connection carries a strict alternation: the client sends one
//! [`Message`] frame, the server answers with one [`Reply`] frame, and so on.
//! A frame is a 4-byte big-endian length followed by that many bytes, which
//! hold a value in [`crate::codec`]'s encoding (a version byte, then
//! postcard). Frames over [`MAX_FRAME`] are refused on both sides, so a
//! stray connection sending garbage cannot make a node allocate gigabytes.
//!
//! Peer RPCs (append entries, vote, install snapshot) and client requests
//! share one port and one message enum: a node has one listener to bind, and
//! a test has one address per node to know.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::codec::{self, CodecError};
use crate::state_machine::KvState;
use crate::types::{Node, NodeId, Request, TypeConfig};

/// The largest frame either side accepts: 64 MiB, far above any append
/// batch or snapshot chunk this crate sends.
pub const MAX_FRAME: usize = 64 << 20;

/// A request from a peer or a client.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Raft: replicate entries (or a heartbeat).
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft: request a vote.
    Vote(VoteRequest<NodeId>),
    /// Raft: one chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Client: apply a command through the log (leader only).
    Write(Request),
    /// Client: a linearizable read of one key (leader only).
    Read {
        /// The key.
        key: String,
    },
    /// Client: everything this node has applied, as it stands (no consensus).
    State,
    /// Client: this node's view of the cluster.
    Status,
    /// Client: answer with [`Reply::Status`] once this node has applied the
    /// entry at `index`, or with [`Reply::Failed`] after `timeout_ms`.
    /// Lets a test wait for convergence on the node's own progress events
    /// instead of polling.
    AwaitApplied {
        /// The log index to wait for.
        index: u64,
        /// How long to wait, in milliseconds.
        timeout_ms: u64,
    },
    /// Admin: make this node initialize the cluster with these members.
    Init {
        /// Every voter, with its address.
        members: BTreeMap<NodeId, Node>,
    },
}

/// A node's view of the cluster, from its Raft metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node answering.
    pub id: NodeId,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its current term.
    pub term: u64,
    /// The index of its last log entry.
    pub last_log_index: Option<u64>,
    /// The index of the last entry it applied.
    pub last_applied: Option<u64>,
    /// The last index covered by its current snapshot.
    pub snapshot: Option<u64>,
    /// The last index it purged from its log.
    pub purged: Option<u64>,
}

/// The answer to a [`Message`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// To [`Message::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Message::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Message::InstallSnapshot`].
    InstallSnapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    /// A write was committed and applied at `index`.
    Written {
        /// The log index of the write.
        index: u64,
        /// The value the key held before.
        previous: Option<String>,
    },
    /// The value of the key read.
    Value(Option<String>),
    /// Everything the node has applied.
    State(KvState),
    /// The node's view of the cluster.
    Status(Status),
    /// The cluster was initialized.
    Initialized,
    /// This node is not the leader; ask `leader` (if known) instead.
    NotLeader {
        /// The leader's id and address, if this node knows it.
        leader: Option<(NodeId, Node)>,
    },
    /// The request failed for another reason (shutdown, storage failure).
    Failed {
        /// What went wrong, for people.
        reason: String,
    },
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Could not connect.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The connection failed while sending or receiving.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The other side closed the connection before answering.
    #[error("connection closed before a reply")]
    Closed,
    /// No answer within the deadline.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The frame did not decode.
    #[error("undecodable frame: {0}")]
    Codec(#[from] CodecError),
}

/// One end of a connection: sends values and receives values, one frame each.
#[derive(Debug)]
pub struct Conn {
    framed: Framed<TcpStream, LengthDelimitedCodec>,
}

impl Conn {
    /// Wraps an accepted or connected stream.
    pub fn new(stream: TcpStream) -> Conn {
        // Small request/reply frames: send each at once.
        let _ = stream.set_nodelay(true);
        let codec = LengthDelimitedCodec::builder().max_frame_length(MAX_FRAME).new_codec();
        Conn { framed: Framed::new(stream, codec) }
    }

    /// Connects to `addr` within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Conn, TransportError> {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => Err(TransportError::Timeout(timeout)),
            Ok(Err(source)) => Err(TransportError::Connect { addr: addr.to_string(), source }),
            Ok(Ok(stream)) => Ok(Conn::new(stream)),
        }
    }

    /// Sends one value.
    pub async fn send<T: Serialize>(&mut self, value: &T) -> Result<(), TransportError> {
        self.framed.send(bytes::Bytes::from(codec::encode(value))).await?;
        Ok(())
    }

    /// Receives one value; `Ok(None)` when the other side closed the
    /// connection cleanly between frames.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, TransportError> {
        match self.framed.next().await {
            None => Ok(None),
            Some(frame) => Ok(Some(codec::decode(&frame?)?)),
        }
    }

    /// Sends `msg` and waits for the reply, all within `timeout`. After an
    /// error the connection is in an unknown state: drop it.
    pub async fn call(&mut self, msg: &Message, timeout: Duration) -> Result<Reply, TransportError> {
        let exchange = async {
            self.send(msg).await?;
            self.recv::<Reply>().await?.ok_or(TransportError::Closed)
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| TransportError::Timeout(timeout))?
    }
}

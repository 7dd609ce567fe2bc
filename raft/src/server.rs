//! A node's server: accepts connections and answers peer RPCs and client requests through its `Raft` and state machine.

use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use tokio::net::TcpListener;

use crate::state_machine::KvReader;
use crate::transport::{Conn, Message, Reply, Status};
use crate::types::{Node, NodeId, Raft};

/// How long a client request may wait inside the node: for a leader to be
/// elected, for a write to commit, for a read to be confirmed. Past it the
/// client gets [`Reply::Failed`] or [`Reply::NotLeader`] and tries again.
pub const CLIENT_WAIT: Duration = Duration::from_secs(3);

/// Serves `listener` until the task is dropped: one task per connection.
pub async fn serve(listener: TcpListener, raft: Raft, kv: KvReader) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Per-connection failures (the peer reset before accept, too
            // many open files); the listener itself stays usable.
            Err(_) => continue,
        };
        let (raft, kv) = (raft.clone(), kv.clone());
        tokio::spawn(async move {
            let mut conn = Conn::new(stream);
            // A frame that fails to decode ends the connection: its sender
            // runs a different protocol, and nothing after it can be trusted.
            while let Ok(Some(msg)) = conn.recv::<Message>().await {
                let reply = handle(&raft, &kv, msg).await;
                if conn.send(&reply).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn handle(raft: &Raft, kv: &KvReader, msg: Message) -> Reply {
    match msg {
        Message::AppendEntries(rpc) => Reply::AppendEntries(raft.append_entries(rpc).await),
        Message::Vote(rpc) => Reply::Vote(raft.vote(rpc).await),
        Message::InstallSnapshot(rpc) => Reply::InstallSnapshot(raft.install_snapshot(rpc).await),
        Message::Write(req) => match tokio::time::timeout(CLIENT_WAIT, raft.client_write(req)).await {
            Err(_) => failed("write not committed in time"),
            Ok(Ok(resp)) => Reply::Written { index: resp.log_id.index, previous: resp.data.previous },
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => not_leader(raft, f).await,
            Ok(Err(e)) => failed(e),
        },
        Message::Read { key } => match tokio::time::timeout(CLIENT_WAIT, raft.ensure_linearizable()).await {
            Err(_) => failed("read not confirmed in time"),
            Ok(Ok(_)) => Reply::Value(kv.get(&key)),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => not_leader(raft, f).await,
            Ok(Err(e)) => failed(e),
        },
        Message::State => Reply::State(kv.state()),
        Message::Status => Reply::Status(status(raft)),
        Message::AwaitApplied { index, timeout_ms } => {
            let timeout = Duration::from_millis(timeout_ms);
            match raft.wait(Some(timeout)).applied_index_at_least(Some(index), "await applied").await {
                Ok(_) => Reply::Status(status(raft)),
                Err(e) => failed(e),
            }
        }
        Message::Init { members } => match raft.initialize(members).await {
            Ok(()) => Reply::Initialized,
            Err(e) => failed(e),
        },
    }
}

fn failed(reason: impl ToString) -> Reply {
    Reply::Failed { reason: reason.to_string() }
}

/// Redirects a client. When this node knows no leader (an election is
/// under way), it first waits for one to be known, so the client is told
/// where to go instead of having to poll.
async fn not_leader(raft: &Raft, f: ForwardToLeader<NodeId, Node>) -> Reply {
    if let (Some(id), Some(node)) = (f.leader_id, f.leader_node) {
        return Reply::NotLeader { leader: Some((id, node)) };
    }
    let known = raft.wait(Some(CLIENT_WAIT)).metrics(|m| m.current_leader.is_some(), "a leader is known").await;
    let leader = known.ok().and_then(|m| {
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    });
    Reply::NotLeader { leader }
}

fn status(raft: &Raft) -> Status {
    let m = raft.metrics().borrow().clone();
    Status {
        id: m.id,
        leader: m.current_leader,
        term: m.current_term,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied.map(|l| l.index),
        snapshot: m.snapshot.map(|l| l.index),
        purged: m.purged.map(|l| l.index),
    }
}

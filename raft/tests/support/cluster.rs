//! Node processes on 127.0.0.1 for the cluster kill test and the
//! replication benchmark: start one (waiting for its `ready` line), kill it
//! with SIGKILL, and pick free ports.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use seawall_raft::types::{Node, NodeId};

/// How long a node may take to print `ready`: generous, for a loaded
/// two-core machine (a restarted node first recovers its log).
pub const READY_DEADLINE: Duration = Duration::from_secs(60);

/// One `seawall-raft-node` process, which keeps its state in `dir` and its
/// stderr in `dir` + `.stderr`. Dropping it kills the process; so does the
/// end of the harness (the node exits when its stdin closes).
pub struct NodeProc {
    pub id: NodeId,
    pub addr: String,
    pub dir: PathBuf,
    child: Option<(Child, ChildStdin)>,
}

impl NodeProc {
    /// A node that is not running yet.
    pub fn new(id: NodeId, addr: &str, dir: PathBuf) -> NodeProc {
        NodeProc { id, addr: addr.to_string(), dir, child: None }
    }

    /// Starts the process and waits until it accepts connections.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} is already running", self.id);
        let stderr =
            std::fs::OpenOptions::new().create(true).append(true).open(self.stderr_path()).expect("open stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_seawall-raft-node"))
            .args(["--id", &self.id.to_string(), "--addr", &self.addr, "--exit-on-stdin-eof", "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn seawall-raft-node");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        self.child = Some((child, stdin));
        match rx.recv_timeout(READY_DEADLINE) {
            Ok(line) if line.starts_with("ready") => {}
            Ok(line) => panic!("node {} did not start: {line:?} (see {})", self.id, self.stderr_path().display()),
            Err(_) => panic!("node {} not ready within {READY_DEADLINE:?}", self.id),
        }
    }

    /// Sends SIGKILL (`Child::kill` on Unix) and reaps the process.
    pub fn kill(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap killed node");
            drop(stdin);
        }
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.with_extension("stderr")
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Free ports for `ids`, chosen by the kernel. A port is released again
/// before the node binds it; nothing else on this machine is expected to
/// grab it in between.
pub fn free_addrs(ids: &[NodeId]) -> BTreeMap<NodeId, String> {
    let listeners: Vec<_> = ids.iter().map(|_| TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    ids.iter().zip(&listeners).map(|(&id, l)| (id, l.local_addr().expect("addr").to_string())).collect()
}

/// Starts a node for each of `addrs`, in `dir/n<id>`.
pub fn start_nodes(addrs: &BTreeMap<NodeId, String>, dir: &Path) -> BTreeMap<NodeId, NodeProc> {
    let mut nodes: BTreeMap<NodeId, NodeProc> =
        addrs.iter().map(|(&id, addr)| (id, NodeProc::new(id, addr, dir.join(format!("n{id}"))))).collect();
    for n in nodes.values_mut() {
        n.start();
    }
    nodes
}

/// The membership of a cluster of the nodes at `addrs`.
pub fn members(addrs: &BTreeMap<NodeId, String>) -> BTreeMap<NodeId, Node> {
    addrs.iter().map(|(&id, a)| (id, Node { addr: a.clone() })).collect()
}

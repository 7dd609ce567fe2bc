//! The three-node example cluster in one process, for trying it with one command.
//!
//! ```text
//! seawall-raft-cluster --dir DIR [--port P]
//! ```
//!
//! Starts nodes 1, 2 and 3 on 127.0.0.1 ports P, P + 1 and P + 2 (default
//! 7001), keeping their state in `DIR/n1`, `DIR/n2` and `DIR/n3`, makes node
//! 1 initialize the cluster (unless a previous run did), prints `ready` with
//! the `--nodes` argument for `seawall-raft-client`, and runs until killed.
//! Restarted on the same directory, the nodes carry on from their disks.
//! (For nodes as separate processes, which can be killed one by one, start
//! `seawall-raft-node` three times; README.md shows how.)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use openraft::error::{InitializeError, RaftError};
use seawall_raft::node::{start, NodeConfig, NodeHandle};
use seawall_raft::types::Node;

const USAGE: &str = "usage: seawall-raft-cluster --dir DIR [--port P]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, u16), String> {
    let (mut dir, mut port) = (None, 7001u16);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if port > u16::MAX - 2 {
        return Err(format!("--port {port} leaves no room for three ports"));
    }
    Ok((dir.ok_or("--dir is required")?, port))
}

/// Starts and initializes the nodes; returns them and the client's `--nodes` argument.
async fn run(dir: PathBuf, port: u16) -> Result<(Vec<NodeHandle>, String), String> {
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let cfg =
            NodeConfig { id, dir: dir.join(format!("n{id}")), addr: format!("127.0.0.1:{}", port + id as u16 - 1) };
        nodes.push(start(cfg).await.map_err(|e| format!("node {id}: {e}"))?);
    }
    let members: BTreeMap<u64, Node> =
        (1..=3u64).zip(&nodes).map(|(id, n)| (id, Node { addr: n.addr.clone() })).collect();
    match nodes[0].raft.initialize(members.clone()).await {
        Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
        Err(e) => return Err(format!("initialize: {e}")),
    }
    let spec: Vec<String> = members.iter().map(|(id, n)| format!("{id}={}", n.addr)).collect();
    Ok((nodes, spec.join(",")))
}

fn main() -> ExitCode {
    let (dir, port) = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("seawall-raft-cluster: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seawall-raft-cluster: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match run(dir, port).await {
            Ok((_nodes, spec)) => {
                println!("ready: seawall-raft-client --nodes {spec} (write KEY VALUE | read KEY | status)");
                // The nodes serve on this runtime until the process is killed.
                std::future::pending::<ExitCode>().await
            }
            Err(e) => {
                eprintln!("seawall-raft-cluster: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

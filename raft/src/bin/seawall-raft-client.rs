//! The key-value example's client on the command line.
//!
//! ```text
//! seawall-raft-client --nodes 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 COMMAND
//!   init              make node 1 (the first listed) initialize the cluster with every listed node
//!   write KEY VALUE   set KEY through the leader; prints the log index
//!   read KEY          a linearizable read through the leader
//!   status            each node's view: leader, term, last log index, last applied
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use seawall_raft::client::{Client, ClientError};
use seawall_raft::types::{Node, NodeId};

const USAGE: &str = "usage: seawall-raft-client --nodes ID=HOST:PORT[,ID=HOST:PORT...] \
                     (init | write KEY VALUE | read KEY | status)";
const DEADLINE: Duration = Duration::from_secs(10);

fn parse_nodes(spec: &str) -> Result<BTreeMap<NodeId, String>, String> {
    spec.split(',')
        .map(|part| {
            let (id, addr) = part.split_once('=').ok_or_else(|| format!("{part:?} is not ID=HOST:PORT"))?;
            let id = id.parse::<NodeId>().map_err(|e| format!("node id {id:?}: {e}"))?;
            Ok((id, addr.to_string()))
        })
        .collect()
}

async fn run(nodes: BTreeMap<NodeId, String>, command: &[String]) -> Result<(), ClientError> {
    let mut client = Client::new(nodes.clone());
    match command {
        [c] if c == "init" => {
            let members = nodes.iter().map(|(&id, addr)| (id, Node { addr: addr.clone() })).collect();
            let first = *nodes.keys().next().expect("at least one node");
            client.init(first, members).await?;
            println!("initialized by node {first}");
        }
        [c, key, value] if c == "write" => {
            let index = client.write(key, value, DEADLINE).await?;
            println!("written at index {index}");
        }
        [c, key] if c == "read" => match client.read(key, DEADLINE).await? {
            Some(v) => println!("{v}"),
            None => println!("(not set)"),
        },
        [c] if c == "status" => {
            for &id in nodes.keys() {
                match client.status(id).await {
                    Ok(s) => println!(
                        "node {id}: leader {:?}, term {}, last log index {:?}, last applied {:?}",
                        s.leader, s.term, s.last_log_index, s.last_applied
                    ),
                    Err(e) => println!("node {id}: {e}"),
                }
            }
        }
        _ => unreachable!("checked in main"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (nodes, command) = match args.as_slice() {
        [flag, spec, rest @ ..] if flag == "--nodes" => (parse_nodes(spec), rest),
        _ => (Err("--nodes is required".to_string()), &[][..]),
    };
    let known = matches!(
        command.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
        ["init"] | ["write", _, _] | ["read", _] | ["status"]
    );
    let nodes = match nodes {
        Ok(nodes) if known && !nodes.is_empty() => nodes,
        Ok(_) => {
            eprintln!("seawall-raft-client: unknown command\n{USAGE}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("seawall-raft-client: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seawall-raft-client: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(nodes, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seawall-raft-client: {e}");
            ExitCode::FAILURE
        }
    }
}

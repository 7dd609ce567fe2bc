//! One node of the key-value example cluster.
//!
//! ```text
//! seawall-raft-node --id N --dir DIR --addr HOST:PORT [--exit-on-stdin-eof]
//! ```
//!
//! Prints `ready <addr>` on stdout once it accepts connections. The cluster
//! is initialized by sending one node an `Init` message with every member
//! (see `seawall_raft::client::Client::init`). With `--exit-on-stdin-eof`
//! the node exits when its standard input closes, so a test harness that
//! dies takes its nodes with it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use seawall_raft::node::{start, NodeConfig};

const USAGE: &str = "usage: seawall-raft-node --id N --dir DIR --addr HOST:PORT [--exit-on-stdin-eof]";

struct Args {
    cfg: NodeConfig,
    exit_on_stdin_eof: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut id, mut dir, mut addr, mut exit_on_stdin_eof) = (None, None, None, false);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--id" => id = Some(value()?.parse::<u64>().map_err(|e| format!("--id: {e}"))?),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--addr" => addr = Some(value()?),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let cfg = NodeConfig {
        id: id.ok_or("--id is required")?,
        dir: dir.ok_or("--dir is required")?,
        addr: addr.ok_or("--addr is required")?,
    };
    Ok(Args { cfg, exit_on_stdin_eof })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("seawall-raft-node: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.exit_on_stdin_eof {
        std::thread::spawn(|| {
            // Ends when the parent closes the pipe or dies.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            std::process::exit(0);
        });
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seawall-raft-node: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let node = match start(args.cfg).await {
            Ok(node) => node,
            Err(e) => {
                eprintln!("seawall-raft-node: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready {}", node.addr);
        let _ = out.flush();
        drop(out);
        std::future::pending::<ExitCode>().await
    })
}

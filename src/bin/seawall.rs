//! The `seawall` command-line tool: inspect, dump, verify and repair a log,
//! generate load against one, and demonstrate crash recovery.
//!
//! Every command is a thin layer over the library's public API; whatever the
//! tool can see, a library user can see too.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// A binary root in `src/bin/` looks for its modules beside it; these live in
// `src/bin/seawall/`, one file per command.
#[path = "seawall/bench.rs"]
mod bench;
#[path = "seawall/common.rs"]
mod common;
#[path = "seawall/demo.rs"]
mod demo;
#[path = "seawall/dump.rs"]
mod dump;
#[path = "seawall/inspect.rs"]
mod inspect;
#[path = "seawall/repair.rs"]
mod repair;
#[path = "seawall/verify.rs"]
mod verify;

use common::{Exit, Failure};

const EXIT_CODES: &str = "\
Exit status:
  0  success (verify: the log is clean)
  1  verify: the log ends in a torn tail that a normal open repairs
  2  verify, repair: corruption that a normal open refuses
  3  not a seawall log (missing, not a directory, no segments, unsupported
     format version) or a file could not be read or written
  4  the log is locked: a process has it open (repair, also --dry-run)
  5  bad arguments: unknown option, LSN out of range, directory not empty
  6  the operation failed: the demo's proof, a benchmark, a child process,
     or writing the output";

/// Inspect, verify, repair and exercise seawall write-ahead logs.
#[derive(Parser)]
#[command(name = "seawall", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Summarise a log: one row per segment, totals, and the tail's state. Read-only.
    Inspect(inspect::Args),
    /// Print records in LSN order. Read-only.
    Dump(dump::Args),
    /// Check every record's checksum and classify the log's end. Read-only.
    #[command(after_help = verify::EXIT_CODES)]
    Verify(verify::Args),
    /// Do what a normal open would do to a damaged log, and print what changed.
    Repair(repair::Args),
    /// Group-commit load generator, with a raw pwrite+fdatasync baseline.
    Bench(bench::Args),
    /// Crash a writer mid-flight, tear its last write, recover, and prove nothing acknowledged was lost.
    Demo(demo::Args),
    /// The demo's writer process (started by `demo`).
    #[command(hide = true)]
    DemoChild(demo::ChildArgs),
}

fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Dump(a) => dump::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Repair(a) => repair::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Demo(a) => demo::run(a),
        Command::DemoChild(a) => demo::child(a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors get
            // status 5, because clap's default (2) means corruption here.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::BadArgs as u8 } else { 0 });
        }
    };
    match run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(f) => {
            eprintln!("seawall: {}", f.message);
            ExitCode::from(f.exit as u8)
        }
    }
}

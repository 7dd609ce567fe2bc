//! The `seawall` command-line tool: inspect, dump, verify and repair a log,
//! generate load against one, and demonstrate crash recovery.
//!
//! Every command is a thin layer over the library's public API; whatever the
//! tool can see, a library user can see too.

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
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
  0  success (verify, dump: the log is clean)
  1  verify, dump: the log ends in a torn tail that a normal open repairs
  2  verify, dump, repair: corruption that a normal open refuses
  3  not a seawall log (missing, not a directory, no segments, unsupported
     format version) or a file could not be read or written
  4  repair (also --dry-run): the log is locked by a process that has it open
  5  bad arguments: unknown option, LSN out of range, directory not empty
  6  the operation failed: the demo's proof, a benchmark, a child process,
     or writing the output
A reader that closes the output early (`seawall dump DIR | head`) ends any
command quietly with status 0. Every failure is one line on stderr starting
with `seawall:`; with --json, also an object on stdout with `status`,
`error` and `exit_status`.";

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
    #[command(after_help = dump::EXIT_CODES)]
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

impl Command {
    /// Whether the command prints JSON, and so reports a failure as JSON too.
    fn json(&self) -> bool {
        match self {
            Command::Inspect(a) => a.json,
            Command::Dump(a) => a.is_json(),
            Command::Verify(a) => a.json,
            _ => false,
        }
    }
}

fn run(command: Command) -> Result<Exit, Failure> {
    match command {
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
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print(); // to stdout; a closed pipe is the reader's choice
            return ExitCode::SUCCESS;
        }
        // clap's default status (2) means corruption here, and its message
        // spans several lines; ours is one line and status 5.
        Err(e) => return fail(&Failure::bad_args(one_line(&e)), json_requested(std::env::args_os().skip(1))),
    };
    let json = cli.command.json();
    match run(cli.command) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(f) if f.is_output_closed() => ExitCode::SUCCESS,
        Err(f) => fail(&f, json),
    }
}

/// Reports a failure: one line on stderr and, for a command asked for JSON,
/// an object on stdout with at least `error` and `exit_status`.
fn fail(f: &Failure, json: bool) -> ExitCode {
    eprintln!("seawall: {}", f.message);
    if json {
        let doc = serde_json::json!({ "status": f.exit.name(), "error": f.message, "exit_status": f.exit as u8 });
        let mut out = std::io::stdout().lock();
        // Nothing more can be reported if stdout itself is gone.
        let _ = writeln!(out, "{doc}").and_then(|()| out.flush());
    }
    ExitCode::from(f.exit as u8)
}

/// clap's error as one line: its message, tips and the usage, without the
/// blank lines and the "For more information" footer.
fn one_line(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "no command given; usage: seawall <COMMAND> (see `seawall --help`)".into();
    }
    let text = e.render().to_string(); // `to_string` drops the colours
    let mut msg = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("For more information")) {
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.strip_prefix("Usage: ").map(|u| format!("usage: {u}")).unwrap_or_else(|| line.to_string());
        // A line ending in a colon introduces the next one (a list of
        // missing arguments); other lines are separate clauses.
        if !msg.is_empty() {
            msg.push_str(if msg.ends_with(':') { " " } else { "; " });
        }
        msg.push_str(&line);
    }
    msg
}

/// Whether unparsed arguments ask for JSON (`--json`, or dump's
/// `--format json`), so that an argument error is reported as JSON too.
fn json_requested(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<_> = args.take_while(|a| a != "--").collect();
    args.iter().any(|a| a == "--json" || a == "--format=json")
        || args.windows(2).any(|w| w[0] == "--format" && w[1] == "json")
}

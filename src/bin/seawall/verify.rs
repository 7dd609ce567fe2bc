//! `seawall verify`: a full checksum scan, classified by exit status.

use std::io::Write;
use std::path::PathBuf;

use seawall::{Error, Reader, TailState};
use serde_json::json;

use crate::common::{self, exit_of, tail_json, tail_sentence, Exit, Failure, Progress};

pub const EXIT_CODES: &str = "\
Exit status:
  0  clean: every record checks out and only unwritten space follows
  1  torn tail: the last write was cut by a crash; a normal open repairs it
  2  corruption: records that had been durable are damaged; a normal open refuses
  3  not a seawall log (missing, not a directory, no segments, unsupported
     format version), or a file could not be read";

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    dir: PathBuf,
    /// Print one JSON document (also on failure) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    // A log that cannot be opened is reported by `main`, as JSON too.
    // The full scan: sealed segments are walked too, not trusted through
    // their trailers as a normal open does.
    let reader = common::verify_reader(&args.dir)?;
    let writer = common::writer_state(&args.dir);
    // The scan already validated every record; reading every
    // record again through its iterator checks each payload a second time,
    // exactly as a library user would read it, and catches a file that
    // changed between the two passes.
    let (checked, reread) = reread_all(&reader);
    let insp = reader.inspection();
    let exit = match (&reread, &insp.tail) {
        (Err(e), _) => exit_of(e),
        (Ok(()), TailState::Clean) => Exit::Ok,
        (Ok(()), TailState::Torn { .. }) => Exit::TornTail,
        (Ok(()), TailState::Corrupt { .. }) => Exit::Corruption,
    };
    let status = match exit {
        Exit::Ok => "clean",
        Exit::TornTail => "torn",
        Exit::Corruption => "corrupt",
        _ => "unreadable",
    };
    // What went wrong, if anything, in one sentence: the failed reread, or
    // the damage the scan found.
    let error = match (&reread, &insp.tail) {
        (Err(e), _) => Some(e.to_string()),
        (Ok(()), TailState::Clean) => None,
        (Ok(()), tail) => Some(tail_sentence(tail)),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "status": status,
            "exit_status": exit as u8,
            "writer": writer.as_str(),
            "records_checked": checked,
            "first_lsn": insp.first_lsn.get(),
            "last_lsn": insp.last_lsn.get(),
            "segments": insp.segments.len(),
            "tail": tail_json(&insp.tail),
            "rule": insp.rule,
            "why": insp.why,
            "error": error,
        });
        writeln!(out, "{doc}")?;
    } else {
        let range = if insp.records() > 0 {
            format!("LSN {}..={}", insp.first_lsn, insp.last_lsn)
        } else {
            "no records".into()
        };
        let files = common::count(insp.segments.len() as u64, "segment file");
        writeln!(out, "{status}: {} checked ({range}) in {files}", common::count(checked, "record"))?;
        writeln!(out, "tail: {}", tail_sentence(&insp.tail))?;
        writeln!(out, "rule: {} ({})", insp.rule, insp.why)?;
        if let Err(e) = &reread {
            writeln!(out, "reread failed: {e}")?;
        }
        if writer != common::Writer::None {
            writeln!(out, "note: {}", writer.note())?;
        }
    }
    Ok(exit)
}

/// Reads every valid record; returns how many checked out and the first error.
fn reread_all(reader: &Reader) -> (u64, Result<(), Error>) {
    let insp = reader.inspection();
    let mut progress = Progress::new(insp.records(), "verifying");
    let mut checked = 0;
    let iter = match reader.iter_from(insp.first_lsn) {
        Ok(it) => it,
        Err(e) => return (0, Err(e)),
    };
    for rec in iter {
        if let Err(e) = rec {
            progress.finish();
            return (checked, Err(e));
        }
        checked += 1;
        progress.inc(1);
    }
    progress.finish();
    (checked, Ok(()))
}

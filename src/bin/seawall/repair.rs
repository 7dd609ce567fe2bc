//! `seawall repair`: what a normal open would do, done under the log's lock
//! (or, with `--dry-run`, only described), and a list of what changed.

use std::fs::{File, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use seawall::format::{LOCK_FILE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE};
use seawall::{Error, Inspection, Lsn, Options, RecoveryAction, RecoveryMode, RecoveryReport, Wal};

use crate::common::{self, tail_sentence, Exit, Failure};

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    dir: PathBuf,
    /// Change nothing; print what a repair would do.
    #[arg(long)]
    dry_run: bool,
    /// Also cut at mid-log corruption, moving every cut byte into quarantine
    /// files beside the log (nothing is deleted).
    #[arg(long)]
    salvage: bool,
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    // `Wal::open` creates a missing directory and starts an empty log in an
    // empty one; a repair must do neither, so the read-only scan comes first.
    let reader = common::open_reader(&args.dir)?;
    let mode = if args.salvage { RecoveryMode::Salvage } else { RecoveryMode::TruncateTornTail };
    let opts = Options::default()
        .recovery_mode(mode)
        .segment_size(segment_size_of(reader.inspection()))
        // No spare segment is created ahead of need: a repair appends nothing.
        .background_preallocation(false);
    drop(reader);
    let verb = if args.dry_run { "would" } else { "did" };
    let result = if args.dry_run {
        refuse_if_locked(&args.dir)?;
        Wal::plan_recovery(&args.dir, &opts)
    } else {
        Wal::open(&args.dir, opts).and_then(|(wal, report)| wal.close().map(|()| report))
    };
    let report = match result {
        Ok(r) => r,
        Err(e @ Error::Corruption { .. }) if !args.salvage => {
            let changed = if args.dry_run { "" } else { "nothing was changed; " };
            return Err(Failure::new(
                Exit::Corruption,
                format!("{e}; {changed}`seawall repair --salvage` cuts the log there and quarantines the cut bytes"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    print_report(&mut out, &args, &report, verb)?;
    Ok(Exit::Ok)
}

/// A dry run reports a log held open as a real repair would (status 4):
/// planning against a live log would count the writer's spare segment and
/// its in-flight tail as damage. `Wal::open` creates the lock file to lock
/// it; a dry run must create nothing, so it opens an existing lock file
/// read-only (`flock` needs no write access) and tries the lock on that
/// handle. The lock is released at once: a writer that starts between this
/// check and the plan is not seen, which a dry run can afford.
fn refuse_if_locked(dir: &Path) -> Result<(), Failure> {
    let path = dir.join(LOCK_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()), // never opened by a writer
        Err(e) => return Err(Failure::new(Exit::NotALog, format!("{}: {e}", path.display()))),
    };
    match file.try_lock() {
        Ok(()) => Ok(()), // unlocked when `file` is dropped
        Err(TryLockError::WouldBlock) => Err(Failure::new(
            Exit::Locked,
            format!("log directory {} is locked by another open Wal; nothing was changed", dir.display()),
        )),
        Err(TryLockError::Error(e)) => Err(Failure::new(Exit::NotALog, format!("{}: {e}", path.display()))),
    }
}

/// The segment size the log was written with, as well as its files tell:
/// used only if recovery keeps no segment and must start a new one.
fn segment_size_of(insp: &Inspection) -> u64 {
    let largest = insp.segments.iter().map(|s| s.file_len).max().unwrap_or(0);
    largest.clamp(MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE)
}

fn print_report(out: &mut impl Write, args: &Args, r: &RecoveryReport, verb: &str) -> std::io::Result<()> {
    let mode = if args.salvage { "salvage" } else { "truncate torn tail" };
    let dry = if args.dry_run { ", dry run: nothing is changed" } else { "" };
    writeln!(out, "repair {} (mode: {mode}{dry})", args.dir.display())?;
    writeln!(out, "found: {}", tail_sentence(&r.tail))?;
    if r.actions.is_empty() {
        writeln!(out, "{verb} nothing: the log needs no repair")?;
    }
    let rows: Vec<Vec<String>> = r.actions.iter().map(|a| action_row(a, verb)).collect();
    common::table(out, &rows, &[])?;
    let range = if r.last_lsn >= r.first_lsn {
        format!("LSN {}..={}", r.first_lsn, r.last_lsn)
    } else {
        "no records".to_string()
    };
    let holds = if args.dry_run { "would hold" } else { "holds" };
    let files = common::count(r.segments as u64, "segment file");
    let kept = r.actions.iter().any(|a| matches!(a, RecoveryAction::QuarantinedBytes { .. }));
    let cut = if kept { "cut (kept in the quarantine files above)" } else { "dropped" };
    writeln!(out, "the log {holds} {range} in {files}; {} {cut}", common::count(r.bytes_dropped(), "byte"))
}

/// What a copy of unclaimed records carried: LSNs, or metadata alone.
fn copied(first: Lsn, last: Lsn) -> String {
    if last >= first {
        format!("LSN {first}..={last}")
    } else {
        "the metadata".to_string()
    }
}

fn action_row(a: &RecoveryAction, verb: &str) -> Vec<String> {
    let row = |what: &str, seg: String, detail: String| vec![format!("  {verb} {what}"), seg, detail];
    match a {
        RecoveryAction::QuarantinedBytes { segment, offset, bytes, file } => row(
            "copy",
            segment.file_name(),
            format!("bytes {offset}..{} ({bytes} bytes) to {}", offset + bytes, file.display()),
        ),
        RecoveryAction::QuarantinedSegment { segment, file } => {
            row("move", segment.file_name(), format!("to {}", file.display()))
        }
        RecoveryAction::RemovedSegment { segment, reason } => {
            row("remove", segment.file_name(), common::removal_reason(*reason).to_string())
        }
        RecoveryAction::ClearedTail { segment, offset, bytes } => row(
            "clear",
            segment.file_name(),
            format!("bytes {offset}..{} ({bytes} bytes) overwritten with zeros", offset + bytes),
        ),
        RecoveryAction::CopiedUnclaimed { segment, into, first_lsn, last_lsn } => row(
            "copy",
            segment.file_name(),
            format!("{} into {}: no later record proved them durable", copied(*first_lsn, *last_lsn), into.file_name()),
        ),
        RecoveryAction::WroteMetadata { segment, first_lsn, reset } => row(
            "start",
            segment.file_name(),
            if *reset {
                format!("at LSN {first_lsn} with the metadata and purge point; every kept record lay before it")
            } else {
                format!("at LSN {first_lsn} with the metadata and purge point the cut segments held")
            },
        ),
        RecoveryAction::RepairedPage { segment, offset, bytes } => row(
            "rebuild",
            segment.file_name(),
            format!("bytes {offset}..{} ({bytes} bytes) from parity", offset + bytes),
        ),
        _ => row("change", String::new(), a.to_string()),
    }
}

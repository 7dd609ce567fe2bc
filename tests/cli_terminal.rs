//! What `seawall` shows on a terminal: a progress bar never lands inside
//! the records `dump` prints there. The tool runs on a pseudo-terminal
//! (`tests/support/pty.rs`), with `SEAWALL_PROGRESS_DELAY_MS=0` so that the
//! bar is due from the first record rather than after a second.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/pty.rs"]
mod pty;

use std::path::Path;
use std::process::Command;

use cli::*;
use pty::{run_on_terminal, screen_lines};
use seawall::Wal;
use tempfile::TempDir;

const RECORDS: u64 = 3000;

/// A log of `RECORDS` records, appended in one batch of syncs (fast).
fn log() -> TempDir {
    let tmp = TempDir::new().unwrap();
    let (wal, _) = Wal::open(tmp.path(), options()).unwrap();
    for i in 1..=RECORDS {
        wal.append(&payload(i)).unwrap();
    }
    wal.close().unwrap();
    tmp
}

fn seawall_now(args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seawall"));
    cmd.args(args).arg(dir).env("SEAWALL_PROGRESS_DELAY_MS", "0");
    cmd
}

/// Whether `line` is record `lsn` as `dump`'s text format prints it: LSN,
/// length, batch, segment, offset, checksum, then the payload preview (48
/// bytes at most; the screen drops trailing blanks).
fn is_record_line(line: &str, lsn: u64) -> bool {
    let payload = String::from_utf8(payload(lsn)).unwrap();
    let preview = if payload.len() > 48 { format!("{}...", &payload[..48]) } else { payload.clone() };
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.len() >= 7
        && fields[0] == lsn.to_string()
        && fields[1] == payload.len().to_string()
        && fields[2] == "none"
        && fields[3].ends_with(".wal")
        && fields[5].len() == 8
        && line.ends_with(&format!("  {}", preview.trim_end()))
}

#[test]
fn dump_on_a_terminal_keeps_the_progress_bar_out_of_record_lines() {
    let _turn = cli::one_at_a_time();
    let tmp = log();
    let (seen, status) = run_on_terminal(seawall_now(&["dump"], tmp.path()));
    assert!(status.success(), "{status}: {}", String::from_utf8_lossy(&seen));
    let lines = screen_lines(&seen);
    if let Some(line) = lines.iter().find(|l| l.contains("dumping") || l.contains("[=")) {
        panic!("progress bar inside the output: {line:?}");
    }
    let records: Vec<&String> =
        lines.iter().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(records.len() as u64, RECORDS);
    for (i, line) in records.iter().enumerate() {
        assert!(is_record_line(line, i as u64 + 1), "garbled record line: {line:?}");
    }
    assert!(!String::from_utf8_lossy(&seen).contains("dumping"), "a bar was drawn among the records");
}

#[test]
fn dump_to_a_file_from_a_terminal_shows_the_bar_there() {
    let _turn = cli::one_at_a_time();
    // The control for the test above: with stdout in a file, the same run
    // draws the bar on the terminal, and the file holds clean records.
    let tmp = log();
    let file = tmp.path().join("dump.txt");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"exec "$0" dump "$1" > "$2""#, env!("CARGO_BIN_EXE_seawall")])
        .arg(tmp.path())
        .arg(&file)
        .env("SEAWALL_PROGRESS_DELAY_MS", "0");
    let (seen, status) = run_on_terminal(cmd);
    assert!(status.success(), "{status}: {}", String::from_utf8_lossy(&seen));
    assert!(String::from_utf8_lossy(&seen).contains("dumping ["), "{:?}", String::from_utf8_lossy(&seen));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count() as u64, 1 + RECORDS);
    assert!(!text.contains("dumping") && !text.contains('\x1b'), "the bar reached stdout");
}

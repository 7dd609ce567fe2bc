//! Helpers shared by the `seawall` tool's test files (`tests/cli*.rs`):
//! the documented exit statuses, building logs with the library, damaging
//! them, and running the tool.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use seawall::{Lsn, Options, Reader, SegmentState, Wal};
use tempfile::TempDir;

#[path = "damage.rs"]
pub mod damage;

pub use damage::{flip_bit, write_bytes as write_at, zero_range};

pub const CLEAN: i32 = 0;
pub const TORN: i32 = 1;
pub const CORRUPT: i32 = 2;
pub const NOT_A_LOG: i32 = 3;
pub const LOCKED: i32 = 4;
pub const BAD_ARGS: i32 = 5;
pub const FAILED: i32 = 6;

#[path = "spawn_turn.rs"]
mod spawn_turn;

/// Takes the turn of one test: tests in a binary of these files run one at
/// a time, since nearly all of them both hold logs and spawn the tool (see
/// `spawn_turn.rs` for why the two must not overlap).
pub fn one_at_a_time() -> std::sync::RwLockWriteGuard<'static, ()> {
    spawn_turn::spawning()
}

pub fn seawall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seawall"))
}

pub fn options() -> Options {
    // Small segments so tests rotate; no spare segment so directories are
    // exactly what the test wrote.
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

pub fn payload(i: u64) -> Vec<u8> {
    format!("record {i} {}", "x".repeat((i % 50) as usize)).into_bytes()
}

/// A log of `n` records, each appended durably, so every record after the
/// first names its predecessor as durable (damage mid-log is corruption).
pub fn durable_log(n: u64) -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("log");
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    for i in 1..=n {
        assert_eq!(wal.append_durable(&payload(i)).unwrap(), Lsn::new(i));
    }
    wal.close().unwrap();
    (tmp, dir)
}

/// Where record `lsn` lies: its segment file and offset.
pub fn locate(dir: &Path, lsn: u64) -> (PathBuf, u64) {
    let reader = Reader::open(dir).unwrap();
    let rec = reader.iter_from(Lsn::new(lsn)).unwrap().next().unwrap().unwrap();
    (dir.join(rec.segment().file_name()), rec.offset())
}

/// The active segment and the offset just past its last valid record.
pub fn valid_end(dir: &Path) -> (PathBuf, u64) {
    let reader = Reader::open(dir).unwrap();
    let seg = reader.inspection().segments.iter().find(|s| s.state == SegmentState::Active).unwrap().clone();
    (seg.path, seg.bytes_used)
}

/// Garbage after the last valid record: a write cut by a crash.
pub fn tear_tail(dir: &Path) {
    let (seg, end) = valid_end(dir);
    write_at(&seg, end, &[0xAB; 21]);
}

/// Every file in `dir` (recursively) with its length and a hash of its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, u64)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let mut h = DefaultHasher::new();
            h.write(&bytes);
            files.insert(path, (bytes.len() as u64, h.finish()));
        }
    }
    files
}

pub fn run(args: &[&str], dir: &Path) -> std::process::Output {
    seawall().args(args).arg(dir).output().unwrap()
}

pub fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The exit status and the JSON document of `verify --json`.
pub fn verify(dir: &Path) -> (i32, serde_json::Value) {
    let out = run(&["verify", "--json"], dir);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["exit_status"], code(&out), "{doc}");
    (code(&out), doc)
}

/// One line on stderr, prefixed with the tool's name, and no panic.
pub fn assert_one_clear_line(out: &std::process::Output) {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    assert!(err.starts_with("seawall: "), "stderr: {err:?}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "stderr: {err:?}");
}

/// The objects of JSON Lines output, one per line.
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

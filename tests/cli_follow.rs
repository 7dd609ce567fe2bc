//! `seawall dump --follow`: it prints the records a writer in another
//! process appends, takes no lock (the writer holds it throughout), goes on
//! from the right LSN after a cut under it, stops by itself at `--to`, and
//! reports a corrupt log with status 2. The follower runs as a child
//! process; the test appends and waits for the child's output with a
//! deadline (no sleep decides anything), and kills the child at the end.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use cli::*;
use seawall::{Lsn, Wal};

/// How long to wait for the follower before the test fails: it only ends a
/// hang, the follower polls every 10 ms.
const DEADLINE: Duration = Duration::from_secs(60);

/// A `seawall dump --follow --json` child and the lines it prints.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn start(dir: &Path, args: &[&str]) -> Follower {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_seawall"))
            .args(["dump", "--follow", "--json", "--interval", "10"])
            .args(args)
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next line printed, or a failure after the deadline.
    fn line(&self) -> serde_json::Value {
        let line = self.lines.recv_timeout(DEADLINE).expect("the follower printed nothing before the deadline");
        serde_json::from_str(&line).unwrap()
    }

    /// The next `n` records: `(lsn, payload)`.
    fn records(&self, n: usize) -> Vec<(u64, String)> {
        (0..n)
            .map(|_| {
                let d = self.line();
                (d["lsn"].as_u64().unwrap(), d["payload"].as_str().unwrap().to_string())
            })
            .collect()
    }

    /// Waits (with the deadline) for the child to exit by itself: its
    /// stdout closes when it exits, which ends the reading thread.
    fn exit_status(&mut self) -> i32 {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => panic!("the follower printed more than expected: {line}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the follower did not exit before the deadline"),
        }
        self.child.wait().unwrap().code().expect("exited, not killed by a signal")
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn texts(range: std::ops::RangeInclusive<u64>) -> Vec<(u64, String)> {
    range.map(|i| (i, String::from_utf8(payload(i)).unwrap())).collect()
}

#[test]
fn follow_prints_what_a_writer_appends_without_taking_the_lock() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(3);
    let follower = Follower::start(&dir, &[]);
    assert_eq!(follower.records(3), texts(1..=3));
    // The writer holds the lock from here on.
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    for i in 4..=5 {
        wal.append_durable(&payload(i)).unwrap();
    }
    assert_eq!(follower.records(2), texts(4..=5));
    let batch: Vec<Vec<u8>> = (6..=8).map(payload).collect();
    let lsns = wal.append_batch(batch.iter().map(Vec::as_slice)).unwrap();
    wal.sync(*lsns.end()).unwrap();
    assert_eq!(follower.records(3), texts(6..=8));
    wal.close().unwrap();
}

#[test]
fn follow_goes_on_after_a_cut_from_the_new_end() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(8);
    let follower = Follower::start(&dir, &[]);
    assert_eq!(follower.records(8), texts(1..=8));
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.truncate_after(Lsn::new(6)).unwrap();
    wal.append_durable(b"rewritten 7").unwrap();
    assert_eq!(follower.records(1), [(7, "rewritten 7".to_string())]);
    wal.append_durable(b"then 8").unwrap();
    assert_eq!(follower.records(1), [(8, "then 8".to_string())]);
    wal.close().unwrap();
}

#[test]
fn follow_stops_by_itself_at_to() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(3);
    let mut follower = Follower::start(&dir, &["--from", "2", "--to", "5"]);
    assert_eq!(follower.records(2), texts(2..=3));
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    for i in 4..=6 {
        wal.append_durable(&payload(i)).unwrap();
    }
    assert_eq!(follower.records(2), texts(4..=5));
    assert_eq!(follower.exit_status(), CLEAN);
    wal.close().unwrap();
}

#[test]
fn follow_of_a_corrupt_log_prints_the_records_before_the_damage_and_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 10);
    flip_bit(&seg, off + 40, 0);
    let mut follower = Follower::start(&dir, &[]);
    assert_eq!(follower.records(9), texts(1..=9));
    let last = follower.line();
    assert_eq!((last["status"].as_str(), last["exit_status"].as_i64()), (Some("corrupt"), Some(2)), "{last}");
    assert_eq!(follower.exit_status(), CORRUPT);
}

#[test]
fn follow_applies_to_a_log_directory_only() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(3);
    let seg = dir.join(seawall::SegmentId::new(1).file_name());
    let out = seawall().args(["dump", "--follow"]).arg(&seg).output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
    assert_one_clear_line(&out);
    let out = seawall().args(["dump", "--follow", "--past-damage"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
    assert_one_clear_line(&out);
}

//! kill -9 of a process using the seawall log store, during append,
//! truncation, purge and vote.
//!
//! The child is this test binary, re-run as `--exact child_ops` with
//! `SEAWALL_RAFT_LOG_CHILD=<dir>:<seed>`; without that variable `child_ops`
//! returns at once. It opens the store, carries on from what it finds, and
//! runs a seeded stream of operations (appends of 1-8 entries, truncations,
//! purges inside and past the end of the log, votes, committed ids). Before
//! each operation it prints `@@ B <op>`, after it returns `@@ D`.
//!
//! Each cycle picks a kind of operation and sends SIGKILL as soon as the
//! child begins the k-th one of that kind. The parent then reopens the store
//! and requires it to equal what the acknowledged operations produced, or
//! that plus the operation in flight (for an append, any prefix of its
//! entries), entries gap-free and bit-exact. The recovered state is the
//! baseline of the next cycle, whose child continues in the same directory.
//!
//! `SEAWALL_RAFT_LOG_KILL_CYCLES=<n>` sets the cycles (default 40);
//! `SEAWALL_SEED=<hex>` replays the choices.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use seawall::Options;
use seawall_raft::log_store::SeawallLogStore;
use seawall_raft::types::Vote;
use support::{entries, log_id, mix, read_model, seed, Model, Rng};

const CHILD_ENV: &str = "SEAWALL_RAFT_LOG_CHILD";
/// A child that says nothing for this long is stuck.
const STALL: Duration = Duration::from_secs(60);
/// A child never killed stops after this many operations.
const MAX_OPS: u64 = 100_000;
const KINDS: [&str; 4] = ["append", "truncate", "purge", "vote"];

fn options() -> Options {
    Options::default().segment_size(64 * 1024)
}

/// One operation, as the child prints it.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    Append { term: u64, first: u64, count: u64 },
    Truncate { index: u64 },
    Purge { term: u64, index: u64 },
    Vote { term: u64 },
    Committed { term: u64, index: u64 },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Append { .. } => "append",
            Op::Truncate { .. } => "truncate",
            Op::Purge { .. } => "purge",
            Op::Vote { .. } => "vote",
            Op::Committed { .. } => "committed",
        }
    }

    fn line(&self) -> String {
        match *self {
            Op::Append { term, first, count } => format!("append {term} {first} {count}"),
            Op::Truncate { index } => format!("truncate {index}"),
            Op::Purge { term, index } => format!("purge {term} {index}"),
            Op::Vote { term } => format!("vote {term}"),
            Op::Committed { term, index } => format!("committed {term} {index}"),
        }
    }

    fn parse(line: &str) -> Op {
        let w: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| w[i].parse::<u64>().unwrap_or_else(|_| panic!("bad op line {line:?}"));
        match w[0] {
            "append" => Op::Append { term: n(1), first: n(2), count: n(3) },
            "truncate" => Op::Truncate { index: n(1) },
            "purge" => Op::Purge { term: n(1), index: n(2) },
            "vote" => Op::Vote { term: n(1) },
            "committed" => Op::Committed { term: n(1), index: n(2) },
            _ => panic!("bad op line {line:?}"),
        }
    }

    /// The model after this operation (for an append, after its first `keep` entries).
    fn apply(&self, m: &Model, keep: u64) -> Model {
        let mut m = m.clone();
        match *self {
            Op::Append { term, first, .. } => m.append(&entries(term, first, keep)),
            Op::Truncate { index } => m.truncate(index),
            Op::Purge { term, index } => m.purge(log_id(term, index)),
            Op::Vote { term } => m.vote = Some(Vote::new(term, 1)),
            Op::Committed { term, index } => m.committed = Some(log_id(term, index)),
        }
        m
    }

    /// Every state a crash during this operation may leave, from `m`.
    fn outcomes(&self, m: &Model) -> Vec<Model> {
        let mut out = vec![m.clone()];
        match *self {
            Op::Append { count, .. } => out.extend((1..=count).map(|k| self.apply(m, k))),
            _ => out.push(self.apply(m, 0)),
        }
        out
    }
}

/// The child: a seeded stream of operations on the store in `dir`.
#[test]
fn child_ops() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (dir, seed) = spec.rsplit_once(':').expect("dir:seed");
    let seed = u64::from_str_radix(seed, 16).expect("hex seed");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(child(Path::new(dir), seed));
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "@@ {line}").and_then(|()| out.flush()).expect("parent gone");
}

async fn child(dir: &Path, seed: u64) {
    let mut store = SeawallLogStore::open_with(dir, options()).expect("child opens the store");
    let mut m = read_model(&mut store).await;
    // Terms only grow: above everything the log, the purge point and the vote hold.
    let mut term = 1 + m.log.values().copied().max().unwrap_or(0).max(m.purged.map_or(0, |p| p.leader_id.term));
    let mut vote_term = m.vote.map_or(0, |v| v.leader_id().term);
    let mut rng = Rng(seed);
    for _ in 0..MAX_OPS {
        let next = m.next_index();
        let present = m.log.keys().next().copied().map(|first| (first, next - 1));
        let op = match (rng.below(100), present) {
            (0..=59, _) => Op::Append { term, first: next, count: 1 + rng.below(8) },
            (60..=69, Some((first, last))) => Op::Truncate { index: first + rng.below(last - first + 1) },
            (70..=79, Some((first, last))) if rng.below(4) != 0 => {
                let index = first + rng.below(last - first + 1);
                Op::Purge { term: m.log[&index], index }
            }
            (60..=79, _) => Op::Purge { term, index: next + rng.below(5) },
            (80..=89, _) => {
                vote_term += 1;
                Op::Vote { term: vote_term }
            }
            (_, Some((first, last))) => {
                let index = first + rng.below(last - first + 1);
                Op::Committed { term: m.log[&index], index }
            }
            (_, None) => continue,
        };
        say(&format!("B {}", op.line()));
        match op {
            Op::Append { term, first, count } => store.blocking_append(entries(term, first, count)).await.unwrap(),
            Op::Truncate { index } => {
                store.truncate(m.log_id_at(index)).await.unwrap();
                term += 1;
            }
            Op::Purge { term, index } => store.purge(log_id(term, index)).await.unwrap(),
            Op::Vote { term } => store.save_vote(&Vote::new(term, 1)).await.unwrap(),
            Op::Committed { term, index } => store.save_committed(Some(log_id(term, index))).await.unwrap(),
        }
        m = op.apply(&m, if let Op::Append { count, .. } = op { count } else { 0 });
        say("D");
    }
}

fn cycles() -> u64 {
    std::env::var("SEAWALL_RAFT_LOG_KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(40)
}

#[test]
fn kill_during_append_truncate_purge_and_vote() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let seed = seed();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rng = Rng(seed);
    let mut baseline = Model::default();
    let mut in_flight_kills = [0u64; 4];
    let mut acked_ops = 0;
    for cycle in 0..cycles() {
        let kind = (cycle % 4) as usize;
        let kill_at = 1 + rng.below(4);
        let child_seed = mix(seed ^ cycle);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_ops", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}:{child_seed:x}", dir.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print "test child_ops ... " before the first line.
                if let Some(pos) = line.find("@@ ") {
                    if tx.send(line[pos + 3..].to_string()).is_err() {
                        break;
                    }
                }
            }
        });

        let mut m = baseline.clone();
        let mut in_flight: Option<Op> = None;
        let mut seen = 0;
        let mut killed = false;
        loop {
            let line = match rx.recv_timeout(STALL) {
                Ok(line) => line,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("cycle {cycle}: child silent for {STALL:?} (seed {seed:#x})");
                }
            };
            if let Some(op) = line.strip_prefix("B ") {
                let op = Op::parse(op);
                if op.kind() == KINDS[kind] && !killed {
                    seen += 1;
                    if seen == kill_at {
                        child.kill().expect("SIGKILL");
                        killed = true;
                    }
                }
                in_flight = Some(op);
            } else {
                let op = in_flight.take().expect("D without B");
                m = op.apply(&m, if let Op::Append { count, .. } = op { count } else { 0 });
                acked_ops += 1;
            }
        }
        let status = child.wait().expect("reap child");
        assert!(killed, "cycle {cycle}: child exited by itself ({status}) (seed {seed:#x})");
        if let Some(k) = in_flight.as_ref().and_then(|op| KINDS.iter().position(|&k| k == op.kind())) {
            in_flight_kills[k] += 1;
        }

        let recovered = rt.block_on(async {
            let mut store = SeawallLogStore::open_with(dir.path(), options()).expect("reopen after kill");
            read_model(&mut store).await
        });
        let allowed = match &in_flight {
            None => vec![m.clone()],
            Some(op) => op.outcomes(&m),
        };
        assert!(
            allowed.contains(&recovered),
            "cycle {cycle}: killed during {in_flight:?}; recovered {recovered:?}, expected one of {allowed:?} (seed {seed:#x})"
        );
        baseline = recovered;
    }
    println!(
        "log store kill test (seed {seed:#x}): {} kills, {acked_ops} operations acknowledged; \
         killed with an operation in flight: {} append, {} truncate, {} purge, {} vote; \
         final log: {} entries after purge point {:?}",
        cycles(),
        in_flight_kills[0],
        in_flight_kills[1],
        in_flight_kills[2],
        in_flight_kills[3],
        baseline.log.len(),
        baseline.purged.map(|p| p.index),
    );
    for (k, n) in KINDS.iter().zip(in_flight_kills) {
        assert!(n > 0, "no kill landed during a {k} (seed {seed:#x})");
    }
}

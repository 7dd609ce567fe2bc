//! Reads racing purges: while one task purges the front of the log in
//! seeded steps, readers keep reading all of it, its front (where a purge
//! overtakes a read), and random ranges. Every read must return a gap-free
//! run of genuine entries; a run may end early only where the purge
//! overtook it; and a limited read (what replication uses) returns a run
//! that starts at the index asked for, or nothing. Also: appends racing
//! truncations.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::RaftLogReader;
use seawall::Options;
use seawall_raft::log_store::{index_of, SeawallLogStore, MAX_ENTRIES_PER_READ};
use seawall_raft::types::Entry;
use support::{assert_genuine, entries, log_id, seed, Rng};

/// Entries in the log; about 500 KiB, so several 64 KiB segments.
const N: u64 = 3_000;
/// The purge stops here, so the end of the log is always present.
const PURGE_TO: u64 = N / 2;
/// Purge steps are 1 to this many entries.
const MAX_PURGE_STEP: u64 = 40;
const WATCHDOG: Duration = Duration::from_secs(300);

fn check_run(run: &[Entry], what: &str) {
    for w in run.windows(2) {
        assert_eq!(w[0].log_id.index + 1, w[1].log_id.index, "{what}: a hole after {}", w[0].log_id);
    }
    run.iter().for_each(assert_genuine);
}

#[derive(Default)]
struct Counts {
    reads: AtomicU64,
    cut_short: AtomicU64,
    empty: AtomicU64,
}

#[test]
fn reads_racing_purges_return_gap_free_runs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(3).enable_all().build().unwrap();
    rt.block_on(async {
        let opts = Options::default().segment_size(64 * 1024);
        let mut store = SeawallLogStore::open_with(dir.path(), opts).unwrap();
        for first in (0..N).step_by(100) {
            store.blocking_append(entries(1, first, 100)).await.unwrap();
        }
        let done = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());

        let mut readers = Vec::new();
        for r in 0..2u64 {
            let mut reader = store.get_log_reader().await;
            let (done, counts, wal) = (done.clone(), counts.clone(), store.wal().clone());
            readers.push(tokio::spawn(async move {
                let mut rng = Rng(r);
                // Until the purger is done: the loop's end is the purger's.
                while !done.load(Ordering::Relaxed) {
                    let run = reader.try_get_log_entries(0..N).await.expect("read");
                    check_run(&run, "full read");
                    match run.last() {
                        None => counts.empty.fetch_add(1, Ordering::Relaxed),
                        Some(last) if last.log_id.index != N - 1 => {
                            // Purges cut from the front: a run ends early
                            // only if the purge point passed its end.
                            assert!(last.log_id.index < PURGE_TO, "a run ended at {} for no reason", last.log_id);
                            counts.cut_short.fetch_add(1, Ordering::Relaxed)
                        }
                        Some(_) => 0,
                    };
                    let front = index_of(wal.first_lsn());
                    let run = reader.try_get_log_entries(front..front + MAX_ENTRIES_PER_READ).await.expect("read");
                    check_run(&run, "front read");
                    // Whole unless the purge moved on between reading the
                    // first index and reading the entries.
                    let started_late = run.first().is_none_or(|f| f.log_id.index != front);
                    let ended_early = run.last().is_none_or(|l| l.log_id.index + 1 < front + MAX_ENTRIES_PER_READ);
                    if ended_early {
                        // Only where the purge point passed the run's end.
                        assert!(run.last().is_none_or(|l| l.log_id.index < PURGE_TO), "a front read ended early");
                    }
                    if started_late || ended_early {
                        counts.cut_short.fetch_add(1, Ordering::Relaxed);
                    }
                    let start = rng.below(N);
                    let end = start + 1 + rng.below(N - start);
                    let run = reader.limited_get_log_entries(start, end).await.expect("limited read");
                    check_run(&run, "limited read");
                    if let Some(first) = run.first() {
                        assert_eq!(first.log_id.index, start, "a limited read began elsewhere");
                        assert!(run.len() as u64 <= (end - start).min(MAX_ENTRIES_PER_READ));
                    } else {
                        assert!(start <= PURGE_TO, "a limited read of present entries {start}..{end} returned nothing");
                    }
                    counts.reads.fetch_add(3, Ordering::Relaxed);
                }
            }));
        }

        let seed = seed();
        let mut rng = Rng(seed);
        let mut purged = 0;
        let purger = async {
            while purged + MAX_PURGE_STEP <= PURGE_TO {
                purged += 1 + rng.below(MAX_PURGE_STEP);
                store.purge(log_id(1, purged)).await.unwrap();
            }
            done.store(true, Ordering::Relaxed);
        };
        tokio::time::timeout(WATCHDOG, purger).await.expect("purging finished in time");
        for r in readers {
            tokio::time::timeout(WATCHDOG, r).await.expect("reader stopped in time").expect("reader passed");
        }
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, purged)));
        assert_eq!(state.last_log_id, Some(log_id(1, N - 1)));
        println!(
            "reads racing purges (seed {seed:#x}): {} reads, {} cut short or started late by a purge, {} empty",
            counts.reads.load(Ordering::Relaxed),
            counts.cut_short.load(Ordering::Relaxed),
            counts.empty.load(Ordering::Relaxed)
        );
        assert!(counts.reads.load(Ordering::Relaxed) > 0);
    });
}

/// Appends racing truncations: a truncation that cuts entries right after
/// they were appended, before seawall's flusher delivered their callback,
/// must not turn the callback into an error. Every cut makes the records
/// durable first, so the append was durable; an error would make openraft
/// stop the node.
#[test]
fn append_callbacks_succeed_when_a_truncation_cuts_their_entries() {
    const ROUNDS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut store = SeawallLogStore::open(dir.path()).unwrap();
        store.blocking_append(entries(1, 0, 1)).await.unwrap();
        let mut cut_after_append = 0;
        let rounds = async {
            for round in 0..ROUNDS {
                let mut appender = store.clone();
                let term = 2 + round;
                let append = tokio::spawn(async move { appender.blocking_append(entries(term, 1, 8)).await });
                store.truncate(log_id(term, 1)).await.expect("truncate");
                append.await.unwrap().expect("an append callback failed");
                match store.get_log_state().await.unwrap().last_log_id.map(|l| l.index) {
                    Some(0) => cut_after_append += 1,
                    // The truncation ran first: cut what the append added.
                    _ => store.truncate(log_id(term, 1)).await.expect("truncate"),
                }
            }
        };
        tokio::time::timeout(WATCHDOG, rounds).await.expect("rounds finished in time");
        println!(
            "appends racing truncations: {ROUNDS} rounds, {cut_after_append} truncations cut the appended entries"
        );
    });
}

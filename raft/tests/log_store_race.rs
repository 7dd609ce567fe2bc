//! Reads racing purges: while one task purges the front of the log step by
//! step, readers keep reading it. Every read must return a gap-free run of
//! genuine entries; a run may end early only where the purge overtook it;
//! and a limited read (what replication uses) returns a run that starts at
//! the index asked for, or nothing.

#![cfg(feature = "seawall-log-store")]

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::RaftLogReader;
use seawall::Options;
use seawall_raft::log_store::{SeawallLogStore, MAX_ENTRIES_PER_READ};
use seawall_raft::types::Entry;
use support::{assert_genuine, entries, log_id, Rng};

/// Entries in the log; about 500 KiB, so several 64 KiB segments.
const N: u64 = 3_000;
/// The purge stops here, so the end of the log is always present.
const PURGE_TO: u64 = N / 2;
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
            let (done, counts) = (done.clone(), counts.clone());
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
                    counts.reads.fetch_add(2, Ordering::Relaxed);
                }
            }));
        }

        let purger = async {
            for upto in (0..=PURGE_TO).step_by(7) {
                store.purge(log_id(1, upto)).await.unwrap();
            }
            done.store(true, Ordering::Relaxed);
        };
        tokio::time::timeout(WATCHDOG, purger).await.expect("purging finished in time");
        for r in readers {
            tokio::time::timeout(WATCHDOG, r).await.expect("reader stopped in time").expect("reader passed");
        }
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, PURGE_TO / 7 * 7)));
        assert_eq!(state.last_log_id, Some(log_id(1, N - 1)));
        println!(
            "reads racing purges: {} reads, {} cut short by a purge, {} empty",
            counts.reads.load(Ordering::Relaxed),
            counts.cut_short.load(Ordering::Relaxed),
            counts.empty.load(Ordering::Relaxed)
        );
        assert!(counts.reads.load(Ordering::Relaxed) > 0);
    });
}

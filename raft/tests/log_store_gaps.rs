//! Appends openraft itself never makes but its storage suite does (see
//! "Skipped indexes" in `log_store.rs`): entries the purge point already
//! covers are dropped, and indexes an append skips read as absent. Neither
//! leaves a hole, and the store reopens to the same state.

mod support;

use std::path::Path;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::RaftLogReader;
use seawall_raft::log_store::{lsn_of, SeawallLogStore, MAX_FILLERS};
use seawall_raft::types::LogId;
use support::{entries, log_id, within};

/// The store's log state and every index it holds.
async fn contents(store: &mut SeawallLogStore) -> (Option<LogId>, Option<LogId>, Vec<u64>) {
    let state = store.get_log_state().await.unwrap();
    let all = store.try_get_log_entries(0..).await.unwrap();
    (state.last_purged_log_id, state.last_log_id, all.iter().map(|e| e.log_id.index).collect())
}

/// Checks `store`, then that reopening it finds the same.
async fn check_and_reopen(
    dir: &Path,
    store: SeawallLogStore,
    expected: (Option<LogId>, Option<LogId>, Vec<u64>),
) -> SeawallLogStore {
    let mut store = store;
    assert_eq!(contents(&mut store).await, expected, "before reopening");
    drop(store);
    let mut store = SeawallLogStore::open(dir).unwrap();
    assert_eq!(contents(&mut store).await, expected, "after reopening");
    store
}

/// Runs `test` on a fresh directory, in a runtime, under a watchdog.
fn run(test: impl AsyncFnOnce(&Path) + Send + 'static) {
    within("the test", move || {
        let dir = tempfile::tempdir().unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(test(dir.path()));
    })
}

/// What openraft's `get_initial_state_membership_from_log_and_sm` does.
#[test]
fn entries_the_purge_point_covers_are_dropped() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.purge(log_id(1, 2)).await.unwrap();
        store.blocking_append(entries(1, 1, 1)).await.unwrap();
        let store = check_and_reopen(dir, store, (Some(log_id(1, 2)), Some(log_id(1, 2)), vec![])).await;
        let mut store = store;
        store.blocking_append(entries(1, 3, 1)).await.unwrap();
        assert_eq!(store.wal().last_lsn(), lsn_of(3));
        check_and_reopen(dir, store, (Some(log_id(1, 2)), Some(log_id(1, 3)), vec![3])).await;
    });
}

#[test]
fn an_append_straddling_the_purge_point_keeps_the_entries_after_it() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.purge(log_id(1, 4)).await.unwrap();
        store.blocking_append(entries(1, 2, 7)).await.unwrap();
        check_and_reopen(dir, store, (Some(log_id(1, 4)), Some(log_id(1, 8)), vec![5, 6, 7, 8])).await;
    });
}

#[test]
fn skipped_indexes_read_as_absent() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 2, 1)).await.unwrap();
        assert_eq!(store.wal().first_lsn(), lsn_of(0));
        assert!(store.try_get_log_entries(0..2).await.unwrap().is_empty());
        let mut store = check_and_reopen(dir, store, (None, Some(log_id(1, 2)), vec![2])).await;
        store.blocking_append(entries(1, 3, 2)).await.unwrap();
        check_and_reopen(dir, store, (None, Some(log_id(1, 4)), vec![2, 3, 4])).await;
    });
}

#[test]
fn skipped_indexes_after_the_purge_point_read_as_absent() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 3)).await.unwrap();
        store.purge(log_id(1, 1)).await.unwrap();
        store.blocking_append(entries(2, 5, 1)).await.unwrap();
        check_and_reopen(dir, store, (Some(log_id(1, 1)), Some(log_id(2, 5)), vec![2, 5])).await;
    });
}

#[test]
fn a_truncation_that_would_end_the_log_in_fillers_cuts_them_too() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 1)).await.unwrap();
        store.blocking_append(entries(1, 3, 3)).await.unwrap();
        // Keeps indexes 0 to 2, of which 1 and 2 are fillers.
        store.truncate(log_id(1, 3)).await.unwrap();
        assert_eq!(store.wal().last_lsn(), lsn_of(0));
        let mut store = check_and_reopen(dir, store, (None, Some(log_id(1, 0)), vec![0])).await;
        store.blocking_append(entries(2, 1, 1)).await.unwrap();
        check_and_reopen(dir, store, (None, Some(log_id(2, 1)), vec![0, 1])).await;
    });
}

#[test]
fn a_truncation_of_fillers_and_entries_can_empty_the_log() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 2, 3)).await.unwrap();
        store.truncate(log_id(1, 2)).await.unwrap();
        let mut store = check_and_reopen(dir, store, (None, None, vec![])).await;
        store.blocking_append(entries(2, 0, 2)).await.unwrap();
        check_and_reopen(dir, store, (None, Some(log_id(2, 1)), vec![0, 1])).await;
    });
}

#[test]
fn a_gap_of_more_than_max_fillers_is_refused() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 1)).await.unwrap();
        let err = store.blocking_append(entries(1, MAX_FILLERS + 2, 1)).await.expect_err("a gap too large");
        assert!(err.to_string().contains("would skip more than"), "{err}");
        assert_eq!(contents(&mut store).await, (None, Some(log_id(1, 0)), vec![0]));
        store.blocking_append(entries(1, MAX_FILLERS + 1, 1)).await.unwrap();
        check_and_reopen(dir, store, (None, Some(log_id(1, MAX_FILLERS + 1)), vec![0, MAX_FILLERS + 1])).await;
    });
}

#[test]
fn an_append_over_present_entries_is_refused() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 5)).await.unwrap();
        let err = store.blocking_append(entries(2, 3, 1)).await.expect_err("an overwrite without truncation");
        assert!(err.to_string().contains("append of entry 3 where entry 5 comes next"), "{err}");
        check_and_reopen(dir, store, (None, Some(log_id(1, 4)), vec![0, 1, 2, 3, 4])).await;
    });
}

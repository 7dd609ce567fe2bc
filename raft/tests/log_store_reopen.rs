//! Reopening the seawall log store after every kind of operation: what was
//! done before a clean close is what open finds (entries, purge point, vote,
//! committed), and the store carries on from there. Also: open finishes a
//! purge that a crash cut in two, and refuses a log that starts after its
//! purge point.

mod support;

use std::path::Path;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use seawall::{Options, Wal};
use seawall_raft::log_store::{lsn_of, SeawallLogStore, META_PURGED};
use seawall_raft::types::Vote;
use support::{entries, log_id, read_model, within, Model};

/// One operation on the store, mirrored on the model.
#[derive(Clone, Debug)]
enum Op {
    Append { term: u64, count: u64 },
    Truncate { index: u64 },
    Purge { term: u64, index: u64 },
    Vote { term: u64 },
    Committed { index: u64 },
}

async fn apply(store: &mut SeawallLogStore, model: &mut Model, op: &Op) {
    match *op {
        Op::Append { term, count } => {
            let es = entries(term, model.next_index(), count);
            store.blocking_append(es.clone()).await.expect("append");
            model.append(&es);
        }
        Op::Truncate { index } => {
            store.truncate(model.log_id_at(index)).await.expect("truncate");
            model.truncate(index);
        }
        Op::Purge { term, index } => {
            store.purge(log_id(term, index)).await.expect("purge");
            model.purge(log_id(term, index));
        }
        Op::Vote { term } => {
            let vote = Vote::new(term, 2);
            store.save_vote(&vote).await.expect("save_vote");
            model.vote = Some(vote);
        }
        Op::Committed { index } => {
            let id = Some(model.log_id_at(index));
            store.save_committed(id).await.expect("save_committed");
            model.committed = id;
        }
    }
}

/// Runs `setup`, then `op`, closes and reopens the store, and checks it
/// against the model; then appends and reopens once more.
fn reopen_after(setup: &[Op], op: Op) {
    let setup = setup.to_vec();
    within("the test", move || reopen_after_inner(&setup, op));
}

fn reopen_after_inner(setup: &[Op], op: Op) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut model = Model::default();
        let mut store = SeawallLogStore::open(dir.path()).unwrap();
        for o in setup {
            apply(&mut store, &mut model, o).await;
        }
        apply(&mut store, &mut model, &op).await;
        assert_eq!(read_model(&mut store).await, model, "before closing, after {op:?}");
        drop(store);

        let mut store = SeawallLogStore::open(dir.path()).unwrap();
        assert_eq!(read_model(&mut store).await, model, "after reopening, after {op:?}");

        apply(&mut store, &mut model, &Op::Append { term: 9, count: 3 }).await;
        drop(store);
        let mut store = SeawallLogStore::open(dir.path()).unwrap();
        assert_eq!(read_model(&mut store).await, model, "after appending and reopening, after {op:?}");
    });
}

const TEN: Op = Op::Append { term: 1, count: 10 };

#[test]
fn reopen_after_first_append_at_index_0() {
    reopen_after(&[], Op::Append { term: 1, count: 1 });
}

#[test]
fn reopen_after_append() {
    reopen_after(&[TEN], Op::Append { term: 2, count: 5 });
}

#[test]
fn reopen_after_vote() {
    reopen_after(&[TEN], Op::Vote { term: 4 });
}

#[test]
fn reopen_after_vote_on_empty_log() {
    reopen_after(&[], Op::Vote { term: 1 });
}

#[test]
fn reopen_after_committed() {
    reopen_after(&[TEN], Op::Committed { index: 7 });
}

#[test]
fn reopen_after_truncate() {
    reopen_after(&[TEN], Op::Truncate { index: 4 });
}

#[test]
fn reopen_after_truncate_of_everything() {
    reopen_after(&[TEN], Op::Truncate { index: 0 });
}

#[test]
fn reopen_after_truncate_following_a_purge() {
    reopen_after(&[TEN, Op::Purge { term: 1, index: 3 }], Op::Truncate { index: 4 });
}

#[test]
fn reopen_after_purge() {
    reopen_after(&[TEN], Op::Purge { term: 1, index: 5 });
}

#[test]
fn reopen_after_purge_of_index_0() {
    reopen_after(&[TEN], Op::Purge { term: 1, index: 0 });
}

#[test]
fn reopen_after_purge_of_everything() {
    reopen_after(&[TEN], Op::Purge { term: 1, index: 9 });
}

#[test]
fn reopen_after_purge_past_the_end() {
    // A snapshot covering entries this node never received.
    reopen_after(&[TEN], Op::Purge { term: 3, index: 40 });
}

#[test]
fn reopen_after_purge_past_the_end_of_an_empty_log() {
    reopen_after(&[], Op::Purge { term: 3, index: 40 });
}

#[test]
fn reopen_after_second_purge_past_the_end() {
    reopen_after(&[TEN, Op::Purge { term: 3, index: 40 }], Op::Purge { term: 4, index: 90 });
}

#[test]
fn reopen_after_a_purge_that_is_already_done() {
    reopen_after(&[TEN, Op::Purge { term: 1, index: 6 }], Op::Purge { term: 1, index: 2 });
}

/// Runs `test` on a fresh directory, in a runtime, under a watchdog.
fn run(test: impl AsyncFnOnce(&Path) + Send + 'static) {
    within("the test", move || {
        let dir = tempfile::tempdir().unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(test(dir.path()));
    })
}

fn wal(dir: &Path) -> Wal {
    Wal::open(dir, Options::default()).unwrap().0
}

/// A crash between the two steps of a purge leaves the purge point written
/// and the records still there: open drops them.
#[test]
fn interrupted_purge_is_finished_on_open() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 10)).await.unwrap();
        drop(store);
        // The first step of purge(1-6) alone.
        let w = wal(dir);
        w.set_meta(META_PURGED, &seawall_raft::codec::encode_log_id(&Some(log_id(1, 6)))).unwrap();
        w.close().unwrap();

        let mut store = SeawallLogStore::open(dir).unwrap();
        let m = read_model(&mut store).await;
        assert_eq!(m.purged, Some(log_id(1, 6)));
        assert_eq!(m.log.keys().copied().collect::<Vec<_>>(), (7..10).collect::<Vec<_>>());
        assert_eq!(store.wal().first_lsn(), lsn_of(7));
    });
}

/// The same, when the purge point lies past the last entry: open empties
/// the log and the next entry goes right after the purge point.
#[test]
fn interrupted_purge_past_the_end_is_finished_on_open() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 10)).await.unwrap();
        drop(store);
        let w = wal(dir);
        w.set_meta(META_PURGED, &seawall_raft::codec::encode_log_id(&Some(log_id(2, 30)))).unwrap();
        w.close().unwrap();

        let mut store = SeawallLogStore::open(dir).unwrap();
        let m = read_model(&mut store).await;
        assert_eq!((m.purged, m.log.len()), (Some(log_id(2, 30)), 0));
        store.blocking_append(entries(2, 31, 2)).await.unwrap();
        assert_eq!(read_model(&mut store).await.log.len(), 2);
    });
}

/// Records missing after the purge point (dropped behind the store's back)
/// are a hole: open refuses the log rather than report a shorter one.
#[test]
fn log_starting_after_its_purge_point_is_refused() {
    run(async |dir| {
        let mut store = SeawallLogStore::open(dir).unwrap();
        store.blocking_append(entries(1, 0, 10)).await.unwrap();
        store.purge(log_id(1, 2)).await.unwrap();
        drop(store);
        let w = wal(dir);
        w.truncate_before(lsn_of(5)).unwrap();
        w.close().unwrap();
        assert!(SeawallLogStore::open(dir).is_err(), "a log missing entries 3 and 4 was opened");
    });
}

//! Guards dropping records from a log store: `truncate_before` makes the
//! first LSN exactly the purge point, durably; `reset(next)` drops every
//! record durably, keeps metadata, and continues at `next`, lower or higher;
//! `truncate_after(first_lsn() - 1)` empties the log; a consensus log's
//! conflict truncation (append two, cut one, a thousand times) stays within
//! two segments of disk; a cut inside an atomic batch is refused.
//!
//! "Durably" is checked on a crash copy: the directory copied right after
//! the call returns, before the log is closed, then opened.

#[path = "support/damage.rs"]
mod damage;
#[path = "support/log_store.rs"]
mod log_store;

use std::path::Path;

use damage::snapshot;
use log_store::{all_records, allocated_bytes, body, collect, fill, out_of_range, segment_ids, small_opts};
use seawall::{Error, Lsn, Options, Reader, SegmentId, Wal};

type Records = Vec<(u64, Vec<u8>)>;

fn open(dir: &Path) -> Wal {
    Wal::open(dir, small_opts()).unwrap().0
}

/// `wal` holds exactly `records`, from `first` on (an empty log when
/// `records` is empty), and reads just outside fail.
fn assert_holds(who: &str, wal: &Wal, first: u64, records: &[(u64, Vec<u8>)]) {
    let last = first + records.len() as u64 - 1;
    assert_eq!((wal.first_lsn().get(), wal.last_lsn().get()), (first, last), "{who}: first and last LSN");
    assert!(all_records(wal) == records, "{who}: the records read back differ");
    if first > 1 {
        assert_eq!(out_of_range(&wal.read(Lsn::new(first - 1))), Some((first - 1, first, last)), "{who}: below first");
        assert!(out_of_range(&wal.range(Lsn::new(first - 1)..).map(drop)).is_some(), "{who}: range below first");
    }
    assert_eq!(out_of_range(&wal.read(Lsn::new(last + 1))), Some((last + 1, first, last)), "{who}: past last");
}

/// The offline reader sees the same log.
fn assert_reader_holds(who: &str, dir: &Path, first: u64, records: &[(u64, Vec<u8>)]) {
    let r = Reader::open(dir).unwrap();
    let last = first + records.len() as u64 - 1;
    assert_eq!((r.first_lsn().get(), r.last_lsn().get()), (first, last), "{who}: Reader's first and last LSN");
    assert!(collect(r.range(..).unwrap()) == records, "{who}: Reader reads other records");
}

/// The segment holding each LSN of `records`.
fn segment_of(wal: &Wal, lsn: u64) -> u64 {
    wal.read(Lsn::new(lsn)).unwrap().segment().get()
}

/// The first LSN of segment `id`.
fn first_in(wal: &Wal, records: &[(u64, Vec<u8>)], id: u64) -> u64 {
    records.iter().find(|r| segment_of(wal, r.0) == id).expect("the segment holds records").0
}

/// Runs `truncate_before(purge)` on a log of 300 records and checks the log
/// after it returns, on a crash copy taken at once, and after a reopen.
fn purge_and_check(purge_of: impl Fn(&Wal, &Records) -> u64) {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 300, "old");
    let purge = purge_of(&wal, &records);
    assert_eq!(wal.truncate_before(Lsn::new(purge)).unwrap(), Lsn::new(purge));
    let crashed = snapshot(dir.path());
    let kept: Records = records.iter().filter(|r| r.0 >= purge).cloned().collect();
    assert_holds("after truncate_before", &wal, purge, &kept);
    // Segments wholly before the purge point are gone.
    let gone: Vec<u64> = records.iter().filter(|r| r.0 < purge).map(|r| r.0).collect();
    if let (Some(&last_gone), Some(first_kept)) = (gone.last(), kept.first()) {
        let seg = segment_of(&wal, first_kept.0);
        let ids = segment_ids(dir.path());
        assert!(ids[0] == seg || (ids[0] > seg && last_gone < first_kept.0), "segments before {seg} remain: {ids:?}");
    }
    assert_reader_holds("crash copy", crashed.path(), purge, &kept);
    assert_holds("crash copy", &open(crashed.path()), purge, &kept);
    wal.close().unwrap();
    let wal = open(dir.path());
    assert_holds("reopened", &wal, purge, &kept);
    assert_eq!(wal.append(b"next").unwrap(), Lsn::new(301));
}

#[test]
fn truncate_before_mid_segment_sets_the_first_lsn_exactly_and_durably() {
    purge_and_check(|wal, records| first_in(wal, records, 3) + 7);
}

#[test]
fn truncate_before_a_segment_start_sets_the_first_lsn_exactly_and_durably() {
    purge_and_check(|wal, records| first_in(wal, records, 3));
}

#[test]
fn truncate_before_inside_the_active_segment_sets_the_first_lsn_exactly_and_durably() {
    purge_and_check(|_, records| records[records.len() - 2].0);
}

#[test]
fn truncate_before_past_the_last_record_empties_the_log_durably() {
    purge_and_check(|_, records| records.len() as u64 + 1);
}

#[test]
fn truncate_before_at_or_before_the_first_lsn_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 50, "old");
    assert_eq!(wal.truncate_before(Lsn::new(20)).unwrap(), Lsn::new(20));
    for lsn in [0, 1, 19, 20] {
        assert_eq!(wal.truncate_before(Lsn::new(lsn)).unwrap(), Lsn::new(20), "truncate_before({lsn})");
    }
    assert_holds("after purges behind the first LSN", &wal, 20, &records[19..]);
}

#[test]
fn truncate_before_past_the_end_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 10, "old");
    for lsn in [12, 1000, u64::MAX] {
        assert_eq!(out_of_range(&wal.truncate_before(Lsn::new(lsn))), Some((lsn, 1, 10)), "truncate_before({lsn})");
    }
    assert_holds("after refused purges", &wal, 1, &records);
}

/// Resets a log of 300 records (with metadata) to `next` and checks it:
/// right after, on a crash copy taken at once, with new records, reopened.
fn reset_and_check(next: u64) {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 300, "old");
    wal.set_meta(b"term", b"7").unwrap();
    wal.set_meta(b"vote", b"node 2").unwrap();
    let metas = wal.metas();
    let old_ids = segment_ids(dir.path());
    wal.reset(Lsn::new(next)).unwrap();
    let crashed = snapshot(dir.path());

    assert_holds("after reset", &wal, next, &[]);
    assert_eq!(wal.metas(), metas, "reset keeps metadata");
    for (lsn, _) in records.iter().step_by(37) {
        assert!(out_of_range(&wal.read(Lsn::new(*lsn))).is_some(), "old record {lsn} is still readable");
    }
    let left: Vec<u64> = segment_ids(dir.path()).into_iter().filter(|id| old_ids.contains(id)).collect();
    assert!(left.is_empty(), "segments of the old log remain: {left:?}");

    // Durable when it returns: the crash copy is the empty log at `next`.
    assert_reader_holds("crash copy", crashed.path(), next, &[]);
    assert_eq!(Reader::open(crashed.path()).unwrap().metas(), metas, "crash copy's Reader: metadata");
    let copy = open(crashed.path());
    assert_holds("crash copy", &copy, next, &[]);
    assert_eq!(copy.metas(), metas, "crash copy: metadata");
    assert_eq!(copy.append(b"x").unwrap(), Lsn::new(next));
    drop(copy);

    // New records take LSNs from `next`; old ones with the same LSNs never
    // come back.
    let new = fill(&wal, 5, "new");
    assert_eq!(new[0].0, next);
    assert_holds("after appending", &wal, next, &new);
    wal.close().unwrap();
    let wal = open(dir.path());
    assert_holds("reopened", &wal, next, &new);
    assert_eq!(wal.metas(), metas, "reopened: metadata");
    assert_reader_holds("reopened", dir.path(), next, &new);
}

#[test]
fn reset_to_a_lower_lsn_drops_everything_durably_and_keeps_metadata() {
    reset_and_check(10);
}

#[test]
fn reset_to_lsn_one_drops_everything_durably_and_keeps_metadata() {
    reset_and_check(1);
}

#[test]
fn reset_to_a_higher_lsn_drops_everything_durably_and_keeps_metadata() {
    reset_and_check(1_000_000);
}

#[test]
fn reset_to_the_next_lsn_drops_everything_durably_and_keeps_metadata() {
    reset_and_check(301);
}

#[test]
fn reset_to_lsn_zero_or_past_the_lsn_space_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 10, "old");
    for next in [0, seawall::format::MAX_LSN + 1, u64::MAX] {
        assert!(out_of_range(&wal.reset(Lsn::new(next))).is_some(), "reset({next})");
    }
    assert_holds("after refused resets", &wal, 1, &records);
}

#[test]
fn reset_after_truncate_before_drops_the_purged_log_too() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    fill(&wal, 200, "old");
    wal.truncate_before(Lsn::new(150)).unwrap();
    wal.reset(Lsn::new(40)).unwrap();
    let crashed = snapshot(dir.path());
    assert_holds("after reset", &wal, 40, &[]);
    assert_holds("crash copy", &open(crashed.path()), 40, &[]);
}

/// `truncate_after(first_lsn() - 1)` on a log starting at `first` (after a
/// purge when `first > 1`): empty, durably, metadata kept, appends go on at
/// `first`.
fn cut_everything_and_check(first: u64) {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    fill(&wal, 300, "old");
    wal.set_meta(b"commit", b"280").unwrap();
    if first > 1 {
        wal.truncate_before(Lsn::new(first)).unwrap();
    }
    wal.truncate_after(wal.first_lsn() - 1).unwrap();
    let crashed = snapshot(dir.path());
    assert_holds("after truncate_after(first - 1)", &wal, first, &[]);
    assert_eq!(wal.meta(b"commit").as_deref(), Some(&b"280"[..]));
    let copy = open(crashed.path());
    assert_holds("crash copy", &copy, first, &[]);
    assert_eq!(copy.meta(b"commit").as_deref(), Some(&b"280"[..]), "crash copy: metadata");
    drop(copy);
    let new = fill(&wal, 3, "new");
    assert_eq!(new[0].0, first);
    wal.close().unwrap();
    assert_holds("reopened", &open(dir.path()), first, &new);
}

#[test]
fn truncate_after_the_lsn_before_the_first_empties_the_log_durably() {
    cut_everything_and_check(1);
}

#[test]
fn truncate_after_the_lsn_before_a_purge_point_empties_the_log_durably() {
    cut_everything_and_check(170);
}

#[test]
fn conflict_truncation_a_thousand_times_stays_within_two_segments_of_disk() {
    const SEGMENT: u64 = 64 << 20;
    // A real disk, default options: 64 MiB segments, preallocated, with a
    // spare made ahead of need.
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    for round in 1..=1000u64 {
        assert_eq!(wal.append(&body(round, "kept")).unwrap(), Lsn::new(round));
        let conflicting = wal.append(&body(round + 1, "conflicting")).unwrap();
        wal.truncate_after(conflicting - 1).unwrap();
    }
    let (allocated, files) = (allocated_bytes(dir.path()), segment_ids(dir.path()));
    println!(
        "after 1,000 conflict truncations: {allocated} bytes allocated ({:.2} segments) in segment files {files:?}",
        allocated as f64 / SEGMENT as f64
    );
    assert!(allocated <= 2 * SEGMENT, "{allocated} bytes allocated, more than two 64 MiB segments");
    // No cut needed a segment of its own.
    assert_eq!(wal.read(Lsn::new(1000)).unwrap().segment(), SegmentId::new(1));
    let want: Records = (1..=1000).map(|l| (l, body(l, "kept"))).collect();
    assert_holds("after the conflicts", &wal, 1, &want);
    wal.close().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    assert_holds("reopened", &wal, 1, &want);
    let allocated = allocated_bytes(dir.path());
    assert!(allocated <= 2 * SEGMENT, "reopened: {allocated} bytes allocated, more than two 64 MiB segments");
}

#[test]
fn conflict_truncation_without_preallocation_allocates_little_more_than_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default().preallocate(false)).unwrap();
    let mut appended = 0;
    for round in 1..=1000u64 {
        let (kept, conflicting) = (body(round, "kept"), body(round + 1, "conflicting"));
        appended += seawall::format::record_size(kept.len() as u64);
        wal.append(&kept).unwrap();
        let c = wal.append(&conflicting).unwrap();
        appended += seawall::format::record_size(conflicting.len() as u64);
        wal.truncate_after(c - 1).unwrap();
    }
    let allocated = allocated_bytes(dir.path());
    println!("after 1,000 conflict truncations without preallocation: {allocated} bytes allocated for {appended} bytes of records appended");
    // The cut bytes are cleared in place: the file holds every record
    // appended, each cut marker and parity, never a new segment.
    assert!(allocated <= 2 * appended + (1 << 20), "{allocated} bytes allocated for {appended} bytes appended");
    assert_eq!(segment_ids(dir.path()).len(), 2, "the active segment and its spare");
}

/// A log with an atomic batch `11..=13` in its first segment, and another
/// batch at the end.
#[test]
fn a_cut_inside_an_atomic_batch_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let mut records = fill(&wal, 10, "old");
    let early = wal.append_batch([&body(11, "b")[..], &body(12, "b"), &body(13, "b")]).unwrap();
    records.extend((11..=13).map(|l| (l, body(l, "b"))));
    records.extend(fill(&wal, 200, "old"));
    let n = records.len() as u64;
    let late = wal.append_batch([&body(n + 1, "b")[..], &body(n + 2, "b")]).unwrap();
    records.extend((n + 1..=n + 2).map(|l| (l, body(l, "b"))));
    assert_eq!((*early.start(), *late.end()), (Lsn::new(11), Lsn::new(n + 2)));
    assert_ne!(segment_of(&wal, 11), segment_of(&wal, n + 1), "the batches lie in different segments");
    let last = wal.last_lsn();
    for inside in [Lsn::new(11), Lsn::new(12), Lsn::new(n + 1)] {
        let res = wal.truncate_after(inside);
        assert!(matches!(res, Err(Error::InsideBatch { lsn }) if lsn == inside), "truncate_after({inside}): {res:?}");
        assert_eq!(wal.last_lsn(), last, "a refused cut changes nothing");
    }
    assert_holds("after refused cuts", &wal, 1, &records);
    wal.close().unwrap();
    let wal = open(dir.path());
    assert_holds("reopened", &wal, 1, &records);
    // Cutting at the batch's end is allowed.
    wal.truncate_after(Lsn::new(13)).unwrap();
    assert_holds("cut after the batch", &wal, 1, &records[..13]);
}

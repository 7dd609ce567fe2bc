//! Salvage (`RecoveryMode::Salvage`, `seawall repair --salvage`) cuts the log
//! at mid-log damage and moves what follows aside. What the log says about
//! itself must survive the cut even when only the moved segments held it:
//! the metadata, and the purge point, which never moves back. And no view of
//! a damaged log ends inside an atomic batch.

#[path = "support/damage.rs"]
mod damage;

use damage::*;
use seawall::format::SEGMENT_HEADER_LEN;
use seawall::{Lsn, Reader, RecoveryAction, RecoveryMode, SegmentState, TailState, Wal};

/// A log of `n` durable records over several 64 KiB segments, whose early
/// segments' snapshots hold `vote = old` and no purge point, and whose newest
/// segment alone holds `vote = new` and the purge point `purge`. Returns
/// `(lsn, segment, offset)` of every record, taken before the purge.
fn log_with_late_metadata(dir: &std::path::Path, n: u64, purge: u64) -> Vec<(u64, u64, u64)> {
    let (wal, _) = Wal::open(dir, small_opts()).unwrap();
    wal.set_meta(b"vote", b"old").unwrap();
    for lsn in 1..=n {
        wal.append_durable(&payload(lsn, 7)).unwrap();
    }
    wal.close().unwrap();
    let positions = record_positions(dir);
    let (wal, _) = Wal::open(dir, small_opts()).unwrap();
    wal.truncate_before(Lsn::new(purge)).unwrap();
    wal.set_meta(b"vote", b"new").unwrap();
    wal.close().unwrap();
    positions
}

fn salvage(dir: &std::path::Path) -> (Wal, seawall::RecoveryReport) {
    Wal::open(dir, small_opts().recovery_mode(RecoveryMode::Salvage)).expect("salvage opens")
}

/// Checks the log in `dir` after a salvage that kept LSN `first..=last` and
/// the newest metadata, before and after an append and a reopen.
fn check_salvaged(dir: &std::path::Path, wal: Wal, first: u64, last: u64) {
    assert_eq!((wal.first_lsn().get(), wal.last_lsn().get()), (first, last), "the purge point never moves back");
    assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"new"[..]), "the newest metadata survives the cut");
    let got = read_all(&wal);
    assert_eq!(got.len() as u64, last + 1 - first);
    assert!(got.iter().all(|(lsn, p)| *p == payload(*lsn, 7)));
    // Durable before anything is appended (an append would write a snapshot
    // of its own).
    wal.close().unwrap();
    let (wal, report) = Wal::open(dir, small_opts()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!((wal.first_lsn().get(), wal.last_lsn().get()), (first, last), "the purge point is durable");
    assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"new"[..]), "the newest metadata is durable");
    assert_eq!(wal.append_durable(b"after salvage").unwrap(), Lsn::new(last + 1));
    wal.close().unwrap();

    let (wal, report) = Wal::open(dir, small_opts()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!((wal.first_lsn().get(), wal.last_lsn().get()), (first, last + 1), "after a reopen too");
    assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"new"[..]), "durably");
    assert_eq!(wal.read(Lsn::new(last + 1)).unwrap().payload().as_ref(), b"after salvage");
    let segments = Reader::open(dir).unwrap().inspection().segments.clone();
    assert!(segments.iter().all(|s| s.state != SegmentState::Superseded), "superseded segments are gone");
}

#[test]
fn salvage_keeps_metadata_and_purge_point_held_only_past_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let positions = log_with_late_metadata(dir.path(), 1500, 300);
    // A segment file deleted in the middle of the log: the sealed segment
    // before it becomes the last one kept, and its own snapshot and seal
    // index know nothing of the purge point or of `vote = new`.
    let (_, seg, _) = *positions.iter().find(|p| p.0 == 400).unwrap();
    let last_seg = Reader::open(dir.path()).unwrap().inspection().segments.last().unwrap().id.get();
    assert!(seg + 1 < last_seg, "the deleted segment lies before the one holding the metadata");
    let kept_last = positions.iter().filter(|p| p.1 == seg).map(|p| p.0).max().unwrap();
    std::fs::remove_file(segment_path(dir.path(), seg + 1)).unwrap();

    let (wal, report) = salvage(dir.path());
    assert!(matches!(report.tail, TailState::Corrupt { .. }), "{report}");
    assert!(report.actions.iter().any(|a| matches!(a, RecoveryAction::WroteMetadata { reset: false, .. })), "{report}");
    assert_eq!((report.first_lsn.get(), report.last_lsn.get()), (300, kept_last), "{report}");
    check_salvaged(dir.path(), wal, 300, kept_last);
}

#[test]
fn salvage_of_damage_before_the_purge_point_starts_an_empty_log_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let positions = log_with_late_metadata(dir.path(), 1500, 420);
    // Damage to a record the purge point dropped, in the segment that also
    // holds the first records kept: a full scan stops there.
    let (_, seg, off) = positions[418];
    assert_eq!(positions[419].1, seg, "the purge point lies inside the damaged segment");
    flip_bit(&segment_path(dir.path(), seg), off + 20, 3);
    let full = Reader::verify(dir.path()).unwrap();
    let insp = full.inspection();
    assert!(matches!(insp.tail, TailState::Corrupt { lsn, .. } if lsn == Lsn::new(419)), "{:?}", insp.tail);
    assert_eq!(
        (insp.first_lsn, insp.last_lsn),
        (Lsn::new(420), Lsn::new(419)),
        "no record valid, from the purge point on"
    );

    let (wal, report) = salvage(dir.path());
    assert!(report.actions.iter().any(|a| matches!(a, RecoveryAction::WroteMetadata { reset: true, .. })), "{report}");
    assert_eq!((report.first_lsn, report.last_lsn), (Lsn::new(420), Lsn::new(419)), "{report}");
    check_salvaged(dir.path(), wal, 420, 419);
}

#[test]
fn a_successor_naming_a_start_inside_a_batch_never_ends_a_view_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    // Fill segment 1 with batches of three, until the log rotates.
    let mut batches = Vec::new();
    while Reader::open(dir.path()).unwrap().inspection().segments.iter().filter(|s| s.header.is_some()).count() < 2 {
        let b = wal.append_batch([&payload(1, 1)[..], &payload(2, 1), &payload(3, 1)]).unwrap();
        wal.sync(*b.end()).unwrap();
        batches.push(b);
    }
    wal.close().unwrap();
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    let (one, two) = (&insp.segments[0], &insp.segments[1]);
    let seg1_last = one.last_lsn.unwrap().get();
    // A forged successor header (valid checksum) that starts the log at the
    // middle record of segment 1's last batch.
    let mid = seg1_last - 1;
    let mut h = two.header.unwrap();
    h.first_lsn = mid;
    write_bytes(&two.path, 0, &h.encode());
    assert_eq!(h.encode().len(), SEGMENT_HEADER_LEN);

    for reader in [Reader::open(dir.path()).unwrap(), Reader::verify(dir.path()).unwrap()] {
        let insp = reader.inspection();
        assert!(matches!(insp.tail, TailState::Corrupt { .. }), "{:?}", insp.tail);
        let last = insp.last_lsn.get();
        assert_eq!(last, mid - 2, "the view ends with the last whole batch before the one the header splits");
        let records: Vec<_> = reader.iter_from(insp.first_lsn).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(records.last().unwrap().lsn().get(), last);
        assert!(records.last().unwrap().kind().ends_unit());
    }
    let (wal, report) = salvage(dir.path());
    assert_eq!(wal.last_lsn().get(), mid - 2, "{report}");
    assert!(wal.iter_from(wal.first_lsn()).unwrap().last().unwrap().unwrap().kind().ends_unit());
}

#[test]
fn salvage_reuses_an_empty_successor_of_the_last_kept_sealed_segment() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 1500, small_opts());
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert!(insp.segments.len() >= 4, "several segments");
    // The third segment file emptied: the second, sealed, becomes the last
    // one kept, and its successor file must stay (FORMAT.md §5.1).
    let kept_last = insp.segments[1].last_lsn.unwrap().get();
    truncate_at(&segment_path(dir.path(), 3), 0);
    assert!(matches!(Reader::verify(dir.path()).unwrap().inspection().tail, TailState::Corrupt { .. }));

    let (wal, report) = salvage(dir.path());
    assert_eq!((report.first_lsn.get(), report.last_lsn.get()), (1, kept_last), "{report}");
    assert_eq!(read_all(&wal).len() as u64, kept_last);
    wal.close().unwrap();
    let (wal, report) = Wal::open(dir.path(), small_opts()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(wal.append_durable(b"after salvage").unwrap(), Lsn::new(kept_last + 1));
}

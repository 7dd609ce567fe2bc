//! The library's forensic read API (`seawall::forensic`): which records it
//! reports outside the recovered log, past damage and in single files, and
//! which it leaves out (cut ones, also when the cut's marker is lost).
//! The `seawall dump` options built on it are tested in `cli_damage.rs`.

#[path = "support/damage.rs"]
mod damage;

use damage::{durable_log, flip_bit, payload, read_bytes, segment_path, small_opts, write_bytes, zero_range};
use seawall::forensic::{read_file, SaltSource};
use seawall::{BadFileReason, Error, Lsn, Reader, Wal};

/// `(lsn, chained)` of every record of a found file.
fn lsns(file: &seawall::forensic::FoundFile) -> Vec<(u64, bool)> {
    file.records.iter().map(|r| (r.record.lsn().get(), r.chained)).collect()
}

#[test]
fn past_damage_is_empty_for_a_clean_log() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 20, small_opts());
    let reader = Reader::verify(dir.path()).unwrap();
    assert_eq!(reader.past_damage().files(), 0);
    assert_eq!(reader.past_damage().count(), 0);
}

#[test]
fn past_damage_reports_the_records_after_a_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 20, small_opts());
    let rec = Reader::open(dir.path()).unwrap().read(Lsn::new(8)).unwrap();
    flip_bit(&segment_path(dir.path(), 1), rec.offset() + 40, 0);
    let reader = Reader::verify(dir.path()).unwrap();
    let files: Vec<_> = reader.past_damage().map(Result::unwrap).collect();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f.from_offset, rec.offset());
    assert_eq!(f.salt, Some(SaltSource::Header));
    let want: Vec<(u64, bool)> = (9..=20).map(|l| (l, l != 9)).collect();
    assert_eq!(lsns(f), want);
    assert_eq!(f.records[0].record.payload().as_ref(), payload(9, 7).as_slice());
    assert_eq!((f.cut, f.superseded, f.gave_up), (0, 0, false));
}

/// A log of 10 records cut back to 5, three records appended after the cut,
/// and the dead bytes of the cut (records 6..=10) put back, as a crash
/// before their clearing leaves them. Returns the segment and the offset of
/// the cut marker.
fn cut_log(dir: &std::path::Path) -> (std::path::PathBuf, u64) {
    durable_log(dir, 10, small_opts());
    let reader = Reader::open(dir).unwrap();
    let off6 = reader.read(Lsn::new(6)).unwrap().offset();
    let end = reader.inspection().segments[0].bytes_used;
    let seg = segment_path(dir, 1);
    let old = read_bytes(&seg, off6, (end - off6) as usize);
    let (wal, _) = Wal::open(dir, small_opts()).unwrap();
    wal.truncate_after(Lsn::new(5)).unwrap();
    for i in 6..=8 {
        wal.append_durable(format!("new {i}").as_bytes()).unwrap();
    }
    wal.close().unwrap();
    write_bytes(&seg, off6, &old);
    (seg, end)
}

#[test]
fn read_file_leaves_out_the_dead_bytes_of_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, _) = cut_log(dir.path());
    let f = read_file(&seg).unwrap();
    let want: Vec<(u64, bool)> = (1..=8).map(|l| (l, true)).collect();
    assert_eq!(lsns(&f), want);
    assert_eq!(f.records[5].record.payload().as_ref(), b"new 6");
    assert_eq!(f.cut, 5);
}

#[test]
fn read_file_leaves_out_records_a_later_lower_lsn_cut_when_the_marker_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, marker) = cut_log(dir.path());
    // The marker (a snapshot with no entries: 64 bytes) is gone.
    let kind = read_bytes(&seg, marker + seawall::format::REC_KIND_OFF as u64, 1)[0];
    assert_eq!(kind, seawall::format::KIND_META, "the cut marker lies at the old end");
    zero_range(&seg, marker, 64);
    let f = read_file(&seg).unwrap();
    assert_eq!(lsns(&f), (1..=8).map(|l| (l, true)).collect::<Vec<_>>());
    assert_eq!(f.records[7].record.payload().as_ref(), b"new 8");
    assert_eq!(f.cut, 5);
}

#[test]
fn read_file_takes_the_salt_of_a_damaged_header() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 5, small_opts());
    let seg = segment_path(dir.path(), 1);
    flip_bit(&seg, 0, 0);
    let f = read_file(&seg).unwrap();
    assert_eq!((f.header, f.salt), (None, Some(SaltSource::DamagedHeader)));
    // Without the header's chain seed, the first record chains to nothing.
    assert_eq!(lsns(&f), [(1, false), (2, true), (3, true), (4, true), (5, true)]);
}

#[test]
fn read_file_refuses_a_file_that_is_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"not a segment, just some words that are long enough to fill a header").unwrap();
    match read_file(&file) {
        Err(Error::BadFile { reason: BadFileReason::NotASegment, .. }) => {}
        other => panic!("{other:?}"),
    }
    match read_file(dir.path()) {
        Err(Error::BadFile { reason: BadFileReason::NotRegular, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn purge_point_is_what_truncate_before_set() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 5, small_opts());
    assert_eq!(Reader::open(dir.path()).unwrap().purge_point(), Some(Lsn::new(1)));
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    wal.truncate_before(Lsn::new(3)).unwrap();
    wal.close().unwrap();
    assert_eq!(Reader::open(dir.path()).unwrap().purge_point(), Some(Lsn::new(3)));
}

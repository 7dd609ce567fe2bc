//! Latent sector errors: a range of a segment file that the disk can no
//! longer read (`EIO` from `pread`). Reads go through the I/O seam with
//! `pread`, never a memory map, so such a range is an error the caller gets,
//! never a `SIGBUS` that kills the process, and never a reason to cut or
//! clear anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "support/probe_fs.rs"]
mod probe_fs;

use probe_fs::{ProbeFs, EIO};
use seawall::{Error, Lsn, Options, Reader, Wal};

/// The real file system, with `range` of the file at `path` unreadable.
fn bad_sectors(path: &Path, range: std::ops::Range<u64>) -> Arc<ProbeFs> {
    let fs = ProbeFs::new();
    fs.make_unreadable(path, range);
    Arc::new(fs)
}

fn options() -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

fn payload(i: u64) -> Vec<u8> {
    format!("record {i} {}", "y".repeat((i % 90) as usize)).into_bytes()
}

/// A log of `n` durable records in 64 KiB segments, closed; returns every
/// record's segment file and offset.
fn log_of(dir: &Path, n: u64) -> Vec<(PathBuf, u64)> {
    let (wal, _) = Wal::open(dir, options()).unwrap();
    for i in 1..=n {
        wal.append_durable(&payload(i)).unwrap();
    }
    wal.close().unwrap();
    let reader = Reader::open(dir).unwrap();
    let places = reader
        .iter_from(Lsn::new(1))
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (dir.join(r.segment().file_name()), r.offset()));
    places.collect()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

fn is_eio(err: &Error) -> bool {
    matches!(err, Error::Io { source, .. } if source.raw_os_error() == Some(EIO))
}

/// An unreadable sector inside a sealed segment: open trusts the segment
/// through its trailer and succeeds; reading a record in the bad range
/// fails with the `EIO`, and every other record still reads.
#[test]
fn unreadable_sector_in_a_sealed_segment_fails_only_the_reads_that_touch_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let places = log_of(&dir, 2000);
    let (seg, off) = places[99].clone();
    assert!(places.iter().any(|(s, _)| *s != seg), "the record's segment is sealed: a later one exists");
    let fs = bad_sectors(&seg, off..off + 1);
    let before = snapshot(&dir);
    let (wal, _) = Wal::open_with(&dir, options(), fs).expect("open need not read a sealed segment's records");
    let err = wal.read(Lsn::new(100)).expect_err("the record's bytes cannot be read");
    assert!(is_eio(&err), "{err}");
    for lsn in [1, 99, 101, 2000] {
        assert_eq!(wal.read(Lsn::new(lsn)).unwrap().payload().as_ref(), payload(lsn).as_slice(), "LSN {lsn}");
    }
    // An iterator yields the records before the bad range, then the error.
    let mut iter = wal.iter_from(Lsn::new(1)).unwrap();
    for lsn in 1..100 {
        assert_eq!(iter.next().unwrap().unwrap().lsn(), Lsn::new(lsn));
    }
    let err = iter.next().unwrap().expect_err("LSN 100 cannot be read");
    assert!(is_eio(&err), "{err}");
    wal.close().unwrap();
    assert_eq!(snapshot(&dir), before, "reads changed the log");
}

/// An unreadable sector in the active segment, which open must read to find
/// the tail: open fails with the `EIO` and changes no file.
#[test]
fn unreadable_sector_in_the_active_segment_fails_open_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let places = log_of(&dir, 2000);
    let (seg, off) = places.last().unwrap().clone();
    let fs = bad_sectors(&seg, off..off + 512);
    let before = snapshot(&dir);
    let err = Wal::open_with(&dir, options(), fs).expect_err("the tail cannot be read");
    assert!(is_eio(&err), "{err}");
    assert_eq!(snapshot(&dir), before, "a failed open changed the log");
    // The disk healed (the sector was remapped): the log opens whole.
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(2000));
    wal.close().unwrap();
}

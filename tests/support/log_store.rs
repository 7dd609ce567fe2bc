//! Helpers shared by the log-store suites (`tests/log_store_*.rs`): small
//! options, payloads that say which LSN and which generation of the log
//! wrote them, the log read back, the segment files of a directory and the
//! disk space they hold, and the shape of an `LsnOutOfRange`.
#![allow(dead_code)]

use std::ops::RangeBounds;
use std::path::Path;

use seawall::format::SEGMENT_SUFFIX;
use seawall::{Error, Iter, Lsn, Options, SegmentId, Wal};

/// 64 KiB segments (a few hundred records rotate several times) and a
/// deterministic order of file operations.
pub fn small_opts() -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

/// The payload of record `lsn` written by generation `tag` of the log: it
/// names both, and its length (100 to 1,600 bytes) varies with `lsn`.
pub fn body(lsn: u64, tag: &str) -> Vec<u8> {
    let mut p = format!("{tag}:{lsn}:").into_bytes();
    let len = 100 + (lsn.wrapping_mul(0x9e37_79b9) % 1500) as usize;
    let mut x = lsn ^ 0x5eed;
    while p.len() < len {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        p.push((x >> 56) as u8);
    }
    p
}

/// Appends `body(lsn, tag)` for the next `n` LSNs; returns them as
/// `(lsn, payload)`.
pub fn fill(wal: &Wal, n: u64, tag: &str) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|_| {
            let lsn = wal.last_lsn().get() + 1;
            let p = body(lsn, tag);
            assert_eq!(wal.append(&p).unwrap(), Lsn::new(lsn));
            (lsn, p)
        })
        .collect()
}

/// `(lsn, payload)` of every record an iterator yields; panics on an error.
pub fn collect(it: Iter) -> Vec<(u64, Vec<u8>)> {
    it.map(|r| r.unwrap()).map(|r| (r.lsn().get(), r.payload().to_vec())).collect()
}

/// The records of `range` in `wal`, or the error `range` fails with.
pub fn wal_range(wal: &Wal, range: impl RangeBounds<Lsn>) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    wal.range(range).map(collect)
}

/// Every record of the open log.
pub fn all_records(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    collect(wal.range(..).unwrap())
}

/// The ids of the segment files in `dir`, in order.
pub fn segment_ids(dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| SegmentId::from_file_name(&e.unwrap().file_name().to_string_lossy()))
        .map(SegmentId::get)
        .collect();
    ids.sort();
    ids
}

/// Whether `name` is a segment file's name.
pub fn is_segment(name: &str) -> bool {
    name.ends_with(SEGMENT_SUFFIX)
}

/// Disk space allocated to the files of `dir`, in bytes: `st_blocks` (in
/// 512-byte units) of every file, summed.
pub fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().blocks() * 512).sum()
}

/// `(lsn, first, last)` of an `Error::LsnOutOfRange`, or `None` for any
/// other result.
pub fn out_of_range<T>(r: &Result<T, Error>) -> Option<(u64, u64, u64)> {
    match r {
        Err(Error::LsnOutOfRange { lsn, first, last }) => Some((lsn.get(), first.get(), last.get())),
        _ => None,
    }
}

/// The LSN of an `Error::Truncated`, or `None` for any other result.
pub fn truncated<T>(r: &Result<T, Error>) -> Option<u64> {
    match r {
        Err(Error::Truncated { lsn }) => Some(lsn.get()),
        _ => None,
    }
}

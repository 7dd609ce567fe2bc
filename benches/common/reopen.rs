//! Reopening: logs of whole segments, filled fast; `Wal::open` + `close`
//! timed on them; and the verifying scan (`Reader::verify`), which still
//! reads every byte, timed like a raw read of the same files.
//!
//! Every log built here ends in the same tail, a last segment full but for
//! one record, so that logs of 1 and of 128 segments differ only in their
//! sealed segments: what an open in O(segments + tail) must not pay for
//! byte by byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seawall::{Lsn, Options, Reader, Wal};

use super::{ours, payload, scratch, Sample};

/// Size of the records of the logs built here: large, so that a log of many
/// gigabytes fills at the disk's pace, but at most a sixteenth of a segment.
pub fn record_size(segment_size: u64) -> usize {
    (segment_size / 16).min(64 << 10) as usize
}

/// A closed, clean log of whole segments, removed when dropped.
#[derive(Debug)]
pub struct SegmentLog {
    /// The log directory.
    pub dir: tempfile::TempDir,
    /// Segment files that hold records.
    pub segments: usize,
    /// Records in the log (LSNs 1 ..= records).
    pub records: u64,
    /// Each segment file and the bytes of it that hold records.
    pub files: Vec<(PathBuf, u64)>,
}

impl SegmentLog {
    /// Bytes holding records, over every segment.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

/// Records a full segment holds: `(first segment, any later one)`, counted
/// on a scratch log of two and a half segments. Whatever the library keeps
/// in a segment besides records (a snapshot, a seal index, a trailer) is
/// thus accounted for without this bench knowing of it.
pub fn capacity(opts: &Options, record: usize) -> (u64, u64) {
    let seg = opts.get_segment_size();
    let d = scratch("capacity");
    let n = ours::records_for_segments(seg, record, 2.5) as u64;
    append_records(d.path(), opts.clone(), n, record);
    let insp = Reader::open(d.path()).expect("reader").inspection().clone();
    let per: Vec<u64> = insp.segments.iter().map(|s| s.records).filter(|&r| r > 0).collect();
    assert!(per.len() >= 3, "2.5 segments' worth of records fill three segments: {per:?}");
    (per[0], per[1])
}

/// Appends records `1..=n` of `size` bytes to the log in `dir`, with no sync
/// until the close.
fn append_records(dir: &Path, opts: Options, n: u64, size: usize) {
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let mut p = payload(0, 0, size);
    for i in 0..n as usize {
        // Only the identity changes: no payload is built per record.
        p[..8].copy_from_slice(&payload(0, i, 8));
        wal.append(&p).expect("append");
    }
    wal.close().expect("close");
}

/// Builds a log of `segments` segments with records of `record` bytes, given
/// the `capacity` of a segment: every segment full, the last one but for
/// one record. Checks that it came out so.
pub fn build(opts: &Options, segments: usize, record: usize, capacity: (u64, u64)) -> SegmentLog {
    assert!(segments >= 1);
    let (first, later) = capacity;
    let records = if segments == 1 { first - 1 } else { first + (segments as u64 - 2) * later + later - 1 };
    let dir = scratch("open");
    append_records(dir.path(), opts.clone(), records, record);
    let insp = Reader::open(dir.path()).expect("reader").inspection().clone();
    assert!(insp.is_clean(), "a closed log is clean");
    assert_eq!(insp.records(), records);
    let files = ours::used_bytes(dir.path());
    assert_eq!(files.len(), segments, "{records} records of {record} bytes fill {segments} segments");
    SegmentLog { dir, segments, records, files }
}

/// `Wal::open` and `close` of `log`, timed together; checks the LSN range
/// the open found.
pub fn open_close(log: &SegmentLog, opts: Options) -> Duration {
    let t0 = Instant::now();
    let (wal, _) = Wal::open(log.dir.path(), opts).expect("open");
    let range = (wal.first_lsn(), wal.last_lsn());
    wal.close().expect("close");
    let elapsed = t0.elapsed();
    assert_eq!(range, (Lsn::new(1), Lsn::new(log.records)), "open finds every record");
    elapsed
}

/// `reps` opens (with their close) of each of `logs`, interleaved so that a
/// burst of noise hits every size alike: one sample per log, one latency
/// per open. Its bytes are the log's, once per open.
pub fn open_times(logs: &[&SegmentLog], opts: &Options, reps: usize) -> Vec<Sample> {
    let mut lats = vec![Vec::with_capacity(reps); logs.len()];
    for _ in 0..reps {
        for (log, lat) in logs.iter().zip(&mut lats) {
            lat.push(open_close(log, opts.clone()));
        }
    }
    logs.iter()
        .zip(lats)
        .map(|(log, lat)| {
            let elapsed = lat.iter().sum();
            let (ops, bytes) = (lat.len() as u64, log.bytes() * lat.len() as u64);
            Sample { ops, bytes, elapsed, ..Sample::default() }.with_latencies(vec![lat])
        })
        .collect()
}

/// `Reader::verify` of `log`, which reads and checks every byte; checks
/// that it found the log whole.
pub fn verify(log: &SegmentLog) -> Sample {
    let t0 = Instant::now();
    let reader = Reader::verify(log.dir.path()).expect("verify");
    let elapsed = t0.elapsed();
    let insp = reader.inspection();
    assert!(insp.is_clean() && insp.records() == log.records, "verify finds the log whole");
    assert!(insp.segments.iter().all(|s| !s.trusted), "verify trusts no seal");
    Sample { ops: log.records, bytes: log.bytes(), elapsed, ..Sample::default() }
}

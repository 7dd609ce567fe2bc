//! Guards reading a log by LSN: `Wal::read` and `Wal::range` for every kind
//! of range, across segments and rotations, for records synced, written but
//! not synced, and still in the write buffer; reads never sync; a bound
//! outside the log fails with `LsnOutOfRange`; the offline `Reader` gives
//! the same answers; a read finds its record through the index instead of
//! scanning its segment (counted in bytes read, not timed); `Lsn`
//! arithmetic selects records; payloads are `seawall::Bytes`.

#[path = "support/log_store.rs"]
mod log_store;
#[path = "support/probe_fs.rs"]
mod probe_fs;

use std::collections::BTreeSet;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use log_store::{collect, fill, out_of_range, small_opts};
use probe_fs::ProbeFs;
use seawall::{Error, Iter, Lsn, Options, Reader, Wal};

type Records = Vec<(u64, Vec<u8>)>;

/// A log of several 64 KiB segments whose first `synced` records are
/// durable, whose next ones were written without a sync (a 4 KiB write
/// buffer spills as records arrive), and whose last record is still in the
/// write buffer.
struct Layered {
    /// Bind it for as long as the log is used: dropping it removes the
    /// directory under the open log.
    dir: tempfile::TempDir,
    wal: Wal,
    records: Records,
    synced: u64,
}

fn layered() -> Layered {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts().write_buffer_size(4096)).unwrap();
    let mut records = fill(&wal, 150, "layered");
    wal.sync(Lsn::new(150)).unwrap();
    records.extend(fill(&wal, 150, "layered"));
    // The last append must be one that wrote nothing: it is in the buffer.
    loop {
        let writes = wal.stats().writes;
        records.extend(fill(&wal, 1, "layered"));
        if wal.stats().writes == writes {
            break;
        }
    }
    Layered { dir, wal, records, synced: 150 }
}

/// Where `read` and `range` come from: an open log or the offline reader.
trait Source {
    fn range_of(&self, start: Bound<Lsn>, end: Bound<Lsn>) -> Result<Iter, Error>;
    fn read_one(&self, lsn: u64) -> Result<Vec<u8>, Error>;
}

/// Calls `range` with the range type each pair of bounds stands for, so
/// every `RangeBounds` implementation is exercised, not just the tuple.
macro_rules! range_by_kind {
    ($s:expr, $start:expr, $end:expr) => {
        match ($start, $end) {
            (Included(a), Excluded(b)) => $s.range(a..b),
            (Included(a), Included(b)) => $s.range(a..=b),
            (Included(a), Unbounded) => $s.range(a..),
            (Unbounded, Excluded(b)) => $s.range(..b),
            (Unbounded, Included(b)) => $s.range(..=b),
            (Unbounded, Unbounded) => $s.range(..),
            other => $s.range(other),
        }
    };
}

impl Source for Wal {
    fn range_of(&self, start: Bound<Lsn>, end: Bound<Lsn>) -> Result<Iter, Error> {
        range_by_kind!(self, start, end)
    }
    fn read_one(&self, lsn: u64) -> Result<Vec<u8>, Error> {
        self.read(Lsn::new(lsn)).map(|r| r.payload().to_vec())
    }
}

impl Source for Reader {
    fn range_of(&self, start: Bound<Lsn>, end: Bound<Lsn>) -> Result<Iter, Error> {
        range_by_kind!(self, start, end)
    }
    fn read_one(&self, lsn: u64) -> Result<Vec<u8>, Error> {
        self.read(Lsn::new(lsn)).map(|r| r.payload().to_vec())
    }
}

/// What a range selects from `records` (LSNs `first..=last`), as documented:
/// records from its inclusive start (`first` when open) to its inclusive end
/// (`last` when open). A start before `first` or past `last + 1`, or an end
/// past `last`, is out of range; an empty range right after the log is not.
fn expected(records: &[(u64, Vec<u8>)], first: u64, last: u64, start: Bound<u64>, end: Bound<u64>) -> Option<Records> {
    let from = match start {
        Included(a) => a,
        Excluded(a) => a + 1,
        Unbounded => first,
    };
    let to = match end {
        Included(b) => Some(b),
        Excluded(b) => b.checked_sub(1),
        Unbounded => Some(last),
    };
    if from < first || from > last + 1 || to.is_some_and(|t| t > last) {
        return None;
    }
    Some(records.iter().filter(|r| r.0 >= from && to.is_some_and(|t| r.0 <= t)).cloned().collect())
}

/// LSNs worth bounding a range with: the ends of the log and just outside,
/// every segment boundary and its neighbours, and `extra`.
fn interesting(first: u64, last: u64, boundaries: &[u64], extra: &[u64]) -> Vec<u64> {
    let mut points: BTreeSet<u64> = [0, first, first + 1, last - 1, last, last + 1, last + 2].into();
    if first > 0 {
        points.insert(first - 1);
    }
    for &b in boundaries.iter().chain(extra) {
        points.extend([b - 1, b, b + 1]);
    }
    points.into_iter().collect()
}

/// Every kind of range over `points` on `s`, against `records`
/// (`first..=last`); returns how many ranges were checked.
fn check_ranges(who: &str, s: &impl Source, records: &[(u64, Vec<u8>)], points: &[u64]) -> usize {
    let (first, last) = (records[0].0, records[records.len() - 1].0);
    let mut bounds: Vec<(Bound<u64>, Bound<u64>)> = vec![(Unbounded, Unbounded)];
    for &a in points {
        bounds.extend([(Included(a), Unbounded), (Unbounded, Excluded(a)), (Unbounded, Included(a))]);
        for &b in points {
            bounds.extend([(Included(a), Excluded(b)), (Included(a), Included(b)), (Excluded(a), Included(b))]);
        }
    }
    for &(start, end) in &bounds {
        let got = s.range_of(start.map(Lsn::new), end.map(Lsn::new));
        match expected(records, first, last, start, end) {
            Some(want) => {
                let got = collect(got.unwrap_or_else(|e| panic!("{who}: range {start:?}..{end:?} failed: {e}")));
                assert!(
                    got == want,
                    "{who}: range {start:?}..{end:?} read {} records, expected {}",
                    got.len(),
                    want.len()
                );
            }
            None => {
                let oor = out_of_range(&got.map(drop));
                assert!(
                    oor.is_some_and(|(_, f, l)| (f, l) == (first, last)),
                    "{who}: range {start:?}..{end:?} of a log holding {first}..={last} must fail with LsnOutOfRange, got {oor:?}"
                );
            }
        }
    }
    bounds.len()
}

/// Reads each record alone, and LSNs just outside the log.
fn check_reads(who: &str, s: &impl Source, records: &[(u64, Vec<u8>)]) {
    for (lsn, p) in records {
        assert_eq!(&s.read_one(*lsn).unwrap_or_else(|e| panic!("{who}: read({lsn}): {e}")), p, "{who}: read({lsn})");
    }
    let (first, last) = (records[0].0, records[records.len() - 1].0);
    for lsn in [0, first - 1, last + 1, last + 2, u64::MAX] {
        let oor = out_of_range(&s.read_one(lsn));
        assert_eq!(oor, Some((lsn, first, last)), "{who}: read({lsn}) of a log holding {first}..={last}");
    }
}

/// The first LSN of every segment after the first.
fn boundaries(wal: &Wal, records: &[(u64, Vec<u8>)]) -> Vec<u64> {
    let seg = |lsn: u64| wal.read(Lsn::new(lsn)).unwrap().segment();
    records.windows(2).filter(|w| seg(w[0].0) != seg(w[1].0)).map(|w| w[1].0).collect()
}

#[test]
fn reads_return_synced_written_and_buffered_records_without_syncing() {
    let Layered { dir: _dir, wal, records, synced } = layered();
    let last = records.len() as u64;
    let durable = wal.durable_lsn();
    assert_eq!(durable, Lsn::new(synced));
    let before = wal.stats();

    // Written, not synced: the read needs neither a write nor a sync.
    let written = synced + 20;
    assert_eq!(wal.read_one(written).unwrap(), records[written as usize - 1].1);
    let s = wal.stats();
    assert_eq!(
        (s.writes, s.fsyncs),
        (before.writes, before.fsyncs),
        "record {written} was written, and a read syncs nothing"
    );

    // Still in the buffer: the read writes it, and syncs nothing.
    assert_eq!(wal.read_one(last).unwrap(), records[last as usize - 1].1);
    let s = wal.stats();
    assert!(s.writes > before.writes, "record {last} was in the buffer: reading it writes it");
    assert_eq!(s.fsyncs, before.fsyncs, "reading a buffered record syncs nothing");

    check_reads("Wal", &wal, &records);
    assert!(boundaries(&wal, &records).len() >= 3, "the log spans at least four segments");
    assert_eq!(wal.stats().fsyncs, before.fsyncs, "reads never sync");
    assert_eq!(wal.durable_lsn(), durable, "reads make nothing durable");
}

#[test]
fn a_range_over_buffered_records_writes_them_without_syncing() {
    let Layered { dir: _dir, wal, records, .. } = layered();
    let before = wal.stats();
    let tail = &records[records.len() - 40..];
    assert_eq!(collect(wal.range(Lsn::new(tail[0].0)..).unwrap()), tail);
    let s = wal.stats();
    assert!(s.writes > before.writes, "the buffered tail was written for the range");
    assert_eq!(s.fsyncs, before.fsyncs, "a range syncs nothing");
}

#[test]
fn every_kind_of_range_matches_the_records_across_segments() {
    let Layered { dir: _dir, wal, records, synced } = layered();
    let fsyncs = wal.stats().fsyncs;
    let last = records.len() as u64;
    let points = interesting(1, last, &boundaries(&wal, &records), &[synced + 1, last / 2]);
    let checked = check_ranges("Wal", &wal, &records, &points);
    assert_eq!(wal.stats().fsyncs, fsyncs, "ranges never sync");
    println!("{checked} ranges checked over {} LSN bounds", points.len());

    // After a purge point the log starts mid-segment: ranges start there.
    let first = boundaries(&wal, &records)[1] + 7;
    wal.truncate_before(Lsn::new(first)).unwrap();
    let kept = &records[first as usize - 1..];
    let points = interesting(first, last, &boundaries(&wal, kept), &[]);
    check_ranges("Wal after truncate_before", &wal, kept, &points);
    check_reads("Wal after truncate_before", &wal, kept);
}

#[test]
fn reader_gives_the_same_answers_offline() {
    let Layered { dir, wal, records, synced } = layered();
    let last = records.len() as u64;
    let points = interesting(1, last, &boundaries(&wal, &records), &[synced + 1]);
    check_ranges("Wal", &wal, &records, &points);
    // While the log is open: what it has written so far, up to a segment
    // whose seal is pending (an open would keep no more); after a sync, which
    // completes every seal, all of it; and after close.
    let live = Reader::open(dir.path()).unwrap();
    assert_eq!(live.first_lsn(), Lsn::new(1));
    let seen = live.last_lsn().get();
    assert!((synced..=last).contains(&seen), "a live Reader saw up to {seen}: synced {synced}, written {last}");
    check_reads("Reader of an open log", &live, &records[..seen as usize]);
    wal.sync(Lsn::new(last)).unwrap();
    let live = Reader::open(dir.path()).unwrap();
    assert_eq!((live.first_lsn(), live.last_lsn()), (Lsn::new(1), Lsn::new(last)));
    assert!(live.inspection().is_clean(), "{:?}", live.inspection());
    check_reads("Reader of an open log after a sync", &live, &records);
    wal.close().unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    assert!(reader.inspection().is_clean());
    check_ranges("Reader", &reader, &records, &points);
    check_reads("Reader", &reader, &records);
    assert_eq!(collect(reader.iter_from(Lsn::new(synced)).unwrap()), records[synced as usize - 1..]);
}

#[test]
fn an_empty_log_has_only_empty_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    assert_eq!(collect(wal.range(..).unwrap()), []);
    assert_eq!(collect(wal.range(Lsn::new(1)..).unwrap()), []);
    assert_eq!(out_of_range(&wal.range(Lsn::new(2)..).map(drop)), Some((2, 1, 0)));
    assert_eq!(out_of_range(&wal.range(..=Lsn::new(1)).map(drop)), Some((1, 1, 0)));
    assert_eq!(out_of_range(&wal.read(Lsn::new(1))), Some((1, 1, 0)));
    wal.close().unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.range(..).unwrap().count(), 0);
    assert_eq!(out_of_range(&reader.read(Lsn::new(1))), Some((1, 1, 0)));
}

/// One record of the big-segment log: 1,000 bytes naming its LSN.
fn big_payload(lsn: u64) -> Vec<u8> {
    let mut p = vec![(lsn % 251) as u8; 1000];
    p[..8].copy_from_slice(&lsn.to_le_bytes());
    p
}

/// Bytes read while `f` runs.
fn cost<T>(probe: &ProbeFs, f: impl FnOnce() -> T) -> (T, u64) {
    let before = probe.bytes_read();
    let v = f();
    (v, probe.bytes_read() - before)
}

#[test]
fn a_read_in_the_middle_of_a_big_segment_reads_about_one_record() {
    const SEGMENT: u64 = 16 << 20;
    const RECORDS: u64 = 20_000;
    // A record of 1,000 bytes takes 1,032 on disk; one index entry 8 more.
    let one_record = seawall::format::record_size(1000);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(SEGMENT).background_preallocation(false);
    let probe = ProbeFs::new();
    let (wal, _) = Wal::open_with(dir.path(), opts.clone(), Arc::new(probe.clone())).unwrap();
    for lsn in 1..=RECORDS {
        wal.append(&big_payload(lsn)).unwrap();
    }
    wal.sync(Lsn::new(RECORDS)).unwrap();
    let (sealed_mid, active_mid) = (8_000, 19_000);
    let mut report = Vec::new();
    for (when, wal, probe) in [("open", &wal, &probe)] {
        for (lsn, seg) in [(sealed_mid, 1), (active_mid, 2)] {
            let (rec, bytes) = cost(probe, || wal.read(Lsn::new(lsn)).unwrap());
            assert_eq!((rec.payload().as_ref(), rec.segment().get()), (&big_payload(lsn)[..], seg));
            assert!(bytes <= 2 * one_record, "{when}: read({lsn}) in a 16 MiB segment read {bytes} bytes");
            report.push(format!("{when}: read({lsn}) in segment {seg}: {bytes} bytes"));
        }
    }
    wal.close().unwrap();

    // Reopened: the sealed segment is found through its on-disk index.
    let probe = ProbeFs::new();
    let ((wal, _), open_bytes) = cost(&probe, || Wal::open_with(dir.path(), opts, Arc::new(probe.clone())).unwrap());
    report.push(format!("reopen: {open_bytes} bytes"));
    for (lsn, seg) in [(sealed_mid, 1), (active_mid, 2), (1, 1), (RECORDS, 2)] {
        let (rec, bytes) = cost(&probe, || wal.read(Lsn::new(lsn)).unwrap());
        assert_eq!((rec.payload().as_ref(), rec.segment().get()), (&big_payload(lsn)[..], seg));
        assert!(bytes <= 2 * one_record, "reopened: read({lsn}) in a 16 MiB segment read {bytes} bytes");
        report.push(format!("reopened: read({lsn}) in segment {seg}: {bytes} bytes"));
    }
    // A range starting mid-segment starts there: it does not read the
    // records before it (8 MiB of them).
    let (n, bytes) = cost(&probe, || wal.range(Lsn::new(sealed_mid)..Lsn::new(sealed_mid + 10)).unwrap().count());
    assert_eq!(n, 10);
    assert!(bytes < SEGMENT / 8, "a 10-record range from the middle of a segment read {bytes} bytes");
    report.push(format!("reopened: range of 10 records from LSN {sealed_mid}: {bytes} bytes"));
    println!("{}", report.join("\n"));
}

#[test]
fn lsn_arithmetic_and_ranges_select_records() {
    let a = Lsn::new(10);
    assert_eq!(a + 5, Lsn::new(15));
    assert_eq!(a - 1, Lsn::new(9));
    assert_eq!(Lsn::new(15) - a, 5);
    let mut b = a;
    b += 3;
    assert_eq!(b, Lsn::new(13));
    assert_eq!((a.next(), a.get(), u64::from(a), Lsn::from(10u64)), (Lsn::new(11), 10, 10, a));
    assert_eq!((Lsn::default(), Lsn::ZERO.get()), (Lsn::ZERO, 0));
    assert!(Lsn::ZERO < a && a < a.next());
    assert_eq!((a.to_string(), format!("{a:>4}")), ("10".to_string(), "  10".to_string()));
    assert!((a..a + 3).contains(&Lsn::new(12)) && !(a..a + 3).contains(&Lsn::new(13)));
    assert!((a..=a + 3).contains(&Lsn::new(13)));

    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let records = fill(&wal, 20, "arith");
    let (first, last) = (wal.first_lsn(), wal.last_lsn());
    assert_eq!(last - first + 1, 20);
    let lsns = |it: Iter| collect(it).into_iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(lsns(wal.range(first + 2..first + 5).unwrap()), [3, 4, 5]);
    assert_eq!(lsns(wal.range(last - 2..=last).unwrap()), [18, 19, 20]);
    assert_eq!(lsns(wal.range(last.next()..).unwrap()), Vec::<u64>::new());
    assert_eq!(wal.read(first + 9).unwrap().payload()[..], records[9].1[..]);
}

#[test]
fn payloads_are_seawall_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let lsn = wal.append(b"hello, log").unwrap();
    wal.set_meta(b"k", b"v").unwrap();
    let payload: seawall::Bytes = wal.read(lsn).unwrap().into_payload();
    assert_eq!(payload, seawall::Bytes::from_static(b"hello, log"));
    assert_eq!(payload.slice(7..), seawall::Bytes::from_static(b"log"));
    let first: Option<seawall::Bytes> = wal.range(..).unwrap().next().map(|r| r.unwrap().payload().clone());
    assert_eq!(first.as_deref(), Some(&b"hello, log"[..]));
    let meta: Option<seawall::Bytes> = wal.meta(b"k");
    assert_eq!(meta, Some(seawall::Bytes::from_static(b"v")));
    let metas: std::collections::BTreeMap<seawall::Bytes, seawall::Bytes> = wal.metas();
    assert_eq!(metas.len(), 1);
}

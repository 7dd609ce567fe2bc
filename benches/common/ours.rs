//! seawall's workloads: durable appends, buffered appends, bulk, and open +
//! full iteration.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use seawall::{Lsn, Options, Reader, Stats, Wal};

use super::raw::run_writers;
use super::{alloc, payload, per_writer, Sample, BATCH};

/// Options for benchmark logs: the defaults, with `segment_size`.
pub fn options(segment_size: u64) -> Options {
    Options::default().segment_size(segment_size)
}

/// `writers` threads each appending durably (`append_durable`) records of
/// `size` bytes, `total` timed appends in all after `warmup` untimed ones per
/// writer, on an already open `wal`.
pub fn durable_on(wal: &Wal, writers: usize, size: usize, total: usize, warmup: usize) -> Sample {
    let per = per_writer(total, writers);
    let before = wal.stats();
    let (elapsed, lats) = run_writers(writers, per, warmup, |w, i| {
        wal.append_durable(&payload(w, i, size)).expect("append_durable");
    });
    counted((per * writers) as u64, size, elapsed, before, wal.stats()).with_latencies(lats)
}

/// A sample of `n` records of `size` bytes, with the records per fsync the
/// log's counters show between `before` and `after`.
fn counted(n: u64, size: usize, elapsed: std::time::Duration, before: Stats, after: Stats) -> Sample {
    Sample {
        ops: n,
        bytes: n * size as u64,
        elapsed,
        per_fsync: Some((after.appends - before.appends, after.fsyncs - before.fsyncs)),
        ..Sample::default()
    }
}

/// [`durable_on`] on a fresh log in `dir`.
pub fn durable(dir: &Path, opts: Options, writers: usize, size: usize, total: usize, warmup: usize) -> Sample {
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let s = durable_on(&wal, writers, size, total, warmup);
    wal.close().expect("close");
    s
}

/// `threads` threads appending `records` records of `size` bytes in all,
/// with no sync until one at the end. The time is that of the append phase
/// (which includes writing each full buffer to the page cache): the final
/// sync runs at the disk's bandwidth, which the bulk workload measures.
/// Each thread also times its every full batch of [`BATCH`] appends.
pub fn buffered(dir: &Path, opts: Options, threads: usize, size: usize, records: usize) -> Sample {
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let per = per_writer(records, threads);
    let payloads: Vec<Vec<u8>> = (0..threads).map(|t| payload(t, 0, size)).collect();
    let batches = Mutex::new(Vec::new());
    let before = wal.stats();
    let (elapsed, _) = run_writers(threads, 1, 0, |t, _| {
        let mut mine = Vec::with_capacity(per / BATCH);
        let mut left = per;
        while left > 0 {
            let n = left.min(BATCH);
            let t0 = Instant::now();
            for _ in 0..n {
                wal.append(&payloads[t]).expect("append");
            }
            if n == BATCH {
                mine.push(t0.elapsed());
            }
            left -= n;
        }
        batches.lock().unwrap().extend(mine);
    });
    wal.sync(wal.last_lsn()).expect("sync");
    let after = wal.stats();
    wal.close().expect("close");
    let batches = batches.into_inner().unwrap();
    Sample { batches, ..counted((per * threads) as u64, size, elapsed, before, after) }
}

/// Records of `size` bytes that fill `segments` segments of `segment_size`
/// bytes (by their encoded size), so that appending them crosses
/// `segments - 1` rotations or more.
pub fn records_for_segments(segment_size: u64, size: usize, segments: f64) -> usize {
    (segments * segment_size as f64 / seawall::format::record_size(size as u64) as f64).ceil() as usize
}

/// Size of the records of the bulk and read workloads.
pub const BULK_RECORD: usize = 1024;

/// Appends `total` bytes of 1 KiB records to the log in `dir`, then one sync.
pub fn bulk(dir: &Path, opts: Options, total: u64) -> Sample {
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let n = (total as usize).div_ceil(BULK_RECORD);
    let p = payload(0, 0, BULK_RECORD);
    let t0 = Instant::now();
    for _ in 0..n {
        wal.append(&p).expect("append");
    }
    wal.sync(wal.last_lsn()).expect("sync");
    let elapsed = t0.elapsed();
    let stats = wal.stats();
    wal.close().expect("close");
    Sample {
        ops: n as u64,
        bytes: (n * BULK_RECORD) as u64,
        elapsed,
        per_fsync: Some((stats.appends, stats.fsyncs)),
        ..Sample::default()
    }
}

/// Appends `total` bytes of numbered 1 KiB records to the log in `dir`
/// (untimed), and closes it. Numbers go on from the log's last LSN, so that
/// record `lsn` of a log filled from empty holds `payload(0, lsn - 1, _)`.
pub fn fill(dir: &Path, opts: Options, total: u64) {
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let from = wal.last_lsn().get() as usize;
    for i in from..from + (total as usize).div_ceil(BULK_RECORD) {
        wal.append(&payload(0, i, BULK_RECORD)).expect("append");
    }
    wal.close().expect("close");
}

/// The segment files of the log in `dir` and the bytes of each that hold
/// records (header included): what a reader must read.
pub fn used_bytes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let reader = Reader::open(dir).expect("reader");
    reader.inspection().segments.iter().filter(|s| s.records > 0).map(|s| (s.path.clone(), s.bytes_used)).collect()
}

/// Opens the log in `dir` (recovery included) and iterates over every record,
/// checking LSNs and touching every payload. `bytes` is the on-disk size of
/// the records read ([`used_bytes`]), so the figure compares with a raw read.
pub fn open_iterate(dir: &Path, opts: Options) -> Sample {
    let base = alloc::start();
    let t0 = Instant::now();
    let (wal, _) = Wal::open(dir, opts).expect("open");
    let mut expect = wal.first_lsn().get();
    let mut sum = 0u64;
    for rec in wal.iter_from(Lsn::new(expect)).expect("iter") {
        let rec = rec.expect("record");
        assert_eq!(rec.lsn().get(), expect, "records come in LSN order");
        expect += 1;
        let p = rec.payload();
        sum = p.iter().step_by(64).fold(sum, |a, &b| a.wrapping_add(b as u64));
    }
    let elapsed = t0.elapsed();
    let heap = alloc::peak_since(base);
    std::hint::black_box(sum);
    drop(wal);
    let records = expect - 1;
    let bytes = used_bytes(dir).iter().map(|f| f.1).sum();
    Sample { ops: records, bytes, elapsed, heap_peak: heap, ..Sample::default() }
}

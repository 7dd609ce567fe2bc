//! The read suites: replay (open + iterate a whole log) against a raw
//! sequential read of the same files, and random reads by LSN against raw
//! `pread`s of the same bytes.

use seawall::Wal;

use crate::common::{self, lookup, ours, peer, raw, Metric, Report, Sample, Scale};
use crate::suites::{Fixtures, Runs};

/// Random reads (or ranges) per chunk: the workload and its baseline take
/// turns a chunk at a time, so that noise hits both alike.
const CHUNK: usize = 1000;

/// Opens and iterates a warm log of 1 KiB records (a quarter of it first,
/// for the heap's flatness), against a raw read of the same bytes and
/// against okaywal. Leaves the log in `fx` for the random reads.
pub fn replay(scale: &Scale, report: &mut Report, fx: &mut Fixtures) {
    let opts = || ours::options(scale.segment_size);
    let quarter = scale.read_bytes / 4;
    eprintln!("read: filling a {} MiB log", scale.read_bytes >> 20);
    let d = common::scratch("seawall");
    ours::fill(d.path(), opts(), quarter);
    let small = ours::open_iterate(d.path(), opts());
    ours::fill(d.path(), opts(), scale.read_bytes - quarter);
    let files = ours::used_bytes(d.path());
    raw::sequential_read(&files); // warm the page cache
    let raw_name = "raw sequential read (same bytes)";
    let name = format!("seawall open + iterate {} MiB", scale.read_bytes >> 20);
    let mut runs = Runs::default();
    for _ in 0..scale.repeat {
        runs.push(raw_name.into(), raw::sequential_read(&files));
        runs.push(name.clone(), ours::open_iterate(d.path(), opts()));
    }
    report.add(raw_name, runs.take(raw_name).expect("ran"), Metric::Bytes, &[]);
    let full = runs.take(&name).expect("ran");
    fx.read_log = Some(d);
    let p = common::scratch("okaywal");
    peer::fill(p.path(), scale.read_bytes);
    peer::open_iterate(p.path()); // warm the page cache
    let okay = "okaywal open + read all";
    report.add(okay, peer::open_iterate(p.path()), Metric::Bytes, &[raw_name]);
    drop(p);
    let heap_kib = full.heap_peak.map(|b| b as f64 / 1024.0);
    report.add(format!("seawall open + iterate {} MiB", quarter >> 20), small, Metric::Bytes, &[raw_name]);
    report.add(&name, full, Metric::Bytes, &[raw_name, okay]);
    report.target(
        "replay: open + iterate a warm log: seawall / raw sequential read",
        report.ratio(&name, raw_name, Metric::Bytes),
        0.8,
        false,
        "x",
    );
    report.target(
        "replay: open + iterate: seawall / okaywal",
        report.ratio(&name, okay, Metric::Bytes),
        1.5,
        false,
        "x",
    );
    // Flat: the quarter-size log's row shows the same order of magnitude.
    // The bound: a scan's blocks (five of 256 KiB with read-ahead: the one
    // it checks, three handed over, one being read), the active segment's
    // offsets and recovery's window, whatever the log's size.
    report.target("replay: open + iterate: peak heap (KiB) for the whole log", heap_kib, 2048.0, true, " KiB");
}

/// `Wal::read` at uniformly random LSNs of the warm log of 1 KiB records
/// (the replay suite's, or a new one), against one raw `pread` of each
/// record's bytes; then ranges of 64 records against 64 `pread`s.
pub fn random_read(scale: &Scale, report: &mut Report, fx: &mut Fixtures) {
    let opts = ours::options(scale.segment_size);
    let d = fx.read_log.take().unwrap_or_else(|| {
        eprintln!("random_read: filling a {} MiB log", scale.read_bytes >> 20);
        let d = common::scratch("seawall");
        ours::fill(d.path(), opts.clone(), scale.read_bytes);
        d
    });
    raw::sequential_read(&ours::used_bytes(d.path())); // warm the page cache
    let (wal, _) = Wal::open(d.path(), opts).expect("open");
    eprintln!("random_read: {} reads, {} ranges of {}", scale.random_reads, scale.ranges, lookup::RANGE);
    let lsns = lookup::random_lsns(wal.first_lsn(), wal.last_lsn(), scale.random_reads, 12);
    let spots = lookup::locate(&wal, &lsns);
    let last_start = wal.last_lsn() - (lookup::RANGE - 1);
    let starts = lookup::random_lsns(wal.first_lsn(), last_start, scale.ranges, 64);
    let ranges: Vec<_> = starts.iter().map(|&l| lookup::locate_range(&wal, l)).collect();
    let files = lookup::Files::open(d.path(), spots.iter().chain(ranges.iter().flatten()));
    let (mut pread, mut read) = (Vec::new(), Vec::new());
    for chunk in spots.chunks(CHUNK) {
        pread.push(lookup::pread_reads(&files, chunk));
        read.push(lookup::seawall_reads(&wal, chunk));
    }
    let (mut pread64, mut range64) = (Vec::new(), Vec::new());
    for chunk in ranges.chunks(CHUNK / 10) {
        pread64.push(lookup::pread_ranges(&files, chunk));
        range64.push(lookup::seawall_ranges(&wal, chunk));
    }
    wal.close().expect("close");
    drop(d);
    let (base, name) = ("raw pread of a random 1 KiB record", "seawall read(lsn), random LSN");
    report.add(base, Sample::merge(pread), Metric::P99, &[]);
    report.add(name, Sample::merge(read), Metric::P99, &[base]);
    let (base64, name64) = ("raw pread of 64 records, one each", "seawall range of 64 records");
    report.add(base64, Sample::merge(pread64), Metric::P50, &[]);
    report.add(name64, Sample::merge(range64), Metric::P50, &[base64]);
    report.target(
        "random read: p99 of seawall read(lsn) / p99 of pread",
        report.ratio(name, base, Metric::P99),
        3.0,
        true,
        "x",
    );
    report.info("(context) random read: p50 of read(lsn) / p50 of pread", report.ratio(name, base, Metric::P50), "x");
    let r64 = report.ratio(name64, base64, Metric::P50);
    report.info("(context) range of 64: p50 of seawall range / p50 of 64 preads", r64, "x");
}

//! Guards the benchmark harness: every workload `cargo bench` runs (seawall,
//! the raw baselines and okaywal) runs here at tiny sizes, and what it wrote
//! and counted is checked. No timing is asserted. The suites and criterion
//! groups `cargo bench` runs also run here whole, tiny, so that every target
//! they report is known to be measured.

#[path = "../benches/common/mod.rs"]
mod common;
#[path = "../benches/groups/mod.rs"]
mod groups;
#[path = "../benches/suites/mod.rs"]
mod suites;

use std::collections::HashSet;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use common::{lookup, ops, ours, payload, payload_id, peer, raw, reopen, Metric, Report, Sample, Scale};
use seawall::{Lsn, Reader, Wal};

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

/// Tests share the process's one heap counter: the test that measures peak
/// heap runs alone, the others together.
static HEAP: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    HEAP.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    HEAP.write().unwrap_or_else(|e| e.into_inner())
}

/// Every record of the log in `dir`, as `(writer, index)` identities.
fn identities(dir: &std::path::Path) -> Vec<(usize, usize)> {
    let reader = Reader::open(dir).unwrap();
    reader.iter_from(reader.first_lsn()).unwrap().map(|r| payload_id(r.unwrap().payload())).collect()
}

#[test]
fn payload_identity_round_trips() {
    let _heap = shared();
    for (w, i, size) in [(0, 0, 8), (63, 12345, 128), (7, 1 << 30, 4096)] {
        let p = payload(w, i, size);
        assert_eq!(p.len(), size);
        assert_eq!(payload_id(&p), (w, i));
    }
}

#[test]
fn durable_appends_land_once_each() {
    let _heap = shared();
    let scale = Scale::smoke();
    for writers in [1, 4, 16, 64] {
        let d = common::scratch("smoke-durable");
        let s = ours::durable(d.path(), ours::options(scale.segment_size), writers, 128, scale.durable_ops, 2);
        let per = common::per_writer(scale.durable_ops, writers);
        assert_eq!(s.ops, (per * writers) as u64);
        assert_eq!(s.latencies.len(), per * writers);
        assert!(s.latencies.windows(2).all(|w| w[0] <= w[1]), "latencies are sorted");
        let (records, fsyncs) = s.per_fsync.unwrap();
        assert_eq!(records, ((per + 2) * writers) as u64);
        assert!(fsyncs >= 1 && fsyncs <= records, "{fsyncs} fsyncs for {records} records");
        let ids = identities(d.path());
        assert_eq!(ids.len(), (per + 2) * writers);
        let unique: HashSet<_> = ids.iter().copied().collect();
        let expected: HashSet<_> = (0..writers).flat_map(|w| (0..per + 2).map(move |i| (w, i))).collect();
        assert_eq!(unique, expected, "every writer's every record, once");
    }
}

#[test]
fn buffered_appends_and_bulk_write_every_record() {
    let _heap = shared();
    let scale = Scale::smoke();
    for (threads, size) in [(1, 16), (2, 128), (2, 64 << 10)] {
        let d = common::scratch("smoke-buffered");
        let s = ours::buffered(d.path(), ours::options(scale.segment_size), threads, size, 300);
        assert_eq!(s.ops, 300);
        assert_eq!(s.bytes, 300 * size as u64);
        let reader = Reader::open(d.path()).unwrap();
        assert_eq!(reader.last_lsn().get(), 300);
    }
    let d = common::scratch("smoke-bulk");
    let s = ours::bulk(d.path(), ours::options(scale.segment_size), scale.bulk_bytes);
    let n = scale.bulk_bytes / ours::BULK_RECORD as u64;
    assert_eq!((s.ops, s.bytes), (n, scale.bulk_bytes));
    assert!(Reader::open(d.path()).unwrap().inspection().segments.len() > 1, "the bulk log rotates");
    assert_eq!(identities(d.path()).len() as u64, n);
}

#[test]
fn open_iterate_reads_every_record_with_flat_heap() {
    let _heap = alone();
    let scale = Scale::smoke();
    let d = common::scratch("smoke-read");
    ours::fill(d.path(), ours::options(scale.segment_size), scale.read_bytes);
    let s = ours::open_iterate(d.path(), ours::options(scale.segment_size));
    let n = scale.read_bytes / ours::BULK_RECORD as u64;
    assert_eq!(s.ops, n);
    let files = ours::used_bytes(d.path());
    assert!(files.len() > 1, "the log spans several segments");
    assert_eq!(s.bytes, files.iter().map(|f| f.1).sum::<u64>());
    assert!(s.bytes > scale.read_bytes, "headers are counted too");
    let heap = s.heap_peak.expect("the counting allocator is installed");
    // Flat: a log four times larger needs no more heap to read (one read
    // block, the newest segment's walk at open), within a small slack.
    let big = common::scratch("smoke-read-big");
    ours::fill(big.path(), ours::options(scale.segment_size), 4 * scale.read_bytes);
    let s4 = ours::open_iterate(big.path(), ours::options(scale.segment_size));
    let heap4 = s4.heap_peak.expect("the counting allocator is installed");
    assert!(
        heap4 <= heap + 256 * 1024,
        "reading {} bytes peaked at {heap4} bytes of heap, {} bytes at {heap}",
        4 * scale.read_bytes,
        scale.read_bytes
    );
    let r = raw::sequential_read(&files);
    assert_eq!(r.bytes, s.bytes);
    let ids: Vec<usize> = identities(d.path()).into_iter().map(|id| id.1).collect();
    assert_eq!(ids, (0..n as usize).collect::<Vec<_>>(), "records come back in order");
}

#[test]
fn raw_baselines_count_what_they_do() {
    let _heap = shared();
    let d = common::scratch("smoke-raw");
    let s = raw::pwrite_fdatasync(d.path(), 128, 20, 2);
    assert_eq!((s.ops, s.bytes, s.per_fsync, s.latencies.len()), (20, 20 * 128, Some((20, 20)), 20));
    let s = raw::naive_group_commit(d.path(), 8, 128, 64, 1);
    assert_eq!(s.ops, 64);
    let (records, fsyncs) = s.per_fsync.unwrap();
    assert_eq!(records, 72);
    assert!((1..=72).contains(&fsyncs));
    let s = raw::sequential_write(d.path(), (3 << 20) + 5);
    assert_eq!((s.ops, s.bytes, s.per_fsync), (4, (3 << 20) + 5, Some((4, 1))));
    let s = raw::buffered_copy(d.path(), 2, 100, 1000);
    assert_eq!((s.ops, s.bytes), (1000, 100_000));
    let len = std::fs::metadata(d.path().join("buffered")).unwrap().len();
    assert!(len >= 1000 * 108, "the copies reached the file");
}

#[test]
fn okaywal_workloads_commit_and_read_back() {
    let _heap = shared();
    let d = common::scratch("smoke-okaywal");
    let s = peer::durable(d.path(), 4, 128, 40, 1);
    assert_eq!((s.ops, s.latencies.len()), (40, 40));
    let d = common::scratch("smoke-okaywal-bulk");
    let s = peer::bulk(d.path(), 100 * 1024);
    assert_eq!((s.ops, s.bytes), (100, 100 * 1024));
    let d = common::scratch("smoke-okaywal-read");
    peer::fill(d.path(), 3000 * 1024);
    let s = peer::open_iterate(d.path());
    assert_eq!((s.ops, s.bytes), (3000, 3000 * 1024));
    assert!(s.heap_peak.is_some());
}

#[test]
fn report_computes_percentiles_ratios_and_targets() {
    let _heap = shared();
    let lat = |us: &[u64]| us.iter().map(|&u| Duration::from_micros(u)).collect::<Vec<_>>();
    let base = Sample { ops: 100, bytes: 1000, elapsed: Duration::from_secs(1), ..Sample::default() };
    let fast =
        Sample { ops: 300, bytes: 1000, elapsed: Duration::from_secs(1), per_fsync: Some((300, 30)), ..base.clone() }
            .with_latencies(vec![lat(&[5, 1, 3]), lat(&[2, 4])]);
    assert_eq!(fast.percentile(0.5), Some(Duration::from_micros(3)));
    assert_eq!(fast.percentile(0.99), Some(Duration::from_micros(5)));
    assert_eq!(fast.records_per_fsync(), Some(10.0));
    let mut report = Report::default();
    report.add("base", base, Metric::Ops, &[]);
    report.add("fast", fast, Metric::Ops, &["base", "missing"]);
    assert_eq!(report.rows[1].ratios, vec![("base".to_string(), 3.0)]);
    assert_eq!(report.ratio("fast", "base", Metric::Bytes), Some(1.0));
    report.target("fast / base", report.ratio("fast", "base", Metric::Ops), 2.0, false, "x");
    report.target("absent", None, 1.0, false, "x");
    assert_eq!(report.targets.len(), 1);
    assert_eq!(report.targets[0].met(), Some(true));
    assert!(report.table().contains("| fast | 300 |"));
    assert!(report.targets_table().contains("| fast / base | >= 2.00x | 3.00x | yes |"));
    let runs = vec![base_with(5), base_with(1), base_with(3)];
    assert_eq!(common::median(runs).ops, 3);
}

fn base_with(ops: u64) -> Sample {
    Sample { ops, elapsed: Duration::from_secs(1), ..Sample::default() }
}

#[test]
fn latency_metrics_informational_rows_and_spread_across_rounds() {
    let _heap = shared();
    let lat = |us: &[u64]| vec![us.iter().map(|&u| Duration::from_micros(u)).collect::<Vec<_>>()];
    let round = |slow: u64| {
        let mut r = Report::default();
        r.add("base", Sample::default().with_latencies(lat(&[10, 10, 20])), Metric::P50, &[]);
        r.add("slow", Sample::default().with_latencies(lat(&[slow, slow, 90])), Metric::P50, &["base"]);
        r.target("slow / base p50", r.ratio("slow", "base", Metric::P50), 3.0, true, "x");
        r.info("slow / base p99", r.ratio("slow", "base", Metric::P99), "x");
        r
    };
    let r = round(20);
    assert_eq!(r.rows[1].ratios, vec![("base".to_string(), 2.0)], "a latency ratio is a cost");
    assert_eq!(r.ratio("slow", "base", Metric::P99), Some(4.5));
    assert_eq!(r.targets[1].met(), None);
    assert!(r.targets_table().contains("| slow / base p99 | - | 4.50x | - |"));
    // No latencies, no latency ratio (rather than NaN).
    let mut empty = Report::default();
    empty.add("a", base_with(1), Metric::P50, &[]);
    empty.add("b", base_with(1), Metric::P50, &["a"]);
    assert!(empty.rows[1].ratios.is_empty() && empty.ratio("b", "a", Metric::P50).is_none());
    let rounds = [round(20), round(40), round(50)];
    let spreads = common::report::spreads(&rounds);
    assert_eq!(spreads.len(), 2);
    assert_eq!(spreads[0].values, vec![2.0, 4.0, 5.0]);
    assert_eq!((spreads[0].median(), spreads[0].met, spreads[1].met), (4.0, Some(1), None));
    let table = common::report::spread_table(&rounds);
    assert!(table.contains("| slow / base p50 | <= 3.00x | 4.00x | 2.00–5.00x | 1 of 3 |"), "{table}");
}

#[test]
fn buffered_128b_workload_crosses_rotations_and_times_batches() {
    let _heap = shared();
    // Segments large enough for two full batches in 4.5 segments' worth.
    let segment = 4 << 20;
    let n = ours::records_for_segments(segment, 128, 4.5).max(2 * common::BATCH + 5);
    let d = common::scratch("smoke-rotations");
    let s = ours::buffered(d.path(), ours::options(segment), 1, 128, n);
    assert_eq!(s.ops, n as u64);
    let segments = Reader::open(d.path()).unwrap().inspection().segments.iter().filter(|s| s.records > 0).count();
    assert!(segments >= 5, "{n} records of 128 B fill {segments} segments: four rotations or more");
    assert_eq!(s.batches.len(), 2, "one time per full batch");
    let spread = Sample { batches: [3, 1, 2, 9].map(Duration::from_millis).to_vec(), ..Sample::default() };
    assert_eq!(spread.batch_spread(), Some(4.5), "slowest over the median (the lower middle one)");
    assert_eq!(Sample::default().batch_spread(), None);
}

#[test]
fn open_workload_builds_whole_segments_and_reopens_them_unchanged() {
    let _heap = shared();
    let scale = Scale::smoke();
    let opts = ours::options(scale.segment_size);
    let record = reopen::record_size(scale.segment_size);
    assert_eq!(record, (scale.segment_size / 16) as usize);
    let cap = reopen::capacity(&opts, record);
    assert!(cap.0 >= 8 && cap.1 >= 8 && cap.0 <= 16 && cap.1 <= 16, "{cap:?} records of {record} B per segment");
    let sizes = scale.open_segments();
    assert_eq!(sizes, vec![1, 3, 5]);
    let logs: Vec<_> = sizes.iter().map(|&n| reopen::build(&opts, n, record, cap)).collect();
    for (log, &n) in logs.iter().zip(&sizes) {
        assert_eq!(log.segments, n);
        let expect = if n == 1 { cap.0 - 1 } else { cap.0 + (n as u64 - 1) * cap.1 - 1 };
        assert_eq!(log.records, expect);
        assert_eq!(log.bytes(), ours::used_bytes(log.dir.path()).iter().map(|f| f.1).sum::<u64>());
    }
    let refs: Vec<_> = logs.iter().collect();
    let samples = reopen::open_times(&refs, &opts, 3);
    for (log, s) in logs.iter().zip(&samples) {
        assert_eq!((s.ops, s.latencies.len(), s.bytes), (3, 3, 3 * log.bytes()));
        // Opening and closing changed nothing: the same records, segments, tail.
        let insp = Reader::open(log.dir.path()).unwrap().inspection().clone();
        assert!(insp.is_clean());
        assert_eq!((insp.records(), ours::used_bytes(log.dir.path()).len()), (log.records, log.segments));
        let ids: Vec<usize> = identities(log.dir.path()).into_iter().map(|id| id.1).collect();
        assert_eq!(ids, (0..log.records as usize).collect::<Vec<_>>());
    }
    let big = &logs[2];
    let v = reopen::verify(big);
    assert_eq!((v.ops, v.bytes), (big.records, big.bytes()));
    assert_eq!(raw::sequential_read(&big.files).bytes, v.bytes);
}

#[test]
fn random_reads_return_each_records_own_bytes() {
    let _heap = shared();
    let scale = Scale::smoke();
    let d = common::scratch("smoke-random");
    // In two parts, as the replay suite fills the log it leaves for random reads.
    ours::fill(d.path(), ours::options(scale.segment_size), scale.read_bytes / 4);
    ours::fill(d.path(), ours::options(scale.segment_size), scale.read_bytes * 3 / 4);
    let (wal, _) = Wal::open(d.path(), ours::options(scale.segment_size)).unwrap();
    let n = scale.read_bytes / ours::BULK_RECORD as u64;
    assert_eq!((wal.first_lsn(), wal.last_lsn()), (Lsn::new(1), Lsn::new(n)));
    let lsns = lookup::random_lsns(wal.first_lsn(), wal.last_lsn(), scale.random_reads, 12);
    assert_eq!(lsns, lookup::random_lsns(wal.first_lsn(), wal.last_lsn(), scale.random_reads, 12), "seeded");
    assert!(lsns.iter().all(|l| (1..=n).contains(&l.get())));
    let distinct: HashSet<_> = lsns.iter().collect();
    assert!(distinct.len() > scale.random_reads / 2, "spread over the log");
    let spots = lookup::locate(&wal, &lsns);
    let segments: HashSet<_> = spots.iter().map(|s| s.segment).collect();
    assert!(segments.len() > 1, "the reads reach several segments");
    let files = lookup::Files::open(d.path(), &spots);
    // The bytes a pread fetches are the record's: its payload after the header.
    for s in &spots[..20] {
        let mut buf = vec![0u8; s.len];
        let f = std::fs::File::open(d.path().join(s.segment.file_name())).unwrap();
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, s.offset).unwrap();
        let h = seawall::format::RECORD_HEADER_LEN;
        assert_eq!(&buf[h..h + ours::BULK_RECORD], &payload(0, s.lsn.get() as usize - 1, ours::BULK_RECORD)[..]);
        assert_eq!(wal.read(s.lsn).unwrap().payload().as_ref(), &buf[h..h + ours::BULK_RECORD]);
    }
    let r = lookup::seawall_reads(&wal, &spots);
    let p = lookup::pread_reads(&files, &spots);
    assert_eq!((r.ops, r.latencies.len()), (spots.len() as u64, spots.len()));
    assert_eq!((r.ops, r.bytes), (p.ops, p.bytes));
    let starts = lookup::random_lsns(wal.first_lsn(), wal.last_lsn() - (lookup::RANGE - 1), scale.ranges, 64);
    let ranges: Vec<_> = starts.iter().map(|&l| lookup::locate_range(&wal, l)).collect();
    for (r, &l) in ranges.iter().zip(&starts) {
        let lsns: Vec<u64> = r.iter().map(|s| s.lsn.get()).collect();
        assert_eq!(lsns, (l.get()..l.get() + lookup::RANGE).collect::<Vec<_>>());
    }
    let files = lookup::Files::open(d.path(), ranges.iter().flatten());
    let r = lookup::seawall_ranges(&wal, &ranges);
    let p = lookup::pread_ranges(&files, &ranges);
    assert_eq!((r.ops, r.bytes), (scale.ranges as u64, p.bytes));
    wal.close().unwrap();
}

#[test]
#[should_panic(expected = "holds its own payload")]
fn random_reads_notice_a_wrong_record() {
    let _heap = shared();
    let d = common::scratch("smoke-random-wrong");
    ours::fill(d.path(), ours::options(256 << 10), 64 << 10);
    let (wal, _) = Wal::open(d.path(), ours::options(256 << 10)).unwrap();
    let mut spots = lookup::locate(&wal, &[Lsn::new(3)]);
    spots[0].lsn = Lsn::new(4); // the bytes of record 3, claimed to be record 4's
    lookup::pread_reads(&lookup::Files::open(d.path(), &spots), &spots);
}

#[test]
fn ops_workloads_leave_the_log_as_expected() {
    let _heap = shared();
    let d = common::scratch("smoke-ops");
    let opts = ours::options(Scale::smoke().segment_size);
    let (wal, _) = Wal::open(d.path(), opts.clone()).unwrap();
    let iters = 5;
    let (meta, append) = ops::set_meta_vs_append(&wal, iters);
    assert_eq!((meta.ops, append.ops, meta.latencies.len()), (5, 5, 5));
    assert_eq!(wal.meta(ops::META_KEY).unwrap().as_ref(), &ops::meta_value(iters - 1)[..]);
    assert_eq!(wal.last_lsn(), Lsn::new(5), "one record per append_durable, none per set_meta");
    let rec = wal.read(Lsn::new(5)).unwrap();
    assert_eq!(rec.payload().as_ref(), &[ops::META_KEY, &ops::meta_value(4)].concat()[..], "the same bytes");
    let (cb, append) = ops::on_durable_vs_append(&wal, iters);
    assert_eq!((cb.ops, append.ops), (5, 5));
    assert_eq!((wal.last_lsn(), wal.durable_lsn()), (Lsn::new(15), Lsn::new(15)));
    ops::append_synced(&wal, 50);
    let (after, before) = ops::truncate_after_vs_before(&wal, iters, 10);
    assert_eq!((after.latencies.len(), before.latencies.len()), (5, 5));
    // Each round cuts 10 at the end and drops 10 at the front, and appends 10 twice.
    assert_eq!((wal.first_lsn(), wal.last_lsn()), (Lsn::new(1 + 5 * 10), Lsn::new(65 + 5 * 10)));
    let last = wal.last_lsn();
    let (reset, before) = ops::reset_vs_truncate_before(&wal, iters, 10);
    assert_eq!((reset.ops, before.ops), (5, 5));
    let first = ops::first_after_resets(last, iters, 10);
    assert_eq!((wal.first_lsn(), wal.last_lsn()), (first, first - 1));
    wal.close().unwrap();
    let reader = Reader::open(d.path()).unwrap();
    assert_eq!((reader.first_lsn(), reader.last_lsn()), (first, first - 1), "durably");
    assert_eq!(reader.meta(ops::META_KEY).unwrap().as_ref(), &ops::meta_value(iters - 1)[..], "metadata is kept");
}

#[test]
fn every_suite_runs_tiny_and_reports_every_target() {
    let _heap = shared();
    let mut fx = suites::Fixtures::default();
    let reports: Vec<Report> = (0..2).map(|_| suites::round(&Scale::smoke(), &mut fx, &|_| true)).collect();
    assert_eq!(fx.open_logs.len(), 3, "the open suite's logs are built once and kept for later rounds");
    // One row per issue target, each with a goal, in every round.
    let goals = [
        "replay: open + iterate a warm log: seawall / raw sequential read",
        "open: 5 segments, warm: median open + close",
        "open: 5 segments / 1 segment: median open + close",
        "random read: p99 of seawall read(lsn) / p99 of pread",
        "bulk 1 KiB + one sync: seawall / raw sequential write",
        "1 writer, durable, 128 B: seawall / okaywal",
        "8 writers, durable, 128 B: seawall / naive group commit",
        "64 writers, durable, 128 B: seawall / okaywal",
        "64 writers, durable, 128 B: p99 / p50 latency",
        "buffered, 1 thread, 128 B, across 4 rotations: records/s",
    ];
    let costs = [
        "ops: set_meta / append_durable of the same bytes: median latency",
        "ops: append + on_durable callback / append_durable: median latency",
        "ops: truncate_after / truncate_before of as many records: median latency",
        "ops: reset / truncate_before(last LSN): median latency",
    ];
    for r in &reports {
        for what in goals {
            let t = r.targets.iter().find(|t| t.what == what).unwrap_or_else(|| panic!("no target {what:?}"));
            assert!(t.goal.is_some() && t.measured.is_finite() && t.measured > 0.0, "{what}: {t:?}");
        }
        for what in costs {
            let t = r.targets.iter().find(|t| t.what == what).unwrap_or_else(|| panic!("no row {what:?}"));
            assert!(t.goal.is_none() && t.measured.is_finite() && t.measured > 0.0, "{what}: {t:?}");
        }
        let table = r.targets_table();
        assert_eq!(table.lines().count(), 2 + r.targets.len());
    }
    let spread = common::report::spread_table(&reports);
    for what in goals.iter().chain(&costs) {
        let line = spread.lines().find(|l| l.starts_with(&format!("| {what} |"))).expect("a spread row");
        let met = line.rsplit('|').nth(1).unwrap().trim();
        assert!(met == "-" || met.ends_with("of 2"), "{line}");
    }
}

#[test]
fn every_criterion_group_runs_tiny_and_prints_its_ratio() {
    let _heap = shared();
    let mut c = criterion::Criterion::default();
    let lines = groups::run(&mut c, &Scale::smoke(), &mut suites::Fixtures::default(), &|_| true);
    let expect = [
        "ratio replay: seawall_open_iterate / raw_sequential_read (rate)",
        "ratio open: seawall_open_3_segments / seawall_open_1_segment (time)",
        "open: seawall_open_3_segments: ",
        "ratio random_read: seawall_read / raw_pread (time)",
        "ratio random_read: p99 of seawall_read / p99 of raw_pread",
        "ratio bulk: seawall_bulk_1MiB / raw_sequential_write_1MiB (rate)",
        "ratio group_commit: seawall_1w / okaywal_1w (rate)",
        "ratio group_commit: seawall_8w / naive_group_commit_8w (rate)",
        "ratio group_commit: seawall_64w / okaywal_64w (rate)",
        "ratio group_commit: seawall_64w p99 / p50",
        "ratio buffered: seawall_append_128B / raw_buffered_copy_128B (rate)",
        "buffered: seawall_append_128B: ",
        "ratio new_ops: set_meta_64B / append_durable_64B (time)",
        "ratio new_ops: append_on_durable_128B / append_durable_128B (time)",
        "ratio new_ops: truncate_after_100 / truncate_before_100 (time)",
        "ratio new_ops: reset / truncate_before_last (time)",
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(expect) {
        assert!(line.starts_with(prefix), "{line:?} should start with {prefix:?}");
        assert!(line.contains("goal"), "{line}");
    }
}

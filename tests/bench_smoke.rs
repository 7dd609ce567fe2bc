//! Guards the benchmark harness: every workload `cargo bench` runs (seawall,
//! the raw baselines and okaywal) runs here at tiny sizes, and what it wrote
//! and counted is checked. No timing is asserted.

#[path = "../benches/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{ours, payload, payload_id, peer, raw, Metric, Report, Sample, Scale};
use seawall::Reader;

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

/// Every record of the log in `dir`, as `(writer, index)` identities.
fn identities(dir: &std::path::Path) -> Vec<(usize, usize)> {
    let reader = Reader::open(dir).unwrap();
    reader.iter_from(reader.first_lsn()).unwrap().map(|r| payload_id(r.unwrap().payload())).collect()
}

#[test]
fn payload_identity_round_trips() {
    for (w, i, size) in [(0, 0, 8), (63, 12345, 128), (7, 1 << 30, 4096)] {
        let p = payload(w, i, size);
        assert_eq!(p.len(), size);
        assert_eq!(payload_id(&p), (w, i));
    }
}

#[test]
fn durable_appends_land_once_each() {
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
    assert!(report.targets[0].met());
    assert!(report.table().contains("| fast | 300 |"));
    assert!(report.targets_table().contains("| fast / base | >= 2.00x | 3.00x | yes |"));
    let runs = vec![base_with(5), base_with(1), base_with(3)];
    assert_eq!(common::median(runs).ops, 3);
}

fn base_with(ops: u64) -> Sample {
    Sample { ops, elapsed: Duration::from_secs(1), ..Sample::default() }
}

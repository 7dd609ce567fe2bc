//! `cargo bench`: seawall against raw baselines and okaywal, every figure a
//! ratio to a baseline run in the same process (absolute times drift on a
//! shared machine).
//!
//! Runs four suites (`durable`, `buffered`, `bulk`, `read`), prints a
//! Markdown table of results and one of the performance targets, then runs
//! criterion groups over the same workloads. A positional argument filters
//! suites and criterion benchmarks by name (`cargo bench --bench seawall --
//! durable`). Environment: `SEAWALL_BENCH_SCALE` (factor on every size),
//! `SEAWALL_BENCH_REPEAT` (runs per durable or buffered configuration, median
//! kept; default 3), `SEAWALL_BENCH_BULK_MIB`, `SEAWALL_BENCH_READ_MIB`,
//! `SEAWALL_BENCH_DIR` (where logs are written), `SEAWALL_BENCH_WRITERS` and
//! `SEAWALL_BENCH_SIZES` (durable configurations, e.g. `1,8,64` and `128`),
//! `SEAWALL_BENCH_CRITERION=0` (skip criterion).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{median, ours, peer, raw, Metric, Report, Sample, Scale};
use criterion::Criterion;

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

const WRITERS: [usize; 4] = [4, 8, 16, 64];
const PEER_WRITERS: [usize; 3] = [1, 16, 64];
const DURABLE_SIZES: [usize; 2] = [128, 4096];
const BUFFERED_SIZES: [usize; 4] = [16, 128, 1024, 64 << 10];

fn size_name(size: usize) -> String {
    if size >= 1024 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

/// Runs of each configuration, interleaved, so that a burst of noise hits
/// baseline and contender alike; the median run of each is reported.
#[derive(Default)]
struct Runs(BTreeMap<String, Vec<Sample>>);

impl Runs {
    fn push(&mut self, name: String, s: Sample) {
        eprintln!("  {name}: {:.0} ops/s", s.ops_per_sec());
        self.0.entry(name).or_default().push(s);
    }

    fn take(&mut self, name: &str) -> Option<Sample> {
        self.0.remove(name).map(median)
    }
}

/// A comma-separated list from the environment, or `default`.
fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map_or_else(|| default.to_vec(), |v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
}

fn durable_suite(scale: &Scale, report: &mut Report) {
    let mut runs = Runs::default();
    let writers = env_list("SEAWALL_BENCH_WRITERS", &WRITERS);
    let sizes = env_list("SEAWALL_BENCH_SIZES", &DURABLE_SIZES);
    let warmup = |w: usize| (scale.durable_ops / 20 / w).max(2);
    let opts = || ours::options(scale.segment_size);
    for rep in 0..scale.repeat {
        eprintln!("durable: round {} of {}", rep + 1, scale.repeat);
        for &size in &sizes {
            let sz = size_name(size);
            let ops = scale.durable_ops;
            // Many writers finish many records per fsync: give them more
            // records, so that p99 spans several flushes rather than one.
            let ops_for = |w: usize| ops * (1 + w / 8);
            let d = common::scratch("raw");
            runs.push(format!("raw pwrite+fdatasync 1w {sz}"), raw::pwrite_fdatasync(d.path(), size, ops, warmup(1)));
            for w in [1].into_iter().chain(writers.iter().copied().filter(|&w| w > 1)) {
                if w > 1 {
                    let d = common::scratch("naive");
                    let s = raw::naive_group_commit(d.path(), w, size, ops_for(w), warmup(w));
                    runs.push(format!("naive group commit {w}w {sz}"), s);
                }
                let d = common::scratch("seawall");
                runs.push(
                    format!("seawall durable {w}w {sz}"),
                    ours::durable(d.path(), opts(), w, size, ops_for(w), warmup(w)),
                );
                if size == 128 && PEER_WRITERS.contains(&w) {
                    let d = common::scratch("okaywal");
                    runs.push(
                        format!("okaywal durable {w}w {sz}"),
                        peer::durable(d.path(), w, size, ops_for(w), warmup(w)),
                    );
                }
            }
        }
    }
    for &size in &sizes {
        let sz = size_name(size);
        let raw1 = format!("raw pwrite+fdatasync 1w {sz}");
        if let Some(s) = runs.take(&raw1) {
            report.add(&raw1, s, Metric::Ops, &[]);
        }
        for w in [1].into_iter().chain(writers.iter().copied().filter(|&w| w > 1)) {
            let naive = if w == 1 { raw1.clone() } else { format!("naive group commit {w}w {sz}") };
            if let Some(s) = runs.take(&naive) {
                report.add(&naive, s, Metric::Ops, &[]);
            }
            let peer = format!("okaywal durable {w}w {sz}");
            if let Some(s) = runs.take(&peer) {
                report.add(&peer, s, Metric::Ops, &[&naive]);
            }
            let name = format!("seawall durable {w}w {sz}");
            if let Some(s) = runs.take(&name) {
                report.add(&name, s, Metric::Ops, &[&naive, &peer]);
            }
        }
    }
    report.target(
        "1 writer, durable, 128 B: seawall / raw pwrite+fdatasync",
        report.ratio("seawall durable 1w 128B", "raw pwrite+fdatasync 1w 128B", Metric::Ops),
        0.95,
        false,
        "x",
    );
    report.target(
        "8 writers, durable, 128 B: seawall / naive group commit",
        report.ratio("seawall durable 8w 128B", "naive group commit 8w 128B", Metric::Ops),
        1.5,
        false,
        "x",
    );
    report.target(
        "64 writers, durable, 128 B: seawall / okaywal",
        report.ratio("seawall durable 64w 128B", "okaywal durable 64w 128B", Metric::Ops),
        2.0,
        false,
        "x",
    );
    let p99_p50 = report
        .get("seawall durable 64w 128B")
        .and_then(|s| Some(s.percentile(0.99)?.as_secs_f64() / s.percentile(0.5)?.as_secs_f64()));
    report.target("64 writers, durable, 128 B: p99 / p50 latency", p99_p50, 3.0, true, "x");
    // The disk's own spread, for context: one writer's raw fdatasyncs.
    let raw_spread = report
        .get("raw pwrite+fdatasync 1w 128B")
        .and_then(|s| Some(s.percentile(0.99)?.as_secs_f64() / s.percentile(0.5)?.as_secs_f64()));
    report.target("(context) raw pwrite+fdatasync, 1 writer: p99 / p50 latency", raw_spread, 3.0, true, "x");
}

fn buffered_suite(scale: &Scale, report: &mut Report) {
    let mut runs = Runs::default();
    let records = |size: usize| scale.buffered_records.min((scale.buffered_bytes / size as u64).max(1) as usize);
    for rep in 0..scale.repeat {
        eprintln!("buffered: round {} of {}", rep + 1, scale.repeat);
        for size in BUFFERED_SIZES {
            for t in [1, 2] {
                let sz = size_name(size);
                let d = common::scratch("raw");
                runs.push(format!("raw buffered copy {t}t {sz}"), raw::buffered_copy(d.path(), t, size, records(size)));
                let d = common::scratch("seawall");
                let s = ours::buffered(d.path(), ours::options(scale.segment_size), t, size, records(size));
                runs.push(format!("seawall buffered {t}t {sz}"), s);
            }
        }
    }
    for size in BUFFERED_SIZES {
        for t in [1, 2] {
            let sz = size_name(size);
            let base = format!("raw buffered copy {t}t {sz}");
            if let Some(s) = runs.take(&base) {
                report.add(&base, s, Metric::Ops, &[]);
            }
            let name = format!("seawall buffered {t}t {sz}");
            if let Some(s) = runs.take(&name) {
                report.add(&name, s, Metric::Ops, &[&base]);
            }
        }
    }
    let rate = report.get("seawall buffered 1t 128B").map(Sample::ops_per_sec);
    report.target("buffered, 1 thread, 128 B: records/s", rate, 5e6, false, "");
}

fn bulk_suite(scale: &Scale, report: &mut Report) {
    let mut runs = Runs::default();
    let (raw_name, ours_name, peer_name) =
        ("raw sequential write 1MiB+fdatasync", "seawall bulk 1KiB + one sync", "okaywal bulk 1KiB + one sync");
    // An untimed first run: a first write of this size meets fresh page-cache
    // memory, which later runs (whoever goes first) do not.
    raw::sequential_write(common::scratch("raw").path(), scale.bulk_bytes);
    for rep in 0..scale.repeat {
        eprintln!("bulk: {} MiB, round {} of {}", scale.bulk_bytes >> 20, rep + 1, scale.repeat);
        runs.push(raw_name.into(), raw::sequential_write(common::scratch("raw").path(), scale.bulk_bytes));
        let d = common::scratch("seawall");
        runs.push(ours_name.into(), ours::bulk(d.path(), ours::options(scale.segment_size), scale.bulk_bytes));
        drop(d);
        runs.push(peer_name.into(), peer::bulk(common::scratch("okaywal").path(), scale.bulk_bytes));
    }
    for (name, bases) in [(raw_name, &[][..]), (peer_name, &[raw_name][..]), (ours_name, &[raw_name, peer_name][..])] {
        if let Some(s) = runs.take(name) {
            report.add(name, s, Metric::Bytes, bases);
        }
    }
    report.target(
        "bulk 1 KiB + one sync: seawall / raw sequential write",
        report.ratio(ours_name, raw_name, Metric::Bytes),
        0.85,
        false,
        "x",
    );
}

fn read_suite(scale: &Scale, report: &mut Report) {
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
    report.add(raw_name, raw::sequential_read(&files), Metric::Bytes, &[]);
    let full = ours::open_iterate(d.path(), opts());
    drop(d);
    let p = common::scratch("okaywal");
    peer::fill(p.path(), scale.read_bytes);
    peer::open_iterate(p.path()); // warm the page cache
    let okay = "okaywal open + read all";
    report.add(okay, peer::open_iterate(p.path()), Metric::Bytes, &[raw_name]);
    drop(p);
    let heap_kib = full.heap_peak.map(|b| b as f64 / 1024.0);
    report.add(format!("seawall open + iterate {} MiB", quarter >> 20), small, Metric::Bytes, &[raw_name]);
    let name = format!("seawall open + iterate {} MiB", scale.read_bytes >> 20);
    report.add(&name, full, Metric::Bytes, &[raw_name, okay]);
    report.target(
        "open + iterate: seawall / raw sequential read",
        report.ratio(&name, raw_name, Metric::Bytes),
        0.6,
        false,
        "x",
    );
    report.target("open + iterate: seawall / okaywal", report.ratio(&name, okay, Metric::Bytes), 1.5, false, "x");
    // Flat: the quarter-size log's row shows the same order of magnitude.
    report.target("open + iterate: peak heap (KiB) for the whole log", heap_kib, 1024.0, true, " KiB");
}

/// Criterion groups over the same workloads, timed per operation.
fn criterion_groups(scale: &Scale, c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_128B");
    g.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let d = common::scratch("criterion");
    let cap = 64 << 20;
    let f = raw::preallocated(d.path(), "raw", cap);
    let rec = common::payload(0, 0, 128);
    let mut off = 0u64;
    g.bench_function("raw_pwrite_fdatasync", |b| {
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                f.write_all_at(&rec, off % cap).expect("pwrite");
                f.sync_data().expect("fdatasync");
                off += 128;
            }
            t0.elapsed()
        })
    });
    let naive = raw::NaiveGroupCommit::new(raw::preallocated(d.path(), "naive", cap), cap);
    let (wal, _) = seawall::Wal::open(d.path().join("wal"), ours::options(scale.segment_size)).expect("open");
    for w in [1, 16] {
        g.bench_function(format!("seawall_{w}w"), |b| {
            b.iter_custom(|iters| ours::durable_on(&wal, w, 128, iters as usize, 0).elapsed)
        });
        g.bench_function(format!("naive_group_commit_{w}w"), |b| {
            b.iter_custom(|iters| {
                raw::run_writers(w, common::per_writer(iters as usize, w), 0, |_, _| naive.commit(&rec)).0
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("buffered_128B");
    g.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.bench_function("seawall_append", |b| {
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                wal.append(&rec).expect("append");
            }
            t0.elapsed()
        })
    });
    g.finish();
    wal.close().expect("close");
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |suite: &str| filter.as_deref().is_none_or(|f| suite.contains(f) || f.contains(suite));
    let scale = Scale::from_env();
    eprintln!("scale: {scale:?}");
    let mut report = Report::default();
    if wants("durable") {
        durable_suite(&scale, &mut report);
    }
    if wants("buffered") {
        buffered_suite(&scale, &mut report);
    }
    if wants("bulk") {
        bulk_suite(&scale, &mut report);
    }
    if wants("read") {
        read_suite(&scale, &mut report);
    }
    println!("\n## Results\n\n{}", report.table());
    println!("## Targets\n\n{}", report.targets_table());
    if std::env::var("SEAWALL_BENCH_CRITERION").as_deref() != Ok("0") {
        let mut c = Criterion::default().configure_from_args();
        criterion_groups(&scale, &mut c);
        c.final_summary();
    }
}

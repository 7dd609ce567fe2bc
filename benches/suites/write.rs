//! The write suites: durable appends (group commit), buffered appends and a
//! bulk load, against raw baselines and okaywal.

use crate::common::{self, ours, peer, raw, Metric, Report, Sample, Scale};
use crate::suites::{env_list, size_name, Runs};

const WRITERS: [usize; 4] = [4, 8, 16, 64];
const PEER_WRITERS: [usize; 3] = [1, 16, 64];
const DURABLE_SIZES: [usize; 2] = [128, 4096];
const BUFFERED_SIZES: [usize; 4] = [16, 128, 1024, 64 << 10];
/// Segments' worth of records the buffered 128 B workload appends: enough
/// to cross four rotations, which a sustained rate must include.
pub const BUFFERED_SEGMENTS: f64 = 4.5;

pub fn durable(scale: &Scale, report: &mut Report) {
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
        "1 writer, durable, 128 B: seawall / okaywal",
        report.ratio("seawall durable 1w 128B", "okaywal durable 1w 128B", Metric::Ops),
        1.0,
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
    report.info("(context) raw pwrite+fdatasync, 1 writer: p99 / p50 latency", raw_spread, "x");
}

pub fn buffered(scale: &Scale, report: &mut Report) {
    let mut runs = Runs::default();
    let records = |size: usize| {
        let n = scale.buffered_records.min((scale.buffered_bytes / size as u64).max(1) as usize);
        if size == 128 {
            n.max(ours::records_for_segments(scale.segment_size, size, BUFFERED_SEGMENTS))
        } else {
            n
        }
    };
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
    report.target("buffered, 1 thread, 128 B, across 4 rotations: records/s", rate, 4e6, false, "");
    // A rotation that stalls appenders shows as one slow batch among fast ones.
    let stall = report.get("seawall buffered 1t 128B").and_then(Sample::batch_spread);
    report.info("(context) buffered, 1 thread, 128 B: slowest / median batch of 64Ki appends", stall, "x");
}

pub fn bulk(scale: &Scale, report: &mut Report) {
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
    // A rotation syncs the whole previous segment before the next one starts
    // (FORMAT.md W2 (b)), so across many segments buffered appends cannot
    // outrun the disk: at the raw writer's rate (its data synced), this is
    // the most 128 B records (160 B on disk) a second can sustain.
    let disk = seawall::format::record_size(128) as f64;
    let allowed = report.get(raw_name).map(|s| s.mb_per_sec() * 1e6 / disk);
    report.info("(context) buffered 128 B: records/s the raw sequential write rate sustains", allowed, "");
}

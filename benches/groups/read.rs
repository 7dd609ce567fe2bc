//! Criterion groups of the read targets: replay, open, random reads.

use std::time::{Duration, SystemTime};

use criterion::Criterion;
use seawall::Wal;

use super::{bench, group, Kind, Pair, Tally};
use crate::common::{self, lookup, ours, raw, reopen, Sample, Scale};
use crate::suites::Fixtures;

/// A warm log of `scale.read_bytes` of 1 KiB records, removed when dropped.
fn read_log(scale: &Scale) -> tempfile::TempDir {
    let d = common::scratch("criterion");
    ours::fill(d.path(), ours::options(scale.segment_size), scale.read_bytes);
    raw::sequential_read(&ours::used_bytes(d.path()));
    d
}

/// Open + iterate a log of `scale.read_bytes` against a raw read of the
/// same bytes.
pub fn replay(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    let d = read_log(scale);
    let files = ours::used_bytes(d.path());
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "replay", scale);
    bench(&mut g, "seawall_open_iterate", &t_ours, |iters| {
        (0..iters).map(|_| ours::open_iterate(d.path(), ours::options(scale.segment_size)).elapsed).sum()
    });
    bench(&mut g, "raw_sequential_read", &t_raw, |iters| {
        (0..iters).map(|_| raw::sequential_read(&files).elapsed).sum()
    });
    g.finish();
    let p = Pair {
        group: "replay",
        ours: ("seawall_open_iterate", &t_ours),
        base: ("raw_sequential_read", &t_raw),
        kind: Kind::Rate,
        goal: ">= 0.8x",
    };
    p.print(since).into_iter().collect()
}

/// Open + close of a log of many segments against one of a single segment:
/// the open suite's largest log, if it ran in this process, else one of the
/// mid size (`open_segments()[1]`) built here.
pub fn open(c: &mut Criterion, scale: &Scale, fx: &mut Fixtures) -> Vec<String> {
    let opts = ours::options(scale.segment_size);
    if fx.open_logs.len() < 2 {
        let record = reopen::record_size(scale.segment_size);
        let cap = reopen::capacity(&opts, record);
        let mid = scale.open_segments()[1];
        fx.open_logs = vec![reopen::build(&opts, 1, record, cap), reopen::build(&opts, mid, record, cap)];
    }
    let (one, many) = (&fx.open_logs[0], fx.open_logs.last().expect("two logs"));
    raw::sequential_read(&one.files);
    raw::sequential_read(&many.files);
    let many_id = format!("seawall_open_{}_segments", many.segments);
    let (t_many, t_one) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "open", scale);
    bench(&mut g, &many_id, &t_many, |iters| (0..iters).map(|_| reopen::open_close(many, opts.clone())).sum());
    bench(&mut g, "seawall_open_1_segment", &t_one, |iters| {
        (0..iters).map(|_| reopen::open_close(one, opts.clone())).sum()
    });
    g.finish();
    let goal = format!("<= 2x (the issue's is for 128 segments of 64 MiB; this log has {})", many.segments);
    let p = Pair {
        group: "open",
        ours: (&many_id, &t_many),
        base: ("seawall_open_1_segment", &t_one),
        kind: Kind::Cost,
        goal: &goal,
    };
    let mut lines: Vec<String> = p.print(since).into_iter().collect();
    if let Some(per) = t_many.per_iter() {
        let line = format!("open: {many_id}: {:.1} ms per open + close; goal < 50 ms", per * 1e3);
        println!("{line}");
        lines.push(line);
    }
    lines
}

/// `Wal::read` at random LSNs of a log of `scale.read_bytes` against a
/// `pread` of each record's bytes.
pub fn random_read(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    let d = read_log(scale);
    let (wal, _) = Wal::open(d.path(), ours::options(scale.segment_size)).expect("open");
    let lsns = lookup::random_lsns(wal.first_lsn(), wal.last_lsn(), scale.random_reads.min(10_000), 7);
    let spots = lookup::locate(&wal, &lsns);
    let files = lookup::Files::open(d.path(), &spots);
    // Each call goes on where the last one stopped, cycling through the
    // spots; every run's sample is kept for the percentiles.
    let cycle = |iters: u64, cursor: &mut usize, runs: &mut Vec<Sample>, f: &dyn Fn(&[lookup::Spot]) -> Sample| {
        let (mut left, mut t) = (iters as usize, Duration::ZERO);
        while left > 0 {
            let n = left.min(spots.len() - *cursor);
            let s = f(&spots[*cursor..*cursor + n]);
            t += s.elapsed;
            runs.push(s);
            *cursor = (*cursor + n) % spots.len();
            left -= n;
        }
        t
    };
    let (t_read, t_pread) = (Tally::default(), Tally::default());
    let (mut reads, mut preads) = (Vec::new(), Vec::new());
    let since = SystemTime::now();
    let mut g = group(c, "random_read", scale);
    let mut cursor = 0;
    bench(&mut g, "seawall_read", &t_read, |iters| {
        cycle(iters, &mut cursor, &mut reads, &|s| lookup::seawall_reads(&wal, s))
    });
    let mut cursor = 0;
    bench(&mut g, "raw_pread", &t_pread, |iters| {
        cycle(iters, &mut cursor, &mut preads, &|s| lookup::pread_reads(&files, s))
    });
    g.finish();
    wal.close().expect("close");
    let p = Pair {
        group: "random_read",
        ours: ("seawall_read", &t_read),
        base: ("raw_pread", &t_pread),
        kind: Kind::Cost,
        goal: "none for the mean (the goal is on p99, below)",
    };
    let mut lines: Vec<String> = p.print(since).into_iter().collect();
    let (reads, preads) = (Sample::merge(reads), Sample::merge(preads));
    if let (Some(r), Some(p)) = (reads.percentile(0.99), preads.percentile(0.99)) {
        let line = format!(
            "ratio random_read: p99 of seawall_read / p99 of raw_pread = {:.2}x over {} calls each ({} / {}); goal <= 3x",
            r.as_secs_f64() / p.as_secs_f64().max(1e-9),
            reads.latencies.len(),
            common::fmt_dur(r),
            common::fmt_dur(p)
        );
        println!("{line}");
        lines.push(line);
    }
    lines
}

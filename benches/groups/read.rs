//! Criterion groups of the read targets: replay, open, random reads.

use std::time::{Duration, SystemTime};

use criterion::Criterion;
use seawall::Wal;

use super::{bench, group, Kind, Pair, Tally};
use crate::common::{self, lookup, ours, raw, reopen, Scale};
use crate::suites::Fixtures;

/// Payload bytes of the log the replay and random-read groups read.
const LOG_BYTES: u64 = 64 << 20;

/// A warm log of 1 KiB records, removed when dropped.
fn read_log(scale: &Scale) -> tempfile::TempDir {
    let d = common::scratch("criterion");
    ours::fill(d.path(), ours::options(scale.segment_size), LOG_BYTES);
    raw::sequential_read(&ours::used_bytes(d.path()));
    d
}

/// Open + iterate a 64 MiB log against a raw read of the same bytes.
pub fn replay(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
    let d = read_log(scale);
    let files = ours::used_bytes(d.path());
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "replay", Duration::from_secs(1));
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
    p.print(since);
}

/// Open + close of a log of many segments against one of a single segment
/// (the open suite's, if it ran, else built here).
pub fn open(c: &mut Criterion, scale: &Scale, fx: &mut Fixtures) {
    let opts = ours::options(scale.segment_size);
    if fx.open_logs.len() < 2 {
        let record = reopen::record_size(scale.segment_size);
        let cap = reopen::capacity(&opts, record);
        let mid = scale.open_segments()[1];
        fx.open_logs = vec![reopen::build(&opts, 1, record, cap), reopen::build(&opts, mid, record, cap)];
    }
    let (one, many) = (&fx.open_logs[0], &fx.open_logs[1]);
    raw::sequential_read(&one.files);
    raw::sequential_read(&many.files);
    let many_id = format!("seawall_open_{}_segments", many.segments);
    let (t_many, t_one) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "open", Duration::from_secs(1));
    bench(&mut g, &many_id, &t_many, |iters| (0..iters).map(|_| reopen::open_close(many, opts.clone())).sum());
    bench(&mut g, "seawall_open_1_segment", &t_one, |iters| {
        (0..iters).map(|_| reopen::open_close(one, opts.clone())).sum()
    });
    g.finish();
    let p = Pair {
        group: "open",
        ours: (&many_id, &t_many),
        base: ("seawall_open_1_segment", &t_one),
        kind: Kind::Cost,
        goal: "<= 2x (the issue's is for 128 segments)",
    };
    p.print(since);
}

/// `Wal::read` at random LSNs of a 64 MiB log against a `pread` of each
/// record's bytes.
pub fn random_read(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
    let d = read_log(scale);
    let (wal, _) = Wal::open(d.path(), ours::options(scale.segment_size)).expect("open");
    let lsns = lookup::random_lsns(wal.first_lsn(), wal.last_lsn(), 10_000, 7);
    let spots = lookup::locate(&wal, &lsns);
    let files = lookup::Files::open(d.path(), &spots);
    // Each call goes on where the last one stopped, cycling through the spots.
    let cycle = |iters: u64, cursor: &mut usize, f: &mut dyn FnMut(&[lookup::Spot]) -> Duration| {
        let (mut left, mut t) = (iters as usize, Duration::ZERO);
        while left > 0 {
            let n = left.min(spots.len() - *cursor);
            t += f(&spots[*cursor..*cursor + n]);
            *cursor = (*cursor + n) % spots.len();
            left -= n;
        }
        t
    };
    let (t_read, t_pread) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "random_read", Duration::from_secs(1));
    let mut cursor = 0;
    bench(&mut g, "seawall_read", &t_read, |iters| {
        cycle(iters, &mut cursor, &mut |s| lookup::seawall_reads(&wal, s).elapsed)
    });
    let mut cursor = 0;
    bench(&mut g, "raw_pread", &t_pread, |iters| {
        cycle(iters, &mut cursor, &mut |s| lookup::pread_reads(&files, s).elapsed)
    });
    g.finish();
    wal.close().expect("close");
    let p = Pair {
        group: "random_read",
        ours: ("seawall_read", &t_read),
        base: ("raw_pread", &t_pread),
        kind: Kind::Cost,
        goal: "p99 <= 3x (a mean here; the random_read suite gives p99)",
    };
    p.print(since);
}

//! Criterion groups of the write targets: bulk, group commit, buffered
//! appends, and the new operations against their nearest existing ones.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use seawall::Wal;

use super::{bench, group, scaled, Kind, Pair, Tally};
use crate::common::{self, fmt_dur, ops, ours, payload, peer, raw, Sample, Scale};
use crate::suites::write::BUFFERED_SEGMENTS;
use crate::suites::Fixtures;

/// A bulk load of `scale.bulk_bytes` of 1 KiB records and one sync into a
/// fresh log, against 1 MiB `pwrite`s of as many bytes and one `fdatasync`
/// into a fresh file.
pub fn bulk(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let mib = scale.bulk_bytes >> 20;
    let (id_ours, id_raw) = (format!("seawall_bulk_{mib}MiB"), format!("raw_sequential_write_{mib}MiB"));
    let since = SystemTime::now();
    let mut g = group(c, "bulk", scale);
    bench(&mut g, &id_ours, &t_ours, |iters| {
        let opts = || ours::options(scale.segment_size);
        (0..iters).map(|_| ours::bulk(common::scratch("criterion").path(), opts(), scale.bulk_bytes).elapsed).sum()
    });
    bench(&mut g, &id_raw, &t_raw, |iters| {
        (0..iters).map(|_| raw::sequential_write(common::scratch("criterion").path(), scale.bulk_bytes).elapsed).sum()
    });
    g.finish();
    let p =
        Pair { group: "bulk", ours: (&id_ours, &t_ours), base: (&id_raw, &t_raw), kind: Kind::Rate, goal: ">= 0.85x" };
    p.print(since).into_iter().collect()
}

/// Durable 128 B appends: 1 writer against okaywal, 8 against the naive
/// group commit, 64 against okaywal. An iteration is one durable append,
/// whichever writer makes it.
pub fn group_commit(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    let d = common::scratch("criterion");
    let cap = 64 << 20;
    let naive = raw::NaiveGroupCommit::new(raw::preallocated(d.path(), "naive", cap), cap);
    let (wal, _) = Wal::open(d.path().join("wal"), ours::options(scale.segment_size)).expect("open");
    let okay = peer::open(&d.path().join("okaywal"));
    let rec = payload(0, 0, 128);
    let tallies: Vec<Tally> = (0..6).map(|_| Tally::default()).collect();
    let ids = ["seawall_1w", "okaywal_1w", "seawall_8w", "naive_group_commit_8w", "seawall_64w", "okaywal_64w"];
    // Every latency of seawall's 64 writers, for p99 / p50.
    let mut lat64 = Vec::new();
    let since = SystemTime::now();
    let mut g = group(c, "group_commit", scale);
    for (i, w) in [(0, 1), (2, 8), (4, 64)] {
        bench(&mut g, ids[i], &tallies[i], |iters| {
            let s = ours::durable_on(&wal, w, 128, iters as usize, 0);
            if w == 64 {
                lat64.push(s.latencies.clone());
            }
            scaled(s.elapsed, iters, s.ops)
        });
        if w == 8 {
            bench(&mut g, ids[i + 1], &tallies[i + 1], |iters| {
                let per = common::per_writer(iters as usize, w);
                let (t, _) = raw::run_writers(w, per, 0, |_, _| naive.commit(&rec));
                scaled(t, iters, (per * w) as u64)
            });
        } else {
            bench(&mut g, ids[i + 1], &tallies[i + 1], |iters| {
                let s = peer::durable_on(&okay, w, 128, iters as usize, 0);
                scaled(s.elapsed, iters, s.ops)
            });
        }
    }
    g.finish();
    wal.close().expect("close");
    okay.shutdown().expect("okaywal shutdown");
    let mut lines = Vec::new();
    for (i, goal) in [(0, ">= 1x"), (2, ">= 1.5x"), (4, ">= 2x")] {
        let p = Pair {
            group: "group_commit",
            ours: (ids[i], &tallies[i]),
            base: (ids[i + 1], &tallies[i + 1]),
            kind: Kind::Rate,
            goal,
        };
        lines.extend(p.print(since));
    }
    let s = Sample::default().with_latencies(lat64);
    if let (Some(p50), Some(p99)) = (s.percentile(0.5), s.percentile(0.99)) {
        let line = format!(
            "ratio group_commit: seawall_64w p99 / p50 = {:.2}x over {} appends ({} / {}); goal <= 3x",
            p99.as_secs_f64() / p50.as_secs_f64().max(1e-9),
            s.latencies.len(),
            fmt_dur(p99),
            fmt_dur(p50)
        );
        println!("{line}");
        lines.push(line);
    }
    lines
}

/// Buffered 128 B appends from one thread into a fresh log, against copying
/// them into a buffer written out every 4 MiB. An iteration is a run of
/// 4.5 segments' worth of records (as in the buffered suite), so that every
/// sample crosses four rotations: a sustained rate must include them.
pub fn buffered(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    let n = ours::records_for_segments(scale.segment_size, 128, BUFFERED_SEGMENTS);
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "buffered", scale);
    let each = |iters: u64, run: &dyn Fn(&Path) -> Duration| {
        (0..iters).map(|_| run(common::scratch("criterion").path())).sum()
    };
    bench(&mut g, "seawall_append_128B", &t_ours, |iters| {
        each(iters, &|d| ours::buffered(d, ours::options(scale.segment_size), 1, 128, n).elapsed)
    });
    bench(&mut g, "raw_buffered_copy_128B", &t_raw, |iters| each(iters, &|d| raw::buffered_copy(d, 1, 128, n).elapsed));
    g.finish();
    let p = Pair {
        group: "buffered",
        ours: ("seawall_append_128B", &t_ours),
        base: ("raw_buffered_copy_128B", &t_raw),
        kind: Kind::Rate,
        goal: "none (the target is a rate: below)",
    };
    let mut lines: Vec<String> = p.print(since).into_iter().collect();
    if let Some(per) = t_ours.per_iter() {
        let line = format!(
            "buffered: seawall_append_128B: {:.2} M records/s over runs of {n} records; goal >= 4 M records/s",
            n as f64 * 1e-6 / per
        );
        println!("{line}");
        lines.push(line);
    }
    lines
}

/// Sums the time of `op` over `iters` calls, each after an untimed `setup`.
fn timed_after(iters: u64, mut setup: impl FnMut(), mut op: impl FnMut()) -> Duration {
    (0..iters)
        .map(|_| {
            setup();
            let t0 = Instant::now();
            op();
            t0.elapsed()
        })
        .sum()
}

/// `set_meta`, `on_durable`, `truncate_after` and `reset` against their
/// nearest existing operations, on one log.
pub fn new_ops(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) -> Vec<String> {
    const K: u64 = 100;
    let d = common::scratch("criterion");
    let (wal, _) = Wal::open(d.path(), ours::options(scale.segment_size)).expect("open");
    ops::append_synced(&wal, 10 * K);
    let value = ops::meta_value(0);
    let rec64 = [ops::META_KEY, &value].concat();
    let rec128 = payload(3, 0, ops::RECORD);
    let ids = [
        "set_meta_64B",
        "append_durable_64B",
        "append_on_durable_128B",
        "append_durable_128B",
        "truncate_after_100",
        "truncate_before_100",
        "reset",
        "truncate_before_last",
    ];
    let tallies: Vec<Tally> = ids.iter().map(|_| Tally::default()).collect();
    let since = SystemTime::now();
    let mut g = group(c, "new_ops", scale);
    let each = |iters: u64, op: &mut dyn FnMut()| timed_after(iters, || {}, op);
    bench(&mut g, ids[0], &tallies[0], |n| each(n, &mut || wal.set_meta(ops::META_KEY, &value).expect("set_meta")));
    bench(&mut g, ids[1], &tallies[1], |n| {
        each(n, &mut || {
            wal.append_durable(&rec64).expect("append");
        })
    });
    let (tx, rx) = std::sync::mpsc::channel();
    bench(&mut g, ids[2], &tallies[2], |n| {
        each(n, &mut || {
            let lsn = wal.append(&rec128).expect("append");
            let tx = tx.clone();
            wal.on_durable(lsn, move |res| tx.send(res.is_ok()).expect("send"));
            assert!(rx.recv().expect("the callback runs"));
        })
    });
    bench(&mut g, ids[3], &tallies[3], |n| {
        each(n, &mut || {
            wal.append_durable(&rec128).expect("append");
        })
    });
    // Each truncation first finds K records appended and synced, as in the ops suite.
    let refill = || ops::append_synced(&wal, K);
    bench(&mut g, ids[4], &tallies[4], |n| {
        timed_after(n, refill, || wal.truncate_after(wal.last_lsn() - K).expect("truncate_after"))
    });
    bench(&mut g, ids[5], &tallies[5], |n| {
        timed_after(n, refill, || {
            wal.truncate_before(wal.first_lsn() + K).expect("truncate_before");
        })
    });
    bench(&mut g, ids[6], &tallies[6], |n| timed_after(n, refill, || wal.reset(wal.last_lsn() + 1).expect("reset")));
    bench(&mut g, ids[7], &tallies[7], |n| {
        timed_after(n, refill, || {
            wal.truncate_before(wal.last_lsn()).expect("truncate_before");
        })
    });
    g.finish();
    wal.close().expect("close");
    let mut lines = Vec::new();
    for i in [0, 2, 4, 6] {
        let p = Pair {
            group: "new_ops",
            ours: (ids[i], &tallies[i]),
            base: (ids[i + 1], &tallies[i + 1]),
            kind: Kind::Cost,
            goal: "none (reported)",
        };
        lines.extend(p.print(since));
    }
    lines
}

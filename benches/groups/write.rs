//! Criterion groups of the write targets: bulk, group commit, buffered
//! appends, and the new operations against their nearest existing ones.

use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use seawall::Wal;

use super::{bench, group, scaled, Kind, Pair, Tally};
use crate::common::{self, ops, ours, payload, peer, raw, Scale};
use crate::suites::Fixtures;

/// Payload bytes of one bulk load.
const BULK_BYTES: u64 = 16 << 20;

/// A bulk load of 1 KiB records and one sync into a fresh log, against 1 MiB
/// `pwrite`s of as many bytes and one `fdatasync` into a fresh file.
pub fn bulk(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "bulk", Duration::from_secs(1));
    bench(&mut g, "seawall_bulk_16MiB", &t_ours, |iters| {
        let opts = || ours::options(scale.segment_size);
        (0..iters).map(|_| ours::bulk(common::scratch("criterion").path(), opts(), BULK_BYTES).elapsed).sum()
    });
    bench(&mut g, "raw_sequential_write_16MiB", &t_raw, |iters| {
        (0..iters).map(|_| raw::sequential_write(common::scratch("criterion").path(), BULK_BYTES).elapsed).sum()
    });
    g.finish();
    let p = Pair {
        group: "bulk",
        ours: ("seawall_bulk_16MiB", &t_ours),
        base: ("raw_sequential_write_16MiB", &t_raw),
        kind: Kind::Rate,
        goal: ">= 0.85x",
    };
    p.print(since);
}

/// Durable 128 B appends: 1 writer against okaywal, 8 against the naive
/// group commit, 64 against okaywal. An iteration is one durable append,
/// whichever writer makes it.
pub fn group_commit(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
    let d = common::scratch("criterion");
    let cap = 64 << 20;
    let naive = raw::NaiveGroupCommit::new(raw::preallocated(d.path(), "naive", cap), cap);
    let (wal, _) = Wal::open(d.path().join("wal"), ours::options(scale.segment_size)).expect("open");
    let okay = peer::open(&d.path().join("okaywal"));
    let rec = payload(0, 0, 128);
    let tallies: Vec<Tally> = (0..6).map(|_| Tally::default()).collect();
    let ids = ["seawall_1w", "okaywal_1w", "seawall_8w", "naive_group_commit_8w", "seawall_64w", "okaywal_64w"];
    let since = SystemTime::now();
    let mut g = group(c, "group_commit", Duration::from_secs(1));
    for (i, w) in [(0, 1), (2, 8), (4, 64)] {
        bench(&mut g, ids[i], &tallies[i], |iters| {
            let s = ours::durable_on(&wal, w, 128, iters as usize, 0);
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
    for (i, goal) in [(0, ">= 1x"), (2, ">= 1.5x"), (4, ">= 2x")] {
        let p = Pair {
            group: "group_commit",
            ours: (ids[i], &tallies[i]),
            base: (ids[i + 1], &tallies[i + 1]),
            kind: Kind::Rate,
            goal,
        };
        p.print(since);
    }
}

/// Buffered 128 B appends from one thread into a fresh log, against copying
/// them into a buffer written out every 4 MiB; an iteration is one record.
pub fn buffered(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
    let (t_ours, t_raw) = (Tally::default(), Tally::default());
    let since = SystemTime::now();
    let mut g = group(c, "buffered", Duration::from_millis(500));
    bench(&mut g, "seawall_append_128B", &t_ours, |iters| {
        let d = common::scratch("criterion");
        ours::buffered(d.path(), ours::options(scale.segment_size), 1, 128, iters as usize).elapsed
    });
    bench(&mut g, "raw_buffered_copy_128B", &t_raw, |iters| {
        raw::buffered_copy(common::scratch("criterion").path(), 1, 128, iters as usize).elapsed
    });
    g.finish();
    let p = Pair {
        group: "buffered",
        ours: ("seawall_append_128B", &t_ours),
        base: ("raw_buffered_copy_128B", &t_raw),
        kind: Kind::Rate,
        goal: "none (the target is 4 M records/s: see the buffered suite)",
    };
    p.print(since);
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
pub fn new_ops(c: &mut Criterion, scale: &Scale, _: &mut Fixtures) {
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
    let mut g = group(c, "new_ops", Duration::from_secs(1));
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
    for i in [0, 2, 4, 6] {
        let p = Pair {
            group: "new_ops",
            ours: (ids[i], &tallies[i]),
            base: (ids[i + 1], &tallies[i + 1]),
            kind: Kind::Cost,
            goal: "none (reported)",
        };
        p.print(since);
    }
}

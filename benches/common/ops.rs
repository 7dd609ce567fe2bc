//! The log-store operations (`set_meta`, `on_durable`, `truncate_after`,
//! `reset`), each timed against its nearest existing operation on the same
//! open log, the two interleaved one for one so that noise hits both alike.
//! Each returns `(operation, baseline)` samples with one latency per call.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use seawall::{Lsn, Wal};

use super::{payload, Sample};

/// The metadata key `set_meta` writes.
pub const META_KEY: &[u8] = b"bench.meta";
/// Bytes of the value `set_meta` writes (key and value: 64 bytes).
pub const META_VALUE: usize = 64 - META_KEY.len();
/// Payload size of the records appended around truncations and callbacks.
pub const RECORD: usize = 128;

/// A sample of calls with these latencies, `bytes` bytes each.
fn sample(lat: Vec<Duration>, bytes: usize) -> Sample {
    let ops = lat.len() as u64;
    Sample { ops, bytes: ops * bytes as u64, elapsed: lat.iter().sum(), ..Sample::default() }.with_latencies(vec![lat])
}

fn time<T>(lat: &mut Vec<Duration>, op: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let r = op();
    lat.push(t0.elapsed());
    r
}

/// Appends `n` records and makes them durable (untimed set-up).
pub fn append_synced(wal: &Wal, n: u64) {
    let p = payload(2, 0, RECORD);
    for _ in 0..n {
        wal.append(&p).expect("append");
    }
    wal.sync(wal.last_lsn()).expect("sync");
}

/// The value `set_meta` writes in round `i`.
pub fn meta_value(i: usize) -> Vec<u8> {
    payload(1, i, META_VALUE)
}

/// `set_meta(META_KEY, value)` against `append_durable` of the same bytes
/// (key then value); `iters` of each. The key's last value is
/// `meta_value(iters - 1)`.
pub fn set_meta_vs_append(wal: &Wal, iters: usize) -> (Sample, Sample) {
    let (mut meta, mut append) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for i in 0..iters {
        let value = meta_value(i);
        let rec = [META_KEY, &value].concat();
        time(&mut meta, || wal.set_meta(META_KEY, &value).expect("set_meta"));
        time(&mut append, || wal.append_durable(&rec).expect("append_durable"));
    }
    (sample(meta, META_KEY.len() + META_VALUE), sample(append, META_KEY.len() + META_VALUE))
}

/// `append` plus `on_durable` whose callback sends on a channel, timed until
/// the caller receives, against `append_durable`; `iters` of each, records
/// of [`RECORD`] bytes.
pub fn on_durable_vs_append(wal: &Wal, iters: usize) -> (Sample, Sample) {
    let (mut cb, mut append) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    let p = payload(3, 0, RECORD);
    let (tx, rx) = mpsc::channel();
    for _ in 0..iters {
        let lsn = time(&mut cb, || {
            let lsn = wal.append(&p).expect("append");
            let tx = tx.clone();
            wal.on_durable(lsn, move |res| tx.send((lsn, res.is_ok())).expect("send"));
            assert_eq!(rx.recv().expect("the callback runs"), (lsn, true));
            lsn
        });
        assert!(wal.durable_lsn() >= lsn);
        time(&mut append, || wal.append_durable(&p).expect("append_durable"));
    }
    (sample(cb, RECORD), sample(append, RECORD))
}

/// On a log of at least `k` records: `truncate_after` cutting the last `k`
/// records, against `truncate_before` dropping the first `k`; after each,
/// `k` records are appended again and synced (untimed), so the log keeps its
/// length and both operations find everything durable. `iters` of each.
pub fn truncate_after_vs_before(wal: &Wal, iters: usize, k: u64) -> (Sample, Sample) {
    let (mut after, mut before) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    assert!(wal.last_lsn().get() + 1 - wal.first_lsn().get() >= k, "the log holds k records");
    for _ in 0..iters {
        let cut = wal.last_lsn() - k;
        time(&mut after, || wal.truncate_after(cut).expect("truncate_after"));
        assert_eq!(wal.last_lsn(), cut);
        append_synced(wal, k);
        let first = wal.first_lsn() + k;
        time(&mut before, || wal.truncate_before(first).expect("truncate_before"));
        assert_eq!(wal.first_lsn(), first);
        append_synced(wal, k);
    }
    (sample(after, 0), sample(before, 0))
}

/// `reset` (drop every record, continue after the last LSN) against
/// `truncate_before` of the last LSN (drop all but the last record), each on
/// `k` records just appended and synced (untimed); `iters` of each. The log
/// ends empty, its first LSN after every LSN used.
pub fn reset_vs_truncate_before(wal: &Wal, iters: usize, k: u64) -> (Sample, Sample) {
    let (mut reset, mut before) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for _ in 0..iters {
        append_synced(wal, k);
        let last = wal.last_lsn();
        time(&mut before, || wal.truncate_before(last).expect("truncate_before"));
        assert_eq!((wal.first_lsn(), wal.last_lsn()), (last, last));
        append_synced(wal, k);
        let next = wal.last_lsn() + 1;
        time(&mut reset, || wal.reset(next).expect("reset"));
        assert_eq!((wal.first_lsn(), wal.last_lsn()), (next, next - 1));
    }
    (sample(reset, 0), sample(before, 0))
}

/// The first LSN a log ends with after [`reset_vs_truncate_before`] on a log
/// whose last LSN was `last`.
pub fn first_after_resets(last: Lsn, iters: usize, k: u64) -> Lsn {
    last + iters as u64 * 2 * k + 1
}

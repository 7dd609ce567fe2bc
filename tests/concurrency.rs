//! Guards group commit and its waiters: many threads appending durably at
//! once get unique, gap-free LSNs, every payload reads back, and they share
//! fsyncs; truncations racing with appends, syncs, batches and iterators
//! strand no waiter and break no invariant. Every test runs under a
//! watchdog: a hang fails it with a message instead of stalling CI.

mod common;
#[path = "support/v2.rs"]
mod v2;
#[path = "support/watchdog.rs"]
mod watchdog;

use common::damage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};

use common::{env_u64, Rng};
use seawall::{Error, Lsn, Options, Wal};
use watchdog::Watchdog;

const THREADS: u64 = 16;
const PER_THREAD: u64 = 200;

fn tagged(thread: u64, i: u64) -> Vec<u8> {
    let mut p = format!("thread {thread} record {i} ").into_bytes();
    p.extend(damage::payload(thread * 1_000_000 + i, 3));
    p
}

#[test]
fn sixteen_threads_append_durably() {
    let _watchdog = Watchdog::start("sixteen_threads_append_durably", String::new());
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(256 * 1024);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    let wal = Arc::new(wal);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (wal, start) = (wal.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let lsn = wal.append_durable(&tagged(t, i)).unwrap();
                        // Durable means durable: the log says so too.
                        assert!(wal.durable_lsn() >= lsn);
                        (lsn, t, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked: Vec<(Lsn, u64, u64)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    acked.sort();
    let total = THREADS * PER_THREAD;
    assert_eq!(acked.len() as u64, total);
    for (i, (lsn, _, _)) in acked.iter().enumerate() {
        assert_eq!(lsn.get(), i as u64 + 1, "LSNs are unique and gap-free");
    }
    let stats = wal.stats();
    println!(
        "{total} durable appends by {THREADS} threads: {} fsyncs, {} writes, largest group {}",
        stats.fsyncs, stats.writes, stats.max_group
    );
    assert_eq!(stats.appends, total);
    assert!(stats.fsyncs < total, "group commit shares fsyncs ({} fsyncs for {total} appends)", stats.fsyncs);
    assert!(stats.max_group > 1);
    let check = |wal: &Wal| {
        let recs: Vec<_> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len() as u64, total);
        for (rec, (lsn, t, i)) in recs.iter().zip(&acked) {
            assert_eq!(rec.lsn(), *lsn);
            assert_eq!(rec.payload().as_ref(), &tagged(*t, *i)[..]);
        }
    };
    check(&wal);
    Arc::try_unwrap(wal).unwrap().close().unwrap();
    let (wal, report) = Wal::open(dir.path(), opts).unwrap();
    assert!(report.is_clean());
    check(&wal);
}

#[test]
fn concurrent_batches_stay_contiguous() {
    let _watchdog = Watchdog::start("concurrent_batches_stay_contiguous", String::new());
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default().segment_size(64 * 1024)).unwrap();
    let wal = Arc::new(wal);
    let handles: Vec<_> = (0..4u8)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..100u8 {
                    let parts = [vec![t, i, 0], vec![t, i, 1], vec![t, i, 2]];
                    let r = wal.append_batch(parts.iter().map(|p| &p[..])).unwrap();
                    assert_eq!(r.end().get() - r.start().get(), 2);
                    if i % 10 == 0 {
                        wal.sync(*r.end()).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let recs: Vec<_> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap().payload().to_vec()).collect();
    assert_eq!(recs.len(), 1200);
    for chunk in recs.chunks(3) {
        assert_eq!((chunk[0][0], chunk[0][1]), (chunk[2][0], chunk[2][1]), "a batch is never interleaved");
        assert_eq!([chunk[0][2], chunk[1][2], chunk[2][2]], [0, 1, 2]);
    }
}

#[test]
fn a_lone_writer_pays_one_fsync_per_durable_append() {
    let _watchdog = Watchdog::start("a_lone_writer_pays_one_fsync_per_durable_append", String::new());
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().background_preallocation(false);
    let (wal, _) = Wal::open(dir.path(), opts).unwrap();
    for i in 0..100u64 {
        wal.append_durable(&i.to_le_bytes()).unwrap();
    }
    let stats = wal.stats();
    assert_eq!((stats.appends, stats.writes, stats.fsyncs, stats.group_commits), (100, 100, 100, 100));
    assert_eq!(stats.max_group, 1, "nobody else was there to share with");
}

// ---------------------------------------------------------------------------
// Truncations racing with appends, syncs, batches and iterators.
// ---------------------------------------------------------------------------

/// The seed of the randomised tests (`SEAWALL_SEED` replays one). The seed
/// fixes what every thread does; the interleaving is the scheduler's.
fn seed() -> u64 {
    env_u64("SEAWALL_SEED").unwrap_or(0x7a11_5eed)
}

/// Whether a call racing with truncations may fail this way: the record it
/// waited for was cut (`Error::Truncated`), or the LSN it named no longer
/// exists (`Error::LsnOutOfRange`).
fn cut_meanwhile(e: &Error) -> bool {
    v2::truncated(e).is_some() || matches!(e, Error::LsnOutOfRange { .. })
}

/// Steps the appending threads took, and how many still run. The other
/// threads pace themselves on it, so none spins while the appenders are
/// stuck (the watchdog then reports them all).
struct Progress {
    state: Mutex<(u64, u64)>,
    cv: Condvar,
}

impl Progress {
    fn new(appenders: u64) -> Progress {
        Progress { state: Mutex::new((0, appenders)), cv: Condvar::new() }
    }

    fn step(&self) {
        self.state.lock().unwrap().0 += 1;
        self.cv.notify_all();
    }

    fn finish(&self) {
        self.state.lock().unwrap().1 -= 1;
        self.cv.notify_all();
    }

    /// Waits until the appenders have taken `steps` steps in all; `None`
    /// once they have all finished.
    fn wait_for(&self, steps: u64) -> Option<u64> {
        let mut p = self.state.lock().unwrap();
        while p.0 < steps && p.1 > 0 {
            p = self.cv.wait(p).unwrap();
        }
        (p.1 > 0).then_some(p.0)
    }
}

/// Regression: with 64 KiB segments and a 4 KiB write buffer, two threads
/// append (syncing every fourth record) while the main thread keeps cutting
/// the last ten records. A waiter whose record was cut waited for an LSN the
/// log no longer reached and spun forever. Every call must return, and a
/// waiter whose record was cut gets `Error::Truncated`.
#[test]
fn waiters_stranded_by_truncate_after_all_return() {
    const APPENDS: u64 = 2000;
    let seed = seed();
    let dog = Watchdog::start("waiters_stranded_by_truncate_after_all_return", format!("seed {seed:#x}"));
    let dir = common::scratch_dir("seawall-stranded-");
    let opts = Options::default().segment_size(64 * 1024).write_buffer_size(4096);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    let failures = Mutex::new(Vec::new());
    let (truncated, mut cuts) = (AtomicU64::new(0), 0);
    let progress = Progress::new(2);
    std::thread::scope(|s| {
        for t in 0..2u8 {
            let slot = dog.slot(format!("appender {t}"));
            let (wal, failures, truncated, progress) = (&wal, &failures, &truncated, &progress);
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ u64::from(t));
                let fail = |what: String, e: Error| failures.lock().unwrap().push(format!("{what}: {e:?}"));
                for i in 0..APPENDS {
                    progress.step();
                    slot.doing("append", i);
                    let lsn = match wal.append(&vec![t; 8 + rng.below(1500) as usize]) {
                        Ok(lsn) => lsn,
                        Err(e) if v2::truncated(&e).is_some() => continue,
                        Err(e) => {
                            fail(format!("appender {t}: append {i}"), e);
                            continue;
                        }
                    };
                    if i % 4 == 3 {
                        slot.doing("sync", lsn.get());
                        match wal.sync(lsn) {
                            Ok(()) => {}
                            Err(e) if cut_meanwhile(&e) => _ = truncated.fetch_add(1, Ordering::Relaxed),
                            Err(e) => fail(format!("appender {t}: sync({lsn})"), e),
                        }
                    }
                }
                progress.finish();
            });
        }
        // One cut per step of the appenders, for as long as they run.
        let slot = dog.slot("main thread (truncating)");
        let mut steps = 0;
        while let Some(now) = progress.wait_for(steps + 1) {
            steps = now;
            let to = wal.last_lsn().get().saturating_sub(10);
            slot.doing("truncate_after", to);
            wal.truncate_after(Lsn::new(to)).unwrap_or_else(|e| panic!("truncate_after({to}): {e:?}"));
            cuts += 1;
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "seed {seed:#x}: calls failed{}:\n{}", v2::HINT, failures.join("\n"));
    let last = wal.last_lsn();
    wal.close().unwrap();
    let (wal, _) = Wal::open(dir.path(), opts).unwrap();
    assert_eq!(wal.last_lsn(), last, "seed {seed:#x}: the reopened log ends elsewhere");
    for rec in wal.iter_from(wal.first_lsn()).unwrap() {
        let p = rec.unwrap().into_payload();
        assert!(p.iter().all(|&b| b == p[0]) && p[0] < 2, "seed {seed:#x}: a payload came back altered");
    }
    println!(
        "{cuts} cuts raced with {} appends: {} syncs found their record cut",
        2 * APPENDS,
        truncated.load(Ordering::Relaxed)
    );
}

/// Ticks once before and once after every call of the mixed test, so that
/// calls can be ordered: a call that ended before another started happened
/// before it.
struct Clock(AtomicU64);

/// When a call ran on the [`Clock`].
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u64,
    end: u64,
}

impl Clock {
    fn time<T>(&self, f: impl FnOnce() -> T) -> (Span, T) {
        let start = self.0.fetch_add(1, Ordering::SeqCst);
        let out = f();
        (Span { start, end: self.0.fetch_add(1, Ordering::SeqCst) }, out)
    }
}

/// A payload that names itself: `id` (thread, unit number, index in the
/// unit, unit size) and length, then bytes derived from both, so a record
/// read anywhere can be checked whole and traced to the append that made it.
fn tagged_payload(id: u64, len: usize) -> Vec<u8> {
    let mut p = id.to_le_bytes().to_vec();
    p.extend_from_slice(&(len as u32).to_le_bytes());
    p.extend(damage::payload(id, len as u64).into_iter().cycle().take(len - 12));
    p
}

fn unit_id(thread: u64, unit: u64, index: u64, size: u64) -> u64 {
    thread << 56 | unit << 16 | index << 8 | size
}

/// The id of a record read back, if its bytes are exactly the payload
/// appended with that id.
fn traced(payload: &[u8]) -> Option<u64> {
    let id = u64::from_le_bytes(payload.get(..8)?.try_into().unwrap());
    let len = u32::from_le_bytes(payload.get(8..12)?.try_into().unwrap()) as usize;
    (len == payload.len() && len >= 12 && tagged_payload(id, len) == payload).then_some(id)
}

/// What one thread of the mixed test saw.
#[derive(Default)]
struct Seen {
    /// Appends that returned: span, ids, and the first LSN assigned.
    appends: Vec<(Span, Vec<u64>, u64)>,
    /// Successful syncs (and durable appends): span and LSN.
    syncs: Vec<(Span, u64)>,
    /// `truncate_after` calls that returned `Ok`: span and LSN.
    cuts: Vec<(Span, u64)>,
    /// Records iterators yielded: (LSN, id).
    read: Vec<(u64, u64)>,
    /// Broken rules.
    failures: Vec<String>,
    truncated: u64,
}

/// Units (lone records or batches) each appending thread of the mixed test appends.
const UNITS: u64 = 600;

/// One appending thread: lone records, batches, durable appends and syncs.
fn appender(wal: &Wal, clock: &Clock, t: u64, rng: &mut Rng, progress: &Progress, slot: &watchdog::Slot) -> Seen {
    let mut seen = Seen::default();
    let mut last_own = 0;
    for unit in 0..UNITS {
        progress.step();
        let size = match rng.below(100) {
            0..=14 => 2 + rng.below(3),
            _ => 1,
        };
        let ids: Vec<u64> = (0..size).map(|i| unit_id(t, unit, i, size)).collect();
        let payloads: Vec<Vec<u8>> = ids.iter().map(|&id| tagged_payload(id, 12 + rng.below(2000) as usize)).collect();
        let op = rng.below(100);
        let (span, res) = match (size, op) {
            (1, 0..=59) => {
                slot.doing("append", unit);
                clock.time(|| wal.append(&payloads[0]).map(|l| (l, false)))
            }
            (1, 60..=79) => {
                slot.doing("append_durable", unit);
                clock.time(|| wal.append_durable(&payloads[0]).map(|l| (l, true)))
            }
            (1, _) => {
                slot.doing("sync", last_own);
                let (span, res) = clock.time(|| wal.sync(Lsn::new(last_own)));
                match res {
                    Ok(()) => seen.syncs.push((span, last_own)),
                    Err(e) if cut_meanwhile(&e) => seen.truncated += 1,
                    Err(e) => seen.failures.push(format!("thread {t}: sync({last_own}): {e:?}")),
                }
                continue;
            }
            _ => {
                slot.doing("append_batch", unit);
                clock.time(|| wal.append_batch(payloads.iter().map(|p| &p[..])).map(|r| (*r.start(), false)))
            }
        };
        match res {
            Ok((first, durable)) => {
                last_own = first.get() + size - 1;
                seen.appends.push((span, ids, first.get()));
                if durable {
                    seen.syncs.push((span, last_own));
                }
            }
            Err(e) if v2::truncated(&e).is_some() => seen.truncated += 1,
            Err(e) => seen.failures.push(format!("thread {t}: append of unit {unit}: {e:?}")),
        }
    }
    progress.finish();
    seen
}

/// One truncating thread: `truncate_before` and `truncate_after` near the
/// end of the log, one every four steps of the appenders while they run.
fn truncator(wal: &Wal, clock: &Clock, rng: &mut Rng, progress: &Progress, slot: &watchdog::Slot) -> Seen {
    let (mut seen, mut steps) = (Seen::default(), 0);
    while let Some(now) = progress.wait_for(steps + 4) {
        steps = now;
        let (first, last) = (wal.first_lsn().get(), wal.last_lsn().get());
        if rng.below(3) == 0 {
            let to = first + rng.below((last + 1 - first) / 2 + 1);
            slot.doing("truncate_before", to);
            match clock.time(|| wal.truncate_before(Lsn::new(to))).1 {
                Ok(new_first) if new_first.get() <= to => {}
                Ok(new_first) => seen.failures.push(format!("truncate_before({to}) moved the start to {new_first}")),
                Err(e) if cut_meanwhile(&e) => {}
                Err(e) => seen.failures.push(format!("truncate_before({to}): {e:?}")),
            }
        } else {
            let to = last.saturating_sub(rng.below(30)).max(first - 1);
            slot.doing("truncate_after", to);
            match clock.time(|| wal.truncate_after(Lsn::new(to))) {
                (span, Ok(())) => seen.cuts.push((span, to)),
                (_, Err(e @ (Error::InsideBatch { .. } | Error::LsnOutOfRange { .. }))) => drop(e),
                (_, Err(e)) => seen.failures.push(format!("truncate_after({to}): {e:?}")),
            }
        }
    }
    seen
}

/// One reading thread: an iterator from the start or from the middle every
/// two steps of the appenders while they run. Each must yield contiguous
/// LSNs, each record whole, and end early only with `Error::Truncated`.
fn reader(wal: &Wal, rng: &mut Rng, progress: &Progress, slot: &watchdog::Slot) -> Seen {
    let (mut seen, mut steps) = (Seen::default(), 0);
    while let Some(now) = progress.wait_for(steps + 2) {
        steps = now;
        let (first, last) = (wal.first_lsn().get(), wal.last_lsn().get());
        let from = if rng.below(2) == 0 { first } else { first + rng.below(last + 2 - first) };
        slot.doing("iter_from", from);
        let it = match wal.iter_from(Lsn::new(from)) {
            Ok(it) => it,
            Err(e) if cut_meanwhile(&e) => continue,
            Err(e) => {
                seen.failures.push(format!("iter_from({from}): {e:?}"));
                continue;
            }
        };
        for (next, rec) in (from..).zip(it.take(300)) {
            slot.doing("Iter::next", next);
            match rec {
                Ok(r) if r.lsn().get() != next => {
                    seen.failures.push(format!("an iterator from {from} yielded LSN {} where {next} was due", r.lsn()));
                    break;
                }
                Ok(r) => match traced(r.payload()) {
                    Some(id) => seen.read.push((next, id)),
                    None => seen.failures.push(format!("an iterator yielded LSN {next} with bytes never appended")),
                },
                Err(e) if v2::truncated(&e).is_some() => {
                    seen.truncated += 1;
                    break;
                }
                Err(e) => {
                    seen.failures.push(format!("an iterator from {from} failed at LSN {next}: {e:?}"));
                    break;
                }
            }
        }
    }
    seen
}

/// The checks of the mixed test that need every thread's view: LSNs
/// returned are unique per epoch (between two cuts), iterators read only
/// what appends returned, and every record a successful sync covered is in
/// the final log unless a later cut or purge removed it.
fn check_together(seen: &[Seen], log: &std::collections::BTreeMap<u64, u64>, first: u64) -> Vec<String> {
    let mut failures: Vec<String> = seen.iter().flat_map(|s| s.failures.iter().cloned()).collect();
    let cuts: Vec<(Span, u64)> = seen.iter().flat_map(|s| s.cuts.iter().copied()).collect();
    // Where each unit landed, by the id of its records.
    let mut placed = std::collections::HashMap::new();
    // Appends no cut overlapped, by epoch (cuts finished before them) and LSN.
    let mut epochs = std::collections::HashMap::new();
    for (span, ids, lsn) in seen.iter().flat_map(|s| s.appends.iter()) {
        let overlapped = cuts.iter().any(|(c, _)| c.start < span.end && c.end > span.start);
        let epoch = cuts.iter().filter(|(c, _)| c.end < span.start).count();
        for (i, id) in ids.iter().enumerate() {
            let lsn = lsn + i as u64;
            placed.insert(*id, lsn);
            if let Some(other) = (!overlapped).then(|| epochs.insert((epoch, lsn), *id)).flatten() {
                failures.push(format!("LSN {lsn} was returned twice between two cuts (ids {other:#x} and {id:#x})"));
            }
        }
    }
    for &(lsn, id) in seen.iter().flat_map(|s| s.read.iter()) {
        if placed.get(&id).is_some_and(|&l| l != lsn) {
            failures.push(format!("an iterator read id {id:#x} at LSN {lsn}; its append returned {}", placed[&id]));
        }
    }
    // Durability: every own record a later sync covered.
    for s in seen {
        for (span, ids, lsn) in &s.appends {
            for (i, id) in ids.iter().enumerate() {
                let lsn = lsn + i as u64;
                let synced = s.syncs.iter().any(|(sync, upto)| sync.end >= span.end && *upto >= lsn);
                let maybe_cut = cuts.iter().any(|(c, to)| *to < lsn && c.end > span.start);
                if synced && !maybe_cut && lsn >= first && log.get(&lsn) != Some(id) {
                    failures.push(format!(
                        "id {id:#x} at LSN {lsn} was synced and never cut, but the final log holds {:?} there",
                        log.get(&lsn)
                    ));
                }
            }
        }
    }
    failures
}

/// Reads the whole log: LSN -> id, checking contiguity, payloads and that
/// every batch is whole.
fn final_log(wal: &Wal) -> std::collections::BTreeMap<u64, u64> {
    let mut log = std::collections::BTreeMap::new();
    for (next, rec) in (wal.first_lsn().get()..).zip(wal.iter_from(wal.first_lsn()).unwrap()) {
        let rec = rec.unwrap();
        assert_eq!(rec.lsn().get(), next, "the final log has a gap");
        let id = traced(rec.payload()).unwrap_or_else(|| panic!("LSN {next} holds bytes never appended"));
        let (index, size) = (id >> 8 & 0xff, id & 0xff);
        let kind_ok = match rec.kind() {
            seawall::RecordKind::Full => size == 1,
            seawall::RecordKind::BatchFirst => index == 0 && size > 1,
            seawall::RecordKind::BatchMiddle => index > 0 && index + 1 < size,
            seawall::RecordKind::BatchLast => index + 1 == size && size > 1,
            _ => false,
        };
        assert!(kind_ok, "LSN {next}: record {index} of a unit of {size} has kind {:?}", rec.kind());
        // A purge point may fall inside a batch: the log then starts there.
        if index > 0 && next > wal.first_lsn().get() {
            assert_eq!(log.get(&(next - 1)), Some(&(id - (1 << 8))), "LSN {next}: a batch is not contiguous");
        }
        log.insert(next, id);
    }
    log
}

/// Appends, batches, durable appends, syncs, iterators, `truncate_before`
/// and `truncate_after` from six threads at once, under the watchdog; the
/// invariants are checked as the threads go and together afterwards, and
/// the log must reopen with the same records.
#[test]
fn mixed_operations_racing_with_truncations_keep_their_invariants() {
    const APPENDERS: u64 = 3;
    let seed = seed();
    let dog =
        Watchdog::start("mixed_operations_racing_with_truncations_keep_their_invariants", format!("seed {seed:#x}"));
    let dir = common::scratch_dir("seawall-mixed-");
    let opts = Options::default().segment_size(64 * 1024).write_buffer_size(4096);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    let (clock, progress) = (Clock(AtomicU64::new(0)), Progress::new(APPENDERS));
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let (wal, clock, progress) = (&wal, &clock, &progress);
        let appenders: Vec<_> = (0..APPENDERS)
            .map(|t| {
                let slot = dog.slot(format!("appender {t}"));
                s.spawn(move || appender(wal, clock, t, &mut Rng::new(seed ^ t), progress, &slot))
            })
            .collect();
        let slot = dog.slot("truncator");
        let cutting = s.spawn(move || truncator(wal, clock, &mut Rng::new(seed ^ 0x7c), progress, &slot));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let slot = dog.slot(format!("reader {r}"));
                s.spawn(move || reader(wal, &mut Rng::new(seed ^ 0x1e ^ r), progress, &slot))
            })
            .collect();
        let mut seen: Vec<Seen> = appenders.into_iter().map(|h| h.join().unwrap()).collect();
        seen.push(cutting.join().unwrap());
        seen.extend(readers.into_iter().map(|h| h.join().unwrap()));
        seen
    });
    let log = final_log(&wal);
    let failures = check_together(&seen, &log, wal.first_lsn().get());
    assert!(failures.is_empty(), "seed {seed:#x}{}:\n{}", v2::HINT, failures[..failures.len().min(10)].join("\n"));
    let (first, last) = (wal.first_lsn(), wal.last_lsn());
    wal.close().unwrap();
    let (wal, _) = Wal::open(dir.path(), opts).unwrap();
    assert_eq!((wal.first_lsn(), wal.last_lsn()), (first, last), "seed {seed:#x}: the reopened log differs");
    assert_eq!(final_log(&wal), log, "seed {seed:#x}: the reopened log holds other records");
    let n = |f: fn(&Seen) -> usize| seen.iter().map(f).sum::<usize>();
    println!(
        "seed {seed:#x}: {} appends, {} syncs, {} cuts, {} records read by iterators, {} calls found their record cut",
        n(|s| s.appends.len()),
        n(|s| s.syncs.len()),
        n(|s| s.cuts.len()),
        n(|s| s.read.len()),
        seen.iter().map(|s| s.truncated).sum::<u64>()
    );
}

//! Injected I/O faults. Guards the failure contract: when a write, an
//! `fdatasync`, a preallocation or any other file-system call fails (`EIO`,
//! `ENOSPC`, a short write; once or for good), no caller is told that a
//! record is durable when it is not, the `Wal` is poisoned, nothing
//! acknowledged before is lost after reopening, and a full disk does not stop
//! recovery. Following SQLite's method, the fault is moved over every call
//! index of a workload.
//!
//! After a failed `fdatasync` the model does what Linux does: the file's
//! dirty data is dropped (the reopened log sees the last synced image) and
//! the next `fdatasync` succeeds.

#[path = "support/spawn_turn.rs"]
mod spawn_turn;

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};

use common::fault::{Fault, FaultPlan, OpKind};
use common::oracle::{check, check_metas, meta_value, payload, Entry, Expect, Recovered};
use common::reads::check_reads;
use common::recording_fs::{materialize, DiskModel, Image, PassThroughFs, RecordingFs, SyncPolicy};
use common::scratch_dir;
use common::workload::{Action, CALLBACK_TIMEOUT};
use seawall::io::{FileSystem, StdFs, WalFile};
use seawall::raw::HeaderState;
use seawall::{Error, Lsn, Options, SegmentHeader, SegmentId, Wal};

/// What a workload run under a fault did.
struct FaultRun {
    /// The model at the end: a failed call counts as still running.
    expect: Expect,
    /// The first call that failed, and how.
    failed: Option<String>,
    /// Seam calls made before the final `close`.
    calls_before_close: usize,
}

fn poisoned(r: &Result<impl Sized, Error>) -> bool {
    matches!(r, Err(Error::Poisoned { .. }))
}

/// Runs `actions` through `fs`, checking the poisoning rules as it goes; a
/// reopen after a failure ends the run (the process would restart). Returns
/// Err on a broken rule.
fn run_faulty(dir: &Path, opts: &Options, fs: &RecordingFs, actions: &[Action]) -> Result<FaultRun, String> {
    let mut m = Expect::empty();
    let mut seq = 1u64 << 40;
    let open = || Wal::open_with(dir, opts.clone(), Arc::new(fs.clone())).map(|(w, _)| w);
    let mut wal = match open() {
        Ok(w) => w,
        Err(e) => {
            return Ok(FaultRun { expect: m, failed: Some(format!("open: {e}")), calls_before_close: fs.calls() })
        }
    };
    let mut failed: Option<String> = None;
    for (i, a) in actions.iter().enumerate() {
        let mut during = m.clone();
        let acked_before = m.acked;
        let res: Result<(), Error> = match a {
            Action::Append(len) | Action::AppendDurable(len) => {
                during.log.push(Entry { seq, len: *len, starts_unit: true, ends_unit: true });
                let p = payload(seq, *len);
                seq += 1;
                let want = m.next_lsn();
                let r = if matches!(a, Action::Append(_)) { wal.append(&p) } else { wal.append_durable(&p) };
                r.map(|lsn| {
                    assert_eq!(lsn.get(), want, "step {i}: LSN");
                    m = during.clone();
                    if matches!(a, Action::AppendDurable(_)) {
                        m.acked = want;
                    }
                })
            }
            Action::Batch(lens) => {
                let ps: Vec<Vec<u8>> = lens
                    .iter()
                    .enumerate()
                    .map(|(j, &len)| {
                        during.log.push(Entry { seq, len, starts_unit: j == 0, ends_unit: j + 1 == lens.len() });
                        seq += 1;
                        payload(seq - 1, len)
                    })
                    .collect();
                wal.append_batch(ps.iter().map(|p| &p[..])).map(|_| m = during.clone())
            }
            Action::Sync => {
                let last = m.next_lsn() - 1;
                wal.sync(Lsn::new(last)).map(|()| m.acked = last)
            }
            Action::TruncateBefore(frac) => {
                let (first, last) = (m.floor, m.next_lsn() - 1);
                let lsn = first + (last + 1 - first) * u64::from(*frac) / 255;
                during.floor = lsn;
                during.purges.push(lsn);
                wal.truncate_before(Lsn::new(lsn)).map(|first| {
                    assert_eq!(first.get(), lsn, "step {i}: the purge point is exact");
                    m.purge_to(lsn);
                    m.acked = m.next_lsn() - 1;
                })
            }
            Action::TruncateAfter(frac) => {
                let first = wal.first_lsn().get();
                let cuts: Vec<u64> = std::iter::once(first - 1)
                    .chain((first..m.next_lsn()).filter(|&l| m.entry(l).is_some_and(|e| e.ends_unit)))
                    .collect();
                let lsn = cuts[(cuts.len() - 1) * usize::from(*frac) / 255];
                during.acked = during.acked.min(lsn);
                wal.truncate_after(Lsn::new(lsn)).map(|()| {
                    m.cut_after(lsn);
                    m.acked = lsn;
                })
            }
            Action::SetMeta(key, len) => {
                let (k, v) = (format!("key{}", key % 3).into_bytes(), meta_value(seq, *len));
                seq += 1;
                during.pending = Some((k.clone(), v.clone()));
                wal.set_meta(&k, &v).map(|()| {
                    m.metas.insert(k, v);
                    m.acked = m.next_lsn() - 1;
                })
            }
            Action::Reset(frac) => {
                let next = 1 + (m.next_lsn() + 7) * u64::from(*frac) / 255;
                during.reset_to = Some(next);
                wal.reset(Lsn::new(next)).map(|()| m = Expect::empty_at(next, m.metas.clone()))
            }
            Action::Read(frac) => {
                // A read may write buffered records (never sync them), so it
                // may fail; what it returns is the model's record. (On an
                // empty log it reads past the end.)
                let (first, n) = (m.floor, m.next_lsn() - m.floor);
                let lsn = first + n.saturating_sub(1) * u64::from(*frac) / 255;
                match wal.read(Lsn::new(lsn)) {
                    Ok(rec) => {
                        let want = m.entry(lsn).expect("a record of the model");
                        assert_eq!(rec.payload()[..], payload(want.seq, want.len)[..], "step {i}: read({lsn})");
                        Ok(())
                    }
                    Err(Error::LsnOutOfRange { .. }) if n == 0 => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Action::OnDurable => {
                let last = m.next_lsn() - 1;
                let (tx, rx) = std::sync::mpsc::channel();
                wal.on_durable(Lsn::new(last), move |res| drop(tx.send(res)));
                let res = rx.recv_timeout(CALLBACK_TIMEOUT).map_err(|e| format!("step {i}: no callback: {e}"))?;
                res.map(|()| m.acked = m.acked.max(last))
            }
            Action::Reopen => {
                if let Some(f) = &failed {
                    let closed = wal.close();
                    if closed.is_ok() {
                        return Err(format!("close() returned Ok on a log poisoned by: {f}"));
                    }
                    return Ok(FaultRun { expect: m, failed, calls_before_close: fs.calls() });
                }
                if let Err(e) = wal.close() {
                    return Ok(FaultRun {
                        expect: m,
                        failed: Some(format!("step {i}: close: {e}")),
                        calls_before_close: fs.calls(),
                    });
                }
                m.acked = m.next_lsn() - 1;
                wal = match open() {
                    Ok(w) => w,
                    Err(e) => {
                        return Ok(FaultRun {
                            expect: m,
                            failed: Some(format!("step {i}: reopen: {e}")),
                            calls_before_close: fs.calls(),
                        })
                    }
                };
                Ok(())
            }
        };
        match (&failed, res) {
            (None, Ok(())) => {}
            (None, Err(e)) => {
                // A failed group leaves durable_lsn where it was. (Truncations
                // and resets sync everything before they cut, so they may move it.)
                let group_commit =
                    !matches!(a, Action::TruncateBefore(_) | Action::TruncateAfter(_) | Action::Reset(_));
                if group_commit && wal.durable_lsn().get() > acked_before.max(m.acked) {
                    return Err(format!("step {i} ({a:?}) failed ({e}) but durable_lsn() says {}", wal.durable_lsn()));
                }
                failed = Some(format!("step {i} ({a:?}): {e}"));
                m = during; // the failed call may or may not have taken effect
            }
            (Some(_), r) if poisoned(&r) => {}
            (Some(f), r) => {
                return Err(format!("after a failure ({f}), step {i} ({a:?}) returned {r:?}, not Poisoned"))
            }
        }
    }
    let calls_before_close = fs.calls();
    match (&failed, wal.close()) {
        (None, Ok(())) => m.acked = m.next_lsn() - 1,
        (None, Err(e)) => failed = Some(format!("close: {e}")),
        (Some(_), Err(_)) => {}
        (Some(f), Ok(())) => return Err(format!("close() returned Ok on a log poisoned by: {f}")),
    }
    Ok(FaultRun { expect: m, failed, calls_before_close })
}

/// Opens `image` (through `fs`) and checks the recovered log against `e`.
fn reopen_and_check(
    dir: &Path,
    image: &Image,
    opts: &Options,
    e: &Expect,
    fs: Arc<dyn FileSystem>,
) -> Result<(), String> {
    materialize(image, dir);
    let (wal, _) = Wal::open_with(dir, opts.clone(), fs).map_err(|err| format!("reopen failed: {err}"))?;
    let r = Recovered::read(&wal)?;
    check(e, &r)?;
    check_metas(e, &r)?;
    let mut rng = common::Rng::new(r.first ^ r.last() << 20);
    check_reads("Wal", &wal, e, (r.first, r.last()), &mut rng)
}

/// Fault runs per kind of call and fault.
#[derive(Default)]
struct Counts {
    runs: usize,
    indexes: usize,
    surfaced: usize,
    /// Recoveries run on a disk that stayed full.
    full_reopens: usize,
}

/// Whether `image` holds a segment with a valid header (a log to recover).
fn has_segment(image: &Image) -> bool {
    image.iter().any(|(name, bytes)| {
        SegmentId::from_file_name(name)
            .is_some_and(|id| matches!(SegmentHeader::decode(bytes, id), HeaderState::Valid(_)))
    })
}

/// Moves every applicable fault, once and persistent, over every call index
/// of `actions`, and checks each run.
fn exercise(name: &str, opts: Options, actions: &[Action]) -> Counts {
    let root = scratch_dir("seawall-faults-");
    let (live, check_dir) = (root.path().join("live"), root.path().join("check"));
    let clean_fs = RecordingFs::new(&live, &Image::new(), None);
    let clean = run_faulty(&live, &opts, &clean_fs, actions).unwrap_or_else(|e| panic!("{name}: fault-free run: {e}"));
    assert!(clean.failed.is_none(), "{name}: the fault-free run failed: {:?}", clean.failed);
    let trace = clean_fs.trace();
    let mut counts = Counts { indexes: trace.len(), ..Counts::default() };
    for (n, &(kind, _)) in trace.iter().enumerate() {
        for &fault in Fault::applicable(kind) {
            for persistent in [false, true] {
                let plan = if persistent { FaultPlan::persistent(n, fault) } else { FaultPlan::once(n, fault) };
                let what = format!(
                    "{name}: {fault:?} ({}) at call {n} of {} ({kind:?})",
                    if persistent { "persistent" } else { "once" },
                    trace.len()
                );
                let _ = std::fs::remove_dir_all(&live);
                let fs = RecordingFs::new(&live, &Image::new(), Some(plan));
                let run = run_faulty(&live, &opts, &fs, actions).unwrap_or_else(|e| panic!("{what}: {e}"));
                let injected = fs.injected();
                assert_eq!(injected.first().map(|f| (f.0, f.1)), Some((n, kind)), "{what}: the call order changed");
                counts.runs += 1;
                match (&run.failed, fault) {
                    (Some(_), _) => counts.surfaced += 1,
                    (None, Fault::Short) => {}
                    (None, _) => panic!("{what}: the fault was swallowed: every call succeeded"),
                }
                let mut model = DiskModel::default();
                fs.ops().iter().for_each(|op| model.apply(op));
                let checks: [(&str, Image, Arc<dyn FileSystem>); 2] = [
                    ("the process restarts", model.live_image(), Arc::new(StdFs)),
                    ("the machine loses power", model.durable_image(), Arc::new(StdFs)),
                ];
                for (when, image, plain) in checks {
                    reopen_and_check(&check_dir, &image, &opts, &run.expect, plain)
                        .unwrap_or_else(|e| panic!("{what}, then {when}: {e} (failure: {:?})", run.failed));
                }
                if persistent && fault != Fault::Eio {
                    // The disk stays full: recovery must not need free space,
                    // unless there is no segment yet to recover.
                    let image = model.live_image();
                    let full = RecordingFs::new(&check_dir, &image, Some(FaultPlan::disk_full()));
                    match reopen_and_check(&check_dir, &image, &opts, &run.expect, Arc::new(full)) {
                        Ok(()) => counts.full_reopens += 1,
                        Err(e) if !has_segment(&image) && e.contains("No space left") => {}
                        Err(e) => panic!("{what}, then reopened on the full disk: {e}"),
                    }
                }
            }
        }
    }
    println!(
        "faults: {name}: {} fault runs over {} call indexes, {} surfaced as errors, {} recoveries on a full disk",
        counts.runs, counts.indexes, counts.surfaced, counts.full_reopens
    );
    counts
}

/// A workload touching every kind of call: appends, batches, syncs, two
/// rotations, both truncations and a reopen.
fn workload() -> Vec<Action> {
    use Action::*;
    vec![
        AppendDurable(100),
        Append(3000),
        Sync,
        Batch(vec![50, 600]),
        AppendDurable(40_000),
        AppendDurable(30_000),
        TruncateBefore(200),
        Append(500),
        Append(7000),
        TruncateAfter(200),
        AppendDurable(77),
        Reopen,
        AppendDurable(64),
        Sync,
    ]
}

/// A workload of the log-store calls between ordinary ones: `set_meta`
/// (three keys, one set twice), reads of a written and of a buffered
/// record, an exact purge inside a kept segment, `on_durable`, `reset`
/// forward and back, and a reopen.
fn log_store_workload() -> Vec<Action> {
    use Action::*;
    vec![
        AppendDurable(100),
        Append(3000),
        SetMeta(0, 300),
        Read(128),
        Batch(vec![50, 600]),
        AppendDurable(40_000),
        SetMeta(1, 900),
        TruncateBefore(200),
        Append(500),
        OnDurable,
        Reset(230),
        Append(70),
        SetMeta(0, 40),
        Read(255),
        Reset(10),
        AppendDurable(64),
        Reopen,
        SetMeta(2, 20),
        Sync,
    ]
}

fn small_segments() -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false).write_buffer_size(4096)
}

#[test]
fn every_fault_at_every_call_index() {
    let _turn = spawn_turn::holding_logs();
    let a = exercise("preallocated segments", small_segments(), &workload());
    let b = exercise("growing segments", small_segments().preallocate(false), &workload());
    let big_buffer = small_segments().write_buffer_size(4 << 20);
    let c = exercise("records written only at sync", big_buffer, &workload());
    println!(
        "faults: {} fault runs exercised over {} call indexes in total",
        a.runs + b.runs + c.runs,
        a.indexes + b.indexes + c.indexes
    );
}

/// `set_meta`, `reset`, exact purges, reads and `on_durable` under every
/// fault: a failed call returns an error and poisons the log, and the log
/// reopens to a state the oracle allows (records, metadata and reads).
#[test]
fn every_fault_at_every_call_index_of_log_store_calls() {
    let _turn = spawn_turn::holding_logs();
    let a = exercise("log-store calls, preallocated", small_segments(), &log_store_workload());
    let b = exercise("log-store calls, growing", small_segments().preallocate(false), &log_store_workload());
    assert!(a.surfaced > 0 && b.surfaced > 0, "faults surfaced as errors");
}

/// A `reset` whose write failed poisoned the log but left its first LSN
/// moved past its last, and `read` answered `LsnOutOfRange` as if the log
/// were whole. A poisoned log refuses reads too, as it refuses every call.
#[test]
fn reads_refuse_a_log_poisoned_by_a_failed_reset() {
    let _turn = spawn_turn::holding_logs();
    use Action::*;
    let opts = small_segments();
    let n = last_call_of(OpKind::Write, &opts, &[AppendDurable(100), Reset(230)]);
    let root = scratch_dir("seawall-faults-");
    let (wal, _fs) = open_faulty(root.path(), &opts, FaultPlan::once(n, Fault::Eio));
    wal.append_durable(&payload(1, 100)).unwrap();
    assert!(wal.reset(Lsn::new(9)).is_err(), "the reset's last write fails");
    assert!(matches!(wal.read(Lsn::new(1)), Err(Error::Poisoned { .. })), "read: {:?}", wal.read(Lsn::new(1)));
    assert!(matches!(wal.range(..), Err(Error::Poisoned { .. })), "range");
    assert!(matches!(wal.iter_from(Lsn::new(1)), Err(Error::Poisoned { .. })), "iter_from");
}

/// The index of the last seam call of `kind` in a fault-free run of `actions`.
fn last_call_of(kind: OpKind, opts: &Options, actions: &[Action]) -> usize {
    let root = scratch_dir("seawall-faults-");
    let fs = RecordingFs::new(root.path(), &Image::new(), None);
    let run = run_faulty(root.path(), opts, &fs, actions).unwrap();
    assert!(run.failed.is_none());
    // The workload's own calls, not those of the final close.
    fs.trace()[..run.calls_before_close].iter().rposition(|c| c.0 == kind).expect("the workload makes such a call")
}

/// Opens a fresh log in `dir` whose seam injects `plan`.
fn open_faulty(dir: &Path, opts: &Options, plan: FaultPlan) -> (Wal, RecordingFs) {
    let fs = RecordingFs::new(dir, &Image::new(), Some(plan));
    let (wal, _) = Wal::open_with(dir, opts.clone(), Arc::new(fs.clone())).unwrap();
    (wal, fs)
}

#[test]
fn failed_fdatasync_fails_the_sync_and_poisons_the_log() {
    let _turn = spawn_turn::holding_logs();
    use Action::*;
    let opts = small_segments();
    let at = last_call_of(OpKind::SyncData, &opts, &[AppendDurable(100), AppendDurable(200)]);
    let root = scratch_dir("seawall-faults-");
    let (wal, fs) = open_faulty(root.path(), &opts, FaultPlan::once(at, Fault::Eio));
    assert_eq!(wal.append_durable(&payload(1, 100)).unwrap(), Lsn::new(1));
    assert_eq!(wal.append(&payload(2, 200)).unwrap(), Lsn::new(2));
    let err = wal.sync(Lsn::new(2)).unwrap_err();
    assert!(matches!(&err, Error::Io { op: "fdatasync", .. }), "{err}");
    assert_eq!(wal.durable_lsn(), Lsn::new(1), "the failed group is not durable");
    assert!(poisoned(&wal.append(b"later payload")), "appends after a failed sync");
    assert!(poisoned(&wal.sync(Lsn::new(1))), "syncs after a failed sync, even of durable records");
    assert!(poisoned(&wal.truncate_after(Lsn::new(1))));
    drop(wal);
    // Linux dropped the dirty pages: the reopened log has LSN 1 only.
    let mut model = DiskModel::default();
    fs.ops().iter().for_each(|op| model.apply(op));
    let mut e = Expect::empty();
    e.log = vec![Entry { seq: 1, len: 100, starts_unit: true, ends_unit: true }];
    e.acked = 1;
    let check_dir = root.path().join("check");
    reopen_and_check(&check_dir, &model.live_image(), &opts, &e, Arc::new(StdFs)).unwrap();
    let (wal, _) = Wal::open(&check_dir, opts).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(1));
}

/// Regression: `close()` on a log poisoned by a failed sync returned `Ok`,
/// telling the caller that records appended before it were made durable.
#[test]
fn close_of_a_poisoned_log_reports_the_failure() {
    let _turn = spawn_turn::holding_logs();
    let opts = small_segments();
    let at = last_call_of(OpKind::SyncData, &opts, &[Action::AppendDurable(100)]);
    let root = scratch_dir("seawall-faults-");
    let (wal, _fs) = open_faulty(root.path(), &opts, FaultPlan::once(at, Fault::Eio));
    wal.append(&payload(1, 100)).unwrap();
    assert!(wal.sync(Lsn::new(1)).is_err());
    let closed = wal.close();
    assert!(poisoned(&closed), "close() of a poisoned log returned {closed:?}");
}

/// Shared state of [`GateSync`].
#[derive(Debug, Default)]
struct Gate {
    armed: AtomicBool,
    /// `fdatasync` calls made while armed.
    syncs: AtomicUsize,
    released: Mutex<bool>,
    cv: Condvar,
}

/// The real file system's syncs, except that once armed every `fdatasync`
/// waits until the gate is released and then fails with `EIO`.
#[derive(Clone, Debug, Default)]
struct GateSync(Arc<Gate>);

impl SyncPolicy for GateSync {
    fn sync_data(&self, file: &dyn WalFile) -> io::Result<()> {
        let g = &self.0;
        if !g.armed.load(Ordering::SeqCst) {
            return file.sync_data();
        }
        g.syncs.fetch_add(1, Ordering::SeqCst);
        let mut released = g.released.lock().unwrap();
        while !*released {
            released = g.cv.wait(released).unwrap();
        }
        Err(Fault::Eio.error())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.sync_dir(path)
    }
}

/// Several threads wait for one group commit whose `fdatasync` fails: every
/// one of them gets an error, none is told its record is durable, and the
/// failed sync is not retried behind their backs.
#[test]
fn every_waiter_of_a_failing_group_commit_gets_an_error() {
    let _turn = spawn_turn::holding_logs();
    const THREADS: usize = 8;
    let root = scratch_dir("seawall-faults-");
    let gate = PassThroughFs(GateSync::default());
    let (wal, _) = Wal::open_with(root.path(), small_segments(), Arc::new(gate.clone())).unwrap();
    assert_eq!(wal.append_durable(&payload(1, 100)).unwrap(), Lsn::new(1));
    gate.0 .0.armed.store(true, Ordering::SeqCst);
    let arrived = (Mutex::new(0usize), Condvar::new());
    let all_appended = Barrier::new(THREADS);
    let results: Vec<(Lsn, Result<(), Error>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (wal, arrived, all_appended) = (&wal, &arrived, &all_appended);
                s.spawn(move || {
                    let lsn = wal.append(&payload(2 + t as u64, 64)).unwrap();
                    all_appended.wait(); // every record is in the group before anyone syncs
                    *arrived.0.lock().unwrap() += 1;
                    arrived.1.notify_all();
                    (lsn, wal.sync(lsn))
                })
            })
            .collect();
        let mut n = arrived.0.lock().unwrap();
        while *n < THREADS {
            n = arrived.1.wait(n).unwrap();
        }
        drop(n);
        *gate.0 .0.released.lock().unwrap() = true;
        gate.0 .0.cv.notify_all();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (lsn, r) in &results {
        assert!(
            matches!(r, Err(Error::Io { op: "fdatasync", .. }) | Err(Error::Poisoned { .. })),
            "waiter of LSN {lsn} got {r:?}"
        );
    }
    assert_eq!(gate.0 .0.syncs.load(Ordering::SeqCst), 1, "one fdatasync for the group, never retried");
    assert_eq!(wal.durable_lsn(), Lsn::new(1));
    assert!(poisoned(&wal.append(b"after the failure")));
    drop(wal);
    let (wal, _) = Wal::open(root.path(), small_segments()).unwrap();
    let r = Recovered::read(&wal).unwrap();
    assert_eq!(r.records[0].1, payload(1, 100), "the record acknowledged before the failure");
    println!("faults: {THREADS} waiters of one failed fdatasync all got errors");
}

/// The background thread that preallocates the next segment hits a full
/// disk: appends into the current segment go on, the append that needs the
/// next segment fails with ENOSPC, and the log reopens with every
/// acknowledged record, even while the disk stays full.
#[test]
fn full_disk_while_preallocating_the_next_segment() {
    let _turn = spawn_turn::holding_logs();
    let opts = Options::default().segment_size(64 * 1024).write_buffer_size(4096);
    let root = scratch_dir("seawall-faults-");
    let dir = root.path().join("log");
    // Calls the first open makes before the background thread starts.
    let counting = RecordingFs::new(&root.path().join("count"), &Image::new(), None);
    drop(Wal::open_with(
        root.path().join("count"),
        opts.clone().background_preallocation(false),
        Arc::new(counting.clone()),
    ));
    let at = counting.calls();
    let fs = RecordingFs::new(&dir, &Image::new(), Some(FaultPlan::disk_full_from(at)));
    let (wal, _) = Wal::open_with(&dir, opts.clone(), Arc::new(fs.clone())).unwrap();
    let mut acked = Vec::new();
    let err = loop {
        let p = payload(acked.len() as u64 + 1, 20_000);
        match wal.append_durable(&p) {
            Ok(lsn) => acked.push((lsn, p)),
            Err(e) => break e,
        }
        assert!(acked.len() < 10, "the next segment was never needed");
    };
    // Two records of 20,000 bytes, each synced with its parity, fill the
    // first 64 KiB segment; the third needs the next one.
    assert_eq!(acked.len(), 2, "two records fit in the first segment");
    assert!(matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull), "{err}");
    assert!(poisoned(&wal.append(b"more")));
    assert!(poisoned(&wal.close()));
    for full in [false, true] {
        let fs: Arc<dyn FileSystem> = if full {
            let image: Image = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name() != "LOCK")
                .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
                .collect();
            Arc::new(RecordingFs::new(&dir, &image, Some(FaultPlan::disk_full())))
        } else {
            Arc::new(StdFs)
        };
        let (wal, _) =
            Wal::open_with(&dir, opts.clone(), fs).unwrap_or_else(|e| panic!("reopen (disk full: {full}): {e}"));
        let r = Recovered::read(&wal).unwrap();
        for (lsn, p) in &acked {
            assert_eq!(r.records[(lsn.get() - 1) as usize].1, p[..], "LSN {lsn} (disk full: {full})");
        }
    }
}

/// Unmounts a test mount when dropped.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A real full disk: a 2 MiB tmpfs filled by the log. The append that runs
/// out of space fails with ENOSPC and poisons the log; with the last free
/// bytes taken by another file, the log still reopens with every acknowledged
/// record (recovery needs no free space), and appends again once space is
/// freed. Needs permission to mount; says plainly when it was skipped.
#[test]
fn full_disk_on_a_real_tmpfs() {
    let _turn = spawn_turn::spawning();
    let root = tempfile::tempdir().unwrap();
    let mnt = root.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted =
        std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"]).arg(&mnt).output();
    match mounted {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            println!("SKIPPED full_disk_on_a_real_tmpfs: mounting a 2 MiB tmpfs was refused ({}); only the injected ENOSPC faults cover a full disk in this run", why.trim());
            return;
        }
        Err(e) => {
            println!("SKIPPED full_disk_on_a_real_tmpfs: could not run mount ({e}); only the injected ENOSPC faults cover a full disk in this run");
            return;
        }
    }
    let _unmount = Unmount(mnt.clone());
    let dir = mnt.join("log");
    let opts = Options::default().segment_size(64 * 1024);
    let (wal, _) = Wal::open(&dir, opts.clone()).unwrap();
    let mut acked = Vec::new();
    let err = loop {
        let seq = acked.len() as u64 + 1;
        let p = payload(seq, 1000 + (seq % 7) as u32 * 1500);
        match wal.append_durable(&p) {
            Ok(lsn) => acked.push((lsn, p)),
            Err(e) => break e,
        }
        assert!(acked.len() < 100_000, "a 2 MiB disk never filled");
    };
    assert!(matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull), "{err}");
    assert!(poisoned(&wal.append(b"more")));
    assert!(poisoned(&wal.close()));
    // Take whatever space is left.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0xAA; 4096]).is_ok() {}
    }
    let (wal, _) = Wal::open(&dir, opts.clone()).unwrap_or_else(|e| panic!("reopen on the full disk: {e}"));
    let r = Recovered::read(&wal).unwrap();
    assert!(r.last() >= acked.len() as u64);
    for (lsn, p) in &acked {
        assert_eq!(r.records[(lsn.get() - 1) as usize].1, p[..], "LSN {lsn}");
    }
    drop(wal);
    std::fs::remove_file(&filler).unwrap();
    let (wal, _) = Wal::open(&dir, opts).unwrap();
    wal.append_durable(b"after space was freed").unwrap();
    println!("faults: real full disk: {} records acknowledged before the 2 MiB tmpfs filled ({err}); all back after reopening on the full disk", acked.len());
}

/// Recovery itself meets every fault at every call: a crash state with a
/// torn unsynced write (which recovery must cut and clear) is opened with a
/// fault injected into each of recovery's calls in turn. Whatever the fault,
/// the next recovery (after a restart or a power loss) finds exactly the log
/// a fault-free recovery finds.
#[test]
fn every_fault_during_a_recovery_that_repairs() {
    let _turn = spawn_turn::holding_logs();
    use common::recording_fs::{Fate, FileOp, Pending};
    use Action::*;
    let opts = small_segments();
    let root = scratch_dir("seawall-faults-");
    let (live, check_dir) = (root.path().join("live"), root.path().join("check"));
    // A log whose last write (records 4..=5, never synced) is torn in half.
    let fs = RecordingFs::new(&live, &Image::new(), None);
    let run = run_faulty(&live, &opts, &fs, &[AppendDurable(100), AppendDurable(40_000), Append(300)]).unwrap();
    drop(run);
    let mut model = DiskModel::default();
    let ops = fs.ops();
    let last_write = ops.iter().rposition(|op| matches!(op, common::recording_fs::Op::Write { .. })).unwrap();
    ops[..=last_write].iter().for_each(|op| model.apply(op));
    let image = model.image_with(|_, p| match p {
        Pending::File(_, FileOp::Write { off, data }) => {
            let half = data.len() / 2;
            Fate::Pieces(vec![FileOp::Write { off: *off, data: Arc::new(data[..half].to_vec()) }])
        }
        _ => Fate::Keep,
    });
    let mut e = Expect::empty();
    e.log = [(1, 100), (2, 40_000), (3, 300)]
        .iter()
        .map(|&(seq, len)| Entry { seq: (1 << 40) + seq - 1, len, starts_unit: true, ends_unit: true })
        .collect();
    e.acked = 2;
    // The fault-free recovery, and its calls.
    materialize(&image, &live);
    let clean_fs = RecordingFs::new(&live, &image, None);
    let (wal, report) = Wal::open_with(&live, opts.clone(), Arc::new(clean_fs.clone())).unwrap();
    assert!(!report.is_clean(), "the state needs repair: {report:?}");
    let expected = Recovered::read(&wal).unwrap();
    check(&e, &expected).unwrap();
    drop(wal);
    let trace = clean_fs.trace();
    let mut runs = 0;
    for (n, &(kind, _)) in trace.iter().enumerate() {
        for &fault in Fault::applicable(kind) {
            for plan in [FaultPlan::once(n, fault), FaultPlan::persistent(n, fault)] {
                let what = format!("{plan:?} at recovery call {n} of {} ({kind:?})", trace.len());
                materialize(&image, &live);
                let fs = RecordingFs::new(&live, &image, Some(plan));
                let opened = Wal::open_with(&live, opts.clone(), Arc::new(fs.clone()));
                if let Ok((wal, _)) = opened {
                    let r = Recovered::read(&wal).unwrap();
                    assert_eq!(r, expected, "{what}: recovery succeeded with another log");
                    drop(wal);
                }
                runs += 1;
                let mut after = DiskModel::from_image(&image);
                fs.ops().iter().for_each(|op| after.apply(op));
                for (when, img) in [("restart", after.live_image()), ("power loss", after.durable_image())] {
                    materialize(&img, &check_dir);
                    let (wal, _) =
                        Wal::open(&check_dir, opts.clone()).unwrap_or_else(|e| panic!("{what}, {when}: {e}"));
                    let r = Recovered::read(&wal).unwrap();
                    assert_eq!(r, expected, "{what}, then {when}: another log");
                }
            }
        }
    }
    println!("faults: {runs} fault runs over the {} calls of a repairing recovery", trace.len());
}

/// Regression (fsyncgate): `append_durable` fails because `fdatasync`
/// returned EIO, and Linux dropped the dirty pages from its record of what
/// to write back, though they stay readable in the page cache. Reopening
/// the log in the same process adopted those bytes as the log's tail, its
/// own `fdatasync` succeeded (there was nothing left to write back), and the
/// log reported the record durable: after a power loss it was gone, and the
/// records acknowledged after it were refused as corruption. The recording
/// file system models exactly this; every power-loss state from the reopen
/// on must keep everything the reopened log reported durable.
#[test]
fn reopen_after_a_failed_fdatasync_never_reports_lost_bytes_durable() {
    let _turn = spawn_turn::holding_logs();
    use common::crash::{crash_states, fingerprint, Depth};
    use common::oracle::check_crash_state;
    use common::workload::run;
    use Action::*;
    let opts = small_segments();
    let at = last_call_of(OpKind::SyncData, &opts, &[AppendDurable(100), AppendDurable(200)]);
    let root = scratch_dir("seawall-faults-");
    let (live, check_dir) = (root.path().join("live"), root.path().join("check"));
    // As in the calibration run: the log's directory exists already.
    std::fs::create_dir_all(&live).unwrap();
    let fs = RecordingFs::new(&live, &Image::new(), Some(FaultPlan::once(at, Fault::Eio)));
    let (wal, _) = Wal::open_with(&live, opts.clone(), Arc::new(fs.clone())).unwrap();
    assert_eq!(wal.append_durable(&payload(1, 100)).unwrap(), Lsn::new(1));
    let failed = wal.append_durable(&payload(2, 200));
    assert!(matches!(failed, Err(Error::Io { op: "fdatasync", .. })), "{failed:?}");
    drop(wal);
    // The same process opens the log again, through the same file system.
    let mut before = Expect::empty();
    before.log = [(1, 100), (2, 200)].map(|(seq, len)| Entry { seq, len, starts_unit: true, ends_unit: true }).into();
    before.acked = 1;
    let reopened = fs.op_count();
    let after = run(&live, &opts, &fs, before, &[AppendDurable(64), Append(300), Sync]).unwrap();
    let ops = fs.ops();
    let mut model = DiskModel::default();
    let (mut rng, mut seen, mut states) = (common::Rng::new(0xf5), std::collections::HashSet::new(), 0);
    for (k, op) in ops.iter().enumerate() {
        model.apply(op);
        if k + 1 < reopened {
            continue;
        }
        let (e, call) = after.history.at(k + 1);
        let mut images = Vec::new();
        crash_states(&model, Depth { exhaustive: true }, &mut rng, &mut |img| {
            if seen.insert((fingerprint(&img), e.fingerprint())) {
                images.push(img);
            }
        });
        for img in images {
            states += 1;
            check_crash_state(&check_dir, &img, e, &opts).unwrap_or_else(|err| {
                let phase = call.map_or("before".into(), |c| if k < c.end { format!("during {}", c.what) } else { format!("after {}", c.what) });
                panic!(
                    "power loss after operation {} of {} ({phase}), {} after the reopen that followed a failed fdatasync: {err}",
                    k + 1,
                    ops.len(),
                    k + 1 - reopened
                )
            });
        }
    }
    println!(
        "faults: {states} power-loss states after reopening past a failed fdatasync keep what was reported durable"
    );
}

//! Guards a log store's durability notifications: `on_durable` callbacks and
//! `wait_durable` futures complete exactly once, with `Ok` once every record
//! up to their LSN is durable; with `LsnOutOfRange` for an LSN past the end;
//! with the error of a failed `fdatasync`; with `Error::Truncated` when
//! `truncate_after` or `reset` cut the record first (even if its LSN is
//! reused); and before `close` returns. A crowd of asynchronous waiters
//! shares fsyncs with synchronous callers; the future needs no runtime, only
//! the hand-written executor in `support/executor.rs`. `sync` past the last
//! LSN is out of range. Every test runs under a watchdog: a hang fails it.

mod common;
#[path = "support/executor.rs"]
mod executor;
#[path = "support/log_store.rs"]
mod log_store;
#[path = "support/probe_fs.rs"]
mod probe_fs;
#[path = "support/watchdog.rs"]
mod watchdog;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};

use common::fault::{Fault, FaultPlan, OpKind};
use common::recording_fs::{Image, RecordingFs};
use executor::{block_on, run_all, Task};
use log_store::{fill, out_of_range, small_opts, truncated};
use probe_fs::ProbeFs;
use seawall::{Error, Lsn, Options, Wal};
use watchdog::Watchdog;

type Outcome = Result<(), Error>;

/// A callback that reports its outcome, the log's durable LSN when it ran
/// (read through `wal`, if given) and the thread it ran on.
fn reporter(
    tx: &Sender<(Outcome, Option<Lsn>, std::thread::ThreadId)>,
    wal: Option<Arc<Wal>>,
) -> impl FnOnce(Outcome) + Send + 'static {
    let tx = tx.clone();
    move |res| {
        let durable = wal.map(|w| w.durable_lsn());
        tx.send((res, durable, std::thread::current().id())).unwrap();
    }
}

fn guard(name: &str) -> Watchdog {
    Watchdog::start(name, String::new())
}

/// Closes a log shared with callbacks that have all run.
fn close(wal: Arc<Wal>) {
    Arc::into_inner(wal).expect("no callback holds the log any more").close().unwrap();
}

#[test]
fn on_durable_runs_once_with_ok_when_the_record_is_durable() {
    let _w = guard("on_durable_runs_once_with_ok_when_the_record_is_durable");
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), small_opts()).unwrap().0);
    fill(&wal, 3, "x");
    assert_eq!(wal.durable_lsn(), Lsn::ZERO);
    let (tx, rx) = mpsc::channel();
    wal.on_durable(Lsn::new(2), reporter(&tx, Some(wal.clone())));
    let (res, durable, thread) = rx.recv().unwrap();
    res.unwrap();
    assert!(durable.unwrap() >= Lsn::new(2), "the callback ran before record 2 was durable ({durable:?})");
    assert_ne!(thread, std::thread::current().id(), "a pending callback runs on the log's thread");
    close(wal);
    drop(tx);
    assert!(rx.recv().is_err(), "the callback ran more than once");
}

#[test]
fn on_durable_of_a_durable_record_runs_at_once_on_the_calling_thread() {
    let _w = guard("on_durable_of_a_durable_record_runs_at_once_on_the_calling_thread");
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let lsn = wal.append_durable(b"x").unwrap();
    let (tx, rx) = mpsc::channel();
    wal.on_durable(lsn, reporter(&tx, None));
    let (res, _, thread) = rx.try_recv().expect("the callback ran before on_durable returned");
    res.unwrap();
    assert_eq!(thread, std::thread::current().id());
    // The same for a future: ready at the first poll.
    let mut fut = std::pin::pin!(wal.wait_durable(lsn));
    assert!(matches!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(Ok(()))));
}

#[test]
fn wait_durable_resolves_on_a_hand_written_executor() {
    let _w = guard("wait_durable_resolves_on_a_hand_written_executor");
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let lsn = wal.append(b"x").unwrap();
    block_on(wal.wait_durable(lsn)).unwrap();
    assert!(wal.durable_lsn() >= lsn);
    // Many futures, polled only when woken.
    let records = fill(&wal, 100, "x");
    let tasks: Vec<Task<Outcome>> =
        records.iter().map(|r| Box::pin(wal.wait_durable(Lsn::new(r.0))) as Task<_>).collect();
    let (results, polls) = run_all(tasks);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(polls <= 2 * records.len(), "{polls} polls for {} futures", records.len());
    assert!(wal.durable_lsn() >= Lsn::new(records[99].0));
}

/// A waker that counts its wakes and reports them on a channel.
struct Counted(AtomicUsize, std::sync::Mutex<Sender<()>>);

impl Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        let _ = self.1.lock().unwrap().send(());
    }
}

#[test]
fn a_durable_future_wakes_the_waker_of_its_last_poll() {
    let _w = guard("a_durable_future_wakes_the_waker_of_its_last_poll");
    let dir = tempfile::tempdir().unwrap();
    let probe = ProbeFs::new();
    let (wal, _) = Wal::open_with(dir.path(), small_opts(), Arc::new(probe.clone())).unwrap();
    probe.shut_gate();
    let lsn = wal.append(b"x").unwrap();
    let mut fut = std::pin::pin!(wal.wait_durable(lsn));
    let (tx_a, rx_a) = mpsc::channel();
    let (tx_b, rx_b) = mpsc::channel();
    let a = Arc::new(Counted(AtomicUsize::new(0), tx_a.into()));
    let b = Arc::new(Counted(AtomicUsize::new(0), tx_b.into()));
    // The flush that would make `lsn` durable is held at the gate.
    probe.wait_for_held_syncs(1);
    assert!(fut.as_mut().poll(&mut Context::from_waker(&Waker::from(a.clone()))).is_pending());
    assert!(fut.as_mut().poll(&mut Context::from_waker(&Waker::from(b.clone()))).is_pending());
    probe.open_gate();
    rx_b.recv().unwrap();
    assert!(matches!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(Ok(()))));
    assert_eq!((a.0.load(Ordering::SeqCst), b.0.load(Ordering::SeqCst)), (0, 1));
    drop(rx_a);
}

#[test]
fn waiters_past_the_last_lsn_fail_at_once_with_lsn_out_of_range() {
    let _w = guard("waiters_past_the_last_lsn_fail_at_once_with_lsn_out_of_range");
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let (tx, rx) = mpsc::channel();
    for (lsn, last) in [(1, 0), (5, 0)] {
        wal.on_durable(Lsn::new(lsn), reporter(&tx, None));
        let (res, _, _) = rx.try_recv().expect("answered at once");
        assert_eq!(out_of_range(&res), Some((lsn, 1, last)), "on_durable({lsn}) of an empty log");
    }
    fill(&wal, 3, "x");
    for lsn in [4, 100, u64::MAX] {
        wal.on_durable(Lsn::new(lsn), reporter(&tx, None));
        let (res, _, _) = rx.try_recv().expect("answered at once");
        assert_eq!(out_of_range(&res), Some((lsn, 1, 3)), "on_durable({lsn})");
        let mut fut = std::pin::pin!(wal.wait_durable(Lsn::new(lsn)));
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(res) => assert_eq!(out_of_range(&res), Some((lsn, 1, 3)), "wait_durable({lsn})"),
            Poll::Pending => panic!("wait_durable({lsn}) past the end is pending"),
        }
    }
}

#[test]
fn sync_past_the_last_lsn_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    wal.sync(Lsn::ZERO).unwrap();
    assert_eq!(out_of_range(&wal.sync(Lsn::new(1))), Some((1, 1, 0)));
    fill(&wal, 10, "x");
    for lsn in [11, 12, u64::MAX] {
        assert_eq!(out_of_range(&wal.sync(Lsn::new(lsn))), Some((lsn, 1, 10)), "sync({lsn})");
    }
    assert_eq!(wal.durable_lsn(), Lsn::ZERO, "a refused sync syncs nothing");
    wal.sync(Lsn::new(10)).unwrap();
    assert_eq!(wal.durable_lsn(), Lsn::new(10));
    // After a cut, the cut LSNs are past the end.
    wal.truncate_after(Lsn::new(6)).unwrap();
    assert_eq!(out_of_range(&wal.sync(Lsn::new(7))), Some((7, 1, 6)));
    // Below a purge point is not past the end.
    wal.truncate_before(Lsn::new(4)).unwrap();
    wal.sync(Lsn::new(2)).unwrap();
}

/// The seam call index of the first `fdatasync` of a log opened in a fresh
/// directory and synced after one append (found by a dry run: the order of
/// file operations is deterministic without background preallocation).
fn first_data_sync(root: &Path, opts: &Options) -> usize {
    let dir = root.join("dry");
    let fs = RecordingFs::new(&dir, &Image::new(), None);
    let (wal, _) = Wal::open_with(&dir, opts.clone(), Arc::new(fs.clone())).unwrap();
    let opened = fs.calls();
    let lsn = wal.append(b"x").unwrap();
    wal.sync(lsn).unwrap();
    opened + fs.trace()[opened..].iter().position(|c| c.0 == OpKind::SyncData).expect("a data sync")
}

#[test]
fn waiters_get_an_error_when_the_fdatasync_fails() {
    let _w = guard("waiters_get_an_error_when_the_fdatasync_fails");
    let root = tempfile::tempdir().unwrap();
    let opts = small_opts();
    let at = first_data_sync(root.path(), &opts);
    let dir = root.path().join("live");
    let fs = RecordingFs::new(&dir, &Image::new(), Some(FaultPlan::once(at, Fault::Eio)));
    let (wal, _) = Wal::open_with(&dir, opts, Arc::new(fs.clone())).unwrap();
    let lsn = wal.append(b"x").unwrap();
    let (tx, rx) = mpsc::channel();
    wal.on_durable(lsn, reporter(&tx, None));
    let fut = wal.wait_durable(lsn);
    let (res, _, _) = rx.recv().unwrap();
    assert!(matches!(res, Err(Error::Poisoned { op: "fdatasync", .. })), "the callback got {res:?}");
    let res = block_on(fut);
    assert!(matches!(res, Err(Error::Poisoned { .. })), "the future got {res:?}");
    assert_eq!(fs.injected().iter().map(|i| i.1).collect::<Vec<_>>(), [OpKind::SyncData]);
    // Later waiters, and sync callers, get the error at once.
    wal.on_durable(lsn, reporter(&tx, None));
    assert!(matches!(rx.try_recv().expect("answered at once").0, Err(Error::Poisoned { .. })));
    assert!(matches!(wal.sync(lsn), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.close(), Err(Error::Poisoned { .. })));
    drop(tx);
    assert!(rx.recv().is_err(), "a callback ran twice");
}

#[test]
fn pending_waiters_are_completed_before_close_returns() {
    let _w = guard("pending_waiters_are_completed_before_close_returns");
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let records = fill(&wal, 200, "x");
    let (tx, rx) = mpsc::channel();
    let mut futures = Vec::new();
    for (lsn, _) in &records {
        wal.on_durable(Lsn::new(*lsn), reporter(&tx, None));
        futures.push(wal.wait_durable(Lsn::new(*lsn)));
    }
    wal.close().unwrap();
    drop(tx);
    let results: Vec<Outcome> = rx.try_iter().map(|r| r.0).collect();
    assert_eq!(results.len(), records.len(), "every callback ran once, before close returned");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for f in futures {
        let mut f = std::pin::pin!(f);
        assert!(matches!(f.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(Ok(()))));
    }
}

/// Keeps the log's flusher thread busy inside a callback until the returned
/// sender is dropped or sent to, so that waiters registered meanwhile are
/// judged only after whatever the test does next.
fn hold_the_flusher(wal: &Wal) -> Sender<()> {
    let lsn = wal.append(b"holds the flusher").unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    wal.on_durable(lsn, move |res| {
        entered_tx.send(res.is_ok()).unwrap();
        let _ = release_rx.recv();
    });
    assert!(entered_rx.recv().unwrap(), "the holding callback runs with Ok");
    release_tx
}

/// Registers waiters for records 5 and 6 (not yet durable), has `cut` drop
/// them, then releases the flusher: both waiters must get `Truncated`.
fn waiters_see_a_cut(name: &str, cut: impl FnOnce(&Wal)) {
    let _w = guard(name);
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), small_opts()).unwrap();
    let release = hold_the_flusher(&wal);
    fill(&wal, 5, "cut");
    assert_eq!(wal.last_lsn(), Lsn::new(6));
    let (tx, rx) = mpsc::channel();
    wal.on_durable(Lsn::new(6), reporter(&tx, None));
    let fut = wal.wait_durable(Lsn::new(5));
    cut(&wal);
    release.send(()).unwrap();
    let (res, _, _) = rx.recv().unwrap();
    assert_eq!(truncated(&res), Some(6), "the callback for a cut record got {res:?}");
    let res = block_on(fut);
    assert_eq!(truncated(&res), Some(5), "the future for a cut record got {res:?}");
}

#[test]
fn waiters_on_records_cut_by_truncate_after_get_truncated() {
    waiters_see_a_cut("waiters_on_records_cut_by_truncate_after_get_truncated", |wal| {
        wal.truncate_after(Lsn::new(3)).unwrap();
    });
}

#[test]
fn waiters_on_records_cut_and_replaced_by_durable_ones_get_truncated() {
    waiters_see_a_cut("waiters_on_records_cut_and_replaced_by_durable_ones_get_truncated", |wal| {
        wal.truncate_after(Lsn::new(3)).unwrap();
        // LSNs 4 to 7 again, durable: the waiters' records are still gone.
        fill(wal, 4, "replacement");
        wal.sync(Lsn::new(7)).unwrap();
    });
}

#[test]
fn waiters_on_records_dropped_by_reset_get_truncated() {
    waiters_see_a_cut("waiters_on_records_dropped_by_reset_get_truncated", |wal| {
        wal.reset(Lsn::new(100)).unwrap();
    });
}

/// Box a future as a task of the hand-written executor.
fn task(f: impl Future<Output = Outcome> + Send + 'static) -> Task<Outcome> {
    Box::pin(f) as Pin<Box<dyn Future<Output = Outcome> + Send>>
}

#[test]
fn a_crowd_of_async_waiters_shares_fsyncs_with_sync_callers() {
    const ASYNC: u64 = 1000;
    const SYNC: usize = 8;
    let w = guard("a_crowd_of_async_waiters_shares_fsyncs_with_sync_callers");
    let dir = tempfile::tempdir().unwrap();
    let probe = ProbeFs::new();
    let opts = Options::default().background_preallocation(false);
    let wal = Arc::new(Wal::open_with(dir.path(), opts, Arc::new(probe.clone())).unwrap().0);
    let fsyncs = wal.stats().fsyncs;
    // The first waiter starts a flush, held at the gate until the crowd is in.
    probe.shut_gate();
    let first = wal.append(b"first").unwrap();
    let mut tasks = vec![task(wal.wait_durable(first))];
    probe.wait_for_held_syncs(1);
    for i in 0..ASYNC {
        let lsn = wal.append(format!("async {i}").as_bytes()).unwrap();
        tasks.push(task(wal.wait_durable(lsn)));
    }
    // Sync callers: each appends, then syncs once every record is staged.
    let staged = Arc::new(Barrier::new(SYNC + 1));
    let syncers: Vec<_> = (0..SYNC)
        .map(|t| {
            let (wal, staged, slot) = (wal.clone(), staged.clone(), w.slot(format!("sync caller {t}")));
            std::thread::spawn(move || {
                let lsn = wal.append(format!("sync {t}").as_bytes()).unwrap();
                staged.wait();
                slot.doing("sync", lsn.get());
                wal.sync(lsn)
            })
        })
        .collect();
    staged.wait();
    let waiters = tasks.len() + SYNC;
    probe.open_gate();
    let (results, _) = run_all(tasks);
    assert!(results.iter().all(Result::is_ok), "an async waiter failed");
    for s in syncers {
        s.join().unwrap().unwrap();
    }
    let used = wal.stats().fsyncs - fsyncs;
    println!("{waiters} waiters ({} async, {SYNC} sync) shared {used} fsyncs", ASYNC + 1);
    assert!(used <= 3, "{waiters} waiters needed {used} fsyncs: they did not share them");
    close(wal);
}

#[test]
fn async_waiters_and_sync_callers_share_fsyncs_on_a_real_disk() {
    const TASKS: u64 = 200;
    const ROUNDS: u64 = 10;
    const SYNC: u64 = 4;
    const SYNC_ROUNDS: u64 = 50;
    let w = guard("async_waiters_and_sync_callers_share_fsyncs_on_a_real_disk");
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), Options::default()).unwrap().0);
    let fsyncs = wal.stats().fsyncs;
    let syncers: Vec<_> = (0..SYNC)
        .map(|t| {
            let (wal, slot) = (wal.clone(), w.slot(format!("sync caller {t}")));
            std::thread::spawn(move || {
                for i in 0..SYNC_ROUNDS {
                    slot.doing("append_durable", i);
                    wal.append_durable(format!("sync {t} {i}").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    // Each task appends and awaits durability, round after round.
    let tasks: Vec<Task<Outcome>> = (0..TASKS)
        .map(|t| {
            let wal = wal.clone();
            task(async move {
                for i in 0..ROUNDS {
                    let lsn = wal.append(format!("async {t} {i}").as_bytes())?;
                    wal.wait_durable(lsn).await?;
                }
                Ok(())
            })
        })
        .collect();
    let (results, polls) = run_all(tasks);
    assert!(results.iter().all(Result::is_ok), "an async waiter failed");
    for s in syncers {
        s.join().unwrap();
    }
    let used = wal.stats().fsyncs - fsyncs;
    let waiters = TASKS * ROUNDS + SYNC * SYNC_ROUNDS;
    println!(
        "{waiters} waiters ({} async in {polls} polls, {} sync) shared {used} fsyncs",
        TASKS * ROUNDS,
        SYNC * SYNC_ROUNDS
    );
    assert!(used * 4 <= waiters, "{waiters} waiters needed {used} fsyncs: they did not share them");
    close(wal);
}

//! Durability without parking a thread: `Wal::on_durable` callbacks and the
//! runtime-agnostic `Durable` future of `Wal::wait_durable`.
//!
//! Waiters sit in the shared state. The log's flusher thread (started when
//! the first one is registered) takes part in the group commit like any
//! `sync` caller: while some waiter's LSN is not durable, it asks for the
//! highest such LSN, so a crowd of asynchronous waiters shares one
//! `fdatasync` with the synchronous ones. Each completed flush wakes it; it
//! completes every waiter now durable (or failed, or cut), running
//! callbacks on its own thread after releasing the state lock.
//!
//! The flusher's wait ends because: every pass either finds no work (and
//! sleeps until a waiter is added, a flush completes or the log closes) or
//! waits for an LSN that exists, which the group commit makes durable or
//! fails; closing the log completes every waiter and ends the thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::state::State;
use crate::Lsn;

/// How a waiter is told.
pub(crate) enum Notify {
    Callback(Box<dyn FnOnce(Result<()>) + Send + 'static>),
    Slot(Arc<Slot>),
}

/// One caller waiting for durability.
pub(crate) struct Waiter {
    pub lsn: u64,
    /// Cuts that had happened when it registered (see `State::cuts`).
    pub since: usize,
    pub notify: Notify,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter").field("lsn", &self.lsn).finish()
    }
}

impl Waiter {
    /// Delivers `res` (outside any lock).
    pub fn complete(self, res: Result<()>) {
        match self.notify {
            Notify::Callback(f) => f(res),
            Notify::Slot(s) => s.fill(res),
        }
    }
}

/// The shared cell behind a [`Durable`] future.
#[derive(Default)]
pub(crate) struct Slot {
    inner: Mutex<(Option<Result<()>>, Option<Waker>)>,
}

impl Slot {
    fn fill(&self, res: Result<()>) {
        let waker = {
            let mut g = crate::lock(&self.inner);
            g.0 = Some(res);
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A future that resolves once every record up to an LSN is durable, or the
/// log has failed (see [`crate::Wal::wait_durable`]). It needs no particular
/// async runtime: the log's flusher thread wakes it.
#[must_use = "a future does nothing unless polled"]
pub struct Durable {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Durable")
    }
}

impl Durable {
    pub(crate) fn new() -> (Durable, Arc<Slot>) {
        let slot = Arc::new(Slot::default());
        (Durable { slot: slot.clone() }, slot)
    }
}

impl Future for Durable {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut g = crate::lock(&self.slot.inner);
        match g.0.take() {
            Some(res) => Poll::Ready(res),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Takes from `st` every waiter that can be completed now, with its result.
pub(crate) fn ready_waiters(st: &mut State) -> Vec<(Waiter, Result<()>)> {
    let mut done = Vec::new();
    let mut keep = Vec::new();
    for w in std::mem::take(&mut st.waiters) {
        let res = if let Err(e) = st.check_not_cut(w.lsn, w.since) {
            Some(Err(e))
        } else if let Some((op, kind)) = st.poisoned {
            Some(Err(Error::Poisoned { op, kind }))
        } else if w.lsn <= st.durable_lsn {
            Some(Ok(()))
        } else if st.closed {
            Some(Err(Error::Closed))
        } else {
            None
        };
        match res {
            Some(r) => done.push((w, r)),
            None => keep.push(w),
        }
    }
    st.waiters = keep;
    done
}

/// Whether `lsn` names a record the log holds or held: at most the last LSN.
pub(crate) fn check_lsn(st: &State, lsn: Lsn) -> Result<()> {
    if lsn.get() > st.last_lsn() {
        return Err(st.out_of_range(lsn));
    }
    Ok(())
}

impl crate::wal::Wal {
    /// Runs `f` once every record up to `lsn` is durable (with `Ok`), or the
    /// log has failed, closed, or a truncation removed record `lsn` (with the
    /// error). It shares the group commit with every other caller and parks
    /// no thread of the caller's: `f` runs on the log's flusher thread (keep
    /// it short), or at once on the calling thread if the answer is already
    /// known. An `lsn` past the last LSN fails at once with
    /// [`Error::LsnOutOfRange`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// wal.on_durable(lsn, move |res| tx.send(res.is_ok()).unwrap());
    /// assert!(rx.recv().unwrap());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn on_durable(&self, lsn: Lsn, f: impl FnOnce(Result<()>) + Send + 'static) {
        self.register(lsn, Notify::Callback(Box::new(f)));
    }

    /// A future that resolves once every record up to `lsn` is durable, with
    /// the same outcomes as [`crate::Wal::on_durable`]. It works with any
    /// executor: the library depends on no async runtime.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// let durable = wal.wait_durable(lsn);
    /// // With any executor, e.g. a tiny one that parks the thread:
    /// # fn block_on<F: std::future::Future + Unpin>(mut f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct T(std::thread::Thread);
    /// #     impl Wake for T { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let w = Waker::from(std::sync::Arc::new(T(std::thread::current())));
    /// #     loop { if let Poll::Ready(v) = std::pin::Pin::new(&mut f).poll(&mut Context::from_waker(&w)) { return v } std::thread::park() }
    /// # }
    /// block_on(durable)?;
    /// assert!(wal.durable_lsn() >= lsn);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn wait_durable(&self, lsn: Lsn) -> Durable {
        let (d, slot) = Durable::new();
        self.register(lsn, Notify::Slot(slot));
        d
    }

    fn register(&self, lsn: Lsn, notify: Notify) {
        let inner = &self.inner;
        let mut st = inner.gc.lock_state();
        let immediate = if let Err(e) = check_lsn(&st, lsn) {
            Some(Err(e))
        } else if let Some((op, kind)) = st.poisoned {
            Some(Err(Error::Poisoned { op, kind }))
        } else if lsn.get() <= st.durable_lsn {
            Some(Ok(()))
        } else if st.closed {
            Some(Err(Error::Closed))
        } else {
            None
        };
        let waiter = Waiter { lsn: lsn.get(), since: st.cuts.len(), notify };
        if let Some(res) = immediate {
            drop(st);
            waiter.complete(res);
            return;
        }
        st.waiters.push(waiter);
        drop(st);
        self.ensure_flusher();
        inner.gc.async_cv.notify_all();
    }

    /// Starts the flusher thread if it is not running.
    fn ensure_flusher(&self) {
        let mut f = crate::lock(&self.flusher);
        if f.is_none() {
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new().name("seawall-flusher".into()).spawn(move || run_flusher(&inner));
            match spawned {
                Ok(h) => *f = Some(h),
                Err(_) => {
                    // No thread: complete what can be completed now, and let
                    // the next foreground flush's caller find the rest.
                    run_once(&self.inner);
                }
            }
        }
    }
}

/// The flusher thread: completes waiters until the log closes.
fn run_flusher(inner: &crate::wal::Inner) {
    let gc = &inner.gc;
    let mut st = gc.lock_state();
    loop {
        let done = ready_waiters(&mut st);
        if !done.is_empty() {
            drop(st);
            for (w, r) in done {
                w.complete(r);
            }
            st = gc.lock_state();
            continue;
        }
        if st.closed {
            return;
        }
        let Some(target) = st.waiters.iter().map(|w| w.lsn).max() else {
            st = gc.async_cv.wait(st).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let t = crate::state::Target::durable(target.min(st.last_lsn()), 0, st.cuts.len());
        st = match gc.wait(st, t) {
            Ok(g) => g,
            // The failure (or cut) is in the state now; the next pass
            // completes the waiters with it.
            Err(_) => gc.lock_state(),
        };
    }
}

/// Completes the waiters that can be completed now (no flusher thread).
fn run_once(inner: &crate::wal::Inner) {
    let done = ready_waiters(&mut inner.gc.lock_state());
    for (w, r) in done {
        w.complete(r);
    }
}

//! Group commit: many writers, one flusher at a time, one `fdatasync` per group.
//!
//! Protocol (in the spirit of raft-engine's write groups and RocksDB's write
//! leader):
//! - Appending stages a record in the shared buffer under `state` and returns;
//!   no I/O happens under that lock.
//! - A caller that needs its record written (or durable) becomes the *leader*
//!   if no flush is running: it takes the whole buffer, releases the lock,
//!   writes it with one `write` per segment and, if anyone waits for
//!   durability, one `fdatasync`, then publishes the new `written`/`durable`
//!   LSNs and wakes the waiters. Otherwise it waits; records staged meanwhile
//!   gather in the buffer for the next leader.
//! - Gathering: if the previous group served several `sync` callers, a new
//!   leader waits (at most `group_commit_delay`) until as many have arrived,
//!   so that writers just woken by the last flush join the next one. A lone
//!   writer (previous group of one) never waits.
//!
//! Invariants: at most one leader (`flushing`) at a time, and only the leader
//! touches the `Writer`; `durable <= written < next_lsn`; a failed write or
//! sync poisons the log for good, and no waiter whose record was in the failed
//! flush is told it succeeded.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::buffer::WriteBuffer;
use crate::error::{Error, Result};
use crate::stats::Counters;
use crate::writer::Writer;

/// Shared state of the log, under one mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub buffer: WriteBuffer,
    /// LSN the next appended record gets.
    pub next_lsn: u64,
    /// Every record up to here has been written to a segment file.
    pub written_lsn: u64,
    /// Every record up to here is durable.
    pub durable_lsn: u64,
    /// Highest LSN some caller wants durable.
    pub sync_target: u64,
    /// A leader is flushing (or a truncation holds the writer).
    pub flushing: bool,
    /// The leader is waiting for more `sync` callers.
    pub gathering: bool,
    /// `sync` callers not yet satisfied.
    pub syncers: u64,
    /// `sync` callers served by the previous durable flush.
    pub last_group: u64,
    /// Set by the first failed write or sync.
    pub poisoned: Option<(&'static str, std::io::ErrorKind)>,
    pub closed: bool,
}

impl State {
    pub fn check_usable(&self) -> Result<()> {
        if let Some((op, kind)) = self.poisoned {
            return Err(Error::Poisoned { op, kind });
        }
        if self.closed {
            return Err(Error::Closed);
        }
        Ok(())
    }
}

/// The group-commit machinery.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    pub state: Mutex<State>,
    /// Signalled when a flush ends (waiters check whether they are covered).
    flushed: Condvar,
    /// Signalled when a `sync` caller arrives while the leader gathers.
    arrived: Condvar,
    pub writer: Mutex<Writer>,
    pub delay: Duration,
    pub buffer_limit: u64,
    pub counters: std::sync::Arc<Counters>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the data consistent enough to
    // report errors; never propagate the poison as a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn op_of(e: &Error) -> (&'static str, std::io::ErrorKind) {
    match e {
        Error::Io { op, source, .. } => (op, source.kind()),
        _ => ("write", std::io::ErrorKind::Other),
    }
}

impl GroupCommit {
    pub fn new(
        state: State,
        writer: Writer,
        delay: Duration,
        buffer_limit: u64,
        counters: std::sync::Arc<Counters>,
    ) -> Self {
        GroupCommit {
            state: Mutex::new(state),
            flushed: Condvar::new(),
            arrived: Condvar::new(),
            writer: Mutex::new(writer),
            delay,
            buffer_limit,
            counters,
        }
    }

    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// After staging: writes the buffer out if it has grown past its limit.
    pub fn after_stage<'a>(&'a self, st: MutexGuard<'a, State>, lsn: u64) -> Result<()> {
        if st.buffer.staged_bytes() >= self.buffer_limit {
            self.wait(st, lsn, false).map(drop)
        } else {
            Ok(())
        }
    }

    /// Returns once record `target` is written (`durable == false`) or durable.
    pub fn wait<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        target: u64,
        durable: bool,
    ) -> Result<MutexGuard<'a, State>> {
        if durable {
            st.syncers += 1;
            st.sync_target = st.sync_target.max(target);
            if st.gathering {
                self.arrived.notify_one();
            }
        }
        let result = loop {
            if let Err(e) = st.check_usable() {
                break Err(e);
            }
            let done = if durable { st.durable_lsn >= target } else { st.written_lsn >= target };
            if done {
                break Ok(());
            }
            if st.flushing {
                st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let (guard, res) = self.lead(st);
            st = guard;
            if let Err(e) = res {
                break Err(e);
            }
        };
        if durable {
            st.syncers -= 1;
        }
        result.map(|()| st)
    }

    /// Flushes everything staged as the leader. Returns the state lock again.
    fn lead<'a>(&'a self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, Result<()>) {
        st.flushing = true;
        if st.sync_target > st.durable_lsn && st.last_group > 1 && !self.delay.is_zero() {
            let deadline = Instant::now() + self.delay;
            st.gathering = true;
            while st.syncers < st.last_group {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                st = self.arrived.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
            st.gathering = false;
        }
        let mut chunks = st.buffer.take();
        let upto = st.next_lsn - 1;
        let sync = st.sync_target > st.durable_lsn;
        let group = st.syncers;
        drop(st);
        let res = lock(&self.writer).write(&mut chunks, sync);
        let mut st = self.lock_state();
        st.buffer.recycle(chunks);
        st.flushing = false;
        let res = match res {
            Ok(written) => {
                debug_assert_eq!(written, upto, "the leader writes everything it took");
                st.written_lsn = upto;
                if sync {
                    st.durable_lsn = upto;
                    st.last_group = group;
                    self.counters.group_commits.fetch_add(1, Ordering::Relaxed);
                    self.counters.max_group.fetch_max(group, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                st.poisoned = Some(op_of(&e));
                Err(e)
            }
        };
        self.flushed.notify_all();
        (st, res)
    }

    /// Runs `f` with exclusive use of the writer, after everything staged has
    /// been written and synced. Appends keep staging meanwhile.
    pub fn exclusive<T>(&self, f: impl FnOnce(&mut State, &mut Writer) -> Result<T>) -> Result<T> {
        let st = self.lock_state();
        st.check_usable()?;
        let target = st.next_lsn - 1;
        let mut st = self.wait(st, target, true)?;
        while st.flushing {
            st = self.flushed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.check_usable()?;
        // Records staged since the sync above are flushed here too.
        let mut chunks = st.buffer.take();
        let mut writer = lock(&self.writer);
        let res = writer.write(&mut chunks, true).and_then(|written| {
            st.written_lsn = written;
            st.durable_lsn = written;
            f(&mut st, &mut writer)
        });
        st.buffer.recycle(chunks);
        if let Err(e) = &res {
            if matches!(e, Error::Io { .. }) {
                st.poisoned = Some(op_of(e));
            }
        }
        self.flushed.notify_all();
        res
    }
}

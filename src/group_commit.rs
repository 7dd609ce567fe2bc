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
//!   LSNs. Otherwise it waits; records staged meanwhile gather in the buffer
//!   for the next leader.
//! - Waking: a waiter sleeps on one of two condvars, chosen by the flush that
//!   will cover it: the one in flight (its record was taken) or the next one.
//!   A finished flush wakes exactly the waiters it covered, plus one waiter of
//!   the next group to lead it, rather than every thread (a thundering herd
//!   of dozens of threads on a small machine delays the next flush).
//! - Gathering (like PostgreSQL's `commit_delay`/`commit_siblings`): the log
//!   estimates how many `sync` callers are active (the last durable group
//!   plus those who queued behind it). A new leader that has fewer waiting
//!   for the next flush waits, at most `group_commit_delay` and at most half
//!   the last flush's duration, until that many have arrived, so writers
//!   woken by the last flush join the next one instead of splitting into
//!   alternating half-groups. A lone writer (an estimate of one) never waits.
//!   The caller that completes the group flushes it, and the leader, asleep,
//!   steps down: one wake-up fewer between two fsyncs.
//!
//! Invariants: at most one leader (`flushing`) at a time, and only the leader
//! touches the `Writer`; `durable <= written <= taken < next_lsn`; a waiter
//! whose record is in the flight in progress (`in_flight && target <= taken`)
//! sleeps on `turns[epoch % 2]`, any other on `turns[(epoch + 1) % 2]`, where
//! `epoch` counts buffer takes; a failed write or sync poisons the log for
//! good, and no waiter whose record was in the failed flush is told it
//! succeeded.

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
    /// A leader is flushing or gathering (or a truncation holds the writer).
    pub flushing: bool,
    /// The leader is waiting for more `sync` callers.
    gathering: bool,
    /// Gathers started so far, and the last one whose group was completed
    /// (and is flushed) by its last arrival rather than by its leader.
    gathers: u64,
    handed_over: u64,
    /// The leader has taken the buffer, up to `taken_lsn`, and is writing it.
    in_flight: bool,
    taken_lsn: u64,
    /// Buffer takes so far; picks the condvar a waiter sleeps on.
    epoch: u64,
    /// `sync` callers whose records the next flush will cover.
    next_syncers: u64,
    /// Estimated `sync` callers active at once (the gathering goal).
    active: u64,
    /// How long the last durable flush took (write and sync).
    flush_time: Duration,
    /// Threads asleep on each of the two condvars.
    asleep: [u64; 2],
    /// Set by the first failed write or sync.
    pub poisoned: Option<(&'static str, std::io::ErrorKind)>,
    pub closed: bool,
}

impl State {
    /// The state of a log whose records up to `last_lsn` are durable.
    pub fn new(buffer: WriteBuffer, last_lsn: u64) -> State {
        State {
            buffer,
            next_lsn: last_lsn + 1,
            written_lsn: last_lsn,
            durable_lsn: last_lsn,
            sync_target: last_lsn,
            flushing: false,
            gathering: false,
            gathers: 0,
            handed_over: 0,
            in_flight: false,
            taken_lsn: last_lsn,
            epoch: 0,
            next_syncers: 0,
            active: 1,
            flush_time: Duration::MAX,
            asleep: [0; 2],
            poisoned: None,
            closed: false,
        }
    }

    pub fn check_usable(&self) -> Result<()> {
        if let Some((op, kind)) = self.poisoned {
            return Err(Error::Poisoned { op, kind });
        }
        if self.closed {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Whether the flush in flight covers record `target`.
    fn in_flight_covers(&self, target: u64) -> bool {
        self.in_flight && target <= self.taken_lsn
    }

    /// The condvar slot for a waiter on record `target`.
    fn slot(&self, target: u64) -> usize {
        let epoch = if self.in_flight_covers(target) { self.epoch } else { self.epoch + 1 };
        (epoch % 2) as usize
    }
}

/// The group-commit machinery.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    pub state: Mutex<State>,
    /// Waiters, by the parity of the flush that will cover them.
    turns: [Condvar; 2],
    /// Signalled when enough `sync` callers have arrived while the leader gathers.
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
            turns: [Condvar::new(), Condvar::new()],
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

    /// Sleeps on `slot` until notified.
    fn sleep<'a>(&'a self, mut st: MutexGuard<'a, State>, slot: usize) -> MutexGuard<'a, State> {
        st.asleep[slot] += 1;
        st = self.turns[slot].wait(st).unwrap_or_else(|e| e.into_inner());
        st.asleep[slot] -= 1;
        st
    }

    /// Wakes every waiter on both condvars (after a failure or a truncation).
    fn wake_everyone(&self, st: &State) {
        for slot in 0..2 {
            if st.asleep[slot] > 0 {
                self.turns[slot].notify_all();
            }
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
            st.sync_target = st.sync_target.max(target);
            if target > st.durable_lsn && !st.in_flight_covers(target) {
                st.next_syncers += 1;
                if st.gathering && st.next_syncers >= st.active {
                    // The group is complete. This caller is running already:
                    // it flushes the group itself, and the gathering leader
                    // (asleep) steps down, instead of paying a wake-up on
                    // the path to the next fsync.
                    st.gathering = false;
                    st.handed_over = st.gathers;
                    let (guard, res) = self.flush(st);
                    st = guard;
                    res?;
                }
            }
        }
        loop {
            st.check_usable()?;
            let done = if durable { st.durable_lsn >= target } else { st.written_lsn >= target };
            if done {
                return Ok(st);
            }
            if st.flushing {
                let slot = st.slot(target);
                st = self.sleep(st, slot);
                continue;
            }
            let (guard, res) = self.lead(st);
            st = guard;
            res?;
        }
    }

    /// Waits until the next group has as many `sync` callers as are
    /// estimated active: at most `delay`, and at most half as long as the
    /// last durable flush took. Where waking writers is slow (many threads
    /// on few cores) a longer wait would idle the disk for longer than a
    /// bigger group saves; the stragglers then form the next group.
    /// Returns whether this leader still leads: the caller whose arrival
    /// completes the group flushes it instead (see `wait`).
    fn gather<'a>(&'a self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, bool) {
        if st.sync_target <= st.durable_lsn || st.next_syncers >= st.active || self.delay.is_zero() {
            return (st, true);
        }
        let deadline = Instant::now() + self.delay.min(st.flush_time / 2);
        st.gathers += 1;
        let id = st.gathers;
        st.gathering = true;
        // `handed_over` only grows, and a later gather can only start once this
        // one is over: `handed_over >= id` means this one was handed over.
        while st.next_syncers < st.active && st.handed_over < id {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self.arrived.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        if st.handed_over >= id {
            return (st, false);
        }
        st.gathering = false;
        (st, true)
    }

    /// Leads a flush of everything staged (unless the group it gathers is
    /// handed over). Returns the state lock again.
    fn lead<'a>(&'a self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, Result<()>) {
        st.flushing = true;
        let (st, leads) = self.gather(st);
        if !leads {
            return (st, Ok(()));
        }
        self.flush(st)
    }

    /// Takes the buffer and writes it, as the leader (`flushing` is set).
    fn flush<'a>(&'a self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, Result<()>) {
        let mut chunks = st.buffer.take();
        let upto = st.next_lsn - 1;
        let sync = st.sync_target > st.durable_lsn;
        let group = std::mem::take(&mut st.next_syncers);
        st.in_flight = true;
        st.taken_lsn = upto;
        st.epoch += 1;
        let slot = (st.epoch % 2) as usize;
        drop(st);
        let started = Instant::now();
        let res = lock(&self.writer).write(&mut chunks, sync);
        let took = started.elapsed();
        let mut st = self.lock_state();
        st.buffer.recycle(chunks);
        st.flushing = false;
        st.in_flight = false;
        let res = match res {
            Ok(written) => {
                debug_assert_eq!(written, upto, "the leader writes everything it took");
                st.written_lsn = upto;
                if sync {
                    st.durable_lsn = upto;
                    // Those who queued during this flush were active too.
                    st.active = (group + st.next_syncers).max(1);
                    st.flush_time = took;
                    self.counters.group_commits.fetch_add(1, Ordering::Relaxed);
                    self.counters.max_group.fetch_max(group, Ordering::Relaxed);
                }
                let (covered, next) = (st.asleep[slot] > 0, st.asleep[1 - slot] > 0);
                // Wake after unlocking: the woken need the lock at once, and
                // finding it held would put each to sleep a second time.
                drop(st);
                if covered {
                    self.turns[slot].notify_all();
                }
                // One waiter of the next group leads it.
                if next {
                    self.turns[1 - slot].notify_one();
                }
                return (self.lock_state(), Ok(()));
            }
            Err(e) => {
                st.poisoned = Some(op_of(&e));
                self.wake_everyone(&st);
                Err(e)
            }
        };
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
            let slot = st.slot(u64::MAX);
            st = self.sleep(st, slot);
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
        st.taken_lsn = st.written_lsn;
        self.wake_everyone(&st);
        res
    }
}

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
//! - Truncations (`truncate_after`, `reset`) take the writer exclusively,
//!   after flushing everything, and record the LSN they cut back to. A
//!   waiter whose record was cut meanwhile gets `Error::Truncated`: its
//!   target may lie beyond the new last LSN, or be reused by a new record.
//!
//! Invariants: at most one leader (`flushing`) at a time, and only the leader
//! touches the `Writer`; `durable <= written <= taken < next_lsn`; a waiter
//! whose record is in the flight in progress (`in_flight && target <= taken`)
//! sleeps on `turns[epoch % 2]`, any other on `turns[(epoch + 1) % 2]`, where
//! `epoch` counts buffer takes; a failed write or sync poisons the log for
//! good, and no waiter whose record was in the failed flush is told it
//! succeeded.
//!
//! Why every wait ends: a waiter sleeps only while a flush is running (its
//! leader wakes the waiters it covered and one waiter of the next group, or
//! everyone after a failure or a truncation); otherwise it leads a flush
//! itself, which covers every LSN staged, so its target is written when the
//! flush returns, unless it was cut (checked on every pass) or the log
//! failed. A gathering leader sleeps at most until its deadline.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::segments::SegmentSet;
use crate::state::{State, Target};
use crate::stats::Counters;
use crate::writer::Writer;

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
    pub counters: Arc<Counters>,
    pub segments: Arc<Mutex<SegmentSet>>,
    /// Signalled when a flush completes or a waiter is added, for the
    /// flusher thread of asynchronous waiters (`durable.rs`).
    pub async_cv: Condvar,
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
        counters: Arc<Counters>,
        segments: Arc<Mutex<SegmentSet>>,
    ) -> Self {
        GroupCommit {
            state: Mutex::new(state),
            turns: [Condvar::new(), Condvar::new()],
            arrived: Condvar::new(),
            writer: Mutex::new(writer),
            delay,
            buffer_limit,
            counters,
            segments,
            async_cv: Condvar::new(),
        }
    }

    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// After staging: writes the buffer out if it has grown past its limit.
    pub fn after_stage<'a>(&'a self, st: MutexGuard<'a, State>, lsn: u64) -> Result<()> {
        if st.buffer.staged_bytes() >= self.buffer_limit {
            let since = st.cuts.len();
            self.wait(st, Target::written(lsn, since)).map(drop)
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

    /// Wakes every waiter on both condvars (after a failure or a
    /// truncation), a gathering leader, and the flusher thread.
    pub fn wake_everyone(&self, st: &State) {
        for slot in 0..2 {
            if st.asleep[slot] > 0 {
                self.turns[slot].notify_all();
            }
        }
        self.arrived.notify_all();
        self.async_cv.notify_all();
    }

    /// Returns once target `t` is written or durable, as it asks. A record
    /// cut since `t.since` fails with `Error::Truncated`.
    pub fn wait<'a>(&'a self, mut st: MutexGuard<'a, State>, t: Target) -> Result<MutexGuard<'a, State>> {
        if t.durable {
            st.sync_target = st.sync_target.max(t.lsn);
            st.meta_target = st.meta_target.max(t.meta);
            if !st.is_durable(t) && !st.in_flight_covers(t) {
                st.next_syncers += 1;
                if st.gathering && st.next_syncers >= st.active {
                    // The group is complete. This caller is running already:
                    // it flushes the group itself, and the gathering leader
                    // steps down (woken to return), instead of paying a
                    // wake-up on the path to the next fsync.
                    st.gathering = false;
                    st.handed_over = st.gathers;
                    self.arrived.notify_all();
                    let (guard, res) = self.flush(st);
                    st = guard;
                    res?;
                }
            }
        }
        loop {
            st.check_not_cut(t.lsn, t.since)?;
            st.check_usable()?;
            let done = if t.durable { st.is_durable(t) } else { st.written_lsn >= t.lsn };
            if done {
                return Ok(st);
            }
            if st.flushing {
                let slot = st.slot(t);
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
        let upto = st.next_lsn - 1;
        let sync = st.sync_target > st.durable_lsn
            || st.meta_target > st.meta_durable
            || st.waiters.iter().any(|w| w.lsn > st.durable_lsn);
        if sync {
            st.prepare_sync(&self.segments);
        }
        let mut chunks = st.buffer.take();
        let meta_taken = st.meta_staged;
        let group = std::mem::take(&mut st.next_syncers);
        st.in_flight = true;
        st.taken_lsn = upto;
        st.taken_meta = meta_taken;
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
                    st.meta_durable = st.meta_durable.max(meta_taken);
                    // Those who queued during this flush were active too.
                    st.active = (group + st.next_syncers).max(1);
                    st.flush_time = took;
                    self.counters.group_commits.fetch_add(1, Ordering::Relaxed);
                    self.counters.max_group.fetch_max(group, Ordering::Relaxed);
                }
                let (covered, next) = (st.asleep[slot] > 0, st.asleep[1 - slot] > 0);
                let waiters = sync && !st.waiters.is_empty();
                // Wake after unlocking: the woken need the lock at once, and
                // finding it held would put each to sleep a second time.
                drop(st);
                if waiters {
                    self.async_cv.notify_all();
                }
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
    /// been written and synced, holding the state lock throughout (appends
    /// wait: truncations are rare, and what `f` does must not interleave with
    /// staging). Wakes every waiter afterwards, since `f` may have cut their
    /// records.
    pub fn exclusive<T>(&self, f: impl FnOnce(&mut State, &mut Writer) -> Result<T>) -> Result<T> {
        let st = self.lock_state();
        st.check_usable()?;
        let t = Target::durable(st.last_lsn(), st.meta_staged, st.cuts.len());
        let mut st = self.wait(st, t)?;
        while st.flushing {
            let slot = st.slot(Target::durable(u64::MAX, 0, 0));
            st = self.sleep(st, slot);
        }
        st.check_usable()?;
        // Records staged since the sync above are flushed here too.
        st.prepare_sync(&self.segments);
        let mut chunks = st.buffer.take();
        let mut writer = lock(&self.writer);
        let res = writer.write(&mut chunks, true).and_then(|written| {
            st.written_lsn = written;
            st.durable_lsn = written;
            st.meta_durable = st.meta_staged;
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

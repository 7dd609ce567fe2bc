//! The log's shared state, under the group commit's one mutex: the write
//! buffer, the LSN positions, the metadata and purge point, the history of
//! cuts, and the callers waiting asynchronously for durability.
//!
//! Invariants: `first_lsn <= next_lsn`; `durable_lsn <= written_lsn <
//! next_lsn`; `metas` and `first_lsn` are what the records staged so far say
//! (a meta record is staged in the same critical section that changes them);
//! `cuts[e]` is the LSN that cut number `e + 1` cut back to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::buffer::{Sealed, WriteBuffer};
use crate::durable::Waiter;
use crate::error::{Error, Result};
use crate::meta::MetaRecord;
use crate::segments::SegmentSet;
use crate::Lsn;

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
    pub gathering: bool,
    /// Gathers started so far, and the last one whose group was completed
    /// (and is flushed) by its last arrival rather than by its leader.
    pub gathers: u64,
    pub handed_over: u64,
    /// The leader has taken the buffer, up to `taken_lsn`, and is writing it.
    pub in_flight: bool,
    pub taken_lsn: u64,
    /// Buffer takes so far; picks the condvar a waiter sleeps on.
    pub epoch: u64,
    /// `sync` callers whose records the next flush will cover.
    pub next_syncers: u64,
    /// Estimated `sync` callers active at once (the gathering goal).
    pub active: u64,
    /// How long the last durable flush took (write and sync).
    pub flush_time: Duration,
    /// Threads asleep on each of the two condvars.
    pub asleep: [u64; 2],
    /// Set by the first failed write or sync.
    pub poisoned: Option<(&'static str, std::io::ErrorKind)>,
    pub closed: bool,
    /// The log's metadata, and the bytes it occupies as entries.
    pub metas: BTreeMap<Bytes, Bytes>,
    pub meta_size: u64,
    /// The purge point: the first LSN of the log.
    pub first_lsn: u64,
    /// The LSN each cut (truncate_after, reset) cut back to, in order.
    pub cuts: Vec<u64>,
    /// Callers waiting for durability without a thread (`on_durable`, `wait_durable`).
    pub waiters: Vec<Waiter>,
    /// Meta records staged so far, taken by the flush in flight, durable,
    /// and the highest some caller wants durable: a meta record takes no LSN,
    /// so its durability is counted apart.
    pub meta_staged: u64,
    pub taken_meta: u64,
    pub meta_durable: u64,
    pub meta_target: u64,
}

/// What a caller of `GroupCommit::wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Every record up to this LSN ...
    pub lsn: u64,
    /// ... and every meta record up to this count ...
    pub meta: u64,
    /// ... durable (else only written).
    pub durable: bool,
    /// Cuts that had happened when the caller staged its record.
    pub since: usize,
}

impl Target {
    /// Record `lsn` written to its file (not necessarily durable).
    pub fn written(lsn: u64, since: usize) -> Target {
        Target { lsn, meta: 0, durable: false, since }
    }

    /// Every record up to `lsn` and every meta record up to `meta` durable.
    pub fn durable(lsn: u64, meta: u64, since: usize) -> Target {
        Target { lsn, meta, durable: true, since }
    }
}

impl State {
    /// The state of a log whose records up to `last_lsn` are durable.
    pub fn new(buffer: WriteBuffer, last_lsn: u64, first_lsn: u64, metas: BTreeMap<Bytes, Bytes>) -> State {
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
            meta_size: crate::meta::entries_size(&metas),
            metas,
            first_lsn,
            cuts: Vec::new(),
            waiters: Vec::new(),
            meta_staged: 0,
            taken_meta: 0,
            meta_durable: 0,
            meta_target: 0,
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

    /// The last LSN appended.
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    /// An `LsnOutOfRange` error for `lsn` against the log's current range.
    pub fn out_of_range(&self, lsn: Lsn) -> Error {
        Error::LsnOutOfRange { lsn, first: Lsn::new(self.first_lsn), last: Lsn::new(self.last_lsn()) }
    }

    /// Whether target `t` is durable.
    pub fn is_durable(&self, t: Target) -> bool {
        self.durable_lsn >= t.lsn && self.meta_durable >= t.meta
    }

    /// Whether the flush in flight covers target `t`.
    pub fn in_flight_covers(&self, t: Target) -> bool {
        self.in_flight && t.lsn <= self.taken_lsn && t.meta <= self.taken_meta
    }

    /// The condvar slot for a waiter on target `t`.
    pub fn slot(&self, t: Target) -> usize {
        let epoch = if self.in_flight_covers(t) { self.epoch } else { self.epoch + 1 };
        (epoch % 2) as usize
    }

    /// The lowest LSN any cut since cut number `since` cut back to.
    pub fn lowest_cut_since(&self, since: usize) -> Option<u64> {
        self.cuts.get(since..).and_then(|c| c.iter().min().copied())
    }

    /// Fails with [`Error::Truncated`] if record `lsn`, staged when
    /// `since` cuts had happened, was cut since.
    pub fn check_not_cut(&self, lsn: u64, since: usize) -> Result<()> {
        match self.lowest_cut_since(since) {
            Some(c) if lsn > c => Err(Error::Truncated { lsn: Lsn::new(lsn) }),
            _ => Ok(()),
        }
    }

    /// A snapshot of the metadata and purge point, as a new segment starts with.
    pub fn snapshot(&self) -> MetaRecord {
        MetaRecord::snapshot(&self.metas, self.first_lsn)
    }

    /// Records a rotation the buffer staged in the segment set.
    pub fn note_sealed(segments: &Mutex<SegmentSet>, sealed: Option<Sealed>) {
        if let Some(s) = sealed {
            let last = s.next_first_lsn - 1;
            crate::lock(segments).seal(s.id, last, s.offsets, s.next, s.next_first_lsn);
        }
    }

    /// Before a take that syncs: lets the buffer add parity (or rotate).
    pub fn prepare_sync(&mut self, segments: &Arc<Mutex<SegmentSet>>) {
        let State { buffer, metas, first_lsn, next_lsn, .. } = self;
        let snap = || MetaRecord::snapshot(metas, *first_lsn);
        let sealed = buffer.prepare_sync(*next_lsn - 1, snap);
        State::note_sealed(segments, sealed);
    }
}

//! Reading records by LSN: one record (`read`) or a range (`Iter`), for an
//! open `Wal` and for the offline `Reader` alike.
//!
//! Every record is found through an offset index (O(1) per LSN), read with
//! `pread` (a range in large blocks whose slices become the payloads, so a
//! payload is never copied twice), and validated as it is read: both
//! checksums, its LSN and, along a range, the hash chain. Reads never sync.
//! An iterator of an open log checks, before it yields each record, that no
//! truncation removed it meanwhile; if one did, it ends with
//! `Error::Truncated` rather than yield a record that is no longer part of
//! the log.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;

use crate::ahead::{next_start, ReadAhead};
use crate::error::{CorruptionReason, Error, Result};
use crate::format::{RECORD_HEADER_LEN, REC_LEN_OFF};
use crate::record::{decode_salted, decode_slice, RecordKind, Salted};
use crate::segments::{Offsets, SegmentFile};
use crate::wal::Inner;
use crate::{Lsn, SegmentId};

/// Blocks an iterator reads in a row, each continuing the last in the same
/// segment, before it starts a read-ahead thread: short ranges never pay
/// for one.
const AHEAD_AFTER: u32 = 2;

/// Largest block read ahead, in read blocks: a larger record (or a damaged
/// length field naming one) is read when it is needed, not on a guess.
const AHEAD_MAX_BLOCKS: usize = 16;

/// How an iterator reads ([`crate::Options::read_block_size`] and
/// [`crate::Options::read_ahead`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadPlan {
    /// Bytes read at once.
    pub block: usize,
    /// Whether a long scan reads ahead on a helper thread.
    pub ahead: bool,
}

impl ReadPlan {
    /// The plan `opts` configure.
    pub fn of(opts: &crate::Options) -> ReadPlan {
        ReadPlan { block: opts.read_block_size as usize, ahead: opts.read_ahead }
    }
}

/// One record read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    lsn: Lsn,
    payload: Bytes,
    kind: RecordKind,
    segment: SegmentId,
    offset: u64,
    checksum: u32,
}

impl Record {
    /// The record's LSN.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// assert_eq!(wal.read(lsn)?.lsn(), lsn);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The payload (a slice of the block it was read in: no copy).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"hello")?;
    /// assert_eq!(wal.read(lsn)?.payload().as_ref(), b"hello");
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"hello")?;
    /// let bytes: seawall::Bytes = wal.read(lsn)?.into_payload();
    /// assert_eq!(bytes.len(), 5);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The record's role in an atomic batch.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsns = wal.append_batch([&b"a"[..], b"b"])?;
    /// assert_eq!(wal.read(*lsns.end())?.kind(), seawall::RecordKind::BatchLast);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The segment holding the record.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// assert_eq!(wal.read(lsn)?.segment(), seawall::SegmentId::new(1));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// Byte offset of the record header within its segment file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// assert!(wal.read(lsn)?.offset() >= 64);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The record checksum stored on disk.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// let r = wal.read(lsn)?;
    /// assert_eq!(r.checksum(), wal.read(lsn)?.checksum());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn checksum(&self) -> u32 {
        self.checksum
    }
}

impl Record {
    /// A record found outside the log's index (`forensic.rs`), already
    /// validated by its finder.
    pub(crate) fn found(
        lsn: u64,
        payload: Bytes,
        kind: RecordKind,
        segment: SegmentId,
        offset: u64,
        checksum: u32,
    ) -> Record {
        Record { lsn: Lsn::new(lsn), payload, kind, segment, offset, checksum }
    }
}

/// The records of one segment an iterator covers.
#[derive(Debug, Clone)]
pub(crate) struct ReadSpan {
    pub file: Arc<SegmentFile>,
    pub salt: u64,
    /// LSN of the segment's first record (the index's base).
    pub seg_first: u64,
    /// Last LSN of the segment the iterator may read.
    pub last: u64,
    pub offsets: Offsets,
}

/// Validates and decodes the record `lsn` whose bytes (header and payload)
/// are `block[at..]`, read from offset `off` of `file`. Returns it with the
/// checksum it names as its predecessor's.
fn decode_at(block: &Bytes, at: usize, file: &SegmentFile, salt: u64, off: u64, lsn: u64) -> Result<(Record, u32)> {
    let fail = |reason| Error::Corruption { segment: file.id, offset: off, lsn: Lsn::new(lsn), reason };
    let r = decode_slice(&block[at..], off as usize, salt).map_err(|_| fail(CorruptionReason::BadChecksum))?;
    if r.lsn != lsn || !r.kind.takes_lsn() {
        return Err(fail(CorruptionReason::LsnMismatch));
    }
    let start = at + r.payload_start;
    let rec = Record {
        lsn: Lsn::new(lsn),
        payload: block.slice(start..start + r.payload_len),
        kind: r.kind,
        segment: file.id,
        offset: off,
        checksum: r.crc,
    };
    Ok((rec, r.prev_crc))
}

/// The size of the record at `off`: from the next offset when known, else
/// from its header. Bounded by the file's capacity.
fn record_len(file: &SegmentFile, off: u64, next: Option<u64>) -> Result<usize> {
    if let Some(n) = next.filter(|&n| n > off) {
        return Ok((n - off) as usize);
    }
    let size = file.file.len().map_err(|e| Error::io("stat", &file.path, e))?;
    if off + RECORD_HEADER_LEN as u64 > size {
        return Ok(size.saturating_sub(off) as usize);
    }
    let head = file.read(off, RECORD_HEADER_LEN)?;
    let len = u32::from_le_bytes(head[REC_LEN_OFF..REC_LEN_OFF + 4].try_into().expect("4 bytes")) as u64;
    Ok((RECORD_HEADER_LEN as u64 + len).min(file.capacity.saturating_sub(off)) as usize)
}

/// Reads and validates record `lsn` at `off` of `file`.
pub(crate) fn read_one(file: &SegmentFile, salt: u64, off: u64, next: Option<u64>, lsn: u64) -> Result<Record> {
    let size = file.file.len().map_err(|e| Error::io("stat", &file.path, e))?;
    let len = record_len(file, off, next)?.min(size.saturating_sub(off) as usize);
    let block = Bytes::from(file.read(off, len)?);
    decode_at(&block, 0, file, salt, off, lsn).map(|(r, _)| r)
}

/// The inclusive LSN range `r` selects within `first..=last`, or the error
/// for a bound outside the log. An empty range is allowed at `last + 1`.
pub(crate) fn resolve(r: impl RangeBounds<Lsn>, first: u64, last: u64) -> Result<(u64, u64)> {
    let out = |lsn: u64| Error::LsnOutOfRange { lsn: Lsn::new(lsn), first: Lsn::new(first), last: Lsn::new(last) };
    let from = match r.start_bound() {
        Bound::Included(l) => l.get(),
        Bound::Excluded(l) => l.get().saturating_add(1),
        Bound::Unbounded => first,
    };
    let to = match r.end_bound() {
        Bound::Included(l) => l.get(),
        Bound::Excluded(l) => l.get().saturating_sub(1),
        Bound::Unbounded => last,
    };
    if from < first || from > last + 1 {
        return Err(out(from));
    }
    if to > last {
        return Err(out(to));
    }
    Ok((from, to))
}

/// Streams records in LSN order across segments. Yields `Err` once (and then
/// stops) if a record no longer validates, or (for an open log) a
/// truncation removed it.
///
/// It reads each segment sequentially in large blocks, skipping the records
/// the log writes for itself, and looks an LSN up in the index only where
/// the sequence breaks (the first record, and after the dead bytes of a cut).
#[derive(Debug)]
pub struct Iter {
    spans: VecDeque<ReadSpan>,
    next: u64,
    end: u64,
    block: Bytes,
    /// Segment and file offset of `block[0]`.
    block_at: (SegmentId, u64),
    /// Where the next record should start, if the sequence holds.
    pos: Option<u64>,
    prev_crc: Option<u32>,
    live: Option<(Arc<Inner>, usize)>,
    /// The LSN at which the spans were last taken anew (once per record).
    refreshed: Option<u64>,
    /// The front span's salt, hashed.
    salted: (u64, Salted),
    failed: bool,
    plan: ReadPlan,
    /// Blocks read in a row, each continuing the one before.
    streak: u32,
    /// The read-ahead of a long scan, once started.
    ahead: Option<ReadAhead>,
}

impl Iter {
    /// An iterator over LSNs `from..=to` of `spans` (in order). With `live`,
    /// every record is checked to be still in the open log.
    pub(crate) fn new(
        spans: Vec<ReadSpan>,
        from: u64,
        to: u64,
        live: Option<(Arc<Inner>, usize)>,
        plan: ReadPlan,
    ) -> Iter {
        Iter {
            spans: spans.into(),
            next: from,
            end: to,
            block: Bytes::new(),
            block_at: (SegmentId::new(0), 0),
            pos: None,
            prev_crc: None,
            live,
            refreshed: None,
            salted: (0, Salted::new(0)),
            failed: false,
            plan,
            streak: 0,
            ahead: None,
        }
    }

    /// Makes `block` hold bytes `off..off + need` of `file` (reading a large
    /// block from `off`, or taking the one read ahead from there); returns
    /// where they start in it.
    fn ensure(&mut self, file: &Arc<SegmentFile>, off: u64, need: usize) -> Result<usize> {
        let (seg, at) = self.block_at;
        if seg == file.id && off >= at && off + need as u64 <= at + self.block.len() as u64 {
            return Ok((off - at) as usize);
        }
        let continues = seg == file.id && off >= at && off <= at + self.block.len() as u64;
        self.streak = if continues { self.streak + 1 } else { 0 };
        // The last block's memory is reused when no payload sliced from it
        // is still alive (the caller dropped its records): a fresh block
        // would cost an allocation, its zeroing and cold cache lines.
        // Payloads still alive keep their block, which is never written again.
        let mut spare = std::mem::take(&mut self.block).try_into_mut().ok();
        // Forget the old position first: if the read fails, `block` is empty.
        self.block_at = (SegmentId::new(0), 0);
        let taken = self.ahead.as_mut().and_then(|a| a.take(file, off, need));
        let from_ahead = taken.is_some();
        let buf = match taken {
            Some(buf) => {
                if let Some((inner, _)) = &self.live {
                    inner.counters.blocks_read_ahead.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                buf
            }
            None => {
                let len = file.file.len().map_err(|e| Error::io("stat", &file.path, e))?;
                // A damaged length field may reach past the file: read what
                // there is, and let the record's checksum fail.
                let want = (self.plan.block as u64).max(need as u64).min(len.saturating_sub(off)) as usize;
                let mut buf = spare.take().unwrap_or_default();
                buf.resize(want, 0);
                match file.read_into(off, &mut buf) {
                    // The block read ahead may reach an unreadable range (a
                    // latent sector error) that this record does not touch:
                    // read only what it needs, so that only the reads
                    // touching the range fail.
                    Err(Error::Io { .. }) if want > need => {
                        buf.truncate((need as u64).min(len.saturating_sub(off)) as usize);
                        file.read_into(off, &mut buf)?;
                    }
                    res => res?,
                }
                buf
            }
        };
        self.block = buf.freeze();
        self.block_at = (file.id, off);
        if self.plan.ahead && self.ahead.is_none() && self.streak == AHEAD_AFTER {
            self.ahead = ReadAhead::start();
        }
        if let Some(ahead) = &mut self.ahead {
            if let Some(spare) = spare {
                ahead.recycle(spare);
            }
            if !from_ahead {
                // The stream (re)starts at the first record this block does
                // not hold whole.
                let (rel, size, _) = next_start(&self.block);
                let max = AHEAD_MAX_BLOCKS * self.plan.block;
                ahead.stream(file, off + rel as u64, size, self.plan.block, max);
            }
        }
        Ok(0)
    }

    /// The record at `off` of the front span, if it decodes: `(record, the
    /// checksum it names as its predecessor's, its size)`, or `None` for
    /// bytes that are not a record of this segment.
    fn record_at(&mut self, span: &ReadSpan, off: u64) -> Result<Option<(crate::record::RawRecord, usize)>> {
        let at = self.ensure(&span.file, off, RECORD_HEADER_LEN)?;
        if self.block.len() < at + RECORD_HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.block[at + REC_LEN_OFF..at + REC_LEN_OFF + 4].try_into().expect("4 bytes"));
        let size = crate::format::record_size(u64::from(len)).min(span.file.capacity.saturating_sub(off)) as usize;
        let at = self.ensure(&span.file, off, size.max(RECORD_HEADER_LEN))?;
        if self.salted.0 != span.salt {
            self.salted = (span.salt, Salted::new(span.salt));
        }
        Ok(decode_salted(&self.block[at..], off as usize, &self.salted.1).ok().map(|r| (r, at)))
    }

    /// The next record; for a live iterator whose spans went stale (a
    /// truncation rewrote or removed a segment it had planned to read),
    /// once more from spans taken anew.
    fn next_record(&mut self) -> Result<Option<Record>> {
        match self.next_from_spans() {
            Err(e) if self.live.is_some() && self.refreshed != Some(self.next) => {
                self.refreshed = Some(self.next);
                if !self.respan()? {
                    return Err(e);
                }
                self.next_from_spans()
            }
            res => res,
        }
    }

    /// Replaces the spans of a live iterator with the log's current ones
    /// from the next LSN on. Returns whether the log still holds that record
    /// as it did (else the caller's error stands, or a truncation removed it).
    fn respan(&mut self) -> Result<bool> {
        let Some((inner, since)) = self.live.clone() else { return Ok(false) };
        let st = inner.gc.lock_state();
        st.check_not_cut(self.next, since)?;
        if self.next < st.first_lsn {
            return Err(Error::Truncated { lsn: Lsn::new(self.next) });
        }
        let to = self.end.min(st.last_lsn());
        if self.next > to {
            return Ok(false);
        }
        self.spans = live_spans(&inner, st, self.next, to, since)?.into();
        if let Some(ahead) = &mut self.ahead {
            ahead.stop();
        }
        self.pos = None;
        self.block = Bytes::new();
        self.block_at = (SegmentId::new(0), 0);
        Ok(true)
    }

    fn next_from_spans(&mut self) -> Result<Option<Record>> {
        if self.next > self.end {
            return Ok(None);
        }
        let lsn = self.next;
        if let Some(rec) = self.next_in_block(lsn) {
            return Ok(Some(rec));
        }
        while self.spans.front().is_some_and(|s| lsn > s.last) {
            self.spans.pop_front();
            self.pos = None;
        }
        if self.spans.front().is_none_or(|s| s.seg_first > lsn) {
            return Err(Error::Truncated { lsn: Lsn::new(lsn) });
        }
        // The span is taken out while its record is read (`record_at` needs
        // `self` mutably) and put back after, whatever the result: no
        // reference count is touched per record.
        let span = self.spans.pop_front().expect("checked above");
        let res = self.next_in_span(&span, lsn);
        self.spans.push_front(span);
        res
    }

    /// The common case of a scan, without moving the span or reading: record
    /// `lsn` follows the last one in the front span, lies whole in the block
    /// already read, and passes every check [`Iter::next_in_span`] makes.
    /// `None` leaves everything else, errors included, to the general path,
    /// which checks the same record again.
    #[inline]
    fn next_in_block(&mut self, lsn: u64) -> Option<Record> {
        let off = self.pos?;
        let span = self.spans.front()?;
        let (seg, block_off) = self.block_at;
        if lsn > span.last || seg != span.file.id || off < block_off || self.salted.0 != span.salt {
            return None;
        }
        let at = usize::try_from(off - block_off).ok()?;
        let r = decode_salted(self.block.get(at..)?, off as usize, &self.salted.1).ok()?;
        if !r.kind.takes_lsn() || r.lsn != lsn || self.prev_crc.is_some_and(|p| p != r.prev_crc) {
            return None;
        }
        if let Some((inner, since)) = &self.live {
            inner.check_still_in_log(lsn, *since).ok()?;
        }
        let segment = span.file.id;
        Some(self.accept(segment, off, at, &r))
    }

    /// Yields record `r`, which passed every check and lies at `block[at..]`,
    /// offset `off` of `segment`: its payload is a slice of the block, and
    /// the scan goes on after it.
    #[inline]
    fn accept(&mut self, segment: SegmentId, off: u64, at: usize, r: &crate::record::RawRecord) -> Record {
        let start = at + r.payload_start;
        self.prev_crc = Some(r.crc);
        self.pos = Some(off + r.next as u64);
        self.next = r.lsn + 1;
        Record {
            lsn: Lsn::new(r.lsn),
            payload: self.block.slice(start..start + r.payload_len),
            kind: r.kind,
            segment,
            offset: off,
            checksum: r.crc,
        }
    }

    /// The record `lsn` from `span`, the front span, which holds it.
    fn next_in_span(&mut self, span: &ReadSpan, lsn: u64) -> Result<Option<Record>> {
        let fail = |off, reason| Error::Corruption { segment: span.file.id, offset: off, lsn: Lsn::new(lsn), reason };
        loop {
            let (off, sequential) = match self.pos {
                Some(p) => (p, true),
                None => match span.offsets.lookup(&span.file, lsn - span.seg_first)? {
                    Some((o, _)) => (o, false),
                    None => return Err(Error::Truncated { lsn: Lsn::new(lsn) }),
                },
            };
            match self.record_at(span, off)? {
                Some((r, at)) if r.kind.takes_lsn() && r.lsn == lsn => {
                    if self.prev_crc.is_some_and(|p| p != r.prev_crc) {
                        return Err(fail(off, CorruptionReason::ChainMismatch));
                    }
                    if let Some((inner, since)) = &self.live {
                        inner.check_still_in_log(lsn, *since)?;
                    }
                    return Ok(Some(self.accept(span.file.id, off, at, &r)));
                }
                // Records the log writes for itself sit between the records.
                Some((r, _)) if sequential && !r.kind.takes_lsn() && r.kind != RecordKind::Seal => {
                    self.pos = Some(off + r.next as u64);
                }
                // The sequence broke (dead bytes of a cut, the seal): ask the index.
                _ if sequential => self.pos = None,
                Some(_) => return Err(fail(off, CorruptionReason::LsnMismatch)),
                None => return Err(fail(off, CorruptionReason::BadChecksum)),
            }
        }
    }
}

impl Iterator for Iter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.failed {
            return None;
        }
        // The common case of a scan first, without the general path's moves.
        if self.next <= self.end {
            if let Some(rec) = self.next_in_block(self.next) {
                return Some(Ok(rec));
            }
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                // A record that fails to read may have been cut under us:
                // say so rather than call the log corrupt.
                let e = match (&self.live, e) {
                    (Some((inner, since)), e @ Error::Corruption { .. }) => {
                        inner.check_still_in_log(self.next, *since).err().unwrap_or(e)
                    }
                    (_, e) => e,
                };
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The spans of an open log holding LSNs `from..=to` (which the caller
/// checked against the log's bounds under `st`), once they are written. The
/// segment set is read before the state lock is let go: no rotation or
/// truncation can come between the two, so the spans are one consistent
/// view.
fn live_spans<'a>(
    inner: &'a Inner,
    mut st: std::sync::MutexGuard<'a, crate::state::State>,
    from: u64,
    to: u64,
    since: usize,
) -> Result<Vec<ReadSpan>> {
    if to > st.written_lsn {
        st = inner.gc.wait(st, crate::state::Target::written(to, since))?;
    }
    let seg = st.buffer.seg.clone_upto(to);
    let segs = crate::lock(&inner.segments);
    drop(st);
    let mut spans = segs.spans(from, to);
    if let Some((seg_first, offsets)) = seg.filter(|(first, _)| to >= *first) {
        let e = segs.entries().iter().rev().find(|e| e.first_lsn == seg_first && e.last_lsn.is_none());
        if let Some(e) = e {
            let file = e.handle().expect("written");
            spans.push(ReadSpan { file, salt: e.salt, seg_first, last: to, offsets: Offsets::Known(offsets) });
        }
    }
    Ok(spans)
}

impl crate::wal::Wal {
    /// Reads record `lsn` in O(1) through the offset index, validating its
    /// checksums. Never syncs: a record appended but not yet written is
    /// written (without a sync) first. Fails with [`Error::LsnOutOfRange`]
    /// outside `first_lsn()..=last_lsn()`, with [`Error::Truncated`] if a
    /// truncation removed the record while it was being read, and with
    /// [`Error::Poisoned`] once a write or sync has failed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"hello")?;
    /// assert_eq!(wal.read(lsn)?.payload().as_ref(), b"hello");
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn read(&self, lsn: Lsn) -> Result<Record> {
        let inner = &self.inner;
        let mut st = inner.gc.lock_state();
        // A failed call may have left the state half changed (a failed
        // `reset` its new first LSN): a poisoned log reads nothing.
        st.check_usable()?;
        if lsn.get() < st.first_lsn || lsn.get() > st.last_lsn() {
            return Err(st.out_of_range(lsn));
        }
        let since = st.cuts.len();
        if lsn.get() > st.written_lsn {
            st = inner.gc.wait(st, crate::state::Target::written(lsn.get(), since))?;
        }
        // Where the record lies is settled under the state lock, which
        // truncations hold: a sealed segment's index on disk is cleared when
        // `truncate_after` cuts inside it.
        let seg = &st.buffer.seg;
        let segs = crate::lock(&inner.segments);
        let at = if lsn.get() >= seg.first_lsn {
            let i = (lsn.get() - seg.first_lsn) as usize;
            let (off, next) = (u64::from(seg.offsets[i]), seg.offsets.get(i + 1).map(|&o| u64::from(o)));
            let e = segs.entries().last().expect("an active segment");
            Some((e.handle().expect("written records have a file"), e.salt, off, next))
        } else {
            segs.locate_sealed(lsn.get())?.map(|l| (l.file, l.salt, l.offset, l.next))
        };
        drop(segs);
        drop(st);
        let res = match at {
            Some((file, salt, off, next)) => read_one(&file, salt, off, next, lsn.get()),
            None => Err(Error::Truncated { lsn }),
        };
        match res {
            Ok(r) => inner.check_still_in_log(lsn.get(), since).map(|()| r),
            Err(e) => Err(inner.check_still_in_log(lsn.get(), since).err().unwrap_or(e)),
        }
    }

    /// Iterates over the records in `range` (any range of [`Lsn`]s; an open
    /// end stops at the last record appended when the call is made). Never
    /// syncs; records not yet written are written (without a sync) first.
    /// Payloads are slices of large reads: no copy per record. Fails with
    /// [`Error::Poisoned`] once a write or sync has failed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use seawall::Lsn;
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for p in [b"a", b"b", b"c", b"d"] { wal.append(p)?; }
    /// let lsns: Vec<u64> = wal.range(Lsn::new(2)..Lsn::new(4))?.map(|r| r.map(|r| r.lsn().get())).collect::<Result<_, _>>()?;
    /// assert_eq!(lsns, [2, 3]);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn range(&self, range: impl RangeBounds<Lsn>) -> Result<Iter> {
        let inner = &self.inner;
        let st = inner.gc.lock_state();
        st.check_usable()?;
        let (from, to) = resolve(range, st.first_lsn, st.last_lsn())?;
        let since = st.cuts.len();
        let plan = ReadPlan::of(&inner.opts);
        if from > to {
            return Ok(Iter::new(Vec::new(), from, to, None, plan));
        }
        let spans = live_spans(inner, st, from, to, since)?;
        Ok(Iter::new(spans, from, to, Some((inner.clone(), since)), plan))
    }

    /// The records from `lsn` to the last one appended: `range(lsn..)`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append(b"a")?;
    /// assert_eq!(wal.iter_from(seawall::Lsn::new(1))?.count(), 1);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn iter_from(&self, lsn: Lsn) -> Result<Iter> {
        self.range(lsn..)
    }
}

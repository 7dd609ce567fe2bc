//! Walking the records of one segment, and gathering evidence past the point
//! where they stop. Pure: works on byte slices, does no I/O.
//!
//! A [`Walker`] accepts records while they validate, follow in LSN and
//! chain, and form whole batches. It reads through a [`Window`]: the bytes
//! of the segment from some offset on, so that a segment can be walked a
//! block at a time; offsets are always offsets in the file. It applies meta records as it goes (so it
//! knows the metadata and purge point at the end) and cut markers (which
//! rewind it to the LSN they cut back to). Where it stops, [`probe`] looks
//! at what lies beyond; `recovery.rs` turns that into a verdict with the
//! decision table and may resume the walk (past a cut's dead bytes, or
//! after rebuilding a page from parity).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::error::CorruptionReason;
use crate::format::{RECORD_ALIGN, REC_LEN_OFF, SEGMENT_HEADER_LEN};
use crate::meta::{CutInfo, MetaRecord};
use crate::record::{decode_salted, RawError, RawRecord, RecordKind, Salted};
use crate::seal::decode_index;

/// Bytes of one segment file from offset `base` on (`base` 0: the whole
/// file, or its first bytes up to where it holds data).
///
/// Invariant: a walk only reads its window at or after the walk's `end`, and
/// a probe only at or after the stop: what lies before `base` was read and
/// accepted already, and what a walk keeps of it (offsets, checksums) it
/// keeps in memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window<'a> {
    /// File offset of `bytes[0]`.
    pub base: usize,
    pub bytes: &'a [u8],
}

impl<'a> Window<'a> {
    /// A window over a whole file (or its first bytes).
    pub fn whole(bytes: &'a [u8]) -> Window<'a> {
        Window { base: 0, bytes }
    }

    /// File offset just past the window.
    pub fn end(&self) -> usize {
        self.base + self.bytes.len()
    }

    /// The bytes from file offset `off` on (empty past the end).
    fn from(&self, off: usize) -> &'a [u8] {
        debug_assert!(off >= self.base, "a window is never read before its base");
        off.checked_sub(self.base).and_then(|i| self.bytes.get(i..)).unwrap_or_default()
    }

    /// [`crate::record::decode_record`] at file offset `off`: payload and
    /// next offsets are file offsets.
    pub fn decode(&self, off: usize, salt: &Salted) -> Result<RawRecord, RawError> {
        let mut r = decode_salted(self.from(off), off, salt)?;
        r.payload_start += off;
        r.next = r.next.saturating_add(off);
        Ok(r)
    }

    /// The payload of record `r`, decoded from this window.
    fn payload(&self, r: &RawRecord) -> &'a [u8] {
        &self.from(r.payload_start)[..r.payload_len]
    }
}

/// Why a walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A valid seal (index) record: the segment ends here, complete.
    Sealed,
    /// No valid record at `end`: unwritten space, a torn write or damage.
    Bad(CorruptionReason),
}

/// The metadata state a walk has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MetaState {
    pub metas: BTreeMap<Bytes, Bytes>,
    /// The purge point, 0 if no meta record set one.
    pub first_lsn: u64,
    /// A snapshot was seen (the state is complete, not only updates).
    pub complete: bool,
}

impl MetaState {
    fn apply(&mut self, m: &MetaRecord) {
        m.apply(&mut self.metas, &mut self.first_lsn);
        self.complete |= m.snapshot;
    }
}

/// The state of a walk through one segment.
#[derive(Clone, Debug)]
pub(crate) struct Walker {
    /// LSN of the segment's first record.
    pub seg_first: u64,
    salt: u64,
    salted: Salted,
    /// The header's chain seed: the checksum of record `seg_first - 1`.
    seed_crc: u32,
    /// Offset of each accepted record, LSN `seg_first + i` at index `i`.
    pub offsets: Vec<u32>,
    /// Checksum of each accepted record, like `offsets` (so that a cut or a
    /// cap needs no bytes before the window). Invariant: as long as `offsets`.
    crcs: Vec<u32>,
    /// Whether each accepted record ends its unit (a lone record, or the
    /// last of a batch), like `offsets`. Invariant: as long as `offsets`.
    ends: Vec<bool>,
    /// Last accepted LSN (`seg_first - 1` if none) and its checksum.
    pub lsn: u64,
    pub crc: u32,
    /// Offset just past the last accepted unit (a unit boundary).
    pub end: usize,
    /// Offset of the record the last stop failed on (at or after `end`: it
    /// may lie inside a batch that was not accepted).
    pub failed_at: usize,
    /// Largest synced offset any accepted record claims.
    pub claim: u32,
    pub meta: MetaState,
    /// Index record offset, once a seal record was accepted.
    pub sealed_at: Option<usize>,
    /// Cut markers applied, by offset.
    pub cuts: Vec<usize>,
    /// Byte ranges the cuts removed (from the first dead byte to the marker).
    pub dead: Vec<(usize, usize)>,
    /// Parity records accepted, by offset.
    pub parities: Vec<usize>,
    /// Offset of the last accepted record that holds data (takes an LSN, or
    /// a meta record).
    pub last_data: Option<usize>,
}

impl Walker {
    /// A walk of a segment whose header says it starts at `first_lsn` with
    /// chain seed `prev_crc`.
    pub fn new(salt: u64, first_lsn: u64, prev_crc: u32) -> Walker {
        Walker {
            seg_first: first_lsn,
            salt,
            salted: Salted::new(salt),
            seed_crc: prev_crc,
            offsets: Vec::new(),
            crcs: Vec::new(),
            ends: Vec::new(),
            lsn: first_lsn - 1,
            crc: prev_crc,
            end: SEGMENT_HEADER_LEN,
            failed_at: SEGMENT_HEADER_LEN,
            claim: 0,
            meta: MetaState::default(),
            sealed_at: None,
            cuts: Vec::new(),
            dead: Vec::new(),
            parities: Vec::new(),
            last_data: None,
        }
    }

    /// Holds an accepted walk to LSN `limit` (a later segment supersedes what
    /// follows): forgets later records. A limit inside an atomic batch
    /// (only a damaged or forged successor header names one: cuts and
    /// recovery copies start at a unit) holds the walk to the end of the
    /// last whole unit before it, keeping the invariant of [`Walker::walk`];
    /// the successor then fails the boundary check.
    pub fn cap(&mut self, limit: u64) {
        let mut keep = (limit + 1 - self.seg_first) as usize;
        while keep > 0 && keep < self.offsets.len() && !self.ends[keep - 1] {
            keep -= 1;
        }
        let limit = self.seg_first + keep as u64 - 1;
        if let Some(&next) = self.offsets.get(keep) {
            self.end = next as usize;
        }
        self.forget_after(keep);
        self.crc = self.crc_of(limit);
        self.lsn = limit;
    }

    /// Forgets the accepted records from index `keep` on.
    fn forget_after(&mut self, keep: usize) {
        self.offsets.truncate(keep);
        self.crcs.truncate(keep);
        self.ends.truncate(keep);
    }

    /// The segment's salt.
    pub fn salt(&self) -> u64 {
        self.salt
    }

    /// Records accepted.
    pub fn records(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Walks from `self.end` until a stop.
    ///
    /// Invariant: `end` is always the end of a whole logical unit (a lone
    /// record, a record that takes no LSN, or the last record of a batch):
    /// an incomplete batch is never accepted.
    ///
    /// The walk reads `win` from its `end` on (which must lie in the
    /// window); a record running past the window's end stops it with
    /// [`CorruptionReason::BadLength`], and a walk resumed on a window that
    /// holds the whole record goes on as if it had never stopped.
    pub fn run(&mut self, win: Window) -> Stop {
        if self.sealed_at.is_some() {
            return Stop::Sealed;
        }
        let mut off = self.end;
        let (mut lsn, mut crc, mut kind) = (self.lsn, self.crc, None::<RecordKind>);
        let mut pending: Vec<(u32, u32)> = Vec::new();
        loop {
            self.failed_at = off;
            let r = match win.decode(off, &self.salted) {
                Err(e) => return Stop::Bad(raw_reason(e)),
                Ok(r) => r,
            };
            let expect = if r.kind.takes_lsn() { lsn + 1 } else { lsn };
            let reason = if r.lsn != expect {
                Some(CorruptionReason::LsnMismatch)
            } else if r.prev_crc != crc {
                Some(CorruptionReason::ChainMismatch)
            } else if !r.kind.may_follow(kind) {
                Some(CorruptionReason::BadBatch)
            } else {
                None
            };
            if let Some(reason) = reason {
                return Stop::Bad(reason);
            }
            if r.kind.takes_lsn() {
                pending.push((off as u32, r.crc));
                (lsn, crc) = (r.lsn, r.crc);
            }
            kind = Some(r.kind);
            if !r.kind.ends_unit() {
                off = r.next;
                continue;
            }
            // A whole unit: accept it.
            let unit_start = off;
            let n = pending.len();
            for (i, (o, c)) in pending.drain(..).enumerate() {
                self.offsets.push(o);
                self.crcs.push(c);
                self.ends.push(i + 1 == n);
            }
            (self.lsn, self.crc, self.end) = (lsn, crc, r.next);
            self.claim = self.claim.max(r.synced_off.unwrap_or(0));
            if r.kind.takes_lsn() || r.kind == RecordKind::Meta {
                self.last_data = Some(unit_start);
            }
            off = r.next;
            match r.kind {
                RecordKind::Meta => {
                    let Some(m) = MetaRecord::decode(win.payload(&r)) else {
                        self.end = unit_start;
                        return Stop::Bad(CorruptionReason::BadMeta);
                    };
                    if let Some(cut) = m.cut {
                        if !self.rewind(cut, unit_start) {
                            self.end = unit_start;
                            return Stop::Bad(CorruptionReason::BadMeta);
                        }
                        self.cuts.push(unit_start);
                        (lsn, crc) = (self.lsn, self.crc);
                    }
                    self.meta.apply(&m);
                }
                RecordKind::Seal => {
                    let ok = decode_index(win.payload(&r))
                        .is_some_and(|(first, offs)| first == self.seg_first && offs == self.offsets);
                    if !ok {
                        self.end = unit_start;
                        return Stop::Bad(CorruptionReason::BadIndex);
                    }
                    self.sealed_at = Some(unit_start);
                    return Stop::Sealed;
                }
                RecordKind::Parity => self.parities.push(unit_start),
                _ => {}
            }
        }
    }

    /// Applies a cut back to `cut.lsn`, found at offset `at`: forgets the
    /// records after it. `false` if the cut does not fit this walk (it names
    /// an LSN this segment never held, or a checksum other than that LSN's).
    fn rewind(&mut self, cut: CutInfo, at: usize) -> bool {
        if cut.dead_start as usize > at || !cut_fits(self, cut) {
            return false;
        }
        self.forget_after((cut.lsn + 1 - self.seg_first) as usize);
        (self.lsn, self.crc) = (cut.lsn, cut.crc);
        self.dead.push((cut.dead_start as usize, at));
        true
    }

    /// The checksum of accepted record `lsn`, or the chain seed for the LSN
    /// before the segment's first.
    fn crc_of(&self, lsn: u64) -> u32 {
        debug_assert!(self.offsets.len() == self.crcs.len() && self.offsets.len() == self.ends.len());
        match (lsn + 1 - self.seg_first).checked_sub(1) {
            Some(i) => self.crcs[i as usize],
            None => self.seed_crc,
        }
    }

    /// Resumes past a cut's dead bytes: the marker at `at` (found by
    /// [`find_cut`]) is accepted without the chain check its dead bytes
    /// broke, and the walk continues after it.
    pub fn jump_to_cut(&mut self, win: Window, at: usize) {
        let r = win.decode(at, &self.salted).expect("find_cut checked the marker");
        let m = MetaRecord::decode(win.payload(&r)).expect("find_cut checked the marker");
        let cut = m.cut.expect("a cut marker");
        let keep = (cut.lsn + 1 - self.seg_first) as usize;
        self.forget_after(keep);
        self.dead.push((cut.dead_start as usize, at));
        (self.lsn, self.crc, self.end) = (cut.lsn, cut.crc, r.next);
        self.claim = self.claim.max(r.synced_off.unwrap_or(0));
        self.last_data = Some(at);
        self.cuts.push(at);
        self.meta.apply(&m);
    }
}

fn raw_reason(e: RawError) -> CorruptionReason {
    match e {
        RawError::Zero | RawError::HeaderChecksum | RawError::Checksum | RawError::BadFields => {
            CorruptionReason::BadChecksum
        }
        RawError::Truncated | RawError::BadLength => CorruptionReason::BadLength,
    }
}

/// Length of `bytes` without its trailing zeros: the offset just past the
/// last non-zero byte, or 0 when every byte is zero. Preallocated segments
/// end in up to a whole segment of zeros, so this tests 64 bytes at a time.
pub(crate) fn nonzero_len(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let last = |b: &[u8]| b.iter().rposition(|&x| x != 0).map(|p| p + 1);
    let whole = bytes.len() / BLOCK * BLOCK;
    if let Some(n) = last(&bytes[whole..]) {
        return whole + n;
    }
    let mut end = whole;
    while end > 0 {
        let block = &bytes[end - BLOCK..end];
        let any = block.chunks_exact(8).fold(0u64, |acc, w| acc | u64::from_ne_bytes(w.try_into().expect("8 bytes")));
        if any != 0 {
            return end - BLOCK + last(block).unwrap_or(0);
        }
        end -= BLOCK;
    }
    0
}

/// Every record that validates on its own (both checksums under `salt`)
/// at an aligned offset from `from` on, skipping each record found. Offsets
/// whose first eight bytes are zero are skipped without a checksum, so the
/// cost is linear in the bytes searched; payload checksums are capped at
/// four times `bytes.len()` so that crafted input cannot make the search
/// quadratic. The second value says whether the cap was reached.
pub(crate) fn valid_records(bytes: &[u8], from: usize, salt: u64) -> (Vec<(usize, RawRecord)>, bool) {
    valid_records_in(Window::whole(bytes), from, salt)
}

/// [`valid_records`] in a window that holds everything from `from` to the
/// end of the data (the cap on checksums is four times the window's end,
/// as if the window were the whole file).
pub(crate) fn valid_records_in(win: Window, from: usize, salt: u64) -> (Vec<(usize, RawRecord)>, bool) {
    debug_assert!(from >= win.base);
    // Past the last non-zero byte there is nothing to find; when the window
    // is all zero, its base is as good an end as any before `from`.
    let end = win.base + nonzero_len(win.bytes);
    let mut found = Vec::new();
    let mut budget = win.end().saturating_mul(4);
    let salt = &Salted::new(salt);
    let align = RECORD_ALIGN as usize;
    let mut off = from.min(end).div_ceil(align) * align;
    while off < end {
        if win.from(off).get(..8).is_some_and(|w| w.iter().all(|&b| b == 0)) {
            off += align;
            continue;
        }
        match win.decode(off, salt) {
            Ok(r) => {
                budget = budget.saturating_sub(r.payload_len);
                found.push((off, r));
                off = r.next;
            }
            Err(RawError::Checksum) => {
                // The header checked out, so the payload was checksummed.
                let len_at = win.from(off + REC_LEN_OFF);
                let len = u32::from_le_bytes(len_at[..4].try_into().expect("4 bytes"));
                budget = budget.saturating_sub(len as usize);
                off += align;
            }
            Err(_) => off += align,
        }
        if budget == 0 {
            return (found, true);
        }
    }
    (found, false)
}

/// What lies past the point where a walk stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// Offset just past the last non-zero byte at or after the stop (equal to
    /// the stop when everything after it is zero).
    pub nonzero_end: usize,
    /// Records holding data (caller's records, metadata) that validate on
    /// their own after the stop.
    pub later_records: u64,
    /// Offset of the first such record.
    pub first_later: Option<usize>,
    /// One of them claims the stop was durable when it was written (its
    /// synced offset lies past the stop), or the search gave up before the
    /// end (refuse rather than guess).
    pub claimed: bool,
    /// A valid cut marker after the stop explains it: its dead bytes begin at
    /// or before the stop and it cuts back to the walk's LSN or earlier.
    pub cut_at: Option<usize>,
    /// Parity records after the stop whose window covers it, by offset.
    pub parity_at: Vec<usize>,
}

impl Evidence {
    /// Every byte from the stop to the end of the segment is zero.
    pub fn tail_zero(&self, stop: usize) -> bool {
        self.nonzero_end <= stop
    }
}

/// Gathers the evidence past a walk that stopped at `w.end`.
/// `win` holds every byte from the stop to the end of the data.
pub(crate) fn probe(win: Window, w: &Walker) -> Evidence {
    let stop = w.end;
    let from = stop.min(win.end());
    let nonzero_end = from + nonzero_len(win.from(from));
    let (found, gave_up) = valid_records_in(win, stop, w.salt);
    let mut ev = Evidence { nonzero_end, claimed: gave_up, ..Evidence::default() };
    for (off, r) in &found {
        if r.kind.takes_lsn() || r.kind == RecordKind::Meta {
            // Records holding data; the log's own pads, parity and seals
            // are not counted.
            ev.later_records += 1;
            ev.first_later.get_or_insert(*off);
        }
        ev.claimed |= r.synced_off.is_some_and(|s| s as usize > stop);
        match r.kind {
            RecordKind::Meta if ev.cut_at.is_none() => {
                if let Some(cut) = MetaRecord::decode(win.payload(r)).and_then(|m| m.cut) {
                    if cut_explains(w, cut) {
                        ev.cut_at = Some(*off);
                    }
                }
            }
            RecordKind::Parity => {
                if let Some((s, e, _)) = crate::parity::decode(win.payload(r)) {
                    if (s..e).contains(&(stop as u64)) {
                        ev.parity_at.push(*off);
                    }
                }
            }
            _ => {}
        }
    }
    ev
}

/// Whether cut marker `cut` explains a walk stopped at `w.end`: its dead
/// bytes start at or before the stop, and it cuts back to an LSN the walk
/// accepted (see [`cut_fits`]).
fn cut_explains(w: &Walker, cut: CutInfo) -> bool {
    cut.dead_start as usize <= w.end && cut_fits(w, cut)
}

/// Whether cut `cut` fits the records walk `w` accepted: it cuts back to an
/// LSN of this segment (or the one before its first) no later than the
/// walk's, names that record's checksum, and its dead bytes start at or
/// after the end of that record.
fn cut_fits(w: &Walker, cut: CutInfo) -> bool {
    if cut.lsn > w.lsn || cut.lsn + 1 < w.seg_first || w.crc_of(cut.lsn) != cut.crc {
        return false;
    }
    let keep = (cut.lsn + 1 - w.seg_first) as usize;
    let kept_end = keep.checked_sub(1).map_or(SEGMENT_HEADER_LEN, |i| w.offsets[i] as usize);
    kept_end < cut.dead_start as usize || keep == 0
}

#[cfg(test)]
mod tests;

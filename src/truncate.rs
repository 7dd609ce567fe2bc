//! Dropping records: `truncate_before` (a purge point), `truncate_after`
//! (a cut, as consensus rolls back conflicting entries) and `reset`
//! (snapshot install).
//!
//! A cut inside the active segment is made physical and costs no new
//! segment: a cut marker (a meta record naming the LSN kept and where the
//! dead bytes start) is appended and synced (the commit point), then the
//! dead bytes are overwritten with zeros and synced, and appending goes on
//! after the marker. A crash in between leaves the marker to explain the
//! dead bytes; afterwards no damaged byte can bring a cut record back,
//! because none is left. A cut into an earlier segment starts a new segment
//! whose header supersedes the cut records (the commit point), clears the
//! cut bytes and removes the segments after the cut. `reset` starts a new
//! segment flagged as a new log, then removes every older one.

use crate::buffer::ActiveSeg;
use crate::error::{Error, Result};
use crate::format::{
    record_size, seal_size, FRONTIER, MAX_LSN, RECORD_HEADER_LEN, REC_LEN_OFF, SEGMENT_HEADER_LEN, TRAILER_LEN,
};
use crate::meta::{CutInfo, MetaRecord};
use crate::record::{decode_slice, RecordKind};
use crate::segments::SegmentFile;
use crate::state::{State, Target};
use crate::wal::Wal;
use crate::writer::Writer;
use crate::Lsn;

/// Reads and checks the record at `off` of `file`: its checksum and kind.
fn record_at(file: &SegmentFile, salt: u64, off: u64, lsn: u64) -> Result<(u32, RecordKind, u64)> {
    let head = file.read(off, RECORD_HEADER_LEN)?;
    let len = u32::from_le_bytes(head[REC_LEN_OFF..REC_LEN_OFF + 4].try_into().expect("4 bytes")) as usize;
    let rec = file.read(off, RECORD_HEADER_LEN + len.min(file.capacity as usize))?;
    let bad = |reason| Error::Corruption { segment: file.id, offset: off, lsn: Lsn::new(lsn), reason };
    let r = decode_slice(&rec, off as usize, salt).map_err(|_| bad(crate::CorruptionReason::BadChecksum))?;
    if r.lsn != lsn {
        return Err(bad(crate::CorruptionReason::LsnMismatch));
    }
    Ok((r.crc, r.kind, off + record_size(len as u64)))
}

/// Writes what the buffer holds and syncs it.
fn flush_durably(st: &mut State, writer: &mut Writer) -> Result<()> {
    let lsn = st.last_lsn();
    let State { buffer, metas, first_lsn, .. } = st;
    let sealed = buffer.prepare_sync(lsn, || MetaRecord::snapshot(metas, *first_lsn));
    debug_assert!(sealed.is_none(), "callers make sure the record fits");
    let mut chunks = st.buffer.take();
    let res = writer.write(&mut chunks, true);
    st.buffer.recycle(chunks);
    res.map(drop)
}

/// Records a cut back to `lsn` in the state: positions, history, mirrors.
fn note_cut(wal: &Wal, st: &mut State, lsn: u64, cut_back_to: u64) {
    st.next_lsn = lsn + 1;
    st.written_lsn = lsn;
    st.durable_lsn = lsn;
    st.sync_target = st.sync_target.min(lsn);
    st.taken_lsn = lsn;
    st.meta_durable = st.meta_staged;
    st.cuts.push(cut_back_to);
    wal.inner.publish(st);
}

impl Wal {
    /// Checkpoint: drops every record before `lsn`. Once it returns,
    /// [`Wal::first_lsn`] is exactly `lsn`, durably (a meta record says so),
    /// and reads before it fail with [`Error::LsnOutOfRange`]. Whole segments
    /// whose records all lie before `lsn` are removed; the records before
    /// `lsn` in the segment that holds it stay on disk until that segment
    /// goes too. `lsn` may range up to `last_lsn() + 1`; a purge point at or
    /// before the current one changes nothing. Like [`Wal::sync`] of the last
    /// LSN, it first makes every record appended durable. Returns the new
    /// first LSN.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for _ in 0..10 { wal.append(b"x")?; }
    /// assert_eq!(wal.truncate_before(seawall::Lsn::new(4))?, seawall::Lsn::new(4));
    /// assert!(wal.read(seawall::Lsn::new(3)).is_err());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn truncate_before(&self, lsn: Lsn) -> Result<Lsn> {
        let _one = crate::lock(&self.truncating);
        let inner = &self.inner;
        let mut st = inner.gc.lock_state();
        st.check_usable()?;
        if lsn.get() > st.last_lsn() + 1 {
            return Err(st.out_of_range(lsn));
        }
        if lsn.get() <= st.first_lsn {
            let (first, t) = (st.first_lsn, Target::durable(st.last_lsn(), st.meta_staged, st.cuts.len()));
            drop(inner.gc.wait(st, t)?);
            return Ok(Lsn::new(first));
        }
        st.first_lsn = lsn.get();
        let pos = st.last_lsn();
        let rec = MetaRecord { first_lsn: Some(lsn.get()), ..MetaRecord::default() };
        let sealed = {
            let State { buffer, metas, first_lsn, .. } = &mut *st;
            buffer.stage_meta(pos, &rec, || MetaRecord::snapshot(metas, *first_lsn))
        };
        State::note_sealed(&inner.segments, sealed);
        st.meta_staged += 1;
        inner.publish(&st);
        let t = Target::durable(pos, st.meta_staged, st.cuts.len());
        drop(inner.gc.wait(st, t)?);
        // The purge point is durable: segments wholly before it can go.
        let mut segs = crate::lock(&inner.segments);
        let entries = segs.entries();
        let keep = entries
            .iter()
            .position(|e| e.last_lsn.is_none_or(|l| l >= lsn.get()))
            .unwrap_or(entries.len().saturating_sub(1))
            .min(entries.len().saturating_sub(1));
        if keep > 0 {
            segs.remove_front(keep)?;
            segs.sync_dir()?;
        }
        Ok(lsn)
    }

    /// Drops every record after `lsn`, durably: once this returns, those
    /// records never come back, even after a crash or damage to any single
    /// byte, and the next append gets LSN `lsn + 1`. `lsn` may range from
    /// `first_lsn() - 1` (drop everything) to `last_lsn()`, and must not fall
    /// inside an atomic batch. Callers waiting for a record it drops get
    /// [`Error::Truncated`]. Metadata is kept. Like [`Wal::sync`] of the last
    /// LSN, it first makes every record appended durable.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for p in [b"a", b"b", b"c"] { wal.append(p)?; }
    /// wal.truncate_after(seawall::Lsn::new(1))?;
    /// assert_eq!(wal.append(b"z")?, seawall::Lsn::new(2));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn truncate_after(&self, lsn: Lsn) -> Result<()> {
        let _one = crate::lock(&self.truncating);
        let c = lsn.get();
        {
            let st = self.inner.gc.lock_state();
            st.check_usable()?;
            // `c > last` first: below it, `c + 1` cannot overflow.
            if c > st.last_lsn() || c + 1 < st.first_lsn {
                return Err(st.out_of_range(lsn));
            }
            if c + 1 == st.first_lsn && c < st.last_lsn() {
                let first = st.first_lsn;
                drop(st);
                return self.reset_inner(first);
            }
        }
        let inner = self.inner.clone();
        inner.gc.exclusive(|st, writer| {
            // Re-check under the exclusive hold: appends may have moved on.
            if c > st.last_lsn() || c + 1 < st.first_lsn {
                return Err(st.out_of_range(lsn));
            }
            if c == st.last_lsn() {
                return Ok(());
            }
            let active_first = st.buffer.seg.first_lsn;
            if c + 1 >= active_first && self.cut_within(st, writer, c)? {
                return Ok(());
            }
            self.cut_across(st, writer, c)
        })
    }

    /// A cut inside the active segment (see the module doc). `false` if the
    /// marker does not fit; the caller cuts across segments instead.
    fn cut_within(&self, st: &mut State, writer: &mut Writer, c: u64) -> Result<bool> {
        let seg = st.buffer.seg.clone();
        let file = writer.file().clone();
        let salt = crate::lock(&self.inner.segments).entries().last().map_or(0, |e| e.salt);
        let dead_start = u64::from(seg.offsets[(c + 1 - seg.first_lsn) as usize]);
        let crc = if c >= seg.first_lsn {
            let off = u64::from(seg.offsets[(c - seg.first_lsn) as usize]);
            let (crc, kind, _) = record_at(&file, salt, off, c)?;
            if !kind.ends_unit() {
                return Err(Error::InsideBatch { lsn: Lsn::new(c) });
            }
            crc
        } else {
            // Every record of the segment goes: the chain restarts at the
            // header's seed (the last record of the previous segment).
            let head = file.read(0, SEGMENT_HEADER_LEN)?;
            match crate::segment::SegmentHeader::decode(&head, seg.id) {
                crate::raw::HeaderState::Valid(h) => h.prev_crc,
                _ => {
                    return Err(Error::Corruption {
                        segment: seg.id,
                        offset: 0,
                        lsn: Lsn::new(c),
                        reason: crate::CorruptionReason::BadHeaderChecksum,
                    })
                }
            }
        };
        let marker = MetaRecord {
            snapshot: true,
            first_lsn: Some(st.first_lsn),
            cut: Some(CutInfo { lsn: c, crc, dead_start: dead_start as u32 }),
            entries: st.metas.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let size = record_size(marker.encode().len() as u64);
        let room = seg.end
            + size
            + crate::format::PARITY_RECORD_LEN
            + 2 * crate::format::PARITY_PAGE as u64
            + seal_size(seg.offsets.len() as u64)
            + TRAILER_LEN as u64;
        if room > seg.capacity {
            return Ok(false);
        }
        let dead_end = seg.end;
        let pos = st.last_lsn();
        let sealed = st.buffer.stage_meta(pos, &marker, MetaRecord::default);
        debug_assert!(sealed.is_none(), "the marker fits");
        // The marker is written alone, with no parity after it: records
        // after a cut marker belong to the log after the cut, whose LSN and
        // chain are the kept record's.
        let mut chunks = st.buffer.take();
        let res = writer.write(&mut chunks, true);
        st.buffer.recycle(chunks);
        res?;
        st.buffer.seg.window_start = st.buffer.seg.end;
        // Committed: the marker explains the dead bytes; now remove them.
        writer.clear(&file, &[(dead_start, dead_end - dead_start)])?;
        writer.cut_within(c, crc);
        st.buffer.seg.offsets.truncate((c + 1 - seg.first_lsn) as usize);
        if size > FRONTIER {
            // A marker larger than the frontier is claimed at once.
            st.buffer.stage_claim(c);
            let mut chunks = st.buffer.take();
            let res = writer.write(&mut chunks, true);
            st.buffer.recycle(chunks);
            res?;
            st.buffer.seg.window_start = st.buffer.seg.end;
        }
        note_cut(self, st, c, c);
        Ok(true)
    }

    /// A cut into an earlier segment (see the module doc).
    fn cut_across(&self, st: &mut State, writer: &mut Writer, c: u64) -> Result<()> {
        let segments = self.inner.segments.clone();
        let (si, entry_salt) = {
            let segs = crate::lock(&segments);
            let e = segs.entry_of(c).expect("c is in the log");
            let si = segs.entries().iter().position(|x| x.id == e.id).expect("listed");
            (si, e.salt)
        };
        let loc = crate::lock(&segments).locate_sealed(c)?;
        let (file, off) = match loc {
            Some(l) => (l.file, l.offset),
            None => {
                // `c` is in the active segment, but its marker did not fit.
                let seg = &st.buffer.seg;
                (writer.file().clone(), u64::from(seg.offsets[(c - seg.first_lsn) as usize]))
            }
        };
        let (crc, kind, dead_start) = record_at(&file, entry_salt, off, c)?;
        if !kind.ends_unit() {
            return Err(Error::InsideBatch { lsn: Lsn::new(c) });
        }
        let kept = match crate::lock(&segments).offsets_upto(si, c)? {
            Some(o) => o,
            None => st.buffer.seg.offsets[..=(c - st.buffer.seg.first_lsn) as usize].to_vec(),
        };
        // Commit: a new segment whose header supersedes everything after `c`.
        let header = writer.start_segment(c + 1, crc, false)?;
        {
            let mut segs = crate::lock(&segments);
            segs.push_active(header.id, c + 1, header.salt, Some(writer.file().clone()));
        }
        self.start_after(st, writer, header.id, c + 1)?;
        // Physical: clear the cut bytes of the segment holding `c`, and its
        // trailer, then remove the segments after it.
        let trailer_at = file.capacity - TRAILER_LEN as u64;
        let mut regions: Vec<(u64, u64)> =
            file.file.data_regions(dead_start, trailer_at).into_iter().map(|(a, b)| (a, b - a)).collect();
        regions.push((trailer_at, TRAILER_LEN as u64));
        writer.clear(&file, &regions)?;
        let mut segs = crate::lock(&segments);
        let n = segs.entries().len();
        let active = segs.entries()[n - 1].id;
        // Entries after `si`, except the new active one, go (newest first).
        let doomed: Vec<_> = segs.entries()[si + 1..n - 1].iter().map(|e| e.id).collect();
        for id in doomed.iter().rev() {
            segs.unlink(*id)?;
        }
        segs.sync_dir()?;
        segs.drop_entries(&doomed);
        segs.cut_entry(si, c, kept);
        debug_assert_eq!(segs.entries().last().map(|e| e.id), Some(active));
        drop(segs);
        note_cut(self, st, c, c);
        Ok(())
    }

    /// Points the buffer at a segment just started at `first_lsn` and makes
    /// its snapshot of the metadata durable.
    fn start_after(&self, st: &mut State, writer: &mut Writer, id: crate::SegmentId, first_lsn: u64) -> Result<()> {
        let start = SEGMENT_HEADER_LEN as u64;
        st.buffer.restart(ActiveSeg {
            id,
            first_lsn,
            capacity: writer.file().capacity,
            end: start,
            offsets: Vec::new(),
            window_start: start,
            sealed: false,
        });
        let snapshot = st.snapshot();
        let sealed = st.buffer.stage_meta(first_lsn - 1, &snapshot, MetaRecord::default);
        debug_assert!(sealed.is_none(), "a snapshot fits an empty segment");
        flush_durably(st, writer)
    }

    /// Drops every record durably and continues the log at LSN `next`
    /// (installing a snapshot, in consensus terms). Afterwards
    /// [`Wal::first_lsn`] is `next`, [`Wal::last_lsn`] is `next - 1`, and the
    /// next append gets `next`; metadata is kept. A crash at any point leaves
    /// either the old log or the empty log starting at `next`. Callers
    /// waiting for a dropped record get [`Error::Truncated`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append(b"old")?;
    /// wal.reset(seawall::Lsn::new(1000))?;
    /// assert_eq!(wal.append(b"new")?, seawall::Lsn::new(1000));
    /// assert_eq!(wal.first_lsn(), seawall::Lsn::new(1000));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn reset(&self, next: Lsn) -> Result<()> {
        let _one = crate::lock(&self.truncating);
        self.reset_inner(next.get())
    }

    fn reset_inner(&self, next: u64) -> Result<()> {
        if next == 0 || next > MAX_LSN {
            let st = self.inner.gc.lock_state();
            return Err(st.out_of_range(Lsn::new(next)));
        }
        let inner = self.inner.clone();
        inner.gc.exclusive(|st, writer| {
            let old_first = st.first_lsn;
            let header = writer.start_segment(next, 0, true)?;
            {
                let mut segs = crate::lock(&inner.segments);
                segs.push_active(header.id, next, header.salt, Some(writer.file().clone()));
            }
            st.first_lsn = next;
            self.start_after(st, writer, header.id, next)?;
            let mut segs = crate::lock(&inner.segments);
            let n = segs.entries().len();
            let gone = segs.remove_front(n - 1)?;
            if !gone.is_empty() {
                segs.sync_dir()?;
            }
            drop(segs);
            note_cut(self, st, next - 1, old_first.saturating_sub(1).min(next - 1));
            Ok(())
        })
    }
}

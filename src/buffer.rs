//! The in-memory write buffer: staged records, grouped by the segment and
//! offset where they will land, and the active segment's layout (its offset
//! index, where it ends, its unclaimed window).
//!
//! Invariants: chunks are in log order; each chunk's bytes are contiguous in
//! one segment starting at `offset`; a chunk that opens a new segment names
//! that segment's header; an atomic batch never spans two chunks; records of
//! one segment never pass `capacity - TRAILER_LEN` together with the index
//! that seals it (every unit is staged only if the seal still fits after it).

use crate::format::*;
use crate::meta::MetaRecord;
use crate::record::{set_lsn, stage, RecordKind};
use crate::seal::encode_index;
use crate::SegmentId;

/// Staged records bound for one segment.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub segment: SegmentId,
    pub offset: u64,
    /// Set when this chunk starts a new segment: its first LSN.
    pub opens: Option<u64>,
    /// The chunk ends with the segment's seal record: write the trailer.
    pub seals: bool,
    /// The chunk ends with a parity record over window `.0..` (the record's
    /// payload is filled in by the writer).
    pub parity: Option<u64>,
    pub bytes: Vec<u8>,
}

/// The segment appends go to.
#[derive(Debug, Clone)]
pub(crate) struct ActiveSeg {
    pub id: SegmentId,
    pub first_lsn: u64,
    /// Length of the segment file.
    pub capacity: u64,
    /// Offset just past the last staged record.
    pub end: u64,
    /// Offset of each record, LSN `first_lsn + i` at index `i`.
    pub offsets: Vec<u32>,
    /// Start of the bytes no completed (or taken) sync covers yet.
    pub window_start: u64,
    /// The segment is sealed already (a log reopened after its last segment
    /// was sealed): the next unit opens the next segment.
    pub sealed: bool,
}

impl ActiveSeg {
    /// The first LSN and the offsets up to LSN `to` (for an iterator), if
    /// `to` lies in this segment.
    pub fn clone_upto(&self, to: u64) -> Option<(u64, std::sync::Arc<[u32]>)> {
        let n = to.checked_sub(self.first_lsn)? as usize + 1;
        Some((self.first_lsn, self.offsets[..n.min(self.offsets.len())].into()))
    }

    /// Whether `size` more bytes in `n` more records still leave room for the
    /// seal (and the trailer).
    fn fits(&self, size: u64, n: u64) -> bool {
        !self.sealed && self.end + size + seal_size(self.offsets.len() as u64 + n) + TRAILER_LEN as u64 <= self.capacity
    }
}

/// A rotation the staging caused: the sealed segment's offsets, for the
/// segment set to keep.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub id: SegmentId,
    pub offsets: Vec<u32>,
    pub next: SegmentId,
    pub next_first_lsn: u64,
}

/// Where appends go next, and what is waiting to be written.
#[derive(Debug)]
pub(crate) struct WriteBuffer {
    chunks: Vec<Chunk>,
    pool: Vec<Vec<u8>>,
    pub seg: ActiveSeg,
    /// Size of new segment files.
    segment_size: u64,
    staged: u64,
}

impl WriteBuffer {
    /// A buffer appending to `seg`; new segments get `segment_size` bytes.
    pub fn new(seg: ActiveSeg, segment_size: u64) -> WriteBuffer {
        WriteBuffer { chunks: Vec::new(), pool: Vec::new(), seg, segment_size, staged: 0 }
    }

    /// Bytes staged and not yet taken.
    pub fn staged_bytes(&self) -> u64 {
        self.staged
    }

    /// Whether a unit of `size` bytes, after a snapshot of `snapshot` bytes,
    /// fits in an empty segment.
    pub fn fits_empty_segment(&self, size: u64, n: u64, snapshot: u64) -> bool {
        SEGMENT_HEADER_LEN as u64 + record_size(snapshot) + size + seal_size(n) + TRAILER_LEN as u64
            <= self.segment_size
    }

    fn chunk_for_append(&mut self) -> &mut Chunk {
        let needs = self.chunks.last().is_none_or(|c| c.segment != self.seg.id || c.seals || c.parity.is_some());
        if needs {
            let bytes = self.pool.pop().unwrap_or_default();
            self.chunks.push(Chunk {
                segment: self.seg.id,
                offset: self.seg.end,
                opens: None,
                seals: false,
                parity: None,
                bytes,
            });
        }
        self.chunks.last_mut().expect("a chunk exists")
    }

    /// Stages a record that takes no LSN (`lsn` is the LSN before it).
    fn stage_other(&mut self, lsn: u64, kind: RecordKind, payload: &[u8]) {
        let size = record_size(payload.len() as u64);
        let chunk = self.chunk_for_append();
        let at = chunk.bytes.len();
        stage(&mut chunk.bytes, 0, kind, payload);
        set_lsn(&mut chunk.bytes[at..], lsn);
        self.seg.end += size;
        self.staged += size;
    }

    /// Seals the active segment (stages its index) and starts segment
    /// `seg.id + 1` with first LSN `first_lsn`, opening it with a snapshot
    /// `snapshot` of the log's metadata. Returns what was sealed.
    pub fn rotate(&mut self, first_lsn: u64, snapshot: &MetaRecord) -> Sealed {
        if !self.seg.sealed {
            let index = encode_index(self.seg.first_lsn, &self.seg.offsets);
            self.stage_other(first_lsn - 1, RecordKind::Seal, &index);
            self.chunks.last_mut().expect("the seal's chunk").seals = true;
        }
        let next = self.seg.id.next();
        let old = std::mem::replace(
            &mut self.seg,
            ActiveSeg {
                id: next,
                first_lsn,
                capacity: self.segment_size,
                end: SEGMENT_HEADER_LEN as u64,
                offsets: Vec::new(),
                window_start: SEGMENT_HEADER_LEN as u64,
                sealed: false,
            },
        );
        self.open_chunk(first_lsn);
        self.stage_other(first_lsn - 1, RecordKind::Meta, &snapshot.encode());
        Sealed { id: old.id, offsets: old.offsets, next, next_first_lsn: first_lsn }
    }

    /// Points appends at segment `seg` (a fresh one made by `truncate_after`
    /// or `reset`, whose header the caller wrote). Staged chunks must have
    /// been taken.
    pub fn restart(&mut self, seg: ActiveSeg) {
        debug_assert!(self.chunks.is_empty(), "restart follows a flush");
        self.seg = seg;
    }

    fn open_chunk(&mut self, first_lsn: u64) {
        let bytes = self.pool.pop().unwrap_or_default();
        self.chunks.push(Chunk {
            segment: self.seg.id,
            offset: self.seg.end,
            opens: Some(first_lsn),
            seals: false,
            parity: None,
            bytes,
        });
    }

    /// Stages `payloads` as one unit (a lone record, or an atomic batch) with
    /// LSNs from `first_lsn`, rotating first if it does not fit. The caller
    /// has checked [`Self::fits_empty_segment`]. `snapshot` makes the meta
    /// snapshot a new segment starts with.
    pub fn stage_unit(
        &mut self,
        first_lsn: u64,
        payloads: &[&[u8]],
        snapshot: impl FnOnce() -> MetaRecord,
    ) -> Option<Sealed> {
        let size: u64 = payloads.iter().map(|p| record_size(p.len() as u64)).sum();
        let n = payloads.len() as u64;
        let mut sealed = None;
        if !self.seg.fits(size, n) {
            sealed = Some(self.rotate(first_lsn, &snapshot()));
        }
        let mut off = self.seg.end;
        for p in payloads {
            self.seg.offsets.push(off as u32);
            off += record_size(p.len() as u64);
        }
        let chunk = self.chunk_for_append();
        for (i, p) in payloads.iter().enumerate() {
            let kind = match (payloads.len(), i) {
                (1, _) => RecordKind::Full,
                (_, 0) => RecordKind::BatchFirst,
                (n, i) if i + 1 == n => RecordKind::BatchLast,
                _ => RecordKind::BatchMiddle,
            };
            stage(&mut chunk.bytes, first_lsn + i as u64, kind, p);
        }
        self.seg.end += size;
        self.staged += size;
        sealed
    }

    /// Stages a meta record after LSN `lsn`, rotating first if it does not
    /// fit (the new segment's snapshot then carries it, so it is not staged
    /// twice).
    pub fn stage_meta(&mut self, lsn: u64, meta: &MetaRecord, snapshot: impl FnOnce() -> MetaRecord) -> Option<Sealed> {
        let payload = meta.encode();
        if !self.seg.fits(record_size(payload.len() as u64), 0) {
            return Some(self.rotate(lsn + 1, &snapshot()));
        }
        self.stage_other(lsn, RecordKind::Meta, &payload);
        None
    }

    /// Stages a record that claims every byte before it (once the buffer is
    /// written with a sync first): what a clean close writes last, so that the
    /// next open has nothing to copy.
    pub fn stage_claim(&mut self, lsn: u64) {
        if !self.seg.sealed {
            self.stage_other(lsn, RecordKind::Pad, &[]);
        }
    }

    /// Before a take that syncs: if the bytes no sync covers yet would exceed
    /// the frontier, stages padding to a page boundary and a parity record
    /// over them (or, when that does not fit, rotates, so that the successor
    /// proves the segment complete). Then the window closes at the end.
    pub fn prepare_sync(&mut self, lsn: u64, snapshot: impl FnOnce() -> MetaRecord) -> Option<Sealed> {
        let mut sealed = None;
        if self.seg.end - self.seg.window_start > FRONTIER && !self.seg.sealed {
            let page = PARITY_PAGE as u64;
            let mut pad = self.seg.end.next_multiple_of(page) - self.seg.end;
            if pad > 0 && pad < RECORD_HEADER_LEN as u64 {
                pad += page;
            }
            if self.seg.fits(pad + PARITY_RECORD_LEN, 0) {
                if pad > 0 {
                    self.stage_other(lsn, RecordKind::Pad, &vec![0u8; (pad - RECORD_HEADER_LEN as u64) as usize]);
                }
                let start = self.seg.window_start;
                self.stage_other(lsn, RecordKind::Parity, &[0u8; PARITY_PAYLOAD_LEN]);
                self.chunks.last_mut().expect("the parity's chunk").parity = Some(start);
            } else {
                sealed = Some(self.rotate(lsn + 1, &snapshot()));
            }
        }
        self.seg.window_start = self.seg.end;
        sealed
    }

    /// Takes every staged chunk for writing.
    pub fn take(&mut self) -> Vec<Chunk> {
        self.staged = 0;
        std::mem::take(&mut self.chunks)
    }

    /// Returns written chunks' memory for reuse.
    pub fn recycle(&mut self, chunks: Vec<Chunk>) {
        for mut c in chunks {
            if self.pool.len() < 4 {
                c.bytes.clear();
                self.pool.push(c.bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(capacity: u64) -> ActiveSeg {
        ActiveSeg {
            id: SegmentId::new(1),
            first_lsn: 1,
            capacity,
            end: SEGMENT_HEADER_LEN as u64,
            offsets: Vec::new(),
            window_start: SEGMENT_HEADER_LEN as u64,
            sealed: false,
        }
    }

    #[test]
    fn rotates_when_full_and_keeps_batches_together() {
        let cap = 64 + 3 * record_size(100) + seal_size(3) + TRAILER_LEN as u64;
        let mut b = WriteBuffer::new(seg(cap), cap + 1024);
        let p = [0u8; 100];
        let snap = MetaRecord::default;
        assert!(b.stage_unit(1, &[&p], snap).is_none());
        assert!(b.stage_unit(2, &[&p], snap).is_none());
        let sealed = b.stage_unit(3, &[&p, &p], snap).expect("rotated");
        assert_eq!((sealed.id, sealed.offsets.len(), sealed.next), (SegmentId::new(1), 2, SegmentId::new(2)));
        let chunks = b.take();
        assert_eq!(chunks.len(), 2);
        assert!(chunks[0].seals);
        assert_eq!((chunks[1].segment, chunks[1].offset), (SegmentId::new(2), 64));
        assert_eq!(chunks[1].opens, Some(3));
        let snapshot_len = record_size(MetaRecord::default().encode().len() as u64);
        assert_eq!(chunks[1].bytes.len() as u64, snapshot_len + 2 * record_size(100));
        assert_eq!(b.seg.offsets, vec![(64 + snapshot_len) as u32, (64 + snapshot_len + record_size(100)) as u32]);
    }

    #[test]
    fn a_sync_over_a_large_window_stages_parity_on_a_page_boundary() {
        let mut b = WriteBuffer::new(seg(1 << 20), 1 << 20);
        for i in 0..60 {
            b.stage_unit(1 + i, &[&[7u8; 100]], MetaRecord::default);
        }
        assert!(b.prepare_sync(60, MetaRecord::default).is_none());
        let chunks = b.take();
        let last = chunks.last().unwrap();
        assert_eq!(last.parity, Some(64));
        let parity_at = last.offset + last.bytes.len() as u64 - PARITY_RECORD_LEN;
        assert_eq!(parity_at % PARITY_PAGE as u64, 0);
        assert_eq!(b.seg.window_start, b.seg.end);
        // A small window needs none.
        b.stage_unit(61, &[&[7u8; 100]], MetaRecord::default);
        b.prepare_sync(61, MetaRecord::default);
        assert!(b.take().iter().all(|c| c.parity.is_none()));
    }
}

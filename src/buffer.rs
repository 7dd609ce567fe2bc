//! The in-memory write buffer: staged records, grouped by the segment and
//! offset where they will land.
//!
//! Invariants: chunks are in LSN order; each chunk's bytes are contiguous in
//! one segment starting at `offset`; a chunk that opens a new segment names the
//! first LSN of that segment; an atomic batch never spans two chunks.

use crate::format::{record_size, SEGMENT_HEADER_LEN};
use crate::record::{stage, RecordKind};
use crate::SegmentId;

/// Staged records bound for one segment.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub segment: SegmentId,
    pub offset: u64,
    /// `Some(first_lsn)` when this chunk starts a new segment.
    pub opens_segment: Option<u64>,
    pub bytes: Vec<u8>,
}

/// Where appends go next, and what is waiting to be written.
#[derive(Debug)]
pub(crate) struct WriteBuffer {
    chunks: Vec<Chunk>,
    pool: Vec<Vec<u8>>,
    segment: SegmentId,
    /// Offset in `segment` just past the last staged record.
    end: u64,
    capacity: u64,
    staged: u64,
}

impl WriteBuffer {
    /// A buffer appending to `segment` at `end`, rotating when a segment of
    /// `capacity` bytes is full.
    pub fn new(segment: SegmentId, end: u64, capacity: u64) -> WriteBuffer {
        WriteBuffer { chunks: Vec::new(), pool: Vec::new(), segment, end, capacity: capacity.max(end), staged: 0 }
    }

    /// Bytes staged and not yet taken.
    pub fn staged_bytes(&self) -> u64 {
        self.staged
    }

    /// Whether records of `size` bytes in total fit in an empty segment.
    pub fn fits_empty_segment(&self, size: u64) -> bool {
        SEGMENT_HEADER_LEN as u64 + size <= self.capacity
    }

    /// Stages `payloads` as one unit (a lone record, or an atomic batch) with
    /// LSNs from `first_lsn`. Returns `Some(segment)` if the unit opened a new
    /// segment. The caller has checked [`Self::fits_empty_segment`].
    pub fn stage_unit(&mut self, first_lsn: u64, payloads: &[&[u8]]) -> Option<SegmentId> {
        let size: u64 = payloads.iter().map(|p| record_size(p.len() as u64)).sum();
        debug_assert!(self.fits_empty_segment(size));
        let mut opened = None;
        if self.end + size > self.capacity {
            self.segment = self.segment.next();
            self.end = SEGMENT_HEADER_LEN as u64;
            opened = Some(self.segment);
        }
        let needs_chunk = opened.is_some() || self.chunks.is_empty();
        if needs_chunk {
            let bytes = self.pool.pop().unwrap_or_default();
            self.chunks.push(Chunk {
                segment: self.segment,
                offset: self.end,
                opens_segment: opened.map(|_| first_lsn),
                bytes,
            });
        }
        let chunk = self.chunks.last_mut().expect("a chunk exists");
        let n = payloads.len();
        for (i, p) in payloads.iter().enumerate() {
            let kind = match (n, i) {
                (1, _) => RecordKind::Full,
                (_, 0) => RecordKind::BatchFirst,
                (_, i) if i + 1 == n => RecordKind::BatchLast,
                _ => RecordKind::BatchMiddle,
            };
            stage(&mut chunk.bytes, first_lsn + i as u64, kind, p);
        }
        self.end += size;
        self.staged += size;
        opened
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

    /// Points appends at a fresh segment (after `truncate_after`). Staged
    /// chunks must have been taken.
    pub fn restart_at(&mut self, segment: SegmentId) {
        debug_assert!(self.chunks.is_empty());
        self.segment = segment;
        self.end = SEGMENT_HEADER_LEN as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_when_full_and_keeps_batches_together() {
        let cap = SEGMENT_HEADER_LEN as u64 + 3 * record_size(100);
        let mut b = WriteBuffer::new(SegmentId::new(1), SEGMENT_HEADER_LEN as u64, cap);
        let p = [0u8; 100];
        assert_eq!(b.stage_unit(1, &[&p]), None);
        assert_eq!(b.stage_unit(2, &[&p]), None);
        assert_eq!(b.stage_unit(3, &[&p, &p]), Some(SegmentId::new(2)));
        let chunks = b.take();
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[1].segment, chunks[1].offset, chunks[1].opens_segment), (SegmentId::new(2), 64, Some(3)));
        assert_eq!(chunks[1].bytes.len() as u64, 2 * record_size(100));
    }
}

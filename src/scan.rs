//! Walking the records of one segment, and gathering evidence past the point
//! where they stop. Pure: works on byte slices, does no I/O.

use crate::error::CorruptionReason;
use crate::format::{RECORD_ALIGN, REC_LEN_OFF, SEGMENT_HEADER_LEN};
use crate::record::{decode_record, RawError};

/// Where the scan of a segment stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The record with the segment's LSN limit was accepted.
    Limit,
    /// No valid record at `end`: unwritten space, a torn write or damage.
    Bad(CorruptionReason),
}

/// The result of walking one segment from its header onwards.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentScan {
    /// Records accepted (whole batches only).
    pub records: u64,
    /// LSN of the last accepted record, or `first_lsn - 1`.
    pub last_lsn: u64,
    /// Checksum of the last accepted record, or the header's `prev_crc`.
    pub last_crc: u32,
    /// Offset just past the last accepted record.
    pub end: usize,
    /// Why the walk stopped.
    pub stop: Stop,
}

/// Walks the records of a segment whose header says it starts at `first_lsn`
/// with chain seed `prev_crc`, accepting records while they validate, follow
/// in LSN and chain, and form whole batches, up to LSN `limit` (inclusive).
///
/// Invariant: `end` is always the end of a whole logical unit (a lone record
/// or the last record of a batch): an incomplete batch is never accepted.
pub(crate) fn scan_segment(bytes: &[u8], salt: u64, first_lsn: u64, prev_crc: u32, limit: Option<u64>) -> SegmentScan {
    let mut unit = SegmentScan {
        records: 0,
        last_lsn: first_lsn - 1,
        last_crc: prev_crc,
        end: SEGMENT_HEADER_LEN,
        stop: Stop::Bad(CorruptionReason::BadChecksum),
    };
    if limit == Some(unit.last_lsn) {
        unit.stop = Stop::Limit;
        return unit;
    }
    let (mut off, mut lsn, mut crc, mut kind, mut pending) = (unit.end, unit.last_lsn, unit.last_crc, None, 0u64);
    loop {
        let reason = match decode_record(bytes, off, salt) {
            Err(e) => raw_reason(e),
            Ok(r) if r.lsn != lsn + 1 => CorruptionReason::LsnMismatch,
            Ok(r) if r.prev_crc != crc => CorruptionReason::ChainMismatch,
            Ok(r) if !r.kind.may_follow(kind) => CorruptionReason::BadBatch,
            Ok(r) => {
                (off, lsn, crc, kind) = (r.next, r.lsn, r.crc, Some(r.kind));
                pending += 1;
                if r.kind.ends_unit() {
                    unit = SegmentScan {
                        records: unit.records + pending,
                        last_lsn: lsn,
                        last_crc: crc,
                        end: off,
                        stop: unit.stop,
                    };
                    pending = 0;
                    if limit == Some(lsn) {
                        unit.stop = Stop::Limit;
                        return unit;
                    }
                } else if limit == Some(lsn) {
                    // A segment may only end on a unit boundary.
                    unit.stop = Stop::Bad(CorruptionReason::BadBatch);
                    return unit;
                }
                continue;
            }
        };
        // `unit` ends before any incomplete batch: an unfinished batch is part
        // of the damage, never of the log.
        unit.stop = Stop::Bad(reason);
        return unit;
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

/// What lies past the last accepted record of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// Offset just past the last non-zero byte at or after the damage (equal to
    /// the damage offset when everything after it is zero).
    pub nonzero_end: usize,
    /// Valid records with an LSN after the last accepted one.
    pub later_records: u64,
    /// Offset of the first such record.
    pub first_later: Option<usize>,
    /// Some later record states that the damaged record was already durable.
    pub later_synced: bool,
    /// The probe gave up before the end (its checksum budget ran out), so the
    /// absence of later records is not proven.
    pub incomplete: bool,
}

impl Evidence {
    /// Every byte from the damage to the end of the segment is zero.
    pub fn tail_zero(&self, damage: usize) -> bool {
        self.nonzero_end <= damage
    }
}

/// Searches `bytes[from..]` for valid records (under `salt`) with an LSN above
/// `last_lsn`, and for the extent of non-zero bytes. Candidates are tested at
/// every aligned offset by their header checksum first, so the cost is linear
/// in the bytes searched; payload checksums are capped at four times the
/// segment length so that crafted input cannot make the search quadratic.
pub(crate) fn probe(bytes: &[u8], from: usize, salt: u64, last_lsn: u64) -> Evidence {
    let from = from.min(bytes.len());
    let nonzero_end = from + nonzero_len(&bytes[from..]);
    let mut ev = Evidence { nonzero_end, ..Evidence::default() };
    let mut budget = bytes.len().saturating_mul(4);
    let align = RECORD_ALIGN as usize;
    let mut off = from.div_ceil(align) * align;
    while off < nonzero_end {
        if bytes.get(off..off + 8).is_some_and(|w| w.iter().all(|&b| b == 0)) {
            off += align;
            continue;
        }
        match decode_record(bytes, off, salt) {
            Ok(r) if r.lsn > last_lsn => {
                ev.later_records += 1;
                ev.first_later.get_or_insert(off);
                ev.later_synced |= r.synced_lsn.is_some_and(|s| s > last_lsn);
                budget = budget.saturating_sub(r.payload_len);
                off = r.next;
            }
            Err(RawError::Checksum) | Ok(_) => {
                // The header checked out, so the payload was checksummed.
                let len_at = off + REC_LEN_OFF;
                let len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().expect("4 bytes"));
                budget = budget.saturating_sub(len as usize);
                off += align;
            }
            Err(_) => off += align,
        }
        if budget == 0 {
            ev.incomplete = true;
            break;
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{encode_record, RecordKind};

    const SALT: u64 = 0x5eed;

    fn segment(records: &[(u64, RecordKind, &[u8], u64)]) -> Vec<u8> {
        let mut b = vec![0u8; SEGMENT_HEADER_LEN];
        let mut prev = 0;
        for &(lsn, kind, payload, synced) in records {
            let r = encode_record(SALT, lsn, kind, prev, synced, payload);
            prev = u32::from_le_bytes(r[0..4].try_into().unwrap());
            b.extend_from_slice(&r);
        }
        b.resize(b.len() + 256, 0);
        b
    }

    #[test]
    fn accepts_whole_units_only() {
        use RecordKind::*;
        let b = segment(&[(1, Full, b"a", 0), (2, BatchFirst, b"b", 0), (3, BatchMiddle, b"c", 0)]);
        let s = scan_segment(&b, SALT, 1, 0, None);
        assert_eq!((s.records, s.last_lsn, s.end), (1, 1, SEGMENT_HEADER_LEN + 40));
    }

    #[test]
    fn stops_at_limit() {
        use RecordKind::*;
        let b = segment(&[(1, Full, b"a", 0), (2, Full, b"b", 0), (3, Full, b"c", 0)]);
        let s = scan_segment(&b, SALT, 1, 0, Some(2));
        assert_eq!((s.records, s.last_lsn, s.stop), (2, 2, Stop::Limit));
    }

    #[test]
    fn probe_finds_later_records_and_synced_claims() {
        use RecordKind::*;
        let mut b = segment(&[(1, Full, b"a", 0), (2, Full, b"b", 1), (3, Full, b"c", 2)]);
        let second = SEGMENT_HEADER_LEN + 40;
        b[second + 32] ^= 0xff; // damage record 2's payload
        let s = scan_segment(&b, SALT, 1, 0, None);
        assert_eq!(s.last_lsn, 1);
        let ev = probe(&b, s.end, SALT, s.last_lsn);
        assert_eq!(ev.later_records, 1);
        assert!(ev.later_synced, "record 3 was written after record 2 was durable");
        assert!(!ev.tail_zero(s.end));
    }

    #[test]
    fn nonzero_len_finds_the_last_nonzero_byte() {
        assert_eq!(nonzero_len(&[]), 0);
        for len in [1, 7, 63, 64, 65, 200, 1000] {
            let zeros = vec![0u8; len];
            assert_eq!(nonzero_len(&zeros), 0, "all zero, {len} bytes");
            for at in [0, len / 3, len / 2, len - 1] {
                let mut b = zeros.clone();
                b[at] = 1;
                assert_eq!(nonzero_len(&b), at + 1, "one byte at {at} of {len}");
            }
        }
    }

    #[test]
    fn probe_on_zero_tail() {
        let b = segment(&[(1, RecordKind::Full, b"a", 0)]);
        let s = scan_segment(&b, SALT, 1, 0, None);
        let ev = probe(&b, s.end, SALT, s.last_lsn);
        assert!(ev.tail_zero(s.end) && ev.later_records == 0);
    }
}

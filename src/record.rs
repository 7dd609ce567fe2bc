//! One record on disk: header layout, checksums, encode and decode. Pure: no I/O.
//!
//! A record is written in two steps. An appender *stages* it (LSN, length,
//! kind and payload) in the write buffer; the single flusher *seals* it just
//! before writing, filling in the hash-chain link, the synced delta and both
//! checksums. Sealing at write time is what makes the synced delta exact.

use crate::format::*;

/// The role of a record in an atomic batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A record appended on its own.
    Full,
    /// First record of an atomic batch of two or more.
    BatchFirst,
    /// A record between the first and last of an atomic batch.
    BatchMiddle,
    /// Last record of an atomic batch.
    BatchLast,
}

impl RecordKind {
    /// The kind byte stored on disk.
    pub const fn to_byte(self) -> u8 {
        match self {
            RecordKind::Full => KIND_FULL,
            RecordKind::BatchFirst => KIND_BATCH_FIRST,
            RecordKind::BatchMiddle => KIND_BATCH_MIDDLE,
            RecordKind::BatchLast => KIND_BATCH_LAST,
        }
    }

    /// Parses a kind byte.
    pub const fn from_byte(b: u8) -> Option<RecordKind> {
        match b {
            KIND_FULL => Some(RecordKind::Full),
            KIND_BATCH_FIRST => Some(RecordKind::BatchFirst),
            KIND_BATCH_MIDDLE => Some(RecordKind::BatchMiddle),
            KIND_BATCH_LAST => Some(RecordKind::BatchLast),
            _ => None,
        }
    }

    /// Whether a record of this kind ends a logical unit (a lone record or the
    /// last of a batch): only there may a log end after recovery.
    pub const fn ends_unit(self) -> bool {
        matches!(self, RecordKind::Full | RecordKind::BatchLast)
    }

    /// Whether a record of this kind may follow a record of kind `prev`
    /// (`None` at the start of the log or of a recovered tail).
    pub fn may_follow(self, prev: Option<RecordKind>) -> bool {
        let prev_ended = prev.is_none_or(|p| p.ends_unit());
        match self {
            RecordKind::Full | RecordKind::BatchFirst => prev_ended,
            RecordKind::BatchMiddle | RecordKind::BatchLast => !prev_ended,
        }
    }
}

/// A record header that passed every check, and where its payload lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// The record checksum.
    pub crc: u32,
    /// The LSN.
    pub lsn: u64,
    /// The checksum of the previous record, as this record names it.
    pub prev_crc: u32,
    /// Every record up to this LSN was durable when this record was written
    /// (`None`: the writer made no claim).
    pub synced_lsn: Option<u64>,
    /// Batch role.
    pub kind: RecordKind,
    /// Offset of the payload within the slice decoded.
    pub payload_start: usize,
    /// Payload length.
    pub payload_len: usize,
    /// Offset of the next record.
    pub next: usize,
}

/// Why bytes at an offset are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawError {
    /// Every byte of the header is zero: unwritten (preallocated) space.
    Zero,
    /// Fewer than a header's worth of bytes remain.
    Truncated,
    /// The header checksum does not match (torn, stale or foreign bytes).
    HeaderChecksum,
    /// The header checks out but names an unknown kind or non-zero reserved bytes.
    BadFields,
    /// The header checks out but the payload runs past the end of the bytes.
    BadLength,
    /// The header checks out but the record checksum does not.
    Checksum,
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn header_crc(salt: u64, header: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&header[REC_LSN_OFF..RECORD_HEADER_LEN]);
    h.finalize()
}

/// The record checksum of `rec`, a record's header followed by its payload
/// (`RECORD_HEADER_LEN + len` bytes). The covered header fields and the
/// payload are contiguous, so they go through the hasher in one call: one
/// pass of the vectorised path instead of a short scalar one and a long one.
fn record_crc(salt: u64, rec: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&rec[REC_HEADER_CRC_OFF..]);
    h.finalize()
}

/// Appends an unsealed record (checksums and chain still zero) to `buf`,
/// padded to [`RECORD_ALIGN`].
pub(crate) fn stage(buf: &mut Vec<u8>, lsn: u64, kind: RecordKind, payload: &[u8]) {
    let start = buf.len();
    debug_assert_eq!(start as u64 % RECORD_ALIGN, 0, "records start aligned");
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[REC_LSN_OFF..REC_LSN_OFF + 8].copy_from_slice(&lsn.to_le_bytes());
    header[REC_LEN_OFF..REC_LEN_OFF + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[REC_KIND_OFF] = kind.to_byte();
    buf.extend_from_slice(&header);
    buf.extend_from_slice(payload);
    let size = record_size(payload.len() as u64) as usize;
    buf.resize(start + size, 0);
}

/// Seals the staged record at the start of `rec`: writes the chain link, the
/// synced delta and both checksums. Returns the record checksum and the
/// record's size in bytes.
pub(crate) fn seal(rec: &mut [u8], salt: u64, prev_crc: u32, synced_lsn: u64) -> (u32, usize) {
    let lsn = le_u64(rec, REC_LSN_OFF);
    let len = le_u32(rec, REC_LEN_OFF) as usize;
    debug_assert!(synced_lsn < lsn, "a record cannot be durable before it is written");
    let delta = u32::try_from(lsn - synced_lsn).unwrap_or(SYNCED_DELTA_UNKNOWN);
    rec[REC_PREV_CRC_OFF..REC_PREV_CRC_OFF + 4].copy_from_slice(&prev_crc.to_le_bytes());
    rec[REC_SYNCED_DELTA_OFF..REC_SYNCED_DELTA_OFF + 4].copy_from_slice(&delta.to_le_bytes());
    let hcrc = header_crc(salt, &rec[..RECORD_HEADER_LEN]);
    rec[REC_HEADER_CRC_OFF..REC_HEADER_CRC_OFF + 4].copy_from_slice(&hcrc.to_le_bytes());
    let crc = record_crc(salt, &rec[..RECORD_HEADER_LEN + len]);
    rec[REC_CRC_OFF..REC_CRC_OFF + 4].copy_from_slice(&crc.to_le_bytes());
    (crc, record_size(len as u64) as usize)
}

/// Encodes one complete record (used by tools, tests and the golden vectors).
pub fn encode_record(salt: u64, lsn: u64, kind: RecordKind, prev_crc: u32, synced_lsn: u64, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(record_size(payload.len() as u64) as usize);
    stage(&mut buf, lsn, kind, payload);
    seal(&mut buf, salt, prev_crc, synced_lsn);
    buf
}

/// Decodes the record at `bytes[off..]` under `salt`, checking both checksums,
/// the kind and reserved bytes, and that the payload lies within `bytes`.
/// Never panics, whatever the input.
pub fn decode_record(bytes: &[u8], off: usize, salt: u64) -> Result<RawRecord, RawError> {
    let header = match bytes.get(off..).and_then(|b| b.get(..RECORD_HEADER_LEN)) {
        Some(h) => h,
        None => return Err(RawError::Truncated),
    };
    if header.iter().all(|&b| b == 0) {
        return Err(RawError::Zero);
    }
    if le_u32(header, REC_HEADER_CRC_OFF) != header_crc(salt, header) {
        return Err(RawError::HeaderChecksum);
    }
    let kind = RecordKind::from_byte(header[REC_KIND_OFF]).ok_or(RawError::BadFields)?;
    let lsn = le_u64(header, REC_LSN_OFF);
    let delta = le_u32(header, REC_SYNCED_DELTA_OFF);
    // The writer stores `lsn - synced_lsn` with `synced_lsn < lsn`: a delta
    // above the LSN claims durability for records before the log began (and
    // "no claim" is only ever written for LSNs from 2^32 - 1 on).
    if header[REC_RESERVED_OFF..RECORD_HEADER_LEN] != [0u8; 3]
        || lsn == 0
        || lsn > MAX_LSN
        || delta == 0
        || u64::from(delta) > lsn
    {
        return Err(RawError::BadFields);
    }
    let len = le_u32(header, REC_LEN_OFF) as usize;
    let payload_start = off + RECORD_HEADER_LEN;
    let rec = bytes.get(off..).and_then(|b| b.get(..RECORD_HEADER_LEN + len)).ok_or(RawError::BadLength)?;
    let crc = le_u32(header, REC_CRC_OFF);
    if crc != record_crc(salt, rec) {
        return Err(RawError::Checksum);
    }
    let synced_lsn = if delta == SYNCED_DELTA_UNKNOWN { None } else { Some(lsn - u64::from(delta)) };
    Ok(RawRecord {
        crc,
        lsn,
        prev_crc: le_u32(header, REC_PREV_CRC_OFF),
        synced_lsn,
        kind,
        payload_start,
        payload_len: len,
        next: off.saturating_add(record_size(len as u64) as usize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let rec = encode_record(7, 42, RecordKind::BatchMiddle, 0xdead_beef, 40, b"hello");
        assert_eq!(rec.len(), 40);
        let d = decode_record(&rec, 0, 7).unwrap();
        assert_eq!((d.lsn, d.prev_crc, d.synced_lsn, d.kind), (42, 0xdead_beef, Some(40), RecordKind::BatchMiddle));
        assert_eq!(&rec[d.payload_start..d.payload_start + d.payload_len], b"hello");
        assert_eq!(d.next, 40);
    }

    #[test]
    fn other_salt_fails_the_header_checksum() {
        let rec = encode_record(7, 1, RecordKind::Full, 0, 0, b"x");
        assert_eq!(decode_record(&rec, 0, 8), Err(RawError::HeaderChecksum));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let rec = encode_record(3, 9, RecordKind::Full, 5, 8, b"payload bytes");
        let covered = RECORD_HEADER_LEN + 13;
        for bit in 0..covered * 8 {
            let mut bad = rec.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record(&bad, 0, 3).is_err(), "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn truncated_and_zero_inputs() {
        let rec = encode_record(1, 1, RecordKind::Full, 0, 0, b"abc");
        assert_eq!(decode_record(&rec[..20], 0, 1), Err(RawError::Truncated));
        assert_eq!(decode_record(&rec[..34], 0, 1), Err(RawError::BadLength));
        assert_eq!(decode_record(&[0u8; 64], 0, 1), Err(RawError::Zero));
        assert_eq!(decode_record(&rec, usize::MAX, 1), Err(RawError::Truncated));
    }

    #[test]
    fn synced_delta_beyond_the_lsn_is_rejected() {
        // Found by the decode_record fuzzer: such a record decoded with "no
        // claim" and did not re-encode to the same bytes.
        let mut rec = encode_record(5, 8, RecordKind::Full, 0, 0, b"abcd");
        rec[REC_SYNCED_DELTA_OFF..REC_SYNCED_DELTA_OFF + 4].copy_from_slice(&9u32.to_le_bytes());
        reseal(&mut rec, 5);
        assert_eq!(decode_record(&rec, 0, 5), Err(RawError::BadFields));
        rec[REC_SYNCED_DELTA_OFF..REC_SYNCED_DELTA_OFF + 4].copy_from_slice(&SYNCED_DELTA_UNKNOWN.to_le_bytes());
        reseal(&mut rec, 5);
        assert_eq!(decode_record(&rec, 0, 5), Err(RawError::BadFields));
        let far = encode_record(5, 1 << 33, RecordKind::Full, 0, 0, b"abcd");
        assert_eq!(decode_record(&far, 0, 5).map(|r| r.synced_lsn), Ok(None), "no claim, written for a far LSN");
    }

    #[test]
    fn lsn_beyond_the_lsn_space_is_rejected() {
        let rec = encode_record(5, MAX_LSN + 1, RecordKind::Full, 0, MAX_LSN, b"abcd");
        assert_eq!(decode_record(&rec, 0, 5), Err(RawError::BadFields));
        let rec = encode_record(5, MAX_LSN, RecordKind::Full, 0, MAX_LSN - 1, b"abcd");
        assert_eq!(decode_record(&rec, 0, 5).map(|r| r.lsn), Ok(MAX_LSN));
    }

    /// Recomputes both checksums of a hand-edited record.
    fn reseal(rec: &mut [u8], salt: u64) {
        let h = header_crc(salt, &rec[..RECORD_HEADER_LEN]);
        rec[REC_HEADER_CRC_OFF..REC_HEADER_CRC_OFF + 4].copy_from_slice(&h.to_le_bytes());
        let len = le_u32(rec, REC_LEN_OFF) as usize;
        let c = record_crc(salt, &rec[..RECORD_HEADER_LEN + len]);
        rec[REC_CRC_OFF..REC_CRC_OFF + 4].copy_from_slice(&c.to_le_bytes());
    }

    #[test]
    fn batch_kinds_follow_each_other() {
        use RecordKind::*;
        assert!(Full.may_follow(None) && BatchFirst.may_follow(Some(Full)));
        assert!(BatchMiddle.may_follow(Some(BatchFirst)) && BatchLast.may_follow(Some(BatchMiddle)));
        assert!(!BatchMiddle.may_follow(None) && !Full.may_follow(Some(BatchFirst)));
        assert!(!BatchFirst.may_follow(Some(BatchMiddle)) && Full.may_follow(Some(BatchLast)));
    }
}

//! One record on disk: header layout, checksums, encode and decode. Pure: no I/O.
//!
//! A record is written in two steps. An appender *stages* it (LSN, length,
//! kind and payload) in the write buffer; the single flusher *seals* it just
//! before writing, filling in the hash-chain link, the synced offset and both
//! checksums. Sealing at write time is what makes the synced offset exact: it
//! is what the flusher knew to be durable when the record reached the file.

use crate::format::*;

/// What a record is: a caller's record (alone or in an atomic batch), or one
/// of the records the log writes for itself, which take no LSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A record appended on its own.
    Full,
    /// First record of an atomic batch of two or more.
    BatchFirst,
    /// A record between the first and last of an atomic batch.
    BatchMiddle,
    /// Last record of an atomic batch.
    BatchLast,
    /// Log state: metadata, the purge point, a cut marker. Takes no LSN.
    Meta,
    /// The index written when a segment is sealed. Takes no LSN.
    Seal,
    /// Zero padding up to a page boundary. Takes no LSN.
    Pad,
    /// Parity of an acknowledged window. Takes no LSN.
    Parity,
}

impl RecordKind {
    /// The kind byte stored on disk.
    pub const fn to_byte(self) -> u8 {
        match self {
            RecordKind::Full => KIND_FULL,
            RecordKind::BatchFirst => KIND_BATCH_FIRST,
            RecordKind::BatchMiddle => KIND_BATCH_MIDDLE,
            RecordKind::BatchLast => KIND_BATCH_LAST,
            RecordKind::Meta => KIND_META,
            RecordKind::Seal => KIND_SEAL,
            RecordKind::Pad => KIND_PAD,
            RecordKind::Parity => KIND_PARITY,
        }
    }

    /// Parses a kind byte.
    pub const fn from_byte(b: u8) -> Option<RecordKind> {
        match b {
            KIND_FULL => Some(RecordKind::Full),
            KIND_BATCH_FIRST => Some(RecordKind::BatchFirst),
            KIND_BATCH_MIDDLE => Some(RecordKind::BatchMiddle),
            KIND_BATCH_LAST => Some(RecordKind::BatchLast),
            KIND_META => Some(RecordKind::Meta),
            KIND_SEAL => Some(RecordKind::Seal),
            KIND_PAD => Some(RecordKind::Pad),
            KIND_PARITY => Some(RecordKind::Parity),
            _ => None,
        }
    }

    /// Whether a record of this kind is a caller's record and takes an LSN.
    ///
    /// ```
    /// use seawall::RecordKind;
    /// assert!(RecordKind::BatchLast.takes_lsn() && !RecordKind::Meta.takes_lsn());
    /// ```
    pub const fn takes_lsn(self) -> bool {
        matches!(self, RecordKind::Full | RecordKind::BatchFirst | RecordKind::BatchMiddle | RecordKind::BatchLast)
    }

    /// Whether a record of this kind ends a logical unit (a lone record or the
    /// last of a batch): only there may a log end after recovery. Records that
    /// take no LSN stand alone and end their unit too.
    ///
    /// ```
    /// use seawall::RecordKind;
    /// assert!(RecordKind::Full.ends_unit() && !RecordKind::BatchFirst.ends_unit());
    /// ```
    pub const fn ends_unit(self) -> bool {
        !matches!(self, RecordKind::BatchFirst | RecordKind::BatchMiddle)
    }

    /// Whether a record of this kind may follow a record of kind `prev`
    /// (`None` at the start of the log or of a recovered tail). Only the
    /// middle and last records of a batch may follow an unfinished batch.
    ///
    /// ```
    /// use seawall::RecordKind;
    /// assert!(RecordKind::BatchLast.may_follow(Some(RecordKind::BatchFirst)));
    /// assert!(!RecordKind::Meta.may_follow(Some(RecordKind::BatchFirst)));
    /// ```
    pub fn may_follow(self, prev: Option<RecordKind>) -> bool {
        let prev_ended = prev.is_none_or(|p| p.ends_unit());
        match self {
            RecordKind::BatchMiddle | RecordKind::BatchLast => !prev_ended,
            _ => prev_ended,
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
    /// Every byte of the segment before this offset was durable when this
    /// record was written (`None`: the writer made no claim).
    pub synced_off: Option<u32>,
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
    /// The header checks out but names an unknown kind, non-zero reserved
    /// bytes, an LSN out of range, or a synced offset past the record itself
    /// or inside the segment header.
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

/// The checksum state after a segment's salt, which both checksums of every
/// record of the segment start with: a walk or an iterator computes it once
/// per segment instead of twice per record.
#[derive(Clone, Debug)]
pub(crate) struct Salted(crc32fast::Hasher);

impl Salted {
    pub fn new(salt: u64) -> Salted {
        let mut h = crc32fast::Hasher::new();
        h.update(&salt.to_le_bytes());
        Salted(h)
    }

    /// The checksum of the salt followed by `bytes`.
    fn crc(&self, bytes: &[u8]) -> u32 {
        let mut h = self.0.clone();
        h.update(bytes);
        h.finalize()
    }
}

fn header_crc(salt: &Salted, header: &[u8]) -> u32 {
    salt.crc(&header[REC_LSN_OFF..RECORD_HEADER_LEN])
}

/// The record checksum of `rec`, a record's header followed by its payload
/// (`RECORD_HEADER_LEN + len` bytes). The covered header fields and the
/// payload are contiguous, so they go through the hasher in one call: one
/// pass of the vectorised path instead of a short scalar one and a long one.
fn record_crc(salt: &Salted, rec: &[u8]) -> u32 {
    salt.crc(&rec[REC_HEADER_CRC_OFF..])
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

/// The kind of the staged or sealed record at the start of `rec`.
pub(crate) fn kind_of(rec: &[u8]) -> Option<RecordKind> {
    RecordKind::from_byte(rec[REC_KIND_OFF])
}

/// The size in bytes of the staged or sealed record at the start of `rec`.
pub(crate) fn size_of(rec: &[u8]) -> usize {
    record_size(u64::from(le_u32(rec, REC_LEN_OFF))) as usize
}

/// Sets the LSN field of a staged record (records that take no LSN learn
/// theirs, the LSN before them, when they are staged).
pub(crate) fn set_lsn(rec: &mut [u8], lsn: u64) {
    rec[REC_LSN_OFF..REC_LSN_OFF + 8].copy_from_slice(&lsn.to_le_bytes());
}

/// Seals the staged record at the start of `rec`, which lies at offset `off`
/// of its segment (whose salt `salt` has hashed): writes the chain link, the
/// synced offset and both checksums. Returns the record checksum and the
/// record's size in bytes.
pub(crate) fn seal(rec: &mut [u8], salt: &Salted, prev_crc: u32, synced_off: u32, off: u64) -> (u32, usize) {
    let len = le_u32(rec, REC_LEN_OFF) as usize;
    debug_assert!(u64::from(synced_off) <= off, "a record cannot claim bytes after itself");
    rec[REC_PREV_CRC_OFF..REC_PREV_CRC_OFF + 4].copy_from_slice(&prev_crc.to_le_bytes());
    rec[REC_SYNCED_OFF..REC_SYNCED_OFF + 4].copy_from_slice(&synced_off.to_le_bytes());
    let hcrc = header_crc(salt, &rec[..RECORD_HEADER_LEN]);
    rec[REC_HEADER_CRC_OFF..REC_HEADER_CRC_OFF + 4].copy_from_slice(&hcrc.to_le_bytes());
    let crc = record_crc(salt, &rec[..RECORD_HEADER_LEN + len]);
    rec[REC_CRC_OFF..REC_CRC_OFF + 4].copy_from_slice(&crc.to_le_bytes());
    (crc, record_size(len as u64) as usize)
}

/// Encodes one complete record that will lie at offset `off` of its segment
/// (used by tools, tests and the golden vectors). `synced_off` is 0 for no
/// claim, else at least the segment header's length and at most `off`.
///
/// ```
/// use seawall::raw::{decode_record, encode_record};
/// use seawall::RecordKind;
/// let rec = encode_record(7, 1, RecordKind::Full, 0, 0, 64, b"hi");
/// let mut seg = vec![0u8; 64];
/// seg.extend_from_slice(&rec);
/// assert_eq!(decode_record(&seg, 64, 7).unwrap().lsn, 1);
/// ```
pub fn encode_record(
    salt: u64,
    lsn: u64,
    kind: RecordKind,
    prev_crc: u32,
    synced_off: u32,
    off: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(record_size(payload.len() as u64) as usize);
    stage(&mut buf, lsn, kind, payload);
    seal(&mut buf, &Salted::new(salt), prev_crc, synced_off, off);
    buf
}

/// Whether the header at `bytes[off..]` passes its own checksum under `salt`
/// (whatever its payload).
pub(crate) fn header_valid(bytes: &[u8], off: usize, salt: u64) -> bool {
    bytes.get(off..).and_then(|b| b.get(..RECORD_HEADER_LEN)).is_some_and(|h| {
        h.iter().any(|&x| x != 0) && le_u32(h, REC_HEADER_CRC_OFF) == header_crc(&Salted::new(salt), h)
    })
}

/// Decodes the record at `bytes[off..]` under `salt`, where `bytes` is a
/// segment file from its first byte, checking both checksums, the kind and
/// reserved bytes, the LSN range, that the synced offset claims nothing past
/// the record itself, and that the payload lies within `bytes`.
/// Never panics, whatever the input.
///
/// ```
/// use seawall::raw::{decode_record, encode_record};
/// use seawall::RecordKind;
/// let mut seg = vec![0u8; 64];
/// seg.extend_from_slice(&encode_record(9, 5, RecordKind::Full, 0, 0, 64, b"payload"));
/// let r = decode_record(&seg, 64, 9).unwrap();
/// assert_eq!(&seg[r.payload_start..r.payload_start + r.payload_len], b"payload");
/// assert!(decode_record(&seg, 64, 10).is_err(), "another salt: another segment's record");
/// seg[70] ^= 0x10;
/// assert!(decode_record(&seg, 64, 9).is_err(), "a flipped bit");
/// ```
pub fn decode_record(bytes: &[u8], off: usize, salt: u64) -> Result<RawRecord, RawError> {
    let rec = bytes.get(off..).ok_or(RawError::Truncated)?;
    let mut r = decode_slice(rec, off, salt)?;
    r.payload_start += off;
    r.next = r.next.saturating_add(off);
    Ok(r)
}

/// Decodes the record at the start of `rec`, which lies at offset `off` of
/// its segment; `payload_start` and `next` are relative to `rec`. Never panics.
pub(crate) fn decode_slice(rec: &[u8], off: usize, salt: u64) -> Result<RawRecord, RawError> {
    decode_salted(rec, off, &Salted::new(salt))
}

/// [`decode_slice`] with the segment's salt already hashed.
#[inline]
pub(crate) fn decode_salted(rec: &[u8], off: usize, salt: &Salted) -> Result<RawRecord, RawError> {
    let header = match rec.get(..RECORD_HEADER_LEN) {
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
    let synced = le_u32(header, REC_SYNCED_OFF);
    // A record can only claim bytes written before it, and never the header
    // alone (the header is durable before any record is written).
    let bad_claim = synced != SYNCED_NONE && (synced < SEGMENT_HEADER_LEN as u32 || synced as usize > off);
    if header[REC_RESERVED_OFF..RECORD_HEADER_LEN] != [0u8; 3]
        || (kind.takes_lsn() && lsn == 0)
        || lsn > MAX_LSN
        || bad_claim
    {
        return Err(RawError::BadFields);
    }
    let len = le_u32(header, REC_LEN_OFF) as usize;
    let body = rec.get(..RECORD_HEADER_LEN + len).ok_or(RawError::BadLength)?;
    let crc = le_u32(header, REC_CRC_OFF);
    if crc != record_crc(salt, body) {
        return Err(RawError::Checksum);
    }
    Ok(RawRecord {
        crc,
        lsn,
        prev_crc: le_u32(header, REC_PREV_CRC_OFF),
        synced_off: (synced != SYNCED_NONE).then_some(synced),
        kind,
        payload_start: RECORD_HEADER_LEN,
        payload_len: len,
        next: record_size(len as u64) as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: usize = SEGMENT_HEADER_LEN;

    /// A segment-like buffer holding `rec` at offset `OFF`.
    fn at_off(rec: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; OFF];
        b.extend_from_slice(rec);
        b
    }

    #[test]
    fn round_trip() {
        let rec = encode_record(7, 42, RecordKind::BatchMiddle, 0xdead_beef, 64, OFF as u64, b"hello");
        assert_eq!(rec.len(), 40);
        let b = at_off(&rec);
        let d = decode_record(&b, OFF, 7).unwrap();
        assert_eq!((d.lsn, d.prev_crc, d.synced_off, d.kind), (42, 0xdead_beef, Some(64), RecordKind::BatchMiddle));
        assert_eq!(&b[d.payload_start..d.payload_start + d.payload_len], b"hello");
        assert_eq!(d.next, OFF + 40);
    }

    #[test]
    fn other_salt_fails_the_header_checksum() {
        let b = at_off(&encode_record(7, 1, RecordKind::Full, 0, 0, OFF as u64, b"x"));
        assert_eq!(decode_record(&b, OFF, 8), Err(RawError::HeaderChecksum));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let b = at_off(&encode_record(3, 9, RecordKind::Full, 5, 64, OFF as u64, b"payload bytes"));
        let covered = RECORD_HEADER_LEN + 13;
        for bit in 0..covered * 8 {
            let mut bad = b.clone();
            bad[OFF + bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record(&bad, OFF, 3).is_err(), "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn truncated_and_zero_inputs() {
        let b = at_off(&encode_record(1, 1, RecordKind::Full, 0, 0, OFF as u64, b"abc"));
        assert_eq!(decode_record(&b[..OFF + 20], OFF, 1), Err(RawError::Truncated));
        assert_eq!(decode_record(&b[..OFF + 34], OFF, 1), Err(RawError::BadLength));
        assert_eq!(decode_record(&[0u8; 64], 0, 1), Err(RawError::Zero));
        assert_eq!(decode_record(&b, usize::MAX, 1), Err(RawError::Truncated));
    }

    #[test]
    fn a_claim_past_the_record_itself_is_rejected() {
        // A record written at offset 64 cannot know that bytes after 64 were durable.
        let mut rec = encode_record(5, 8, RecordKind::Full, 0, 0, OFF as u64, b"abcd");
        rec[REC_SYNCED_OFF..REC_SYNCED_OFF + 4].copy_from_slice(&72u32.to_le_bytes());
        reseal(&mut rec, 5);
        assert_eq!(decode_record(&at_off(&rec), OFF, 5), Err(RawError::BadFields));
        // Claims inside the header are never written either.
        rec[REC_SYNCED_OFF..REC_SYNCED_OFF + 4].copy_from_slice(&8u32.to_le_bytes());
        reseal(&mut rec, 5);
        assert_eq!(decode_record(&at_off(&rec), OFF, 5), Err(RawError::BadFields));
    }

    #[test]
    fn lsn_beyond_the_lsn_space_is_rejected() {
        let rec = encode_record(5, MAX_LSN + 1, RecordKind::Full, 0, 0, OFF as u64, b"abcd");
        assert_eq!(decode_record(&at_off(&rec), OFF, 5), Err(RawError::BadFields));
        let rec = encode_record(5, MAX_LSN, RecordKind::Full, 0, 0, OFF as u64, b"abcd");
        assert_eq!(decode_record(&at_off(&rec), OFF, 5).map(|r| r.lsn), Ok(MAX_LSN));
    }

    #[test]
    fn records_without_an_lsn_may_sit_before_the_first_lsn() {
        let rec = encode_record(5, 0, RecordKind::Meta, 0, 0, OFF as u64, b"");
        assert_eq!(decode_record(&at_off(&rec), OFF, 5).map(|r| r.kind), Ok(RecordKind::Meta));
        let rec = encode_record(5, 0, RecordKind::Full, 0, 0, OFF as u64, b"");
        assert_eq!(decode_record(&at_off(&rec), OFF, 5), Err(RawError::BadFields));
    }

    /// Recomputes both checksums of a hand-edited record.
    fn reseal(rec: &mut [u8], salt: u64) {
        let salt = &Salted::new(salt);
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
        assert!(Meta.may_follow(Some(Full)) && !Pad.may_follow(Some(BatchMiddle)));
    }
}

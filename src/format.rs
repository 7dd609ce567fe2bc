//! Every on-disk constant of the seawall format, in one place.
//!
//! `format-spec/FORMAT.md` mirrors this file section by section; the golden
//! vectors in `format-spec/vectors/` (checked by `tests/golden_vectors.rs`)
//! hold the two together. All integers are little-endian. Offsets are derived
//! one from the previous so that a change to one field cannot silently overlap
//! another.

/// Version of the on-disk format written by this build. A format change bumps
/// it, together with FORMAT.md and the golden vectors.
pub const FORMAT_VERSION: u32 = 1;

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SEAWALL\0";

/// Records (header and payload) start on multiples of this many bytes within a
/// segment; the gap after a payload is zero padding.
pub const RECORD_ALIGN: u64 = 8;

// ---------------------------------------------------------------------------
// Segment header: the first `SEGMENT_HEADER_LEN` bytes of a segment file.
// ---------------------------------------------------------------------------

/// Offset of the 8-byte magic.
pub const SEG_MAGIC_OFF: usize = 0;
/// Offset of the `u32` format version.
pub const SEG_VERSION_OFF: usize = SEG_MAGIC_OFF + 8;
/// Offset of the `u32` flags word (must be zero in version 1).
pub const SEG_FLAGS_OFF: usize = SEG_VERSION_OFF + 4;
/// Offset of the `u64` segment id (must equal the id in the file name).
pub const SEG_ID_OFF: usize = SEG_FLAGS_OFF + 4;
/// Offset of the `u64` LSN of the first record this segment holds.
pub const SEG_FIRST_LSN_OFF: usize = SEG_ID_OFF + 8;
/// Offset of the `u64` random salt mixed into every record checksum.
pub const SEG_SALT_OFF: usize = SEG_FIRST_LSN_OFF + 8;
/// Offset of the `u32` checksum of the record `first_lsn - 1` (0 if none).
pub const SEG_PREV_CRC_OFF: usize = SEG_SALT_OFF + 8;
/// Offset of the reserved bytes (must be zero in version 1).
pub const SEG_RESERVED_OFF: usize = SEG_PREV_CRC_OFF + 4;
/// Offset of the `u32` CRC-32 of bytes `0..SEG_CRC_OFF`.
pub const SEG_CRC_OFF: usize = 60;
/// Length of the segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: usize = SEG_CRC_OFF + 4;

const _: () = assert!(SEG_RESERVED_OFF <= SEG_CRC_OFF);
const _: () = assert!(SEGMENT_HEADER_LEN == 64);
const _: () = assert!((SEGMENT_HEADER_LEN as u64).is_multiple_of(RECORD_ALIGN));

// ---------------------------------------------------------------------------
// Record header: precedes every payload.
// ---------------------------------------------------------------------------

/// Offset of the `u32` record checksum: CRC-32 of
/// `salt ‖ header[REC_HEADER_CRC_OFF..] ‖ payload`.
pub const REC_CRC_OFF: usize = 0;
/// Offset of the `u32` header checksum: CRC-32 of `salt ‖ header[REC_LSN_OFF..]`.
/// It lets a scan past damage test a candidate header without trusting its
/// length field.
pub const REC_HEADER_CRC_OFF: usize = REC_CRC_OFF + 4;
/// Offset of the `u64` log sequence number.
pub const REC_LSN_OFF: usize = REC_HEADER_CRC_OFF + 4;
/// Offset of the `u32` payload length.
pub const REC_LEN_OFF: usize = REC_LSN_OFF + 8;
/// Offset of the `u32` checksum of the previous record (the hash chain).
pub const REC_PREV_CRC_OFF: usize = REC_LEN_OFF + 4;
/// Offset of the `u32` synced delta: `lsn - synced_lsn`, where every record up
/// to `synced_lsn` was durable before this record was written.
/// [`SYNCED_DELTA_UNKNOWN`] means the writer makes no claim.
pub const REC_SYNCED_DELTA_OFF: usize = REC_PREV_CRC_OFF + 4;
/// Offset of the `u8` record kind (see [`crate::RecordKind`]).
pub const REC_KIND_OFF: usize = REC_SYNCED_DELTA_OFF + 4;
/// Offset of the three reserved bytes (must be zero in version 1).
pub const REC_RESERVED_OFF: usize = REC_KIND_OFF + 1;
/// Length of the record header; the payload starts here.
pub const RECORD_HEADER_LEN: usize = REC_RESERVED_OFF + 3;

const _: () = assert!(RECORD_HEADER_LEN == 32);
const _: () = assert!((RECORD_HEADER_LEN as u64).is_multiple_of(RECORD_ALIGN));

/// Synced-delta value meaning "no claim about what was durable".
pub const SYNCED_DELTA_UNKNOWN: u32 = u32::MAX;

/// Largest valid LSN. A header or record naming a larger one is invalid, so
/// that LSN arithmetic (`last + 1`, record counts) cannot overflow on crafted
/// input; a writer would need 2^63 appends to get there.
pub const MAX_LSN: u64 = u64::MAX >> 1;

/// Record kind byte: a record that stands alone.
pub const KIND_FULL: u8 = 1;
/// Record kind byte: first record of an atomic batch.
pub const KIND_BATCH_FIRST: u8 = 2;
/// Record kind byte: a record inside an atomic batch.
pub const KIND_BATCH_MIDDLE: u8 = 3;
/// Record kind byte: last record of an atomic batch.
pub const KIND_BATCH_LAST: u8 = 4;

// ---------------------------------------------------------------------------
// Files in a log directory.
// ---------------------------------------------------------------------------

/// Segment files are named `{id:016x}` followed by this suffix, so that
/// lexical order of names is numeric order of ids.
pub const SEGMENT_SUFFIX: &str = ".wal";
/// Number of hex digits in a segment file name.
pub const SEGMENT_NAME_DIGITS: usize = 16;
/// The lock file held (with an exclusive advisory lock) by an open `Wal`.
pub const LOCK_FILE: &str = "LOCK";
/// Files moved aside by salvage recovery end with this suffix.
pub const QUARANTINE_SUFFIX: &str = ".quarantine";

/// Smallest segment size accepted by [`crate::Options::segment_size`].
pub const MIN_SEGMENT_SIZE: u64 = 64 * 1024;
/// Largest segment size accepted by [`crate::Options::segment_size`].
pub const MAX_SEGMENT_SIZE: u64 = 1 << 32;

const _: () = assert!(MIN_SEGMENT_SIZE > (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN) as u64);

/// Bytes a record with a payload of `len` bytes occupies in a segment,
/// header and padding included.
pub const fn record_size(len: u64) -> u64 {
    let raw = RECORD_HEADER_LEN as u64 + len;
    raw.div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

//! Every on-disk constant of the seawall format, in one place.
//!
//! `format-spec/FORMAT.md` mirrors this file section by section; the golden
//! vectors in `format-spec/vectors/` (checked by `tests/golden_vectors.rs`)
//! hold the two together. All integers are little-endian. Offsets are derived
//! one from the previous so that a change to one field cannot silently overlap
//! another.

/// Version of the on-disk format written by this build. A format change bumps
/// it, together with FORMAT.md and the golden vectors.
pub const FORMAT_VERSION: u32 = 3;

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
/// Offset of the `u32` flags word (see [`SEG_FLAG_RESET`]).
pub const SEG_FLAGS_OFF: usize = SEG_VERSION_OFF + 4;
/// Offset of the `u64` segment id (must equal the id in the file name).
pub const SEG_ID_OFF: usize = SEG_FLAGS_OFF + 4;
/// Offset of the `u64` LSN of the first record this segment holds.
pub const SEG_FIRST_LSN_OFF: usize = SEG_ID_OFF + 8;
/// Offset of the `u64` random salt mixed into every record checksum.
pub const SEG_SALT_OFF: usize = SEG_FIRST_LSN_OFF + 8;
/// Offset of the `u32` checksum of the record `first_lsn - 1` (0 if none).
pub const SEG_PREV_CRC_OFF: usize = SEG_SALT_OFF + 8;
/// Offset of the `u32` count of bytes of the previous segment (id - 1) that
/// were durable when this header was written (0: no claim). Set by a
/// rotation ([`SEG_FLAG_AHEAD`]), which writes the header before the
/// previous segment is sealed: damage before this offset there is damage to
/// durable bytes.
pub const SEG_PREV_SYNCED_OFF: usize = SEG_PREV_CRC_OFF + 4;
/// Offset of the reserved bytes (must be zero).
pub const SEG_RESERVED_OFF: usize = SEG_PREV_SYNCED_OFF + 4;
/// Offset of the `u32` CRC-32 of bytes `0..SEG_CRC_OFF`.
pub const SEG_CRC_OFF: usize = 60;
/// Length of the segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: usize = SEG_CRC_OFF + 4;

/// Segment flag: this segment starts a new log (`Wal::reset`); every segment
/// with a smaller id is no longer part of the log.
pub const SEG_FLAG_RESET: u32 = 1;
/// Segment flag: this segment holds a copy, made by recovery, of the records
/// from its first LSN on that nothing proved durable; it counts only once the
/// copy is complete (its walk reaches a record claiming every byte before it).
pub const SEG_FLAG_COPY: u32 = 2;
/// Segment flag: a rotation wrote this header ahead of the previous
/// segment's seal, which may not have completed (FORMAT.md W2). Without it,
/// every earlier segment was durable in full when the header was written.
pub const SEG_FLAG_AHEAD: u32 = 4;
/// Every flag this version knows; others make a header invalid.
pub const SEG_FLAGS_KNOWN: u32 = SEG_FLAG_RESET | SEG_FLAG_COPY | SEG_FLAG_AHEAD;

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
/// Offset of the `u64` log sequence number. Records of kinds that take no LSN
/// (meta, seal, pad, parity) store the LSN of the last record before them.
pub const REC_LSN_OFF: usize = REC_HEADER_CRC_OFF + 4;
/// Offset of the `u32` payload length.
pub const REC_LEN_OFF: usize = REC_LSN_OFF + 8;
/// Offset of the `u32` checksum of the record with LSN `lsn - 1` (the hash
/// chain; records that take no LSN name the record with LSN `lsn`).
pub const REC_PREV_CRC_OFF: usize = REC_LEN_OFF + 4;
/// Offset of the `u32` synced offset: every byte of this segment before it
/// was durable when this record was written ([`SYNCED_NONE`]: no claim).
pub const REC_SYNCED_OFF: usize = REC_PREV_CRC_OFF + 4;
/// Offset of the `u8` record kind.
pub const REC_KIND_OFF: usize = REC_SYNCED_OFF + 4;
/// Offset of the three reserved bytes (must be zero).
pub const REC_RESERVED_OFF: usize = REC_KIND_OFF + 1;
/// Length of the record header; the payload starts here.
pub const RECORD_HEADER_LEN: usize = REC_RESERVED_OFF + 3;

const _: () = assert!(RECORD_HEADER_LEN == 32);
const _: () = assert!((RECORD_HEADER_LEN as u64).is_multiple_of(RECORD_ALIGN));

/// Synced-offset value meaning "no claim about what was durable".
pub const SYNCED_NONE: u32 = 0;

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
/// Record kind byte: log state (metadata, purge point, cut marker); takes no LSN.
pub const KIND_META: u8 = 5;
/// Record kind byte: the index written when a segment is sealed; takes no LSN.
pub const KIND_SEAL: u8 = 6;
/// Record kind byte: zero padding up to a page boundary; takes no LSN.
pub const KIND_PAD: u8 = 7;
/// Record kind byte: parity of an acknowledged window; takes no LSN.
pub const KIND_PARITY: u8 = 8;

// ---------------------------------------------------------------------------
// Meta record payload (kind KIND_META).
// ---------------------------------------------------------------------------

/// Offset of the `u32` meta flags.
pub const META_FLAGS_OFF: usize = 0;
/// Offset of the `u32` entry count.
pub const META_COUNT_OFF: usize = META_FLAGS_OFF + 4;
/// Offset of the `u64` purge point: the log's first LSN from here on (0: unchanged).
pub const META_FIRST_LSN_OFF: usize = META_COUNT_OFF + 4;
/// Offset of the `u64` LSN a cut marker cuts back to (0 unless [`META_FLAG_CUT`]).
pub const META_CUT_LSN_OFF: usize = META_FIRST_LSN_OFF + 8;
/// Offset of the `u32` checksum of record `cut_lsn` (the chain after the cut).
pub const META_CUT_CRC_OFF: usize = META_CUT_LSN_OFF + 8;
/// Offset of the `u32` segment offset where the cut's dead bytes start.
pub const META_DEAD_START_OFF: usize = META_CUT_CRC_OFF + 4;
/// Length of the fixed part of a meta payload; entries follow.
pub const META_FIXED_LEN: usize = META_DEAD_START_OFF + 4;
/// Each entry: `u16` key length, `u32` value length, key, value.
pub const META_ENTRY_HEADER_LEN: usize = 6;

/// Meta flag: the entries replace every metadata entry (a snapshot).
pub const META_FLAG_SNAPSHOT: u32 = 1;
/// Meta flag: a cut marker (`truncate_after`): records after `cut_lsn` are
/// no longer part of the log, and the bytes from `dead_start` up to this
/// record are dead.
pub const META_FLAG_CUT: u32 = 2;
/// Every meta flag this version knows.
pub const META_FLAGS_KNOWN: u32 = META_FLAG_SNAPSHOT | META_FLAG_CUT;

const _: () = assert!(META_FIXED_LEN == 32);

/// Longest metadata key, in bytes.
pub const MAX_META_KEY: usize = 1024;
/// Longest metadata value, in bytes.
pub const MAX_META_VALUE: usize = 64 * 1024;
/// Upper bound on all metadata together (keys, values and entry headers); the
/// bound in force is also at most a sixteenth of the segment size.
pub const MAX_META_TOTAL: u64 = 1 << 20;

// ---------------------------------------------------------------------------
// Seal: the index record (kind KIND_SEAL) and the trailer at the end of a
// sealed segment file.
// ---------------------------------------------------------------------------

/// Offset of the `u64` first LSN the index covers.
pub const SEAL_FIRST_LSN_OFF: usize = 0;
/// Offset of the `u32` number of records (offsets) in the index.
pub const SEAL_COUNT_OFF: usize = SEAL_FIRST_LSN_OFF + 8;
/// Offset of the `u32` reserved word (must be zero).
pub const SEAL_RESERVED_OFF: usize = SEAL_COUNT_OFF + 4;
/// Length of the fixed part of an index payload; one `u32` record offset per
/// LSN follows, in LSN order.
pub const SEAL_FIXED_LEN: usize = SEAL_RESERVED_OFF + 4;

/// Offset of the trailer magic.
pub const TRL_MAGIC_OFF: usize = 0;
/// Offset of the `u64` segment id.
pub const TRL_ID_OFF: usize = TRL_MAGIC_OFF + 8;
/// Offset of the `u64` salt (equal to the header's).
pub const TRL_SALT_OFF: usize = TRL_ID_OFF + 8;
/// Offset of the `u64` first LSN of the segment.
pub const TRL_FIRST_LSN_OFF: usize = TRL_SALT_OFF + 8;
/// Offset of the `u64` last LSN of the segment.
pub const TRL_LAST_LSN_OFF: usize = TRL_FIRST_LSN_OFF + 8;
/// Offset of the `u32` checksum of the last record.
pub const TRL_LAST_CRC_OFF: usize = TRL_LAST_LSN_OFF + 8;
/// Offset of the `u32` offset of the index record.
pub const TRL_INDEX_OFF_OFF: usize = TRL_LAST_CRC_OFF + 4;
/// Offset of the `u32` record checksum of the index record.
pub const TRL_INDEX_CRC_OFF: usize = TRL_INDEX_OFF_OFF + 4;
/// Offset of the reserved bytes (must be zero).
pub const TRL_RESERVED_OFF: usize = TRL_INDEX_CRC_OFF + 4;
/// Offset of the `u32` CRC-32 of the trailer's bytes before it.
pub const TRL_CRC_OFF: usize = 60;
/// Length of the trailer; it occupies the last bytes of a sealed segment file.
pub const TRAILER_LEN: usize = TRL_CRC_OFF + 4;
/// The first eight bytes of a trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"SEAWSEAL";

const _: () = assert!(TRL_RESERVED_OFF <= TRL_CRC_OFF);
const _: () = assert!(TRAILER_LEN == 64);

// ---------------------------------------------------------------------------
// Parity (kind KIND_PARITY) and the frontier.
// ---------------------------------------------------------------------------

/// Page size of the parity: the XOR of every `PARITY_PAGE`-byte page of a window.
pub const PARITY_PAGE: usize = 4096;
/// Offset of the `u32` first offset the parity covers.
pub const PARITY_START_OFF: usize = 0;
/// Offset of the `u32` end (exclusive) of the bytes the parity covers.
pub const PARITY_END_OFF: usize = PARITY_START_OFF + 4;
/// Offset of the parity page itself.
pub const PARITY_DATA_OFF: usize = PARITY_END_OFF + 4;
/// Length of a parity payload.
pub const PARITY_PAYLOAD_LEN: usize = PARITY_DATA_OFF + PARITY_PAGE;

/// The frontier: an acknowledged window of at most this many bytes at the end
/// of the log is covered by nothing but itself, so damage to it cannot be told
/// from a torn write. A sync that acknowledges a larger unclaimed window writes
/// a parity record.
pub const FRONTIER: u64 = PARITY_PAGE as u64;

// ---------------------------------------------------------------------------
// Files in a log directory.
// ---------------------------------------------------------------------------

/// Segment files are named `{id:016x}` followed by this suffix, so that
/// lexical order of names is numeric order of ids.
pub const SEGMENT_SUFFIX: &str = ".wal";
/// Number of hex digits in a segment file name.
pub const SEGMENT_NAME_DIGITS: usize = 16;
/// Largest segment id a log may hold, so that ids never wrap when the log
/// rotates; a file named with a larger id is refused.
pub const MAX_SEGMENT_ID: u64 = 1 << 62;
/// The lock file held (with an exclusive advisory lock) by an open `Wal`.
pub const LOCK_FILE: &str = "LOCK";
/// Files moved aside by salvage recovery end with this suffix.
pub const QUARANTINE_SUFFIX: &str = ".quarantine";

/// Smallest segment size accepted by [`crate::Options::segment_size`].
pub const MIN_SEGMENT_SIZE: u64 = 64 * 1024;
/// Largest segment size accepted by [`crate::Options::segment_size`].
pub const MAX_SEGMENT_SIZE: u64 = 1 << 32;

/// Bytes of every segment set aside for its fixed overheads: the header, the
/// fixed parts of its first meta snapshot and of its index, and the trailer.
pub const SEGMENT_OVERHEAD: u64 = 512;

const _: () = assert!(
    SEGMENT_OVERHEAD
        >= (SEGMENT_HEADER_LEN + 2 * RECORD_HEADER_LEN + META_FIXED_LEN + SEAL_FIXED_LEN + TRAILER_LEN + 8) as u64
);
const _: () = assert!(MIN_SEGMENT_SIZE > SEGMENT_OVERHEAD + RECORD_HEADER_LEN as u64);

/// Bytes a record with a payload of `len` bytes occupies in a segment,
/// header and padding included.
pub const fn record_size(len: u64) -> u64 {
    let raw = RECORD_HEADER_LEN as u64 + len;
    raw.div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

/// Bytes of the index record of a segment holding `count` records.
pub const fn seal_size(count: u64) -> u64 {
    record_size(SEAL_FIXED_LEN as u64 + 4 * count)
}

/// Bytes a parity record occupies.
pub const PARITY_RECORD_LEN: u64 = record_size(PARITY_PAYLOAD_LEN as u64);

/// The largest total size of metadata for segments of `segment_size` bytes.
pub const fn meta_limit(segment_size: u64) -> u64 {
    let sixteenth = segment_size / 16;
    if sixteenth < MAX_META_TOTAL {
        sixteenth
    } else {
        MAX_META_TOTAL
    }
}

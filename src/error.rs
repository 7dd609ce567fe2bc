//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

use crate::{Lsn, SegmentId};

/// A specialised `Result` for seawall operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a stretch of the log failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorruptionReason {
    /// A segment header's magic bytes are wrong.
    BadMagic,
    /// A segment header's checksum does not match.
    BadHeaderChecksum,
    /// A segment header is shorter than the header length.
    ShortHeader,
    /// A segment header names another segment id than its file name.
    SegmentIdMismatch,
    /// A segment header's reserved fields are not zero, it sets an unknown
    /// flag, or its first LSN is 0 or above [`crate::format::MAX_LSN`].
    BadHeaderFields,
    /// A record header or payload failed its checksum.
    BadChecksum,
    /// A record is valid but its LSN does not follow its predecessor.
    LsnMismatch,
    /// A record does not name its predecessor's checksum (hash chain broken).
    ChainMismatch,
    /// Records of an atomic batch are out of order or incomplete.
    BadBatch,
    /// A record's length field runs past the end of its segment.
    BadLength,
    /// A segment ends before the LSN at which the next segment starts.
    MissingRecords,
    /// A record written after the damaged one states that the damaged one was
    /// already durable.
    DamageToSyncedRecords,
    /// A meta record's payload is malformed, or its cut does not fit the log.
    BadMeta,
    /// A sealed segment's index does not match its records.
    BadIndex,
    /// A sealed segment's successor, which existed before it was sealed, is
    /// missing.
    MissingSegment,
    /// The log's first records are missing: the durable purge point names an
    /// LSN before the first segment that remains.
    MissingStart,
}

impl std::fmt::Display for CorruptionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            CorruptionReason::BadMagic => "bad magic",
            CorruptionReason::BadHeaderChecksum => "segment header checksum mismatch",
            CorruptionReason::ShortHeader => "segment header truncated",
            CorruptionReason::SegmentIdMismatch => "segment header names another segment",
            CorruptionReason::BadHeaderFields => "segment header has non-zero reserved fields",
            CorruptionReason::BadChecksum => "record checksum mismatch",
            CorruptionReason::LsnMismatch => "record LSN out of sequence",
            CorruptionReason::ChainMismatch => "record does not chain to its predecessor",
            CorruptionReason::BadBatch => "atomic batch out of order",
            CorruptionReason::BadLength => "record length runs past the segment",
            CorruptionReason::MissingRecords => "records missing before the next segment",
            CorruptionReason::DamageToSyncedRecords => "damaged record was durable before later records were written",
            CorruptionReason::BadMeta => "meta record is malformed or its cut does not fit the log",
            CorruptionReason::BadIndex => "sealed segment's index does not match its records",
            CorruptionReason::MissingSegment => "the segment after a sealed segment is missing",
            CorruptionReason::MissingStart => "records between the purge point and the first segment are missing",
        };
        f.write_str(s)
    }
}

/// Every failure seawall reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation that failed (`"write"`, `"fdatasync"`, ...).
        op: &'static str,
        /// The file or directory it acted on.
        path: PathBuf,
        /// The error the operating system returned.
        #[source]
        source: io::Error,
    },
    /// Another `Wal` (in this or another process) holds the directory open.
    #[error("log directory {path} is locked by another open Wal")]
    Locked {
        /// The log directory.
        path: PathBuf,
    },
    /// The log is damaged before its end: records that may have been
    /// acknowledged are unreadable. Nothing was modified.
    #[error("corruption in segment {segment} at offset {offset} (expected LSN {lsn}): {reason}")]
    Corruption {
        /// The damaged segment.
        segment: SegmentId,
        /// Byte offset of the damage within the segment file.
        offset: u64,
        /// The LSN expected at the damaged position.
        lsn: Lsn,
        /// What failed validation.
        reason: CorruptionReason,
    },
    /// The log ends in a torn write and [`crate::RecoveryMode::Strict`] refuses
    /// to repair it. Nothing was modified.
    #[error("torn tail in segment {segment} at offset {offset} ({bytes} bytes after LSN {last_lsn})")]
    TornTail {
        /// The segment holding the torn tail.
        segment: SegmentId,
        /// Byte offset where the valid records end.
        offset: u64,
        /// Bytes a repair would drop.
        bytes: u64,
        /// The last valid LSN before the tail.
        last_lsn: Lsn,
    },
    /// A segment was written by an unsupported format version.
    #[error("segment {segment} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The segment.
        segment: SegmentId,
        /// The version found in its header.
        found: u32,
        /// The version this build supports.
        supported: u32,
    },
    /// The path is not a seawall log directory.
    #[error("{path} is not a seawall log: {reason}")]
    NotALog {
        /// The path given.
        path: PathBuf,
        /// Why it was rejected.
        reason: NotALogReason,
    },
    /// A record (or an atomic batch) is larger than the configured maximum.
    #[error("record of {size} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Size of the rejected record or batch payload, in bytes.
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// An LSN argument lies outside the log.
    #[error("LSN {lsn} is outside the log (first {first}, last {last})")]
    LsnOutOfRange {
        /// The LSN given.
        lsn: Lsn,
        /// The first LSN the log holds.
        first: Lsn,
        /// The last LSN the log holds.
        last: Lsn,
    },
    /// An [`crate::Options`] value is outside its valid range.
    #[error("option {option} = {value} is outside its valid range {min}..={max}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: u64,
        /// Smallest valid value.
        min: u64,
        /// Largest valid value.
        max: u64,
    },
    /// `truncate_after` would cut an atomic batch in two.
    #[error("LSN {lsn} lies inside an atomic batch; truncate at a batch boundary")]
    InsideBatch {
        /// The LSN given.
        lsn: Lsn,
    },
    /// An atomic batch must hold at least one record.
    #[error("an atomic batch must hold at least one record")]
    EmptyBatch,
    /// An earlier write or sync failed; the log refuses further work until
    /// it is reopened, because the kernel may have dropped unsynced data.
    #[error("log is poisoned by an earlier failed {op} ({kind}); reopen it to recover")]
    Poisoned {
        /// The operation that failed.
        op: &'static str,
        /// The kind of the original error.
        kind: io::ErrorKind,
    },
    /// The `Wal` was closed.
    #[error("log is closed")]
    Closed,
    /// The record at `lsn` was removed from the log (by `truncate_after`,
    /// `truncate_before` or `reset`) while a call waited for it or an
    /// iterator was about to yield it.
    #[error("record {lsn} was removed from the log by a truncation or reset")]
    Truncated {
        /// The LSN of the removed record.
        lsn: Lsn,
    },
    /// A metadata key or value, or all metadata together, is too large.
    #[error("metadata of {size} bytes exceeds the maximum of {max} bytes")]
    MetaTooLarge {
        /// Size of the rejected key, value or total, in bytes.
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// A file in the log directory cannot be part of a log.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: BadFileReason,
    },
}

/// Why a file in a log directory cannot be part of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadFileReason {
    /// It is named like a segment but is not a regular file (a directory, a
    /// FIFO, a socket, a device); it is never opened.
    NotRegular,
    /// It is named like a segment whose id is above
    /// [`crate::format::MAX_SEGMENT_ID`], so the log could not rotate past it.
    IdOutOfRange,
}

impl std::fmt::Display for BadFileReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadFileReason::NotRegular => "named like a segment but not a regular file",
            BadFileReason::IdOutOfRange => "named like a segment with an id too large to rotate past",
        })
    }
}

/// Why a path is not a seawall log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotALogReason {
    /// Nothing exists at the path.
    Missing,
    /// The path is not a directory.
    NotADirectory,
    /// The directory holds no segment files.
    NoSegments,
    /// The directory holds files, none of them seawall's.
    ForeignFiles,
}

impl std::fmt::Display for NotALogReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotALogReason::Missing => "no such directory",
            NotALogReason::NotADirectory => "not a directory",
            NotALogReason::NoSegments => "no segment files",
            NotALogReason::ForeignFiles => "directory holds other files and no segments",
        })
    }
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { op, path: path.into(), source }
    }
}

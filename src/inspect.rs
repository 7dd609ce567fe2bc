//! What a scan of a log directory found: per-segment facts and the state of
//! the tail. The CLI's `inspect` and `verify` print exactly these values.

use std::path::PathBuf;

use crate::error::CorruptionReason;
use crate::segment::SegmentHeader;
use crate::{Lsn, SegmentId};

/// The role a segment file plays in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentState {
    /// Complete, with a successor.
    Sealed,
    /// The newest segment, where appends go.
    Active,
    /// Created ahead of need and never used (blank header, zero body).
    Unused,
    /// Its header write was cut by a crash before any record was written.
    TornHeader,
    /// Every record it holds was cut by `truncate_after`: a later segment
    /// starts at or before its first LSN.
    Superseded,
    /// The segment where validation failed.
    Corrupt(CorruptionReason),
    /// Lies after corruption; its records are unreachable.
    AfterCorruption,
}

/// One segment file, as a scan saw it.
#[derive(Clone, Debug)]
pub struct SegmentInfo {
    /// The segment id.
    pub id: SegmentId,
    /// The file.
    pub path: PathBuf,
    /// The file's length in bytes (allocated space).
    pub file_len: u64,
    /// The decoded header, when valid.
    pub header: Option<SegmentHeader>,
    /// First LSN of the records accepted from this segment.
    pub first_lsn: Option<Lsn>,
    /// Last LSN of the records accepted from this segment.
    pub last_lsn: Option<Lsn>,
    /// Number of records accepted from this segment.
    pub records: u64,
    /// Offset just past the last accepted record (header included).
    pub bytes_used: u64,
    /// The segment's role.
    pub state: SegmentState,
}

/// How the log ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailState {
    /// The last record is followed only by unwritten space.
    Clean,
    /// The log ends in a torn write, which a normal open cuts off.
    Torn {
        /// Segment holding the tail.
        segment: SegmentId,
        /// Offset where the valid records end.
        offset: u64,
        /// Bytes a normal open would drop (or, for a torn segment header, the
        /// length of the segment file it would remove).
        bytes: u64,
        /// Last valid LSN.
        last_lsn: Lsn,
    },
    /// Records that had been durable are damaged; a normal open refuses.
    Corrupt {
        /// The damaged segment.
        segment: SegmentId,
        /// Offset of the damage.
        offset: u64,
        /// LSN expected at the damage.
        lsn: Lsn,
        /// What failed.
        reason: CorruptionReason,
        /// Valid records found after the damage (in this and later segments).
        valid_records_after: u64,
    },
}

/// The result of scanning a log directory without changing it.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The log directory.
    pub dir: PathBuf,
    /// Every segment file, in log order.
    pub segments: Vec<SegmentInfo>,
    /// How the log ends.
    pub tail: TailState,
    /// First LSN of the valid log (`last_lsn + 1` when it holds no record).
    pub first_lsn: Lsn,
    /// Last LSN of the valid prefix ([`Lsn::ZERO`] when empty).
    pub last_lsn: Lsn,
    /// Name of the recovery decision-table row that judged the end of the
    /// valid log (see FORMAT.md), or of the header check that did.
    pub rule: &'static str,
    /// That row's one-line rationale.
    pub why: &'static str,
}

impl Inspection {
    /// Number of valid records.
    pub fn records(&self) -> u64 {
        self.last_lsn.get() + 1 - self.first_lsn.get()
    }

    /// Whether the log needs no repair.
    pub fn is_clean(&self) -> bool {
        self.tail == TailState::Clean
    }
}

//! What a scan of a log directory found: per-segment facts and the state of
//! the tail. The CLI's `inspect` and `verify` print exactly these values.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use bytes::Bytes;

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
    /// Every record it holds was cut by `truncate_after` (a later segment
    /// starts at or before its first LSN), or dropped by `reset`.
    Superseded,
    /// Every record it holds lies before the log's purge point
    /// (`truncate_before`); open removes it.
    Purged,
    /// The segment where validation failed.
    Corrupt(CorruptionReason),
    /// Lies after corruption: its records are valid but unreachable by the
    /// log until the corruption is repaired or salvaged.
    AfterCorruption,
    /// Lies after a segment whose seal a crash cut short: it was started
    /// before that segment was durable, and nothing in it was acknowledged
    /// durable. Open moves it aside (or removes it if it holds no record).
    AfterTornSeal,
}

impl fmt::Display for SegmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentState::Sealed => f.write_str("sealed"),
            SegmentState::Active => f.write_str("active"),
            SegmentState::Unused => f.write_str("unused"),
            SegmentState::TornHeader => f.write_str("torn header"),
            SegmentState::Superseded => f.write_str("superseded"),
            SegmentState::Purged => f.write_str("purged"),
            SegmentState::Corrupt(r) => write!(f, "corrupt ({r})"),
            SegmentState::AfterCorruption => f.write_str("after corruption"),
            SegmentState::AfterTornSeal => f.write_str("after torn seal"),
        }
    }
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
    /// First LSN of the valid records this file holds (whether or not the
    /// log can reach them).
    pub first_lsn: Option<Lsn>,
    /// Last LSN of the valid records this file holds.
    pub last_lsn: Option<Lsn>,
    /// Number of valid records this file holds.
    pub records: u64,
    /// Offset just past the last valid record (header included).
    pub bytes_used: u64,
    /// Whether the segment was trusted through its seal trailer instead of
    /// being read in full (a verifying scan reads everything).
    pub trusted: bool,
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

impl fmt::Display for TailState {
    /// The sentence the CLI prints:
    ///
    /// ```
    /// use seawall::{Lsn, SegmentId, TailState};
    /// let t = TailState::Torn { segment: SegmentId::new(2), offset: 4096, bytes: 13, last_lsn: Lsn::new(7) };
    /// assert_eq!(t.to_string(), "torn: segment 0000000000000002.wal at offset 4096: 13 bytes after LSN 7; a normal open drops them");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TailState::Clean => f.write_str("clean: only unwritten space follows the last record"),
            TailState::Torn { segment, offset, bytes, last_lsn } if *offset == 0 => write!(
                f,
                "torn: segment {segment} has a torn header over a blank body ({bytes} bytes) after LSN {last_lsn}; a normal open removes it"
            ),
            TailState::Torn { segment, offset, bytes, last_lsn } => write!(
                f,
                "torn: segment {segment} at offset {offset}: {bytes} bytes after LSN {last_lsn}; a normal open drops them"
            ),
            TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => write!(
                f,
                "corrupt: segment {segment} at offset {offset} (LSN {lsn}): {reason}; {valid_records_after} valid records follow"
            ),
        }
    }
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
    /// First LSN of the valid log: the purge point (`last_lsn + 1` when it
    /// holds no record).
    pub first_lsn: Lsn,
    /// Last LSN of the valid prefix ([`Lsn::ZERO`] when empty).
    pub last_lsn: Lsn,
    /// LSN ranges the log should hold but no segment file does (a segment
    /// file deleted from the middle or the start).
    pub missing: Vec<RangeInclusive<Lsn>>,
    /// The log's metadata (`Wal::set_meta`).
    pub metas: BTreeMap<Bytes, Bytes>,
    /// Byte ranges `(segment, offset, bytes)` an open must rewrite although
    /// the log itself is whole: pages rebuilt from parity, and the dead bytes
    /// of a cut a crash interrupted (see FORMAT.md §6.1).
    pub repairs: Vec<(SegmentId, u64, u64)>,
    /// Name of the recovery decision-table row that judged the end of the
    /// valid log (see FORMAT.md), or of the header check that did.
    pub rule: &'static str,
    /// That row's one-line rationale.
    pub why: &'static str,
}

impl Inspection {
    /// Number of valid records.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for _ in 0..3 {
    ///     wal.append(b"r")?;
    /// }
    /// wal.close()?;
    /// assert_eq!(seawall::Reader::open(dir.path())?.inspection().records(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn records(&self) -> u64 {
        self.last_lsn.get() + 1 - self.first_lsn.get()
    }

    /// Whether the log needs no repair.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append_durable(b"r")?;
    /// wal.close()?;
    /// assert!(seawall::Reader::open(dir.path())?.inspection().is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        self.tail == TailState::Clean && self.repairs.is_empty()
    }
}

//! Reading: the offline `Reader`, and the record iterator shared with `Wal`.
//!
//! Segments are memory-mapped one at a time and payloads handed out as
//! `Bytes` slices of the mapping, so memory use does not grow with the log and
//! payloads are never copied. Every record is validated again as it is read.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{CorruptionReason, Error, Result};
use crate::inspect::Inspection;
use crate::mmap::map_file;
use crate::record::{decode_record, RecordKind};
use crate::recovery::{analyze, Analysis};
use crate::segment::{HeaderState, SegmentHeader};
use crate::{Lsn, SegmentId};

/// One record read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    lsn: Lsn,
    payload: Bytes,
    kind: RecordKind,
    segment: SegmentId,
    offset: u64,
    checksum: u32,
}

impl Record {
    /// The record's LSN.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The payload, a zero-copy slice of the mapped segment.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The record's role in an atomic batch.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The segment holding the record.
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// Byte offset of the record header within its segment file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The record checksum stored on disk.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }
}

/// The LSN range one segment contributes.
#[derive(Clone, Debug)]
pub(crate) struct IterSpan {
    pub id: SegmentId,
    pub path: PathBuf,
    pub first_lsn: u64,
    pub last_lsn: u64,
}

/// Streams records in LSN order across segments. Yields `Err` once (and then
/// stops) if a file no longer validates.
#[derive(Debug)]
pub struct Iter {
    spans: std::vec::IntoIter<IterSpan>,
    current: Option<Cursor>,
    next_lsn: u64,
    failed: bool,
}

#[derive(Debug)]
struct Cursor {
    span: IterSpan,
    bytes: Bytes,
    salt: u64,
    offset: usize,
    lsn: u64,
    prev_crc: u32,
    prev_kind: Option<RecordKind>,
}

impl Cursor {
    fn open(span: IterSpan) -> Result<Cursor> {
        let bytes = map_file(&span.path).map_err(|e| Error::io("mmap", &span.path, e))?;
        let header = match SegmentHeader::decode(&bytes, span.id) {
            HeaderState::Valid(h) if h.first_lsn == span.first_lsn => h,
            HeaderState::Invalid(reason) => {
                return Err(Error::Corruption { segment: span.id, offset: 0, lsn: Lsn::new(span.first_lsn), reason })
            }
            _ => {
                return Err(Error::Corruption {
                    segment: span.id,
                    offset: 0,
                    lsn: Lsn::new(span.first_lsn),
                    reason: CorruptionReason::BadHeaderFields,
                })
            }
        };
        Ok(Cursor {
            bytes,
            salt: header.salt,
            offset: crate::format::SEGMENT_HEADER_LEN,
            lsn: span.first_lsn - 1,
            prev_crc: header.prev_crc,
            prev_kind: None,
            span,
        })
    }

    /// The next record of this segment, or `None` past its last LSN.
    fn next_record(&mut self) -> Option<Result<Record>> {
        if self.lsn >= self.span.last_lsn {
            return None;
        }
        let fail = |reason| Error::Corruption {
            segment: self.span.id,
            offset: self.offset as u64,
            lsn: Lsn::new(self.lsn + 1),
            reason,
        };
        let r = match decode_record(&self.bytes, self.offset, self.salt) {
            Ok(r) => r,
            Err(_) => return Some(Err(fail(CorruptionReason::BadChecksum))),
        };
        if r.lsn != self.lsn + 1 {
            return Some(Err(fail(CorruptionReason::LsnMismatch)));
        }
        if r.prev_crc != self.prev_crc {
            return Some(Err(fail(CorruptionReason::ChainMismatch)));
        }
        if !r.kind.may_follow(self.prev_kind) {
            return Some(Err(fail(CorruptionReason::BadBatch)));
        }
        let record = Record {
            lsn: Lsn::new(r.lsn),
            payload: self.bytes.slice(r.payload_start..r.payload_start + r.payload_len),
            kind: r.kind,
            segment: self.span.id,
            offset: self.offset as u64,
            checksum: r.crc,
        };
        self.offset = r.next;
        self.lsn = r.lsn;
        self.prev_crc = r.crc;
        self.prev_kind = Some(r.kind);
        Some(Ok(record))
    }
}

impl Iter {
    pub(crate) fn new(spans: Vec<IterSpan>, from: u64) -> Iter {
        let spans: Vec<IterSpan> = spans.into_iter().filter(|s| s.last_lsn >= from.max(s.first_lsn)).collect();
        Iter { spans: spans.into_iter(), current: None, next_lsn: from, failed: false }
    }
}

impl Iterator for Iter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.failed {
            return None;
        }
        loop {
            if self.current.is_none() {
                let span = self.spans.next()?;
                match Cursor::open(span) {
                    Ok(c) => self.current = Some(c),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let cursor = self.current.as_mut().expect("cursor is open");
            match cursor.next_record() {
                None => self.current = None,
                Some(Ok(r)) if r.lsn.get() < self.next_lsn => continue,
                Some(Ok(r)) => {
                    self.next_lsn = r.lsn.get() + 1;
                    return Some(Ok(r));
                }
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A read-only view of a log directory: takes no lock and never modifies a
/// file, so it can inspect a log while a `Wal` in another process writes it
/// (records still in flight at the tail may then show up as a torn tail).
///
/// ```
/// # fn main() -> Result<(), seawall::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
/// # wal.append_durable(b"x")?;
/// # wal.close()?;
/// let reader = seawall::Reader::open(dir.path())?;
/// for rec in reader.iter_from(reader.first_lsn())? {
///     let rec = rec?;
///     println!("{} {:?}", rec.lsn(), rec.payload());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reader {
    analysis: Analysis,
}

impl Reader {
    /// Scans the log in `dir`. Succeeds on a damaged log (see
    /// [`Reader::inspection`]); fails with [`Error::NotALog`] when `dir` is
    /// missing, not a directory, or holds no segment files.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        Ok(Reader { analysis: analyze(dir.as_ref())? })
    }

    /// What the scan found: segments, the tail's state, the valid LSN range.
    pub fn inspection(&self) -> &Inspection {
        &self.analysis.inspection
    }

    /// First LSN of the valid log.
    pub fn first_lsn(&self) -> Lsn {
        self.analysis.inspection.first_lsn
    }

    /// Last LSN of the valid prefix ([`Lsn::ZERO`] when empty).
    pub fn last_lsn(&self) -> Lsn {
        self.analysis.inspection.last_lsn
    }

    /// Iterates over the valid records from `lsn` on; `lsn` may range from
    /// `first_lsn()` to `last_lsn() + 1`.
    pub fn iter_from(&self, lsn: Lsn) -> Result<Iter> {
        let (first, last) = (self.first_lsn(), self.last_lsn());
        if lsn < first || lsn.get() > last.get() + 1 {
            return Err(Error::LsnOutOfRange { lsn, first, last });
        }
        let spans = self
            .analysis
            .spans
            .iter()
            .map(|s| IterSpan { id: s.id, path: s.path.clone(), first_lsn: s.header.first_lsn, last_lsn: s.last_lsn })
            .collect();
        Ok(Iter::new(spans, lsn.get()))
    }
}

/// The checksum of record `lsn` (or the segment's chain seed for
/// `first_lsn - 1`) and whether a unit ends there.
pub(crate) struct Found {
    pub crc: u32,
    pub ends_unit: bool,
}

/// Finds record `lsn` in segment `id`, which starts at `first_lsn`.
pub(crate) fn find_record(path: &Path, id: SegmentId, first_lsn: u64, lsn: u64) -> Result<Found> {
    let span = IterSpan { id, path: path.into(), first_lsn, last_lsn: lsn };
    let mut cursor = Cursor::open(span)?;
    let mut found = Found { crc: cursor.prev_crc, ends_unit: true };
    while let Some(r) = cursor.next_record() {
        let r = r?;
        found = Found { crc: r.checksum, ends_unit: r.kind.ends_unit() };
    }
    if cursor.lsn != lsn && lsn >= first_lsn {
        return Err(Error::Corruption {
            segment: id,
            offset: cursor.offset as u64,
            lsn: Lsn::new(cursor.lsn + 1),
            reason: CorruptionReason::MissingRecords,
        });
    }
    Ok(found)
}

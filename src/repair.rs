//! Acting on an analysis: the changes recovery makes, in crash-safe order.
//!
//! Order matters. Bytes to be cut are first copied to quarantine files (when
//! salvaging) and made durable; then whole files are moved aside or removed
//! and the directory synced; only then are dropped bytes overwritten with
//! zeros and synced. A crash at any point leaves a log that a new recovery
//! judges the same way: removed segments were superseded or held no record,
//! and partly zeroed torn bytes are still a torn tail.

use std::path::{Path, PathBuf};

use crate::error::{CorruptionReason, Error, Result};
use crate::format::{QUARANTINE_SUFFIX, SEGMENT_HEADER_LEN};
use crate::inspect::{SegmentState, TailState};
use crate::io::{read_exact_at, write_all_at, FileSystem};
use crate::recovery::{Analysis, Cut};
use crate::{Lsn, RecoveryMode, SegmentId};

/// Why recovery removed a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemovalReason {
    /// A later segment superseded every record in it (a `truncate_after` cut,
    /// or a `reset`).
    Superseded,
    /// It was created ahead of need and never used.
    Unused,
    /// Its header was torn by a crash before any record was written to it.
    TornHeader,
    /// Every record in it lies before the log's purge point.
    Purged,
    /// It holds no record, and lies after a segment whose seal a crash cut
    /// short.
    AfterTornSeal,
}

impl std::fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemovalReason::Superseded => "superseded: a later segment replaced its records (truncate_after or reset)",
            RemovalReason::Unused => "unused: created ahead of need, never written",
            RemovalReason::TornHeader => "torn header: a rotation cut by a crash before any record",
            RemovalReason::Purged => "purged: every record lies before the purge point",
            RemovalReason::AfterTornSeal => "after a torn seal: started before the segment before it was durable",
        })
    }
}

/// One change recovery made (or, for a dry run, would make).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryAction {
    /// Bytes `offset..offset + bytes` of a segment were copied to `file`, at
    /// the same offsets and after a copy of the segment's header, so that
    /// `seawall dump FILE` reads the records they hold.
    QuarantinedBytes {
        /// The segment.
        segment: SegmentId,
        /// First byte copied.
        offset: u64,
        /// Bytes copied.
        bytes: u64,
        /// The quarantine file.
        file: PathBuf,
    },
    /// A whole segment file was renamed to `file`.
    QuarantinedSegment {
        /// The segment.
        segment: SegmentId,
        /// The quarantine file.
        file: PathBuf,
    },
    /// A segment file was removed.
    RemovedSegment {
        /// The segment.
        segment: SegmentId,
        /// Why.
        reason: RemovalReason,
    },
    /// Bytes `offset..offset + bytes` of a segment were overwritten with zeros.
    ClearedTail {
        /// The segment.
        segment: SegmentId,
        /// First byte cleared.
        offset: u64,
        /// Bytes cleared.
        bytes: u64,
    },
    /// Records no later record proved durable were copied to a new segment
    /// (see FORMAT.md): they may have been adopted from a page cache whose
    /// dirty pages a failed `fdatasync` dropped. LSNs `first_lsn..=last_lsn`
    /// (empty when only metadata was copied).
    CopiedUnclaimed {
        /// The segment holding the originals.
        segment: SegmentId,
        /// The new segment.
        into: SegmentId,
        /// First LSN copied.
        first_lsn: Lsn,
        /// Last LSN copied.
        last_lsn: Lsn,
    },
    /// A salvage cut moved aside the segments that may have held the newest
    /// metadata and purge point: they were written again, into new segment
    /// `segment` starting at `first_lsn`. With `reset`, every kept record
    /// lay before the purge point, so the new segment starts the log afresh
    /// there and the kept segments were removed as superseded.
    WroteMetadata {
        /// The new segment.
        segment: SegmentId,
        /// Its first LSN.
        first_lsn: Lsn,
        /// It supersedes every segment before it.
        reset: bool,
    },
    /// A damaged page of an acknowledged window was rebuilt from the parity
    /// written with it, and written back.
    RepairedPage {
        /// The segment.
        segment: SegmentId,
        /// First byte rewritten.
        offset: u64,
        /// Bytes rewritten.
        bytes: u64,
    },
}

impl std::fmt::Display for RecoveryAction {
    /// One line per action, as `seawall repair` prints it:
    ///
    /// ```
    /// use seawall::{RecoveryAction, SegmentId};
    /// let a = RecoveryAction::ClearedTail { segment: SegmentId::new(2), offset: 100, bytes: 13 };
    /// assert_eq!(a.to_string(), "clear 0000000000000002.wal bytes 100..113 (13 bytes) overwritten with zeros");
    /// // A recovery copy of the metadata alone names no LSNs.
    /// let (segment, into) = (SegmentId::new(2), SegmentId::new(3));
    /// let (first_lsn, last_lsn) = (seawall::Lsn::new(8), seawall::Lsn::new(7));
    /// let a = RecoveryAction::CopiedUnclaimed { segment, into, first_lsn, last_lsn };
    /// assert_eq!(a.to_string(), "copy 0000000000000002.wal the metadata into 0000000000000003.wal: no later record proved it durable");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryAction::QuarantinedBytes { segment, offset, bytes, file } => write!(
                f,
                "quarantine {segment} bytes {offset}..{} ({bytes} bytes) copied to {}",
                offset + bytes,
                file.display()
            ),
            RecoveryAction::QuarantinedSegment { segment, file } => {
                write!(f, "quarantine {segment} renamed to {}", file.display())
            }
            RecoveryAction::RemovedSegment { segment, reason } => write!(f, "remove {segment} {reason}"),
            RecoveryAction::ClearedTail { segment, offset, bytes } => {
                write!(f, "clear {segment} bytes {offset}..{} ({bytes} bytes) overwritten with zeros", offset + bytes)
            }
            RecoveryAction::CopiedUnclaimed { segment, into, first_lsn, last_lsn } if last_lsn < first_lsn => {
                write!(f, "copy {segment} the metadata into {into}: no later record proved it durable")
            }
            RecoveryAction::CopiedUnclaimed { segment, into, first_lsn, last_lsn } => write!(
                f,
                "copy {segment} LSN {first_lsn}..={last_lsn} into {into}: no later record proved them durable"
            ),
            RecoveryAction::WroteMetadata { segment, first_lsn, reset: false } => write!(
                f,
                "start {segment} at LSN {first_lsn} with the metadata and purge point, which the cut segments held"
            ),
            RecoveryAction::WroteMetadata { segment, first_lsn, reset: true } => write!(
                f,
                "start {segment} at LSN {first_lsn} with the metadata and purge point, superseding every kept record (all lay before the purge point)"
            ),
            RecoveryAction::RepairedPage { segment, offset, bytes } => {
                write!(f, "repair {segment} bytes {offset}..{} ({bytes} bytes) rebuilt from parity", offset + bytes)
            }
        }
    }
}

/// What recovery found and did when a log was opened.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// First LSN of the recovered log.
    pub first_lsn: Lsn,
    /// Last LSN of the recovered log ([`Lsn::ZERO`] if empty).
    pub last_lsn: Lsn,
    /// Segment files the recovered log consists of.
    pub segments: usize,
    /// How the log ended before recovery.
    pub tail: TailState,
    /// Every change made, in the order made.
    pub actions: Vec<RecoveryAction>,
}

impl RecoveryReport {
    /// Whether recovery changed nothing of substance (it may still have
    /// removed unused preallocated segments, or copied records nothing
    /// proved durable).
    ///
    /// ```
    /// use seawall::{Options, Wal};
    /// let dir = tempfile::tempdir()?;
    /// let (wal, report) = Wal::open(dir.path(), Options::default())?;
    /// assert!(report.is_clean() && !report.quarantined() && report.bytes_dropped() == 0);
    /// wal.append_durable(b"r")?;
    /// wal.close()?;
    /// // Garbage after the last record, as a crash mid-write leaves it.
    /// let inspection = seawall::Reader::open(dir.path())?.inspection().clone();
    /// let active = inspection.segments.iter().find(|s| s.state == seawall::SegmentState::Active).unwrap();
    /// # use std::os::unix::fs::FileExt;
    /// std::fs::OpenOptions::new().write(true).open(&active.path)?.write_all_at(&[0xab; 40], active.bytes_used)?;
    /// let (wal, report) = Wal::open(dir.path(), Options::default())?;
    /// assert!(!report.is_clean(), "{report}");
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        self.tail == TailState::Clean
            && !self
                .actions
                .iter()
                .any(|a| matches!(a, RecoveryAction::RepairedPage { .. } | RecoveryAction::ClearedTail { .. }))
    }

    /// Records that still validated and were moved to quarantine files.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (wal, report) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// assert!(!report.quarantined(), "a new log quarantines nothing");
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quarantined(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, RecoveryAction::QuarantinedBytes { .. } | RecoveryAction::QuarantinedSegment { .. }))
    }

    /// Bytes of the log cut off by recovery.
    ///
    /// ```
    /// use seawall::{Options, Wal};
    /// let dir = tempfile::tempdir()?;
    /// let (wal, report) = Wal::open(dir.path(), Options::default())?;
    /// assert!(report.is_clean() && !report.quarantined() && report.bytes_dropped() == 0);
    /// wal.append_durable(b"r")?;
    /// wal.close()?;
    /// // Garbage after the last record, as a crash mid-write leaves it.
    /// let inspection = seawall::Reader::open(dir.path())?.inspection().clone();
    /// let active = inspection.segments.iter().find(|s| s.state == seawall::SegmentState::Active).unwrap();
    /// # use std::os::unix::fs::FileExt;
    /// std::fs::OpenOptions::new().write(true).open(&active.path)?.write_all_at(&[0xab; 40], active.bytes_used)?;
    /// let (wal, report) = Wal::open(dir.path(), Options::default())?;
    /// assert!(report.bytes_dropped() > 0, "{report}");
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes_dropped(&self) -> u64 {
        self.actions
            .iter()
            .map(|a| match a {
                RecoveryAction::ClearedTail { bytes, .. } => *bytes,
                _ => 0,
            })
            .sum()
    }
}

impl std::fmt::Display for RecoveryReport {
    /// What `seawall repair` prints: the tail found, each change, the result.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "found: {}", self.tail)?;
        for a in &self.actions {
            writeln!(f, "  {a}")?;
        }
        write!(f, "the log holds LSN {}..={} in {} segment files", self.first_lsn, self.last_lsn, self.segments)?;
        if self.bytes_dropped() > 0 {
            write!(f, "; {} bytes dropped", self.bytes_dropped())?;
        }
        Ok(())
    }
}

/// A free quarantine file name for `base` in `dir`, not in `taken`, which
/// it joins.
fn quarantine_name(dir: &Path, base: &str, taken: &mut Vec<PathBuf>) -> PathBuf {
    let name = (0..)
        .map(|n| {
            let name =
                if n == 0 { format!("{base}{QUARANTINE_SUFFIX}") } else { format!("{base}.{n}{QUARANTINE_SUFFIX}") };
            dir.join(name)
        })
        .find(|p| !p.exists() && !taken.contains(p))
        .expect("some name is free");
    taken.push(name.clone());
    name
}

/// Decides the changes recovery makes in `mode`, or the error open returns.
pub(crate) fn plan(a: &Analysis, mode: RecoveryMode) -> Result<Vec<RecoveryAction>> {
    let insp = &a.inspection;
    let mut actions = Vec::new();
    let mut taken = Vec::new();
    let mut cut_from = insp.segments.len(); // files from here on are moved aside
    if mode == RecoveryMode::Strict {
        if let Some((segment, r)) = a.rebuilt.first() {
            let lsn = Lsn::new(insp.last_lsn.get() + 1);
            return Err(Error::Corruption {
                segment: *segment,
                offset: r.offset,
                lsn,
                reason: CorruptionReason::BadChecksum,
            });
        }
    }
    for (segment, r) in &a.rebuilt {
        // Bytes from the stop on are dropped, not repaired (see `execute`).
        let bytes = match cut_in(a, *segment) {
            Some(cut) => cut.offset.saturating_sub(r.offset).min(r.bytes.len() as u64),
            None => r.bytes.len() as u64,
        };
        if bytes > 0 {
            actions.push(RecoveryAction::RepairedPage { segment: *segment, offset: r.offset, bytes });
        }
    }
    // Finish cuts a crash interrupted: their marker is durable, their dead
    // bytes are not cleared yet.
    for &(segment, from, to) in &a.dead {
        if mode == RecoveryMode::Strict {
            return Err(Error::TornTail { segment, offset: from, bytes: to - from, last_lsn: insp.last_lsn });
        }
        actions.push(RecoveryAction::ClearedTail { segment, offset: from, bytes: to - from });
    }
    match (&insp.tail, mode) {
        (TailState::Clean, _) => {}
        (
            &TailState::Corrupt { segment, offset, lsn, reason, .. },
            RecoveryMode::Strict | RecoveryMode::TruncateTornTail,
        ) => {
            return Err(Error::Corruption { segment, offset, lsn, reason });
        }
        (&TailState::Torn { segment, offset, bytes, last_lsn }, RecoveryMode::Strict) => {
            return Err(Error::TornTail { segment, offset, bytes, last_lsn });
        }
        (TailState::Torn { .. }, _) => {
            if let Some(cut) = &a.cut {
                let seg = &insp.segments[cut.index];
                let (offset, bytes) = (cut.offset, cut.nonzero_end - cut.offset);
                if cut.holds_records {
                    // Records that still validate are never destroyed.
                    let file = quarantine_name(&insp.dir, &format!("{}.{offset}", seg.id.file_name()), &mut taken);
                    actions.push(RecoveryAction::QuarantinedBytes { segment: seg.id, offset, bytes, file });
                }
                actions.push(RecoveryAction::ClearedTail { segment: seg.id, offset, bytes });
            }
        }
        (TailState::Corrupt { .. }, RecoveryMode::Salvage) => {
            let cut = a.cut.as_ref().expect("corruption has a cut");
            // The segment that becomes the last one: its bytes past the valid
            // end are copied aside, then cleared.
            let (keep_idx, keep_from, keep_to) = if cut.offset > 0 {
                cut_from = cut.index + 1;
                (Some(cut.index), cut.offset, cut.nonzero_end)
            } else {
                // The segments before are complete up to their successor (or
                // sealed): nothing past their valid end belongs to the log.
                cut_from = cut.index;
                (None, 0, 0)
            };
            if let Some(idx) = keep_idx.filter(|_| keep_to > keep_from) {
                let seg = &insp.segments[idx];
                let file = quarantine_name(&insp.dir, &format!("{}.{keep_from}", seg.id.file_name()), &mut taken);
                actions.push(RecoveryAction::QuarantinedBytes {
                    segment: seg.id,
                    offset: keep_from,
                    bytes: keep_to - keep_from,
                    file,
                });
            }
            let sealed_last = a.spans.last().filter(|s| s.sealed).map(|s| s.id.next());
            for seg in &insp.segments[cut_from..] {
                if Some(seg.id) == sealed_last {
                    // The successor of the sealed segment that becomes the
                    // last must stay: its bytes are copied aside and cleared
                    // (an empty file has none).
                    if seg.file_len == 0 {
                        continue;
                    }
                    let file = quarantine_name(&insp.dir, &format!("{}.0", seg.id.file_name()), &mut taken);
                    actions.push(RecoveryAction::QuarantinedBytes {
                        segment: seg.id,
                        offset: 0,
                        bytes: seg.file_len,
                        file,
                    });
                    actions.push(RecoveryAction::ClearedTail { segment: seg.id, offset: 0, bytes: seg.file_len });
                    continue;
                }
                if seg.state == SegmentState::Unused {
                    // A blank spare holds nothing worth keeping.
                    actions.push(RecoveryAction::RemovedSegment { segment: seg.id, reason: RemovalReason::Unused });
                    continue;
                }
                let file = quarantine_name(&insp.dir, &seg.id.file_name(), &mut taken);
                actions.push(RecoveryAction::QuarantinedSegment { segment: seg.id, file });
            }
            if let Some(idx) = keep_idx.filter(|_| keep_to > keep_from) {
                let id = insp.segments[idx].id;
                actions.push(RecoveryAction::ClearedTail {
                    segment: id,
                    offset: keep_from,
                    bytes: keep_to - keep_from,
                });
            }
        }
    }
    // A sealed last segment's successor file is kept: the log reuses it for
    // its next segment (a sealed segment's successor must always exist).
    let keep_successor = a.spans.last().filter(|s| s.sealed).map(|s| s.id.next());
    for seg in &insp.segments[..cut_from] {
        let reason = match seg.state {
            SegmentState::Superseded => RemovalReason::Superseded,
            SegmentState::Purged => RemovalReason::Purged,
            SegmentState::Unused if Some(seg.id) == keep_successor => continue,
            SegmentState::TornHeader if Some(seg.id) == keep_successor => {
                // Kept for reuse, with its torn header cleared: blank again.
                let bytes = seg.file_len.min(SEGMENT_HEADER_LEN as u64);
                actions.push(RecoveryAction::ClearedTail { segment: seg.id, offset: 0, bytes });
                continue;
            }
            SegmentState::Unused => RemovalReason::Unused,
            SegmentState::TornHeader => RemovalReason::TornHeader,
            SegmentState::AfterTornSeal if seg.records == 0 => RemovalReason::AfterTornSeal,
            SegmentState::AfterTornSeal => {
                // Records that still validate are never destroyed.
                let file = quarantine_name(&insp.dir, &seg.id.file_name(), &mut taken);
                actions.push(RecoveryAction::QuarantinedSegment { segment: seg.id, file });
                continue;
            }
            _ => continue,
        };
        actions.push(RecoveryAction::RemovedSegment { segment: seg.id, reason });
    }
    // Files moved aside whole need no repair or clearing of their own.
    let moved: Vec<SegmentId> = actions
        .iter()
        .filter_map(|a| match a {
            RecoveryAction::QuarantinedSegment { segment, .. } => Some(*segment),
            _ => None,
        })
        .collect();
    actions.retain(|a| match a {
        RecoveryAction::RepairedPage { segment, .. } | RecoveryAction::ClearedTail { segment, .. } => {
            !moved.contains(segment)
        }
        _ => true,
    });
    // Quarantine copies first (they read the bytes as found, before any
    // write), then repairs (they only rewrite bytes that validate again, and
    // first zero the start of dropped bytes their page holds), then removals
    // newest first (so a crash midway never leaves a gap), then clearing.
    actions.sort_by_key(|a| match a {
        RecoveryAction::QuarantinedBytes { .. } => (0, 0),
        RecoveryAction::RepairedPage { .. } => (1, 0),
        RecoveryAction::QuarantinedSegment { segment, .. } => (2, u64::MAX - segment.get()),
        RecoveryAction::RemovedSegment { segment, .. } => (3, u64::MAX - segment.get()),
        RecoveryAction::ClearedTail { .. }
        | RecoveryAction::CopiedUnclaimed { .. }
        | RecoveryAction::WroteMetadata { .. } => (4, 0),
    });
    Ok(actions)
}

/// Carries out `actions` (from [`plan`]) through the file-system seam.
pub(crate) fn execute(fs: &dyn FileSystem, a: &Analysis, actions: &[RecoveryAction]) -> Result<()> {
    let dir = &a.inspection.dir;
    let path_of = |id: SegmentId| dir.join(id.file_name());
    let mut dir_dirty = false;
    for action in actions {
        match action {
            RecoveryAction::RepairedPage { segment, offset, bytes } => {
                let path = path_of(*segment);
                let r = a.rebuilt.iter().find(|(s, r)| s == segment && r.offset == *offset).expect("planned");
                let f = fs.open(&path).map_err(|e| Error::io("open", &path, e))?;
                // A page holding the start of the dropped bytes is written
                // back only up to the stop (the plan's `bytes`). A torn write
                // of it could mend the last kept record and leave the dropped
                // record after it whole, and both would validate: so that
                // record's first bytes are zeroed first.
                if let Some(cut) = cut_in(a, *segment).filter(|c| c.offset < offset + r.1.bytes.len() as u64) {
                    zero_head(f.as_ref(), &path, cut.offset, cut.nonzero_end.saturating_sub(cut.offset))?;
                }
                write_all_at(f.as_ref(), &r.1.bytes[..*bytes as usize], *offset)
                    .map_err(|e| Error::io("write", &path, e))?;
                f.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
            }
            RecoveryAction::QuarantinedBytes { segment, offset, bytes, file } => {
                let src = path_of(*segment);
                let f = fs.open_read(&src).map_err(|e| Error::io("open", &src, e))?;
                // A file shorter than a header (cut short by damage) gives
                // what it has.
                let len = f.len().map_err(|e| Error::io("stat", &src, e))?;
                let mut header = vec![0u8; (SEGMENT_HEADER_LEN as u64).min(len) as usize];
                read_exact_at(f.as_ref(), &mut header, 0).map_err(|e| Error::io("read", &src, e))?;
                let mut data = vec![0u8; *bytes as usize];
                read_exact_at(f.as_ref(), &mut data, *offset).map_err(|e| Error::io("read", &src, e))?;
                let out = fs.create(file).map_err(|e| Error::io("create", file, e))?;
                write_all_at(out.as_ref(), &header, 0).map_err(|e| Error::io("write", file, e))?;
                write_all_at(out.as_ref(), &data, *offset).map_err(|e| Error::io("write", file, e))?;
                out.sync_data().map_err(|e| Error::io("fdatasync", file, e))?;
                fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
            }
            RecoveryAction::CopiedUnclaimed { .. } | RecoveryAction::WroteMetadata { .. } => {
                unreachable!("made by open, not planned")
            }
            RecoveryAction::QuarantinedSegment { segment, file } => {
                let src = path_of(*segment);
                fs.rename(&src, file).map_err(|e| Error::io("rename", &src, e))?;
                dir_dirty = true;
            }
            RecoveryAction::RemovedSegment { segment, .. } => {
                let src = path_of(*segment);
                fs.remove(&src).map_err(|e| Error::io("remove", &src, e))?;
                dir_dirty = true;
            }
            RecoveryAction::ClearedTail { segment, offset, bytes } => {
                if std::mem::take(&mut dir_dirty) {
                    fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
                }
                let path = path_of(*segment);
                let f = fs.open(&path).map_err(|e| Error::io("open", &path, e))?;
                clear_dropped(f.as_ref(), &path, *offset, *bytes)?;
            }
        }
    }
    if dir_dirty {
        fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
    }
    Ok(())
}

/// The bytes a torn tail or a salvage drops, if they are in `segment`.
fn cut_in(a: &Analysis, segment: SegmentId) -> Option<&Cut> {
    a.cut.as_ref().filter(|c| a.inspection.segments[c.index].id == segment)
}

/// Bytes of the smallest sector a torn write may split (FORMAT.md §8).
const SECTOR: u64 = 512;

/// Overwrites the `bytes` dropped bytes at `offset` (where a dropped record
/// starts) with zeros, durably, so that no crash during the clearing makes
/// that record whole again: the sectors of one write may land in any
/// subset, and zeros landing on the torn part of a record whose intended
/// bytes there were zeros would complete it. So the record's first bytes,
/// up to the end of their sector (one write no crash can split), are
/// zeroed and synced first; the record can then never validate, whatever a
/// crash leaves of the rest.
fn clear_dropped(f: &dyn crate::io::WalFile, path: &Path, offset: u64, bytes: u64) -> Result<()> {
    let first = zero_head(f, path, offset, bytes)?;
    if bytes > first {
        write_zeros(f, path, offset + first, bytes - first)?;
        f.sync_data().map_err(|e| Error::io("fdatasync", path, e))?;
    }
    Ok(())
}

/// Zeroes and syncs the first of the `bytes` bytes at `offset`, up to the
/// end of their sector: one write no crash can split. Returns how many.
fn zero_head(f: &dyn crate::io::WalFile, path: &Path, offset: u64, bytes: u64) -> Result<u64> {
    let first = bytes.min(SECTOR - offset % SECTOR);
    if first > 0 {
        write_zeros(f, path, offset, first)?;
        f.sync_data().map_err(|e| Error::io("fdatasync", path, e))?;
    }
    Ok(first)
}

/// Overwrites `bytes` bytes at `offset` with zeros (not yet synced).
pub(crate) fn write_zeros(f: &dyn crate::io::WalFile, path: &Path, offset: u64, bytes: u64) -> Result<()> {
    let zeros = vec![0u8; bytes.min(1 << 20) as usize];
    let (mut at, end) = (offset, offset + bytes);
    while at < end {
        let n = (end - at).min(zeros.len() as u64) as usize;
        write_all_at(f, &zeros[..n], at).map_err(|e| Error::io("write", path, e))?;
        at += n as u64;
    }
    Ok(())
}

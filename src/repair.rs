//! Acting on an analysis: the changes recovery makes, in crash-safe order.
//!
//! Order matters. Bytes to be cut are first copied to quarantine files (when
//! salvaging) and made durable; then whole files are moved aside or removed
//! and the directory synced; only then are dropped bytes overwritten with
//! zeros and synced. A crash at any point leaves a log that a new recovery
//! judges the same way: removed segments were superseded or held no record,
//! and partly zeroed torn bytes are still a torn tail.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::QUARANTINE_SUFFIX;
use crate::inspect::{SegmentState, TailState};
use crate::io::{write_all_at, FileSystem};
use crate::mmap::map_file;
use crate::recovery::Analysis;
use crate::scan::probe;
use crate::{Lsn, RecoveryMode, SegmentId};

/// Why recovery removed a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemovalReason {
    /// A later segment superseded every record in it (a `truncate_after` cut).
    Superseded,
    /// It was created ahead of need and never used.
    Unused,
    /// Its header was torn by a crash before any record was written to it.
    TornHeader,
}

/// One change recovery made (or, for a dry run, would make).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryAction {
    /// Bytes `offset..offset + bytes` of a segment were copied to `file`.
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
    /// removed unused preallocated segments).
    pub fn is_clean(&self) -> bool {
        self.tail == TailState::Clean
    }

    /// Bytes of the log cut off by recovery.
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

fn quarantine_name(dir: &Path, base: &str, taken: &[PathBuf]) -> PathBuf {
    (0..)
        .map(|n| {
            let name =
                if n == 0 { format!("{base}{QUARANTINE_SUFFIX}") } else { format!("{base}.{n}{QUARANTINE_SUFFIX}") };
            dir.join(name)
        })
        .find(|p| !p.exists() && !taken.contains(p))
        .expect("some name is free")
}

/// Decides the changes recovery makes in `mode`, or the error open returns.
pub(crate) fn plan(a: &Analysis, mode: RecoveryMode) -> Result<Vec<RecoveryAction>> {
    let insp = &a.inspection;
    let mut actions = Vec::new();
    let mut cut_from = insp.segments.len(); // files from here on are moved aside
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
                let id = insp.segments[cut.index].id;
                actions.push(RecoveryAction::ClearedTail {
                    segment: id,
                    offset: cut.offset,
                    bytes: cut.nonzero_end - cut.offset,
                });
            }
        }
        (TailState::Corrupt { .. }, RecoveryMode::Salvage) => {
            let cut = a.cut.as_ref().expect("corruption has a cut");
            let mut taken = Vec::new();
            // The segment that becomes the last one: its bytes past the valid
            // end are copied aside, then cleared.
            let (keep_idx, keep_from, keep_to) = if cut.offset > 0 {
                cut_from = cut.index + 1;
                (Some(cut.index), cut.offset, cut.nonzero_end)
            } else {
                cut_from = cut.index;
                match a.spans.last() {
                    Some(span) => {
                        let idx = insp.segments.iter().position(|s| s.id == span.id).expect("span is listed");
                        let bytes = map_file(&span.path).map_err(|e| Error::io("mmap", &span.path, e))?;
                        let ev = probe(&bytes, span.end as usize, span.header.salt, span.last_lsn);
                        (Some(idx), span.end, ev.nonzero_end as u64)
                    }
                    None => (None, 0, 0),
                }
            };
            if let Some(idx) = keep_idx.filter(|_| keep_to > keep_from) {
                let seg = &insp.segments[idx];
                let base = format!("{}.{}", seg.id.file_name(), keep_from);
                let file = quarantine_name(&insp.dir, &base, &taken);
                taken.push(file.clone());
                actions.push(RecoveryAction::QuarantinedBytes {
                    segment: seg.id,
                    offset: keep_from,
                    bytes: keep_to - keep_from,
                    file,
                });
            }
            for seg in &insp.segments[cut_from..] {
                if seg.state == SegmentState::Unused {
                    // A blank spare holds nothing worth keeping.
                    actions.push(RecoveryAction::RemovedSegment { segment: seg.id, reason: RemovalReason::Unused });
                    continue;
                }
                let file = quarantine_name(&insp.dir, &seg.id.file_name(), &taken);
                taken.push(file.clone());
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
    for seg in &insp.segments[..cut_from] {
        let reason = match seg.state {
            SegmentState::Superseded => RemovalReason::Superseded,
            SegmentState::Unused => RemovalReason::Unused,
            SegmentState::TornHeader => RemovalReason::TornHeader,
            _ => continue,
        };
        actions.push(RecoveryAction::RemovedSegment { segment: seg.id, reason });
    }
    // Removals go newest first, so a crash midway never leaves a gap.
    actions.sort_by_key(|a| match a {
        RecoveryAction::QuarantinedBytes { .. } => (0, 0),
        RecoveryAction::QuarantinedSegment { segment, .. } => (1, u64::MAX - segment.get()),
        RecoveryAction::RemovedSegment { segment, .. } => (2, u64::MAX - segment.get()),
        RecoveryAction::ClearedTail { .. } => (3, 0),
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
            RecoveryAction::QuarantinedBytes { segment, offset, bytes, file } => {
                let src = path_of(*segment);
                let data = map_file(&src).map_err(|e| Error::io("mmap", &src, e))?;
                let range = *offset as usize..(*offset + *bytes) as usize;
                let out = fs.create(file).map_err(|e| Error::io("create", file, e))?;
                write_all_at(out.as_ref(), &data[range], 0).map_err(|e| Error::io("write", file, e))?;
                out.sync_data().map_err(|e| Error::io("fdatasync", file, e))?;
                fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
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
                let zeros = vec![0u8; (*bytes).min(1 << 20) as usize];
                let (mut at, end) = (*offset, *offset + *bytes);
                while at < end {
                    let n = (end - at).min(zeros.len() as u64) as usize;
                    write_all_at(f.as_ref(), &zeros[..n], at).map_err(|e| Error::io("write", &path, e))?;
                    at += n as u64;
                }
                f.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
            }
        }
    }
    if dir_dirty {
        fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
    }
    Ok(())
}

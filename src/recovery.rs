//! Scanning a log directory: which segments count, where the valid log ends,
//! and what lies beyond. Reads only; `repair.rs` acts on the result.
//!
//! The log is defined by its segment headers: segments are taken in id order,
//! and a segment whose `first_lsn` is at or below the LSNs of earlier segments
//! supersedes those records (that is how `truncate_after` makes a cut
//! durable). Working backwards, each segment is valid up to its successor's
//! `first_lsn - 1`; a segment starting at or after its successor's first LSN is
//! superseded whole. Each remaining segment is then walked and the stopping
//! point judged by the decision table in `decide.rs`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::decide::{decide, Inputs, Verdict};
use crate::error::{CorruptionReason, Error, NotALogReason, Result};
use crate::format::{FORMAT_VERSION, LOCK_FILE, QUARANTINE_SUFFIX, SEGMENT_HEADER_LEN};
use crate::inspect::{Inspection, SegmentInfo, SegmentState, TailState};
use crate::mmap::map_file;
use crate::scan::{probe, scan_segment, SegmentScan, Stop};
use crate::segment::{HeaderState, SegmentHeader};
use crate::{Lsn, SegmentId};

/// The records one segment contributes to the valid log.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub id: SegmentId,
    pub path: PathBuf,
    pub header: SegmentHeader,
    /// LSN of the last accepted record (`header.first_lsn - 1` if none).
    pub last_lsn: u64,
    /// Checksum of the last accepted record (`header.prev_crc` if none).
    pub last_crc: u32,
    /// Offset just past the last accepted record.
    pub end: u64,
}

/// Where the valid log stops, when something follows it that a repair must act on.
#[derive(Clone, Debug)]
pub(crate) struct Cut {
    /// Index into `Inspection::segments` of the segment holding the stop.
    pub index: usize,
    /// Offset of the stop.
    pub offset: u64,
    /// End of the non-zero bytes at or after the stop in that segment.
    pub nonzero_end: u64,
}

/// A full analysis: the public inspection plus what readers and repair need.
#[derive(Clone, Debug)]
pub(crate) struct Analysis {
    pub inspection: Inspection,
    /// Segments contributing to the valid log, in order.
    pub spans: Vec<Span>,
    /// Where the valid log stops before non-zero bytes (torn or corrupt).
    pub cut: Option<Cut>,
    /// Largest segment id in the directory.
    pub max_id: SegmentId,
}

/// The files of a log directory.
pub(crate) struct Listing {
    pub segments: Vec<(SegmentId, PathBuf)>,
    /// Files that are neither segments, the lock file, nor quarantine files.
    pub foreign: usize,
}

/// Lists a directory, telling segments from other files.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotALog { path: dir.into(), reason: NotALogReason::Missing })
        }
        Err(e) => return Err(Error::io("stat", dir, e)),
    };
    if !meta.is_dir() {
        return Err(Error::NotALog { path: dir.into(), reason: NotALogReason::NotADirectory });
    }
    let mut listing = Listing { segments: Vec::new(), foreign: 0 };
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("read_dir", dir, e))? {
        let entry = entry.map_err(|e| Error::io("read_dir", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(id) = SegmentId::from_file_name(&name) {
            listing.segments.push((id, entry.path()));
        } else if name != LOCK_FILE && !name.ends_with(QUARANTINE_SUFFIX) {
            listing.foreign += 1;
        }
    }
    listing.segments.sort();
    Ok(listing)
}

fn read_header(path: &Path) -> Result<(Vec<u8>, u64)> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    let mut buf = Vec::with_capacity(SEGMENT_HEADER_LEN);
    f.by_ref().take(SEGMENT_HEADER_LEN as u64).read_to_end(&mut buf).map_err(|e| Error::io("read", path, e))?;
    Ok((buf, len))
}

fn map(path: &Path) -> Result<bytes::Bytes> {
    map_file(path).map_err(|e| Error::io("mmap", path, e))
}

fn body_is_zero(path: &Path) -> Result<bool> {
    let bytes = map(path)?;
    let end = data_end(path, bytes.len())?;
    Ok(bytes.get(SEGMENT_HEADER_LEN..end).is_none_or(|b| crate::scan::nonzero_len(b) == 0))
}

/// Offset past which `path` (of `len` bytes) holds no data: the end of its
/// last data region by `SEEK_DATA`/`SEEK_HOLE`. Preallocated space never
/// written is a hole to these calls (ext4 and XFS report unwritten extents
/// as holes unless the page cache holds data for them), and holes read as
/// zeros, so a search for non-zero bytes can stop here without reading, and
/// caching, up to a whole segment of zeros. Where the file system does not
/// answer, returns `len`: the search then reads everything.
fn data_end(path: &Path, len: usize) -> Result<usize> {
    use rustix::fs::{seek, SeekFrom};
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let (mut pos, mut end) = (0u64, 0u64);
    while (pos as usize) < len {
        match seek(&file, SeekFrom::Data(pos)) {
            Ok(data) => match seek(&file, SeekFrom::Hole(data)) {
                Ok(hole) if hole > data => (pos, end) = (hole, hole),
                _ => return Ok(len),
            },
            Err(rustix::io::Errno::NXIO) => break,
            Err(_) => return Ok(len),
        }
    }
    Ok((end as usize).min(len))
}

fn blank_info(id: SegmentId, path: PathBuf, file_len: u64, state: SegmentState) -> SegmentInfo {
    SegmentInfo { id, path, file_len, header: None, first_lsn: None, last_lsn: None, records: 0, bytes_used: 0, state }
}

/// Scans the log in `dir` without modifying anything.
pub(crate) fn analyze(dir: &Path) -> Result<Analysis> {
    let listing = list_dir(dir)?;
    if listing.segments.is_empty() {
        let reason = if listing.foreign > 0 { NotALogReason::ForeignFiles } else { NotALogReason::NoSegments };
        return Err(Error::NotALog { path: dir.into(), reason });
    }
    let max_id = listing.segments.last().map(|s| s.0).unwrap_or_default();
    let mut infos = Vec::with_capacity(listing.segments.len());
    let mut states = Vec::with_capacity(listing.segments.len());
    for (id, path) in listing.segments {
        let (head, file_len) = read_header(&path)?;
        let state = SegmentHeader::decode(&head, id);
        if let HeaderState::OtherVersion(found) = state {
            return Err(Error::UnsupportedVersion { segment: id, found, supported: FORMAT_VERSION });
        }
        // Every segment the walk or the judging of trailing files does not
        // reach lies after corruption.
        infos.push(blank_info(id, path, file_len, SegmentState::AfterCorruption));
        states.push(state);
    }
    let (run_end, mid_bad) = find_run(&states);
    let mut a = Analysis {
        inspection: Inspection {
            dir: dir.into(),
            segments: Vec::new(),
            tail: TailState::Clean,
            first_lsn: Lsn::new(1),
            last_lsn: Lsn::ZERO,
            rule: "empty",
            why: "no segment holds a valid header",
        },
        spans: Vec::new(),
        cut: None,
        max_id,
    };
    let headers: Vec<SegmentHeader> = states[..run_end]
        .iter()
        .map(|s| match s {
            HeaderState::Valid(h) => *h,
            _ => unreachable!("the run holds valid headers only"),
        })
        .collect();
    walk_run(&mut a, &mut infos, &headers)?;
    judge_after_run(&mut a, &mut infos, &states, run_end, mid_bad.is_some())?;
    a.inspection.segments = infos;
    Ok(a)
}

/// Where the run of valid headers the log is built from ends, and the first
/// bad header that has a valid one somewhere after it (mid-log damage).
fn find_run(states: &[HeaderState]) -> (usize, Option<usize>) {
    let last_valid = states.iter().rposition(|s| matches!(s, HeaderState::Valid(_)));
    let first_bad = states.iter().position(|s| !matches!(s, HeaderState::Valid(_))).unwrap_or(states.len());
    match last_valid {
        Some(lv) if first_bad < lv => (first_bad, Some(first_bad)),
        Some(lv) => (lv + 1, None),
        None => (0, None),
    }
}

/// Judges the files after the run: trailing spares and torn rotations, or
/// (with `mid_log_damage`) a damaged header with valid segments after it.
fn judge_after_run(
    a: &mut Analysis,
    infos: &mut [SegmentInfo],
    states: &[HeaderState],
    run_end: usize,
    mid_log_damage: bool,
) -> Result<()> {
    for i in run_end..infos.len() {
        let reason = match states[i] {
            HeaderState::Valid(h) => {
                // Only after a damaged mid-log header, which was judged first.
                infos[i].header = Some(h);
                infos[i].state = SegmentState::AfterCorruption;
                continue;
            }
            HeaderState::OtherVersion(_) => unreachable!("refused before the walk"),
            HeaderState::Blank => CorruptionReason::BadMagic,
            HeaderState::Invalid(r) => r,
        };
        if !mid_log_damage && body_is_zero(&infos[i].path)? {
            if states[i] == HeaderState::Blank {
                infos[i].state = SegmentState::Unused;
                continue;
            }
            infos[i].state = SegmentState::TornHeader;
            if matches!(a.inspection.tail, TailState::Clean) {
                a.inspection.rule = "torn-segment-header";
                a.inspection.why = "a new segment's header is synced before any record is written to it, so a bad header over a blank body is a cut rotation";
                a.inspection.tail = TailState::Torn {
                    segment: infos[i].id,
                    offset: 0,
                    bytes: infos[i].file_len,
                    last_lsn: a.inspection.last_lsn,
                };
            }
            continue;
        }
        if matches!(a.inspection.tail, TailState::Corrupt { .. }) {
            infos[i].state = SegmentState::AfterCorruption;
            continue;
        }
        a.inspection.rule = "damaged-segment-header";
        a.inspection.why = "a segment header is damaged while records follow it, or a later segment is valid";
        infos[i].state = SegmentState::Corrupt(reason);
        let after = count_records_after(infos, states, i + 1)?;
        a.inspection.tail = TailState::Corrupt {
            segment: infos[i].id,
            offset: 0,
            lsn: a.inspection.last_lsn.next(),
            reason,
            valid_records_after: after,
        };
        a.cut = Some(Cut { index: i, offset: 0, nonzero_end: infos[i].file_len });
    }
    Ok(())
}

/// Walks the run of valid-header segments; fills spans, per-segment facts,
/// the tail and the cut.
fn walk_run(a: &mut Analysis, infos: &mut [SegmentInfo], headers: &[SegmentHeader]) -> Result<()> {
    let n = headers.len();
    // Backwards: each segment's LSN limit, or None if superseded whole.
    let mut limits: Vec<Option<Option<u64>>> = vec![None; n];
    let mut next_first: Option<u64> = None;
    for i in (0..n).rev() {
        let h = &headers[i];
        match next_first {
            Some(nf) if h.first_lsn >= nf => limits[i] = None,
            _ => {
                limits[i] = Some(next_first.map(|nf| nf - 1));
                next_first = Some(h.first_lsn);
            }
        }
    }
    let mut prev: Option<(u64, u32)> = None; // (last lsn, last crc) of the previous span
    for i in 0..n {
        let h = headers[i];
        infos[i].header = Some(h);
        let Some(limit) = limits[i] else {
            infos[i].state = SegmentState::Superseded;
            continue;
        };
        let info = &mut infos[i];
        if let Some((last, crc)) = prev {
            let reason = if h.first_lsn != last + 1 {
                Some(CorruptionReason::MissingRecords)
            } else if h.prev_crc != crc {
                Some(CorruptionReason::ChainMismatch)
            } else {
                None
            };
            if let Some(reason) = reason {
                a.inspection.rule = "segment-boundary";
                a.inspection.why =
                    "a segment must start right after its predecessor's last record and name its checksum";
                info.state = SegmentState::Corrupt(reason);
                let file_len = info.file_len;
                let after = scan_segment(&map(&info.path)?, h.salt, h.first_lsn, h.prev_crc, None).records;
                a.inspection.tail = TailState::Corrupt {
                    segment: h.id,
                    offset: 0,
                    lsn: Lsn::new(last + 1),
                    reason,
                    valid_records_after: after + later_span_records(infos, headers, &limits, i + 1)?,
                };
                a.cut = Some(Cut { index: i, offset: 0, nonzero_end: file_len });
                return Ok(());
            }
        } else {
            a.inspection.first_lsn = Lsn::new(h.first_lsn);
        }
        let bytes = map(&info.path)?;
        let scan = scan_segment(&bytes, h.salt, h.first_lsn, h.prev_crc, limit);
        record_scan(a, info, &h, &scan);
        prev = Some((scan.last_lsn, scan.last_crc));
        info.state = if limit.is_some() { SegmentState::Sealed } else { SegmentState::Active };
        if limit.is_some() && scan.stop == Stop::Limit {
            // The table's sealed-complete row ignores what follows the limit
            // (superseded bytes), so it is not probed.
            let inputs = Inputs {
                has_successor: true,
                reached_limit: true,
                tail_zero: true,
                later_valid: false,
                later_synced: false,
            };
            if decide(inputs).verdict == Verdict::Complete {
                continue;
            }
        }
        let data = data_end(&info.path, bytes.len())?.max(scan.end);
        let ev = probe(&bytes[..data.min(bytes.len())], scan.end, h.salt, scan.last_lsn);
        let inputs = Inputs {
            has_successor: limit.is_some(),
            reached_limit: scan.stop == Stop::Limit,
            tail_zero: ev.tail_zero(scan.end),
            later_valid: ev.later_records > 0 || ev.incomplete,
            later_synced: ev.later_synced || ev.incomplete,
        };
        let row = decide(inputs);
        (a.inspection.rule, a.inspection.why) = (row.name, row.why);
        match row.verdict {
            Verdict::Complete | Verdict::CleanEnd => {}
            Verdict::TornTail => {
                a.inspection.tail = TailState::Torn {
                    segment: h.id,
                    offset: scan.end as u64,
                    bytes: (ev.nonzero_end - scan.end) as u64,
                    last_lsn: Lsn::new(scan.last_lsn),
                };
                a.cut = Some(Cut { index: i, offset: scan.end as u64, nonzero_end: ev.nonzero_end as u64 });
            }
            Verdict::Corruption(reason) => {
                // Where the walk stopped says more than the verdict's reason
                // when the successor proves records are missing.
                let reason = match (reason, scan.stop) {
                    (CorruptionReason::MissingRecords, Stop::Bad(r)) if !ev.tail_zero(scan.end) => r,
                    _ => reason,
                };
                infos[i].state = SegmentState::Corrupt(reason);
                let later = later_span_records(infos, headers, &limits, i + 1)?;
                a.inspection.tail = TailState::Corrupt {
                    segment: h.id,
                    offset: scan.end as u64,
                    lsn: Lsn::new(scan.last_lsn + 1),
                    reason,
                    valid_records_after: ev.later_records + later,
                };
                a.cut = Some(Cut { index: i, offset: scan.end as u64, nonzero_end: ev.nonzero_end as u64 });
                return Ok(());
            }
        }
    }
    Ok(())
}

fn record_scan(a: &mut Analysis, info: &mut SegmentInfo, h: &SegmentHeader, scan: &SegmentScan) {
    info.records = scan.records;
    info.bytes_used = scan.end as u64;
    if scan.records > 0 {
        info.first_lsn = Some(Lsn::new(h.first_lsn));
        info.last_lsn = Some(Lsn::new(scan.last_lsn));
    }
    a.inspection.last_lsn = Lsn::new(scan.last_lsn);
    a.spans.push(Span {
        id: h.id,
        path: info.path.clone(),
        header: *h,
        last_lsn: scan.last_lsn,
        last_crc: scan.last_crc,
        end: scan.end as u64,
    });
}

/// Valid records of the non-superseded segments from `from` on, each walked on its own.
fn later_span_records(
    infos: &[SegmentInfo],
    headers: &[SegmentHeader],
    limits: &[Option<Option<u64>>],
    from: usize,
) -> Result<u64> {
    let mut n = 0;
    for i in from..headers.len() {
        if let Some(limit) = limits[i] {
            let h = &headers[i];
            n += scan_segment(&map(&infos[i].path)?, h.salt, h.first_lsn, h.prev_crc, limit).records;
        }
    }
    Ok(n)
}

/// Valid records in segments with valid headers from `from` on.
fn count_records_after(infos: &[SegmentInfo], states: &[HeaderState], from: usize) -> Result<u64> {
    let mut n = 0;
    for i in from..infos.len() {
        if let HeaderState::Valid(h) = states[i] {
            n += scan_segment(&map(&infos[i].path)?, h.salt, h.first_lsn, h.prev_crc, None).records;
        }
    }
    Ok(n)
}

//! Scanning a log directory: which segments count, where the valid log ends,
//! and what lies beyond. Reads only (through the seam, with `pread`);
//! `repair.rs` acts on the result.
//!
//! The log is defined by its segment headers, taken in id order:
//! - a header with the reset flag starts a new log: segments before it are
//!   superseded;
//! - a segment whose `first_lsn` is at or below the LSNs of earlier segments
//!   supersedes those records (a cut across segments), so working backwards
//!   each segment is valid up to its successor's `first_lsn - 1`;
//! - sealed segments are trusted through their trailer (two small reads);
//!   the newest segment is walked in full (a block at a time, `blocks.rs`)
//!   and judged by the decision table (`judge.rs`), and so is any segment
//!   without a valid trailer;
//! - the newest segment's meta records give the metadata and the purge
//!   point; whole segments before the purge point are purged, and a first
//!   remaining segment that starts after it means records are missing.

use std::path::{Path, PathBuf};

use crate::blocks::{data_end, judge_file, nonzero_in_file, read_data, FileJudged};
use crate::decide::Verdict;
use crate::error::{BadFileReason, CorruptionReason, Error, NotALogReason, Result};
use crate::format::{FORMAT_VERSION, LOCK_FILE, MAX_SEGMENT_ID, QUARANTINE_SUFFIX, SEGMENT_HEADER_LEN, TRAILER_LEN};
use crate::inspect::{Inspection, SegmentInfo, SegmentState, TailState};
use crate::io::{read_exact_at, FileSystem, WalFile};
use crate::judge::{Judged, Limit, Rebuilt};
use crate::scan::{MetaState, Walker};
use crate::seal::Trailer;
use crate::segment::{HeaderState, SegmentHeader};
use crate::{Lsn, SegmentId};

/// How a span's records are found by LSN.
#[derive(Clone, Debug)]
pub(crate) enum SpanIndex {
    /// Offsets from a walk, LSN `first_lsn + i` at index `i`.
    Walked(Vec<u32>),
    /// The on-disk index a trailer locates (read when first needed).
    Sealed(Trailer),
}

/// The records one segment contributes to the valid log.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub id: SegmentId,
    pub path: PathBuf,
    pub header: SegmentHeader,
    /// LSN of the last record (`header.first_lsn - 1` if none).
    pub last_lsn: u64,
    /// Checksum of the last record (`header.prev_crc` if none).
    pub last_crc: u32,
    /// Offset just past the last accepted unit (where appends resume).
    pub end: u64,
    /// The segment ends with a seal: nothing more may be appended to it.
    pub sealed: bool,
    /// A valid trailer proves the segment durable in full (W2). Without one,
    /// what it holds may exist only in the page cache of the process that
    /// wrote it, and recovery syncs it before anything comes to depend on it.
    pub trailer: bool,
    /// Offset of its seal record, when it has one that indexes every
    /// record it keeps.
    pub seal_at: Option<u64>,
    pub index: SpanIndex,
    /// Largest synced offset its records claim.
    pub claim: u64,
    /// Records holding data (caller's records, metadata) lie after `claim`:
    /// nothing written later proves them durable.
    pub unclaimed_data: bool,
    /// The segment's own meta records give the whole metadata (it starts
    /// with a snapshot).
    pub meta_complete: bool,
    pub file_len: u64,
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
    /// Records that still validate lie in the cut bytes (quarantine them).
    pub holds_records: bool,
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
    /// Metadata and purge point.
    pub meta: MetaState,
    /// Pages rebuilt from parity (in the valid log's segments).
    pub rebuilt: Vec<(SegmentId, Rebuilt)>,
    /// Bytes a cut removed that are not cleared yet (a crash interrupted
    /// `truncate_after` after its marker was durable): `(segment, from, to)`.
    pub dead: Vec<(SegmentId, u64, u64)>,
}

/// The files of a log directory.
pub(crate) struct Listing {
    pub segments: Vec<(SegmentId, PathBuf)>,
    /// Files that are neither segments, the lock file, nor quarantine files.
    pub foreign: usize,
}

/// Lists a directory, telling segments from other files. A non-regular file
/// named like a segment, or a segment id too large to rotate past, is
/// refused without opening it.
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
            let kind = entry.file_type().map_err(|e| Error::io("stat", entry.path(), e))?;
            if !kind.is_file() {
                return Err(Error::BadFile { path: entry.path(), reason: BadFileReason::NotRegular });
            }
            if id.get() > MAX_SEGMENT_ID || id.get() == 0 {
                return Err(Error::BadFile { path: entry.path(), reason: BadFileReason::IdOutOfRange });
            }
            listing.segments.push((id, entry.path()));
        } else if name != LOCK_FILE && !name.ends_with(QUARANTINE_SUFFIX) {
            listing.foreign += 1;
        }
    }
    listing.segments.sort();
    Ok(listing)
}

/// One segment file as first read: its header and length.
struct Seg {
    id: SegmentId,
    path: PathBuf,
    file: Box<dyn WalFile>,
    len: u64,
    state: HeaderState,
    /// A recovery copy that never completed: not part of the log.
    unborn: bool,
}

pub(crate) fn io_err<'a>(op: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::io(op, path, e)
}

fn read_trailer(s: &Seg, h: &SegmentHeader) -> Result<Option<Trailer>> {
    if s.len < (SEGMENT_HEADER_LEN + TRAILER_LEN) as u64 {
        return Ok(None);
    }
    let mut b = [0u8; TRAILER_LEN];
    read_exact_at(s.file.as_ref(), &mut b, s.len - TRAILER_LEN as u64).map_err(io_err("read", &s.path))?;
    Ok(Trailer::decode(&b, s.id, h.salt, h.first_lsn))
}

fn blank_info(s: &Seg) -> SegmentInfo {
    SegmentInfo {
        id: s.id,
        path: s.path.clone(),
        file_len: s.len,
        header: None,
        first_lsn: None,
        last_lsn: None,
        records: 0,
        bytes_used: 0,
        trusted: false,
        state: SegmentState::AfterCorruption,
    }
}

/// A problem in log order, before the final tail state is chosen.
struct Problem {
    index: usize,
    offset: u64,
    lsn: u64,
    reason: CorruptionReason,
    rule: &'static str,
    why: &'static str,
    nonzero_end: u64,
    /// Valid records found after the problem in its own segment.
    later: u64,
}

/// One judged segment of the run.
struct Outcome {
    span: Span,
    records: u64,
    problem: Option<Problem>,
    rebuilt: Vec<Rebuilt>,
    /// Dead bytes of cuts that are not all zero.
    dead: Vec<(u64, u64)>,
    /// For the tail: its judgement.
    judged: Option<Judged>,
}

/// Scans the log in `dir` without modifying anything. With `verify`, every
/// segment is read in full rather than trusted through its trailer. The log
/// ends at the first segment before the tail that nothing proves durable,
/// even a complete one (a torn seal): what open adopts, later
/// acknowledgements depend on. A reader applies the same rule, so it shows
/// what an open would keep; of a log another process has open, it shows the
/// records up to a segment whose seal is still pending.
pub(crate) fn analyze(dir: &Path, fs: &dyn FileSystem, verify: bool) -> Result<Analysis> {
    let listing = list_dir(dir)?;
    if listing.segments.is_empty() {
        let reason = if listing.foreign > 0 { NotALogReason::ForeignFiles } else { NotALogReason::NoSegments };
        return Err(Error::NotALog { path: dir.into(), reason });
    }
    let max_id = listing.segments.last().map(|s| s.0).unwrap_or_default();
    let mut segs = Vec::with_capacity(listing.segments.len());
    for (id, path) in listing.segments {
        let file = fs.open_read(&path).map_err(io_err("open", &path))?;
        let len = file.len().map_err(io_err("stat", &path))?;
        let mut head = vec![0u8; (SEGMENT_HEADER_LEN as u64).min(len) as usize];
        read_exact_at(file.as_ref(), &mut head, 0).map_err(io_err("read", &path))?;
        let state = SegmentHeader::decode(&head, id);
        if let HeaderState::OtherVersion(found) = state {
            return Err(Error::UnsupportedVersion { segment: id, found, supported: FORMAT_VERSION });
        }
        segs.push(Seg { id, path, file, len, state, unborn: false });
    }
    let mut infos: Vec<SegmentInfo> = segs.iter().map(blank_info).collect();
    for (info, s) in infos.iter_mut().zip(&segs) {
        if let HeaderState::Valid(h) = s.state {
            info.header = Some(h);
        }
    }
    // A recovery copy counts only once complete: once a record in it claims
    // durable bytes (the copy's closing record is written after its body is
    // synced, and every record written later claims too). An unfinished one
    // (only ever the newest valid segment) is removed and supersedes nothing,
    // as long as the segment it copies from is still there; without that
    // segment, the copy had completed (recovery removes the original only
    // then), and a damaged closing record is judged like any other damage.
    if let Some(i) = segs.iter().rposition(|s| matches!(s.state, HeaderState::Valid(_))) {
        let original = i
            .checked_sub(1)
            .is_some_and(|p| segs[p].id.next() == segs[i].id && matches!(segs[p].state, HeaderState::Valid(_)));
        if let HeaderState::Valid(h) = segs[i].state {
            if h.copy && original {
                let bytes = read_data(segs[i].file.as_ref(), &segs[i].path, segs[i].len)?;
                let (found, _) = crate::scan::valid_records(&bytes, SEGMENT_HEADER_LEN, h.salt);
                if found.iter().all(|(_, r)| r.synced_off.is_none()) {
                    segs[i].unborn = true;
                    segs[i].state = HeaderState::Blank;
                }
            }
        }
    }
    let base = segs.iter().rposition(|s| matches!(s.state, HeaderState::Valid(h) if h.reset)).unwrap_or(0);
    for info in &mut infos[..base] {
        info.state = SegmentState::Superseded;
    }
    let (mut run_end, mut mid_bad) = find_run(&segs, base);
    let mut a = Analysis {
        inspection: Inspection {
            dir: dir.into(),
            segments: Vec::new(),
            tail: TailState::Clean,
            first_lsn: Lsn::new(1),
            last_lsn: Lsn::ZERO,
            missing: Vec::new(),
            metas: Default::default(),
            repairs: Vec::new(),
            rule: "empty",
            why: "no segment holds a valid header",
        },
        spans: Vec::new(),
        cut: None,
        max_id,
        meta: MetaState::default(),
        rebuilt: Vec::new(),
        dead: Vec::new(),
    };
    let mut problems: Vec<Problem> = Vec::new();
    let mut torn_seal = None;
    if run_end > base {
        // A segment whose seal never completed ends the log: the files
        // after it hold nothing that was acknowledged durable. The run is
        // judged again up to it.
        let run = Run { base, end: run_end, verify };
        torn_seal = judge_run(&mut a, &mut infos, &segs, run, &mut problems)?;
        if let Some(k) = torn_seal {
            (run_end, mid_bad) = (k + 1, None);
            let again = judge_run(&mut a, &mut infos, &segs, Run { end: run_end, ..run }, &mut problems)?;
            debug_assert_eq!(again, None, "the first unproven segment was cut at");
        }
    }
    if let Some(i) = mid_bad {
        let reason = match segs[i].state {
            HeaderState::Invalid(r) => r,
            _ => CorruptionReason::BadMagic,
        };
        infos[i].state = SegmentState::Corrupt(reason);
        problems.push(Problem {
            index: i,
            offset: 0,
            lsn: a.inspection.last_lsn.get() + 1,
            reason,
            rule: "damaged-segment-header",
            why: "a segment header is damaged while a later segment is valid",
            nonzero_end: segs[i].len,
            later: 0,
        });
    }
    problems.sort_by_key(|p| p.index);
    if let Some(p) = problems.into_iter().next() {
        settle_corruption(&mut a, &mut infos, p);
    }
    judge_after_run(&mut a, &mut infos, &segs, run_end.max(base), mid_bad.is_some(), torn_seal.is_some())?;
    a.inspection.metas = a.meta.metas.clone();
    a.inspection.repairs = a
        .rebuilt
        .iter()
        .map(|(id, r)| (*id, r.offset, r.bytes.len() as u64))
        .chain(a.dead.iter().map(|&(id, from, to)| (id, from, to - from)))
        .collect();
    a.inspection.segments = infos;
    Ok(a)
}

/// The run of valid headers `base..end` to judge, and how.
#[derive(Clone, Copy)]
struct Run {
    base: usize,
    end: usize,
    verify: bool,
}

/// Where the run of valid headers the log is built from ends, and the first
/// bad header that has a valid one somewhere after it (mid-log damage).
fn find_run(segs: &[Seg], base: usize) -> (usize, Option<usize>) {
    let valid = |s: &Seg| matches!(s.state, HeaderState::Valid(_));
    let last_valid = segs.iter().rposition(valid);
    let first_bad = segs[base..].iter().position(|s| !valid(s)).map_or(segs.len(), |p| p + base);
    match last_valid {
        Some(lv) if lv >= base && first_bad < lv => (first_bad, Some(first_bad)),
        Some(lv) if lv >= base => (lv + 1, None),
        _ => (base, None),
    }
}

/// Each segment's limit in the run `base..run_end`, from the back: `None`
/// if superseded whole, else `Some(last LSN it must hold)` (`Some(None)` for
/// the last).
fn limits_of(segs: &[Seg], base: usize, run_end: usize) -> Vec<Option<Option<u64>>> {
    let mut limits: Vec<Option<Option<u64>>> = vec![None; run_end];
    let mut next_first: Option<u64> = None;
    for i in (base..run_end).rev() {
        let h = header_of(&segs[i]);
        match next_first {
            Some(nf) if h.first_lsn >= nf => limits[i] = None,
            _ => {
                limits[i] = Some(next_first.map(|nf| nf - 1));
                next_first = Some(h.first_lsn);
            }
        }
    }
    limits
}

fn header_of(s: &Seg) -> SegmentHeader {
    match s.state {
        HeaderState::Valid(h) => h,
        _ => unreachable!("the run holds valid headers only"),
    }
}

/// Judges the run of valid headers `base..run_end`: the tail first (it holds
/// the metadata and purge point), then every other segment, backwards.
///
/// Returns, without recording anything but superseded segments, the first
/// segment before the tail that nothing proves durable: it has no valid
/// trailer, and no later segment has one or a record claiming durable
/// bytes. The writer writes a trailer, and lets a record claim, only once
/// every segment before it is durable (W2), so such a segment's seal never
/// completed, and nothing from its last claim on was acknowledged: the log
/// ends with it (a *torn seal*).
fn judge_run(
    a: &mut Analysis,
    infos: &mut [SegmentInfo],
    segs: &[Seg],
    run: Run,
    problems: &mut Vec<Problem>,
) -> Result<Option<usize>> {
    let Run { base, end: run_end, verify } = run;
    let limits = limits_of(segs, base, run_end);
    let tail = run_end - 1;
    // A sealed last segment's successor file was made before the seal.
    let successor_exists = segs.get(tail + 1).is_some_and(|n| n.id == segs[tail].id.next());
    let tail_out = judge_segment(&segs[tail], None, successor_exists, verify, true)?;
    let tail_meta = &tail_out.judged.as_ref().expect("the tail is walked").walker.meta;
    // The segment whose metadata counts (`None`: no segment has any).
    let mut meta_damage: Option<Problem> = None;
    let (meta_from, meta) = if tail_meta.complete {
        (Some(tail), tail_meta.clone())
    } else {
        // The tail's first write (its snapshot) never became durable: the
        // metadata is what the segment before it ended with.
        match (0..tail).rev().find(|&i| matches!(segs[i].state, HeaderState::Valid(_))) {
            Some(i) => {
                let out = judge_segment(&segs[i], None, false, true, true)?;
                let j = out.judged.expect("walked");
                // Damage the walk stopped at hides the metadata after it:
                // the log's corruption, whether or not the segment holds
                // records the log still needs (see below).
                if let (Verdict::Corruption(_), Some(p)) = (j.verdict, out.problem) {
                    meta_damage = Some(Problem { index: i, ..p });
                }
                (Some(i), j.walker.meta)
            }
            None => (None, MetaState::default()),
        }
    };
    // That segment was read whole for its metadata, so damage in it cannot
    // go unseen: below it is judged by a full walk, not through its
    // trailer, and damage its walk stops at is the log's corruption rather
    // than a shorter metadata state taken silently.
    let walked_for_meta = meta_from.filter(|&i| i < tail);
    a.meta = meta;
    if let HeaderState::Valid(h) = segs[base].state {
        if h.reset && meta_from.is_none_or(|i| i < base) {
            // A reset base starts a new log at its first LSN. Metadata
            // taken from before it (the reset's snapshot never became
            // durable) keeps its entries, but its purge point belongs to
            // the old log, which may have run past `first_lsn` when the
            // reset went back.
            a.meta.first_lsn = h.first_lsn;
        }
    }
    // With each segment, the last LSN it must hold: its successor's first
    // LSN - 1 (`None` for the tail). Backwards, so that whether a later
    // segment proves this one durable is known when it is judged.
    // A segment proves every one before it durable in full if it has a
    // valid trailer, a record claiming durable bytes, or a header no
    // rotation wrote ahead of a seal (W2).
    let proves = |out: &Outcome| out.span.trailer || out.span.claim > 0 || !out.span.header.ahead;
    let mut proven = proves(&tail_out);
    let mut next = tail_out.span.header;
    let mut unproven = None;
    let mut outcomes: Vec<(usize, Option<u64>, Outcome)> = vec![(tail, None, tail_out)];
    for i in (base..tail).rev() {
        match limits[i] {
            None => {
                infos[i].state = SegmentState::Superseded;
            }
            Some(limit) => {
                // Later segments exist: whether they join this one is the
                // boundary check's business (a cut or a recovery copy may
                // have replaced the next id with a later one).
                let verify = verify || walked_for_meta == Some(i);
                let durable_to = if next.id == segs[i].id.next() { u64::from(next.prev_synced) } else { 0 };
                let held = limit.map(|last_lsn| Limit { last_lsn, sealed_durable: proven, durable_to });
                let out = judge_segment(&segs[i], held, true, verify, false)?;
                let corrupt = matches!(out.judged.as_ref().map(|j| j.verdict), Some(Verdict::Corruption(_)));
                if !out.span.trailer && !proven && !corrupt {
                    unproven = Some(i);
                }
                proven |= proves(&out);
                next = out.span.header;
                outcomes.push((i, limit, out));
            }
        }
    }
    if unproven.is_some() {
        return Ok(unproven);
    }
    outcomes.reverse();
    let purge = a.meta.first_lsn;
    let mut prev: Option<(u64, u32)> = None;
    let mut started = false;
    for (i, limit, out) in outcomes {
        let info = &mut infos[i];
        fill_info(info, &out);
        let is_tail = i == tail;
        info.state = if is_tail && !out.span.sealed { SegmentState::Active } else { SegmentState::Sealed };
        // Purged whole: judged by the LSNs the segment must hold (up to its
        // successor's start), not by what a walk found valid in it, so that
        // damage to a segment the purge point does not cover is never taken
        // for a purge.
        if !started && purge > 0 && limit.unwrap_or(out.span.last_lsn) < purge && !is_tail {
            info.state = SegmentState::Purged;
            continue;
        }
        let h = out.span.header;
        if !started {
            started = true;
            let first = if purge > 0 { purge } else { h.first_lsn };
            a.inspection.first_lsn = Lsn::new(first);
            if h.first_lsn > first && base == 0 {
                a.inspection.missing.push(Lsn::new(first)..=Lsn::new(h.first_lsn - 1));
                problems.push(Problem {
                    index: i,
                    offset: 0,
                    lsn: first,
                    reason: CorruptionReason::MissingStart,
                    rule: "missing-start",
                    why: "the durable purge point lies before the first segment that remains: segments were deleted",
                    nonzero_end: 0,
                    later: 0,
                });
            }
        } else if let Some((last, crc)) = prev {
            let gap = h.first_lsn != last + 1;
            if gap || h.prev_crc != crc {
                if h.first_lsn > last + 1 {
                    a.inspection.missing.push(Lsn::new(last + 1)..=Lsn::new(h.first_lsn - 1));
                }
                let reason = if gap { CorruptionReason::MissingRecords } else { CorruptionReason::ChainMismatch };
                problems.push(Problem {
                    index: i,
                    offset: 0,
                    lsn: last + 1,
                    reason,
                    rule: "segment-boundary",
                    why: "a segment must start right after its predecessor's last record and name its checksum",
                    nonzero_end: 0,
                    later: 0,
                });
            }
        }
        prev = Some((out.span.last_lsn, out.span.last_crc));
        if let Some(p) = out.problem {
            problems.push(Problem { index: i, ..p });
        }
        for r in &out.rebuilt {
            a.rebuilt.push((out.span.id, r.clone()));
        }
        for &(from, to) in &out.dead {
            a.dead.push((out.span.id, from, to));
        }
        if is_tail {
            let j = out.judged.as_ref().expect("the tail is walked");
            (a.inspection.rule, a.inspection.why) = (j.rule, j.why);
            if j.verdict == Verdict::TornTail {
                let ev = &j.evidence;
                a.inspection.tail = TailState::Torn {
                    segment: out.span.id,
                    offset: out.span.end,
                    bytes: ev.nonzero_end as u64 - out.span.end,
                    last_lsn: Lsn::new(out.span.last_lsn),
                };
                a.cut = Some(Cut {
                    index: i,
                    offset: out.span.end,
                    nonzero_end: ev.nonzero_end as u64,
                    holds_records: ev.later_records > 0,
                });
            }
        }
        a.inspection.last_lsn = Lsn::new(out.span.last_lsn);
        a.spans.push(out.span);
    }
    // Purged or superseded, the segment the metadata came from is judged
    // no further above: its damage still counts.
    if let Some(p) = meta_damage.filter(|p| !problems.iter().any(|q| q.index == p.index)) {
        problems.push(p);
    }
    let purge_ok = purge == 0 || purge <= a.inspection.last_lsn.get() + 1;
    if !purge_ok {
        problems.push(Problem {
            index: tail,
            offset: 0,
            lsn: a.inspection.last_lsn.get() + 1,
            reason: CorruptionReason::BadMeta,
            rule: "bad-purge-point",
            why: "the purge point lies after the last record",
            nonzero_end: 0,
            later: 0,
        });
    }
    Ok(None)
}

fn fill_info(info: &mut SegmentInfo, out: &Outcome) {
    let s = &out.span;
    info.header = Some(s.header);
    info.records = out.records;
    info.bytes_used = s.end;
    info.trusted = matches!(s.index, SpanIndex::Sealed(_));
    if out.records > 0 {
        info.first_lsn = Some(Lsn::new(s.header.first_lsn));
        info.last_lsn = Some(Lsn::new(s.last_lsn));
    }
}

/// Judges one segment: trusted through its trailer when it has a valid one
/// (and `verify` is off and the trailer agrees with `limit`), else walked,
/// and held to `limit`, as durable in full if it has a valid trailer.
fn judge_segment(s: &Seg, limit: Option<Limit>, next_exists: bool, verify: bool, is_tail: bool) -> Result<Outcome> {
    let h = header_of(s);
    // The tail's trailer is read only if its walk finds it sealed: read
    // first, it would bring the segment's last page into the page cache,
    // which then counts as data, and the walk would read every zero of a
    // preallocated tail up to it (`blocks.rs` skips only holes).
    let trailer = if is_tail { None } else { read_trailer(s, &h)? };
    if !verify && !is_tail {
        if let Some(t) = trailer {
            if Some(t.last_lsn) == limit.map(|l| l.last_lsn) {
                let span = Span {
                    id: s.id,
                    path: s.path.clone(),
                    header: h,
                    last_lsn: t.last_lsn,
                    last_crc: t.last_crc,
                    end: u64::from(t.index_off),
                    sealed: true,
                    trailer: true,
                    seal_at: Some(u64::from(t.index_off)),
                    index: SpanIndex::Sealed(t),
                    claim: 0,
                    unclaimed_data: false,
                    meta_complete: true,
                    file_len: s.len,
                };
                let problem = (!next_exists).then(|| missing_successor(s, &span));
                return Ok(Outcome {
                    records: t.count(),
                    span,
                    problem,
                    rebuilt: Vec::new(),
                    dead: Vec::new(),
                    judged: None,
                });
            }
        }
    }
    let walker = Walker::new(h.salt, h.first_lsn, h.prev_crc);
    let limit = limit.map(|l| Limit { sealed_durable: l.sealed_durable || trailer.is_some(), ..l });
    let FileJudged { judged: j, dead } = judge_file(s.file.as_ref(), &s.path, s.len, walker, limit)?;
    let w = &j.walker;
    let trailer = if is_tail && w.sealed_at.is_some() { read_trailer(s, &h)? } else { trailer };
    let span = Span {
        id: s.id,
        path: s.path.clone(),
        header: h,
        last_lsn: w.lsn,
        last_crc: w.crc,
        end: w.end as u64,
        sealed: w.sealed_at.is_some(),
        trailer: trailer.is_some(),
        // A walk held to a limit below the seal kept fewer records than it indexes.
        seal_at: w.sealed_at.filter(|&at| w.end > at).map(|at| at as u64),
        index: SpanIndex::Walked(w.offsets.clone()),
        claim: u64::from(w.claim),
        unclaimed_data: w.last_data.is_some_and(|d| d as u64 >= u64::from(w.claim)),
        meta_complete: w.meta.complete,
        file_len: s.len,
    };
    let mut problem = match j.verdict {
        Verdict::Corruption(reason) => Some(Problem {
            index: 0,
            offset: w.end as u64,
            lsn: w.lsn + 1,
            reason,
            rule: j.rule,
            why: j.why,
            nonzero_end: (j.evidence.nonzero_end.max(w.end)) as u64,
            later: j.evidence.later_records,
        }),
        _ => None,
    };
    // A segment whose seal completed had its successor made first (W2); one
    // whose seal never completed may have lost it to recovery (a torn seal
    // moves it aside), and nothing after it was acknowledged.
    if problem.is_none() && span.sealed && span.trailer && !next_exists {
        problem = Some(missing_successor(s, &span));
    }
    Ok(Outcome { records: w.records(), rebuilt: j.rebuilt.clone(), dead, span, problem, judged: Some(j) })
}

fn missing_successor(s: &Seg, span: &Span) -> Problem {
    Problem {
        index: 0,
        offset: s.len,
        lsn: span.last_lsn + 1,
        reason: CorruptionReason::MissingSegment,
        rule: "missing-segment",
        why: "a sealed segment's successor is created before the seal, so its file must exist",
        nonzero_end: s.len,
        later: 0,
    }
}

/// Makes problem `p` the log's corruption: the valid log stops there.
fn settle_corruption(a: &mut Analysis, infos: &mut [SegmentInfo], p: Problem) {
    let id = infos[p.index].id;
    // The valid log ends at the problem: drop the spans after it, and the
    // problem segment's own span if the damage is at its start.
    let keep = a.spans.iter().position(|s| s.id >= id).unwrap_or(a.spans.len());
    let mut after: u64 = infos[p.index + 1..].iter().map(|i| i.records).sum::<u64>() + p.later;
    if let Some(span) = a.spans.get(keep).filter(|s| s.id == id && p.offset > 0) {
        a.inspection.last_lsn = Lsn::new(span.last_lsn);
        a.spans.truncate(keep + 1);
    } else {
        a.spans.truncate(keep);
        a.inspection.last_lsn =
            a.spans.last().map_or(Lsn::new(a.inspection.first_lsn.get() - 1), |s| Lsn::new(s.last_lsn));
        after += infos[p.index].records;
    }
    // Damage before the purge point leaves no record of the log valid: it
    // holds none, and still starts at the purge point.
    if a.inspection.first_lsn.get() > a.inspection.last_lsn.get() + 1 {
        a.inspection.last_lsn = Lsn::new(a.inspection.first_lsn.get() - 1);
    }
    infos[p.index].state = SegmentState::Corrupt(p.reason);
    for info in &mut infos[p.index + 1..] {
        if matches!(info.state, SegmentState::Sealed | SegmentState::Active) {
            info.state = SegmentState::AfterCorruption;
        }
    }
    (a.inspection.rule, a.inspection.why) = (p.rule, p.why);
    a.inspection.tail = TailState::Corrupt {
        segment: id,
        offset: p.offset,
        lsn: Lsn::new(p.lsn),
        reason: p.reason,
        valid_records_after: after,
    };
    a.cut =
        Some(Cut { index: p.index, offset: p.offset, nonzero_end: p.nonzero_end.max(p.offset), holds_records: true });
}

/// Judges the files after the run: trailing spares and torn rotations, or
/// (with `mid_log_damage`) segments after a damaged header, or (with
/// `torn_seal`) segments after one whose seal never completed.
fn judge_after_run(
    a: &mut Analysis,
    infos: &mut [SegmentInfo],
    segs: &[Seg],
    run_end: usize,
    mid_log_damage: bool,
    torn_seal: bool,
) -> Result<()> {
    for i in run_end..infos.len() {
        if torn_seal {
            after_torn_seal(a, infos, segs, i)?;
            continue;
        }
        if let HeaderState::Valid(_) = segs[i].state {
            // Only after a damaged mid-log header: its records are valid but
            // out of the log's reach.
            let out = judge_segment(&segs[i], None, true, false, false)?;
            fill_info(&mut infos[i], &out);
            infos[i].state = SegmentState::AfterCorruption;
            continue;
        }
        let reason = match segs[i].state {
            HeaderState::Blank => CorruptionReason::BadMagic,
            HeaderState::Invalid(r) => r,
            _ => unreachable!("valid and other-version headers are handled before"),
        };
        if !mid_log_damage && body_is_blank(&segs[i])? {
            infos[i].state = blank_state(&segs[i]);
            if infos[i].state == SegmentState::TornHeader {
                torn_from_file(a, &infos[i], "torn-segment-header", "a new segment's header is synced before any record is written to it, so a bad header over a blank body is a cut rotation");
            }
            continue;
        }
        if matches!(a.inspection.tail, TailState::Corrupt { .. }) {
            infos[i].state = SegmentState::AfterCorruption;
            continue;
        }
        settle_corruption(
            a,
            infos,
            Problem {
                index: i,
                offset: 0,
                lsn: a.inspection.last_lsn.get() + 1,
                reason,
                rule: "damaged-segment-header",
                why: "a segment header is damaged while records follow it, or a later segment is valid",
                nonzero_end: segs[i].len,
                later: 0,
            },
        );
    }
    Ok(())
}

/// Judges file `i`, which lies after a segment whose seal never completed.
/// Everything in it was written before that seal, and nothing of it was
/// acknowledged durable (W2): it is dropped, as a torn tail is, and the log
/// ends before it.
fn after_torn_seal(a: &mut Analysis, infos: &mut [SegmentInfo], segs: &[Seg], i: usize) -> Result<()> {
    let s = &segs[i];
    match s.state {
        HeaderState::Valid(_) => {
            let out = judge_segment(s, None, true, false, false)?;
            fill_info(&mut infos[i], &out);
        }
        _ => {
            if body_is_blank(s)? {
                infos[i].state = blank_state(s);
                return Ok(());
            }
        }
    }
    if matches!(a.inspection.tail, TailState::Corrupt { .. }) {
        infos[i].state = SegmentState::AfterCorruption;
        return Ok(());
    }
    infos[i].state = SegmentState::AfterTornSeal;
    torn_from_file(
        a,
        &infos[i],
        "torn-seal",
        "the segment before was never sealed durably, and nothing after it is acknowledged until it is",
    );
    Ok(())
}

/// Whether the body of `s`, a file without a valid header, holds nothing:
/// every byte after the header is zero, or it is a recovery copy that
/// never completed.
fn body_is_blank(s: &Seg) -> Result<bool> {
    let end = data_end(s.file.as_ref(), s.len) as usize;
    Ok(s.unborn || !nonzero_in_file(s.file.as_ref(), &s.path, SEGMENT_HEADER_LEN, end)?)
}

/// A file without a valid header over a blank body: an unused spare if the
/// header is blank too, else a torn header.
fn blank_state(s: &Seg) -> SegmentState {
    if s.state == HeaderState::Blank {
        SegmentState::Unused
    } else {
        SegmentState::TornHeader
    }
}

/// Unless the log already ends torn or corrupt, it ends torn at the start
/// of file `info`, which is dropped whole, for `rule`.
fn torn_from_file(a: &mut Analysis, info: &SegmentInfo, rule: &'static str, why: &'static str) {
    if matches!(a.inspection.tail, TailState::Clean) {
        a.inspection.rule = rule;
        a.inspection.why = why;
        a.inspection.tail =
            TailState::Torn { segment: info.id, offset: 0, bytes: info.file_len, last_lsn: a.inspection.last_lsn };
    }
}

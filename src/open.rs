//! Opening a log: creating it, or recovering it and resuming where it ends.
//!
//! Recovery order (each step crash safe, so a crash at any point leaves a
//! directory the next recovery judges the same way):
//! 1. pages rebuilt from parity are written back and synced;
//! 2. the last kept segment is synced, and the bytes of it that no later
//!    record proves durable are written again and synced: what recovery
//!    adopts may exist only in the page cache of a process that died, or of
//!    this one after a failed `fdatasync` (which drops the dirty pages but
//!    leaves them readable, so that a fresh descriptor's sync succeeds
//!    without them); above all a header that supersedes records must be
//!    durable before the superseded segment goes. Every other kept segment
//!    was durable before its successor's header was written (a rotation,
//!    W7, W8 and recovery's own copies all sync first), and the only later
//!    writes to it, clearings, are synced by the operation that makes them,
//!    whose interruption recovery judges the same whatever reached the disk:
//!    syncing it again would cost one `fdatasync` per segment and prove
//!    nothing (FORMAT.md §6.1);
//! 3. the plan: quarantine copies, removals newest first, cleared bytes.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use crate::buffer::{ActiveSeg, WriteBuffer};
use crate::error::{Error, NotALogReason, Result};
use crate::format::{LOCK_FILE, SEGMENT_HEADER_LEN};
use crate::group_commit::GroupCommit;
use crate::inspect::TailState;
use crate::io::{write_all_at, FileSystem, StdFs};
use crate::meta::MetaRecord;
use crate::record::{encode_record, RecordKind};
use crate::recovery::{analyze, list_dir, Analysis, SpanIndex};
use crate::repair::{execute, plan, RecoveryAction, RecoveryReport};
use crate::seal::Trailer;
use crate::segment::{random_salt, SegmentHeader};
use crate::segments::{SegmentFile, SegmentSet};
use crate::state::State;
use crate::stats::Counters;
use crate::wal::{Inner, Wal};
use crate::writer::{Resume, SegmentFactory, Writer};
use crate::{Lsn, Options, RecoveryMode, SegmentId};

/// Takes the log's lock file; `created` says whether this call made it.
fn lock_dir(dir: &Path) -> Result<(File, bool)> {
    let path = dir.join(LOCK_FILE);
    let existed = path.exists();
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok((f, !existed)),
        Err(TryLockError::WouldBlock) => Err(Error::Locked { path: dir.into() }),
        Err(TryLockError::Error(e)) => Err(Error::io("flock", &path, e)),
    }
}

/// What a directory holds, before recovery touches it.
enum Found {
    Fresh,
    Existing(Box<Analysis>),
}

/// Lists and analyzes `dir`. The default recovery mode trusts sealed
/// segments through their trailers (open costs O(segments + tail)); `Strict`
/// and `Salvage`, which must see every damage to refuse or cut it, read
/// everything.
fn survey(dir: &Path, fs: &dyn FileSystem, mode: RecoveryMode) -> Result<Found> {
    let listing = list_dir(dir)?;
    if listing.segments.is_empty() {
        if listing.foreign > 0 {
            return Err(Error::NotALog { path: dir.into(), reason: NotALogReason::ForeignFiles });
        }
        return Ok(Found::Fresh);
    }
    Ok(Found::Existing(Box::new(analyze(dir, fs, mode != RecoveryMode::TruncateTornTail)?)))
}

fn fresh_report(first_lsn: u64) -> RecoveryReport {
    RecoveryReport {
        first_lsn: Lsn::new(first_lsn),
        last_lsn: Lsn::new(first_lsn - 1),
        segments: 1,
        tail: TailState::Clean,
        actions: Vec::new(),
    }
}

fn report_of(a: &Analysis, actions: Vec<RecoveryAction>) -> RecoveryReport {
    let insp = &a.inspection;
    RecoveryReport {
        first_lsn: insp.first_lsn,
        last_lsn: insp.last_lsn,
        segments: a.spans.len(),
        tail: insp.tail.clone(),
        actions,
    }
}

impl Wal {
    /// Opens the log in `dir`, creating the directory (and syncing its
    /// parent) and an empty log if needed, and recovers it after a crash as
    /// [`Options::recovery_mode`] says. Everything recovery keeps is durable
    /// before `open` returns.
    ///
    /// Fails with [`Error::Locked`] if another `Wal` holds `dir`, with
    /// [`Error::NotALog`] if `dir` holds other files and no log, with
    /// [`Error::BadFile`] for a file named like a segment that cannot be one,
    /// and with [`Error::Corruption`] or [`Error::TornTail`] when the
    /// recovery mode refuses the damage found. A refused open changes nothing
    /// (it leaves no lock file behind either).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use seawall::{Options, Wal};
    /// let (wal, report) = Wal::open(dir.path().join("log"), Options::default())?;
    /// assert!(report.is_clean());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<(Wal, crate::RecoveryReport)> {
        Wal::open_with(dir, opts, Arc::new(StdFs))
    }

    /// Like [`Wal::open`], with every file-system effect routed through `fs`
    /// (for fault injection and crash testing).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use std::sync::Arc;
    /// let fs = Arc::new(seawall::io::StdFs);
    /// let (wal, _) = seawall::Wal::open_with(dir.path(), seawall::Options::default(), fs)?;
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn open_with(dir: impl AsRef<Path>, opts: Options, fs: Arc<dyn FileSystem>) -> Result<(Wal, RecoveryReport)> {
        let dir = dir.as_ref().to_path_buf();
        opts.validate()?;
        let existed = dir.exists();
        if existed && !dir.is_dir() {
            return Err(Error::NotALog { path: dir, reason: NotALogReason::NotADirectory });
        }
        if existed {
            // Refuse someone else's directory before touching anything.
            let listing = list_dir(&dir)?;
            if listing.segments.is_empty() && listing.foreign > 0 {
                return Err(Error::NotALog { path: dir, reason: NotALogReason::ForeignFiles });
            }
        } else {
            // Every directory made here is made durable in its parent.
            let mut made: Vec<&Path> =
                dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
            made.reverse();
            fs.create_dir_all(&dir).map_err(|e| Error::io("mkdir", &dir, e))?;
            for d in made {
                if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
                    fs.sync_dir(parent).map_err(|e| Error::io("fsync", parent, e))?;
                }
            }
        }
        let (lock, created_lock) = lock_dir(&dir)?;
        match open_locked(&dir, opts, fs, lock) {
            Ok(r) => Ok(r),
            Err(e) => {
                if created_lock && existed {
                    let _ = std::fs::remove_file(dir.join(LOCK_FILE));
                }
                Err(e)
            }
        }
    }

    /// What [`Wal::open`] with `opts` would do to the log in `dir`, without
    /// doing it: takes no lock and modifies nothing (a dry run of recovery).
    /// Returns the same errors open would.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// let report = seawall::Wal::plan_recovery(dir.path(), &seawall::Options::default())?;
    /// assert!(report.is_clean()); // (it may still remove an unused spare segment)
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn plan_recovery(dir: impl AsRef<Path>, opts: &Options) -> Result<RecoveryReport> {
        let dir = dir.as_ref();
        opts.validate()?;
        match survey(dir, &StdFs, opts.recovery_mode)? {
            Found::Fresh => Ok(fresh_report(1)),
            Found::Existing(a) => {
                let actions = plan(&a, opts.recovery_mode)?;
                Ok(report_of(&a, actions))
            }
        }
    }
}

fn open_locked(dir: &Path, opts: Options, fs: Arc<dyn FileSystem>, lock: File) -> Result<(Wal, RecoveryReport)> {
    let counters = Arc::new(Counters::default());
    let factory = SegmentFactory {
        fs: fs.clone(),
        dir: dir.to_path_buf(),
        size: opts.segment_size,
        preallocate: opts.preallocate,
        background: opts.background_preallocation,
    };
    let segments = Arc::new(Mutex::new(SegmentSet::new(dir, fs.clone())));
    let (start, report) = match survey(dir, fs.as_ref(), opts.recovery_mode)? {
        Found::Fresh => {
            let (r, first_lsn) = (
                start_log(
                    &factory,
                    &segments,
                    SegmentId::new(1),
                    (1, 0, false),
                    &MetaRecord::snapshot(&Default::default(), 1),
                )?,
                1,
            );
            (r, fresh_report(first_lsn))
        }
        Found::Existing(a) => recover(&factory, &segments, &a, &opts)?,
    };
    let Start { resume, offsets, first_lsn, metas, sealed } = start;
    let last_lsn = resume.last_lsn;
    let seg = ActiveSeg {
        id: resume.header.id,
        first_lsn: resume.header.first_lsn,
        capacity: resume.file.capacity,
        end: resume.end,
        offsets,
        window_start: resume.end,
        sealed,
    };
    let writer = Writer::new(factory, segments.clone(), resume, counters.clone());
    let state = State::new(WriteBuffer::new(seg, opts.segment_size), last_lsn, first_lsn, metas);
    let gc = GroupCommit::new(
        state,
        writer,
        opts.group_commit_delay,
        opts.write_buffer_size,
        counters.clone(),
        segments.clone(),
    );
    let inner = Inner {
        dir: dir.to_path_buf(),
        opts,
        gc,
        segments,
        counters,
        cut_count: AtomicUsize::new(0),
        first_lsn: AtomicU64::new(first_lsn),
    };
    let wal = Wal { inner: Arc::new(inner), flusher: Mutex::new(None), truncating: Mutex::new(()), _lock: lock };
    Ok((wal, report))
}

/// Where a log resumes after open.
struct Start {
    resume: Resume,
    /// Offsets of the active segment's records.
    offsets: Vec<u32>,
    first_lsn: u64,
    metas: std::collections::BTreeMap<bytes::Bytes, bytes::Bytes>,
    /// The segment is sealed: the first append starts the next one.
    sealed: bool,
}

/// Starts segment `id` of a log (a fresh log, one with nothing valid left,
/// or the segment a salvage commits its cut with): its header (with the
/// reset flag if `reset`), then a snapshot of the metadata, each synced.
/// Registers it as the active segment.
fn start_log(
    factory: &SegmentFactory,
    segments: &Arc<Mutex<SegmentSet>>,
    id: SegmentId,
    (first_lsn, prev_crc, reset): (u64, u32, bool),
    snapshot: &MetaRecord,
) -> Result<Start> {
    let path = dir_path(factory, id);
    let (_, file) = if path.exists() { factory.reuse(id)? } else { factory.create(id)? };
    let header = SegmentHeader::new(id, first_lsn, random_salt(id), prev_crc, reset);
    write_all_at(file.as_ref(), &header.encode(), 0).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    let at = SEGMENT_HEADER_LEN as u64;
    let rec = encode_record(header.salt, first_lsn - 1, RecordKind::Meta, prev_crc, 0, at, &snapshot.encode());
    write_all_at(file.as_ref(), &rec, at).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    // A record claiming the snapshot, so that no later open has to copy it
    // (see `rebase`).
    let claim_at = at + rec.len() as u64;
    let claim = encode_record(header.salt, first_lsn - 1, RecordKind::Pad, prev_crc, claim_at as u32, claim_at, &[]);
    write_all_at(file.as_ref(), &claim, claim_at).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    let capacity = file.len().map_err(|e| Error::io("stat", &path, e))?.max(factory.size);
    let handle = Arc::new(SegmentFile::new(id, path, file, capacity));
    crate::lock(segments).push_active(id, first_lsn, header.salt, Some(handle.clone()));
    let mut metas = std::collections::BTreeMap::new();
    let mut first = first_lsn;
    snapshot.apply(&mut metas, &mut first);
    Ok(Start {
        resume: Resume {
            file: handle,
            header,
            last_lsn: first_lsn - 1,
            last_crc: prev_crc,
            end: claim_at + claim.len() as u64,
            unsealed: None,
        },
        offsets: Vec::new(),
        first_lsn: first,
        metas,
        sealed: false,
    })
}

fn dir_path(factory: &SegmentFactory, id: SegmentId) -> std::path::PathBuf {
    factory.dir.join(id.file_name())
}

/// Repairs an existing log as `opts` allow, makes what it keeps durable, and
/// returns where appending resumes.
fn recover(
    factory: &SegmentFactory,
    segments: &Arc<Mutex<SegmentSet>>,
    a: &Analysis,
    opts: &Options,
) -> Result<(Start, RecoveryReport)> {
    let mut actions = plan(a, opts.recovery_mode)?;
    let fs: &dyn FileSystem = factory.fs.as_ref();
    // Copies of the bytes a torn tail drops come first, as found: a repair
    // of the page holding the stop zeroes the first of them (`execute`).
    let (copies, rest): (Vec<_>, Vec<_>) =
        actions.drain(..).partition(|a| matches!(a, RecoveryAction::QuarantinedBytes { .. }));
    let (repairs, rest): (Vec<_>, Vec<_>) =
        rest.into_iter().partition(|a| matches!(a, RecoveryAction::RepairedPage { .. }));
    // A tail missing its snapshot has its metadata from an earlier segment,
    // maybe one that is superseded and about to be removed (a `reset` or a
    // cut that crashed before its snapshot was durable): removals wait until
    // the snapshot is durable anew in the tail's copy, or for a later open.
    // (Files after the tail hold no metadata, and the copy may reuse one.)
    let lacks_snapshot = a.spans.last().filter(|t| !t.meta_complete).map(|t| t.id);
    let (deferred, rest): (Vec<_>, Vec<_>) = rest.into_iter().partition(|x| {
        matches!((x, lacks_snapshot), (RecoveryAction::RemovedSegment { segment, .. }, Some(tail)) if *segment < tail)
    });
    execute(fs, a, &copies)?;
    execute(fs, a, &repairs)?;
    let mut done = copies;
    done.extend(repairs);
    // Adopt only what is durable for real: the tail may hold what only a
    // page cache has (see the module doc).
    let mut handles = Vec::with_capacity(a.spans.len());
    for (i, span) in a.spans.iter().enumerate() {
        let capacity = span.file_len.max(factory.size);
        let file = fs.open(&span.path).map_err(|e| Error::io("open", &span.path, e))?;
        if i + 1 == a.spans.len() {
            file.sync_data().map_err(|e| Error::io("fdatasync", &span.path, e))?;
        }
        handles.push(Arc::new(SegmentFile::new(span.id, span.path.clone(), file, capacity)));
    }
    execute(fs, a, &rest)?;
    fs.sync_dir(&factory.dir).map_err(|e| Error::io("fsync", &factory.dir, e))?;
    done.extend(rest);
    let mut report = report_of(a, done);
    let meta = &a.meta;
    let first_lsn = if meta.first_lsn > 0 { meta.first_lsn } else { a.inspection.first_lsn.get() };
    // A salvage that cut the log writes the metadata and purge point anew
    // (FORMAT.md §6.2, "Where salvage cuts"): into a recovery copy when one
    // is made anyway, else into a segment of their own.
    let salvaged =
        opts.recovery_mode == RecoveryMode::Salvage && matches!(a.inspection.tail, TailState::Corrupt { .. });
    if salvaged && a.spans.last().is_some_and(|t| first_lsn > t.last_lsn + 1) {
        let start = commit_salvage(factory, segments, a, first_lsn, &mut report)?;
        finish_deferred(fs, a, deferred, &mut report)?;
        return Ok((start, report));
    }
    let n = a.spans.len();
    let mut set = crate::lock(segments);
    for (span, handle) in a.spans.iter().zip(&handles).take(n.saturating_sub(1)) {
        push_kept(&mut set, span, handle);
    }
    let start = match (a.spans.last(), handles.last()) {
        (Some(tail), Some(handle))
            if !tail.sealed && (tail.unclaimed_data || !tail.meta_complete) && rebase_fits(factory, tail)? =>
        {
            // Adopt nothing on faith: what no later record proves durable
            // (and a tail missing its snapshot) is written again, to a new
            // segment, before the log goes on.
            let (start, action, kept_old) = rebase(factory, &mut set, tail, handle, first_lsn, &meta.metas)?;
            drop(set);
            report.actions.push(action);
            report.segments += usize::from(kept_old);
            finish_deferred(fs, a, deferred, &mut report)?;
            start
        }
        (Some(tail), Some(handle)) if salvaged => {
            push_kept(&mut set, tail, handle);
            drop(set);
            let start = commit_salvage(factory, segments, a, first_lsn, &mut report)?;
            finish_deferred(fs, a, deferred, &mut report)?;
            start
        }
        (Some(tail), Some(handle)) => {
            // A sealed tail stays as it is, and the first append starts the
            // next segment (open itself needs no free space).
            let SpanIndex::Walked(offsets) = &tail.index else { unreachable!("the tail is always walked") };
            let offsets = offsets.clone();
            set.push_active(tail.id, tail.header.first_lsn, tail.header.salt, Some(handle.clone()));
            // A sealed tail whose seal a crash interrupted is sealed anew,
            // behind the rotation out of it (W2): nothing after it is
            // acknowledged first.
            let unsealed = match tail.seal_at.filter(|_| tail.sealed && !tail.trailer) {
                Some(at) => Some(trailer_of(tail, handle, at)?),
                None => None,
            };
            Start {
                resume: Resume {
                    file: handle.clone(),
                    header: tail.header,
                    last_lsn: tail.last_lsn,
                    last_crc: tail.last_crc,
                    end: tail.end,
                    unsealed,
                },
                offsets,
                first_lsn,
                metas: meta.metas.clone(),
                sealed: tail.sealed,
            }
        }
        _ => {
            // Nothing valid survived (a torn first segment, or a salvage that
            // kept nothing): start afresh after the highest id seen.
            drop(set);
            report.segments = 1;
            let next = a.inspection.last_lsn.get() + 1;
            start_log(factory, segments, a.max_id.next(), (next, 0, false), &MetaRecord::snapshot(&meta.metas, next))?
        }
    };
    Ok((start, report))
}

/// The trailer of the walked, sealed segment `span`, whose seal record is
/// at `at`.
fn trailer_of(span: &crate::recovery::Span, handle: &SegmentFile, at: u64) -> Result<Trailer> {
    let mut crc = [0u8; 4];
    crate::io::read_exact_at(handle.file.as_ref(), &mut crc, at).map_err(|e| Error::io("read", &span.path, e))?;
    Ok(Trailer {
        id: span.id,
        salt: span.header.salt,
        first_lsn: span.header.first_lsn,
        last_lsn: span.last_lsn,
        last_crc: span.last_crc,
        index_off: at as u32,
        index_crc: u32::from_le_bytes(crc),
    })
}

/// Carries out the removals that waited for the tail's snapshot to be
/// durable anew.
fn finish_deferred(
    fs: &dyn FileSystem,
    a: &Analysis,
    deferred: Vec<RecoveryAction>,
    report: &mut RecoveryReport,
) -> Result<()> {
    if !deferred.is_empty() {
        execute(fs, a, &deferred)?;
        let dir = &a.inspection.dir;
        fs.sync_dir(dir).map_err(|e| Error::io("fsync", dir, e))?;
        report.actions.extend(deferred);
    }
    Ok(())
}

/// Registers a kept segment that is not the active one.
fn push_kept(set: &mut SegmentSet, span: &crate::recovery::Span, handle: &Arc<SegmentFile>) {
    match &span.index {
        SpanIndex::Sealed(t) => set.push_trailer(*t, handle.clone()),
        SpanIndex::Walked(o) => set.push_known(
            span.id,
            span.header.first_lsn,
            span.last_lsn,
            span.header.salt,
            o.clone(),
            Some(handle.clone()),
        ),
    }
}

/// Completes a salvage whose cut moved aside or cleared segments: the
/// metadata and purge point the analysis found may have lived only in what
/// was cut, so they are written anew, in a segment started right after the
/// last kept one. When every kept record lies before the purge point, that
/// segment is a reset at the purge point (the log goes on from there, empty,
/// and `first_lsn()` never moves back), and the kept segments, superseded,
/// are removed once it is durable.
///
/// Without a reset, the kept segments are registered already.
fn commit_salvage(
    factory: &SegmentFactory,
    segments: &Arc<Mutex<SegmentSet>>,
    a: &Analysis,
    purge: u64,
    report: &mut RecoveryReport,
) -> Result<Start> {
    let tail = a.spans.last().expect("a kept segment");
    let id = tail.id.next();
    let reset = purge > tail.last_lsn + 1;
    let (first, prev_crc) = if reset { (purge, 0) } else { (tail.last_lsn + 1, tail.last_crc) };
    let start =
        start_log(factory, segments, id, (first, prev_crc, reset), &MetaRecord::snapshot(&a.meta.metas, purge))?;
    report.actions.push(RecoveryAction::WroteMetadata { segment: id, first_lsn: Lsn::new(first), reset });
    if reset {
        // Every kept record lay before the purge point: the reset
        // supersedes them all.
        let superseded: Vec<RecoveryAction> = a
            .spans
            .iter()
            .map(|s| RecoveryAction::RemovedSegment { segment: s.id, reason: crate::RemovalReason::Superseded })
            .collect();
        execute(factory.fs.as_ref(), a, &superseded)?;
        report.actions.extend(superseded);
        report.segments = 1;
    } else {
        report.segments += 1;
    }
    report.first_lsn = Lsn::new(purge);
    report.last_lsn = Lsn::new(first - 1);
    Ok(start)
}

/// Writes the tail's records that nothing proves durable (from the first one
/// at or after its claim on) into a new segment flagged as a copy, after a
/// snapshot of the metadata, and closes the copy with a record claiming
/// every byte before it. The copy's header names the first copied LSN, so
/// once complete it supersedes the originals; until then it counts for
/// nothing (`recovery.rs`), so a crash midway leaves the log as it was.
///
/// Why not rewrite in place: the bytes may already be durable (a normal
/// crash), and a torn rewrite could damage them; or they may exist only in
/// the page cache (a failed `fdatasync` drops dirty pages but leaves them
/// readable), and then only a new write makes them durable.
fn rebase(
    factory: &SegmentFactory,
    set: &mut SegmentSet,
    tail: &crate::recovery::Span,
    handle: &Arc<SegmentFile>,
    first_lsn: u64,
    metas: &std::collections::BTreeMap<bytes::Bytes, bytes::Bytes>,
) -> Result<(Start, RecoveryAction, bool)> {
    let SpanIndex::Walked(offsets) = &tail.index else { unreachable!("the tail is always walked") };
    let mut keep = offsets.partition_point(|&o| u64::from(o) < tail.claim);
    // The copy starts with a whole unit: a batch split between the original
    // and its copy would leave, should the copy be damaged later, a valid
    // prefix ending inside the batch.
    while keep > 0 && keep < offsets.len() {
        let (at, next) = (u64::from(offsets[keep - 1]), u64::from(offsets[keep]));
        let lsn = tail.header.first_lsn + keep as u64 - 1;
        if crate::read::read_one(handle, tail.header.salt, at, Some(next), lsn)?.kind().ends_unit() {
            break;
        }
        keep -= 1;
    }
    let a = tail.header.first_lsn + keep as u64;
    let prev_crc = match keep.checked_sub(1) {
        Some(i) => u32::from_le_bytes(handle.read(u64::from(offsets[i]), 4)?.try_into().expect("4 bytes")),
        None => tail.header.prev_crc,
    };
    let mut copies = Vec::with_capacity(offsets.len() - keep);
    for (i, &o) in offsets.iter().enumerate().skip(keep) {
        let next = offsets.get(i + 1).map(|&n| u64::from(n));
        let lsn = tail.header.first_lsn + i as u64;
        copies.push(crate::read::read_one(handle, tail.header.salt, u64::from(o), next, lsn)?);
    }
    let id = tail.id.next();
    let path = dir_path(factory, id);
    let (_, file) = take_copy_file(factory, id)?;
    let salt = random_salt(id);
    let header = SegmentHeader {
        copy: true,
        reset: tail.header.reset && keep == 0,
        ..SegmentHeader::new(id, a, salt, prev_crc, false)
    };
    write_all_at(file.as_ref(), &header.encode(), 0).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    let mut body = Vec::new();
    let start = SEGMENT_HEADER_LEN as u64;
    let snapshot = MetaRecord::snapshot(metas, first_lsn).encode();
    body.extend(encode_record(salt, a - 1, RecordKind::Meta, prev_crc, 0, start, &snapshot));
    let (mut chain, mut new_offsets) = (prev_crc, Vec::with_capacity(copies.len()));
    for r in &copies {
        let at = start + body.len() as u64;
        new_offsets.push(at as u32);
        let rec = encode_record(salt, r.lsn().get(), r.kind(), chain, 0, at, r.payload());
        chain = u32::from_le_bytes(rec[..4].try_into().expect("4 bytes"));
        body.extend(rec);
    }
    let last = a + copies.len() as u64 - 1;
    write_all_at(file.as_ref(), &body, start).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    // Only now, with the body durable, the record that claims it: the copy
    // counts from here on (`recovery.rs`).
    let at = start + body.len() as u64;
    let close = encode_record(salt, last, RecordKind::Pad, chain, at as u32, at, &[]);
    write_all_at(file.as_ref(), &close, at).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    body.extend(close);
    let remove_old = keep == 0 || a <= first_lsn;
    if remove_old {
        // Every record of the old tail has its copy now, or lies before the
        // purge point: it goes.
        factory.fs.remove(&tail.path).map_err(|e| Error::io("remove", &tail.path, e))?;
        factory.fs.sync_dir(&factory.dir).map_err(|e| Error::io("fsync", &factory.dir, e))?;
    } else {
        // The old tail keeps what its claim covers, and the originals of the
        // copies go: left in place, only the copy's header would hide them,
        // and after a cut of the copied records (`truncate_after`) damage to
        // that header would bring them back. The copy is born (its claim is
        // durable), so the old tail's walk reaches the copy's first LSN
        // before these bytes, whatever a crash leaves of the clearing.
        // (A copy of the metadata alone has no originals to clear.)
        if let Some(&from) = offsets.get(keep) {
            let from = u64::from(from);
            crate::repair::write_zeros(handle.file.as_ref(), &handle.path, from, tail.end - from)?;
            handle.file.sync_data().map_err(|e| Error::io("fdatasync", &handle.path, e))?;
        }
        set.push_known(
            tail.id,
            tail.header.first_lsn,
            a - 1,
            tail.header.salt,
            offsets[..keep].to_vec(),
            Some(handle.clone()),
        );
    }
    let capacity = file.len().map_err(|e| Error::io("stat", &path, e))?.max(factory.size);
    let new = Arc::new(SegmentFile::new(id, path, file, capacity));
    set.push_active(id, a, salt, Some(new.clone()));
    let action = RecoveryAction::CopiedUnclaimed {
        segment: tail.id,
        into: id,
        first_lsn: Lsn::new(a),
        last_lsn: Lsn::new(last),
    };
    let start_state = Start {
        resume: Resume {
            file: new,
            header,
            last_lsn: last,
            last_crc: chain,
            end: start + body.len() as u64,
            unsealed: None,
        },
        offsets: new_offsets,
        first_lsn,
        metas: metas.clone(),
        sealed: false,
    };
    Ok((start_state, action, !remove_old))
}

/// The file a copy goes to: the successor segment file if it exists, else a
/// new one. Made by [`rebase_fits`] already when this is called.
fn take_copy_file(factory: &SegmentFactory, id: SegmentId) -> Result<(SegmentId, Box<dyn crate::io::WalFile>)> {
    factory.reuse(id)
}

/// Whether the copy of [`rebase`] can be made: its file exists or can be
/// created and allocated. On a full disk it cannot, and the log is adopted as
/// it is (recovery never needs free space); the records nothing proved
/// durable then rest on the next sync, as without the copy.
fn rebase_fits(factory: &SegmentFactory, tail: &crate::recovery::Span) -> Result<bool> {
    let id = tail.id.next();
    if dir_path(factory, id).exists() {
        return Ok(true);
    }
    match factory.create(id) {
        Ok(_) => Ok(true),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull => Ok(false),
        Err(e) => Err(e),
    }
}

//! The `Wal`: opening (with recovery), appending, syncing, truncating, closing.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::buffer::WriteBuffer;
use crate::error::{Error, NotALogReason, Result};
use crate::format::{record_size, FORMAT_VERSION, LOCK_FILE, MAX_LSN, SEGMENT_HEADER_LEN};
use crate::group_commit::{GroupCommit, State};
use crate::inspect::TailState;
use crate::io::{write_all_at, FileSystem, StdFs};
use crate::reader::{find_record, Iter, IterSpan};
use crate::recovery::{analyze, list_dir, Analysis};
use crate::repair::{execute, plan, RecoveryReport};
use crate::segment::{random_salt, SegmentHeader};
use crate::stats::{Counters, Stats};
use crate::writer::{SegmentFactory, Writer};
use crate::{Lsn, Options, SegmentId};

/// A write-ahead log open for appending. `Send + Sync`: share it between
/// threads with `Arc<Wal>` or `&Wal`.
///
/// ```
/// use seawall::{Lsn, Options, Wal};
/// # fn main() -> Result<(), seawall::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let (wal, report) = Wal::open(dir.path(), Options::default())?;
/// assert!(report.is_clean());
///
/// let first = wal.append(b"buffered")?;              // not yet durable
/// let second = wal.append_durable(b"committed")?;    // durable, with `first`
/// assert_eq!((first, second), (Lsn::new(1), Lsn::new(2)));
/// assert_eq!(wal.durable_lsn(), second);
///
/// let batch = wal.append_batch([&b"a"[..], &b"b"[..]])?; // all or nothing
/// wal.sync(*batch.end())?;
///
/// let payloads: Vec<_> = wal.iter_from(Lsn::new(2))?.map(|r| r.map(|r| r.payload().clone())).collect::<Result<_, _>>()?;
/// assert_eq!(payloads, [&b"committed"[..], b"a", b"b"]);
/// wal.close()?;
///
/// let (wal, report) = Wal::open(dir.path(), Options::default())?;
/// assert_eq!((report.last_lsn, wal.last_lsn()), (Lsn::new(4), Lsn::new(4)));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: Options,
    gc: GroupCommit,
    /// Effective segments `(id, first_lsn)` in log order.
    segments: std::sync::Mutex<Vec<(SegmentId, u64)>>,
    counters: Arc<Counters>,
    _lock: File,
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(Error::Locked { path: dir.into() }),
        Err(TryLockError::Error(e)) => Err(Error::io("flock", &path, e)),
    }
}

/// What a directory holds, before recovery touches it.
enum Found {
    Fresh,
    Existing(Analysis),
}

fn survey(dir: &Path) -> Result<Found> {
    let listing = list_dir(dir)?;
    if listing.segments.is_empty() {
        if listing.foreign > 0 {
            return Err(Error::NotALog { path: dir.into(), reason: NotALogReason::ForeignFiles });
        }
        return Ok(Found::Fresh);
    }
    Ok(Found::Existing(analyze(dir)?))
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

impl Wal {
    /// Opens the log in `dir`, creating the directory and an empty log if
    /// needed, and recovers it after a crash as [`Options::recovery_mode`]
    /// says. Everything recovery keeps is synced before `open` returns.
    ///
    /// Fails with [`Error::Locked`] if another `Wal` holds `dir`, with
    /// [`Error::NotALog`] if `dir` holds other files and no log, and with
    /// [`Error::Corruption`] or [`Error::TornTail`] (modifying nothing) when
    /// the recovery mode refuses the damage found.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<(Wal, RecoveryReport)> {
        Wal::open_with(dir, opts, Arc::new(StdFs))
    }

    /// Like [`Wal::open`], with every file-system effect routed through `fs`
    /// (for fault injection and crash testing).
    pub fn open_with(dir: impl AsRef<Path>, opts: Options, fs: Arc<dyn FileSystem>) -> Result<(Wal, RecoveryReport)> {
        let dir = dir.as_ref().to_path_buf();
        opts.validate()?;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::NotALog { path: dir, reason: NotALogReason::NotADirectory });
        }
        fs.create_dir_all(&dir).map_err(|e| Error::io("mkdir", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let counters = Arc::new(Counters::default());
        let factory = SegmentFactory {
            fs: fs.clone(),
            dir: dir.clone(),
            size: opts.segment_size,
            preallocate: opts.preallocate,
            background: opts.background_preallocation,
        };
        let (header, end, last_lsn, last_crc, segments, report) = match survey(&dir)? {
            Found::Fresh => {
                let header = create_first_segment(&factory, SegmentId::new(1), 1, 0)?;
                (header, SEGMENT_HEADER_LEN as u64, 0, 0, vec![(header.id, 1)], fresh_report(1))
            }
            Found::Existing(a) => recover(&factory, &a, &opts)?,
        };
        let file = fs.open(&dir.join(header.id.file_name())).map_err(|e| Error::io("open", &dir, e))?;
        let writer = Writer::new(factory, file, &header, last_lsn, last_crc, counters.clone());
        let state = State::new(WriteBuffer::new(header.id, end, opts.segment_size), last_lsn);
        let gc = GroupCommit::new(state, writer, opts.group_commit_delay, opts.write_buffer_size, counters.clone());
        let wal = Wal { dir, opts, gc, segments: std::sync::Mutex::new(segments), counters, _lock: lock };
        Ok((wal, report))
    }

    /// What [`Wal::open`] with `opts` would do to the log in `dir`, without
    /// doing it: takes no lock and modifies nothing (a dry run of recovery).
    /// Returns the same errors open would.
    pub fn plan_recovery(dir: impl AsRef<Path>, opts: &Options) -> Result<RecoveryReport> {
        let dir = dir.as_ref();
        opts.validate()?;
        match survey(dir)? {
            Found::Fresh => Ok(fresh_report(1)),
            Found::Existing(a) => {
                let actions = plan(&a, opts.recovery_mode)?;
                Ok(report_of(&a, actions))
            }
        }
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let max = self.opts.get_max_record_size();
        if size > max {
            return Err(Error::RecordTooLarge { size, max });
        }
        Ok(())
    }

    /// Appends one record to the write buffer and returns its LSN. The record
    /// is not durable (nor even written) until [`Wal::sync`] covers it or the
    /// buffer fills. Fails with [`Error::RecordTooLarge`] (writing nothing)
    /// for a payload over [`Options::max_record_size`], and with
    /// [`Error::LsnOutOfRange`] once LSNs would pass [`crate::format::MAX_LSN`].
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        self.append_unit(&[payload], false).map(|r| *r.start())
    }

    /// Appends records as one atomic batch: after any crash, all of them or
    /// none come back. Their payloads together must not exceed
    /// [`Options::max_record_size`]. Returns the range of LSNs assigned.
    pub fn append_batch<'a, I>(&self, payloads: I) -> Result<std::ops::RangeInclusive<Lsn>>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let payloads: Vec<&'a [u8]> = payloads.into_iter().collect();
        if payloads.is_empty() {
            return Err(Error::EmptyBatch);
        }
        self.append_unit(&payloads, false)
    }

    /// Stages one unit (a lone record or a batch) without allocating.
    /// With `durable`, also waits until the unit is durable, without letting
    /// go of the state lock in between (one acquisition fewer per durable
    /// append, on a lock that many writers contend for).
    fn append_unit(&self, payloads: &[&[u8]], durable: bool) -> Result<std::ops::RangeInclusive<Lsn>> {
        let total: u64 = payloads.iter().map(|p| p.len() as u64).sum();
        self.check_size(total)?;
        let encoded: u64 = payloads.iter().map(|p| record_size(p.len() as u64)).sum();
        let mut st = self.gc.lock_state();
        st.check_usable()?;
        if !st.buffer.fits_empty_segment(encoded) {
            return Err(Error::RecordTooLarge { size: total, max: self.opts.get_max_record_size() });
        }
        let first = st.next_lsn;
        if first + payloads.len() as u64 - 1 > MAX_LSN {
            // Only a log whose header starts near the end of the LSN space gets here.
            let (first_lsn, last) = (self.first_lsn(), Lsn::new(first - 1));
            return Err(Error::LsnOutOfRange { lsn: Lsn::new(MAX_LSN + 1), first: first_lsn, last });
        }
        if let Some(seg) = st.buffer.stage_unit(first, payloads) {
            crate::lock(&self.segments).push((seg, first));
        }
        let last = first + payloads.len() as u64 - 1;
        st.next_lsn = last + 1;
        self.counters.appends.fetch_add(payloads.len() as u64, Ordering::Relaxed);
        if durable {
            self.gc.wait(st, last, true).map(drop)?;
        } else {
            self.gc.after_stage(st, last)?;
        }
        Ok(Lsn::new(first)..=Lsn::new(last))
    }

    /// Returns once every record up to `lsn` is durable. Concurrent callers
    /// share one `fdatasync`. After a failed sync the log is poisoned and this
    /// (and every later call) fails.
    pub fn sync(&self, lsn: Lsn) -> Result<()> {
        let st = self.gc.lock_state();
        let target = lsn.get().min(st.next_lsn - 1);
        self.gc.wait(st, target, true).map(drop)
    }

    /// Appends one record and returns once it is durable.
    pub fn append_durable(&self, payload: &[u8]) -> Result<Lsn> {
        self.append_unit(&[payload], true).map(|r| *r.start())
    }

    /// The last LSN known durable ([`Lsn::ZERO`] if none).
    pub fn durable_lsn(&self) -> Lsn {
        Lsn::new(self.gc.lock_state().durable_lsn)
    }

    /// The last LSN appended ([`Lsn::ZERO`] if none).
    pub fn last_lsn(&self) -> Lsn {
        Lsn::new(self.gc.lock_state().next_lsn - 1)
    }

    /// The first LSN still in the log (after [`Wal::truncate_before`]).
    pub fn first_lsn(&self) -> Lsn {
        Lsn::new(crate::lock(&self.segments).first().map_or(1, |s| s.1))
    }

    /// Counters of the work done since open.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Iterates over the records from `lsn` to the last one appended when the
    /// call is made. Makes every appended record durable first. Payloads are
    /// `Bytes` slices of memory-mapped segments: no copy.
    pub fn iter_from(&self, lsn: Lsn) -> Result<Iter> {
        let last = self.last_lsn();
        self.sync(last)?;
        let segments = crate::lock(&self.segments).clone();
        let first = segments.first().map_or(1, |s| s.1);
        if lsn.get() < first || lsn.get() > last.get() + 1 {
            return Err(Error::LsnOutOfRange { lsn, first: Lsn::new(first), last });
        }
        let spans = segments
            .iter()
            .enumerate()
            .map(|(i, &(id, first_lsn))| IterSpan {
                id,
                path: self.dir.join(id.file_name()),
                first_lsn,
                // Segments opened by appends staged after `last` are not
                // written yet: never read past `last`.
                last_lsn: segments.get(i + 1).map_or(last.get(), |n| n.1 - 1).min(last.get()),
            })
            .collect();
        Ok(Iter::new(spans, lsn.get()))
    }

    /// Checkpoint: allows every record before `lsn` to be dropped. Whole
    /// segments whose records all lie before `lsn` are removed (oldest first,
    /// each removal synced, so a crash leaves a suffix of the log); the active
    /// segment is never removed. Returns the new first LSN.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<Lsn> {
        self.gc.exclusive(|st, writer| {
            let mut segs = crate::lock(&self.segments);
            let last = st.next_lsn - 1;
            let first = segs.first().map_or(1, |s| s.1);
            if lsn.get() > last + 1 {
                return Err(Error::LsnOutOfRange { lsn, first: Lsn::new(first), last: Lsn::new(last) });
            }
            while segs.len() > 1 && segs[1].1 <= lsn.get() {
                let (id, _) = segs[0];
                let path = self.dir.join(id.file_name());
                writer.fs().remove(&path).map_err(|e| Error::io("remove", &path, e))?;
                writer.fs().sync_dir(&self.dir).map_err(|e| Error::io("fsync", &self.dir, e))?;
                segs.remove(0);
            }
            Ok(Lsn::new(segs.first().map_or(1, |s| s.1)))
        })
    }

    /// Drops every record after `lsn`, durably: once this returns, those
    /// records never come back, even after a crash, and the next append gets
    /// LSN `lsn + 1`. `lsn` may range from `first_lsn() - 1` (drop everything)
    /// to `last_lsn()`, and must not fall inside an atomic batch.
    pub fn truncate_after(&self, lsn: Lsn) -> Result<()> {
        self.gc.exclusive(|st, writer| {
            let mut segs = crate::lock(&self.segments);
            let last = st.next_lsn - 1;
            let first = segs.first().map_or(1, |s| s.1);
            if lsn.get() < first - 1 || lsn.get() > last {
                return Err(Error::LsnOutOfRange { lsn, first: Lsn::new(first), last: Lsn::new(last) });
            }
            if lsn.get() == last {
                return Ok(());
            }
            // The segment holding `lsn` (or, for `first - 1`, the first one).
            let idx = segs.iter().rposition(|s| s.1 <= lsn.get()).unwrap_or(0);
            let (id, seg_first) = segs[idx];
            let crc = find_record(&self.dir.join(id.file_name()), id, seg_first, lsn.get())?;
            if !crc.ends_unit {
                return Err(Error::InsideBatch { lsn });
            }
            let new_id = writer.cut_after(lsn.get(), crc.crc)?;
            // Cleanup: segments starting after `lsn` are superseded by the new
            // header, so removing them (newest first) is safe in any state.
            let keep = segs.iter().position(|s| s.1 > lsn.get()).unwrap_or(segs.len());
            for &(old, _) in segs[keep..].iter().rev() {
                let path = self.dir.join(old.file_name());
                writer.fs().remove(&path).map_err(|e| Error::io("remove", &path, e))?;
            }
            writer.fs().sync_dir(&self.dir).map_err(|e| Error::io("fsync", &self.dir, e))?;
            segs.truncate(keep);
            segs.push((new_id, lsn.get() + 1));
            st.buffer.restart_at(new_id);
            st.next_lsn = lsn.get() + 1;
            st.written_lsn = lsn.get();
            st.durable_lsn = lsn.get();
            st.sync_target = lsn.get();
            Ok(())
        })
    }

    /// Writes and syncs everything appended, then closes the log. Dropping a
    /// `Wal` does the same but cannot report errors. On a log poisoned by a
    /// failed write or sync it returns [`Error::Poisoned`]: records appended
    /// since then were not made durable.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let res = {
            let st = self.gc.lock_state();
            if st.closed {
                Ok(())
            } else if st.poisoned.is_some() {
                // Whatever was appended since the failure was never made
                // durable, so closing must not report success.
                st.check_usable()
            } else {
                let target = st.next_lsn - 1;
                self.gc.wait(st, target, true).map(drop)
            }
        };
        let mut st = self.gc.lock_state();
        st.closed = true;
        drop(st);
        crate::lock(&self.gc.writer).settle_spare();
        res
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Creates the first segment of a log (or the one after a salvage that kept
/// nothing) with its header durable.
fn create_first_segment(
    factory: &SegmentFactory,
    id: SegmentId,
    first_lsn: u64,
    prev_crc: u32,
) -> Result<SegmentHeader> {
    let (_, file) = factory.create(id)?;
    let header = SegmentHeader { version: FORMAT_VERSION, id, first_lsn, salt: random_salt(id), prev_crc };
    let path = factory.dir.join(id.file_name());
    write_all_at(file.as_ref(), &header.encode(), 0).map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
    Ok(header)
}

fn report_of(a: &Analysis, actions: Vec<crate::RecoveryAction>) -> RecoveryReport {
    let insp = &a.inspection;
    RecoveryReport {
        first_lsn: insp.first_lsn,
        last_lsn: insp.last_lsn,
        segments: a.spans.len(),
        tail: insp.tail.clone(),
        actions,
    }
}

type Recovered = (SegmentHeader, u64, u64, u32, Vec<(SegmentId, u64)>, RecoveryReport);

/// Repairs an existing log as `opts` allow, syncs what it keeps, and returns
/// where appending resumes.
fn recover(factory: &SegmentFactory, a: &Analysis, opts: &Options) -> Result<Recovered> {
    let actions = plan(a, opts.recovery_mode)?;
    let fs: &dyn FileSystem = factory.fs.as_ref();
    // What recovery adopts may exist only in the page cache of a process that
    // died, and it must be durable before anything relies on it: above all
    // the header of a segment that supersedes (`truncate_after`) records of
    // an earlier segment must be synced before that superseded segment is
    // removed, or a power loss could bring truncated-away records back.
    for span in &a.spans {
        let f = fs.open(&span.path).map_err(|e| Error::io("open", &span.path, e))?;
        f.sync_data().map_err(|e| Error::io("fdatasync", &span.path, e))?;
    }
    execute(fs, a, &actions)?;
    fs.sync_dir(&factory.dir).map_err(|e| Error::io("fsync", &factory.dir, e))?;
    let insp = &a.inspection;
    let mut report = report_of(a, actions);
    let segments: Vec<(SegmentId, u64)> = a.spans.iter().map(|s| (s.id, s.header.first_lsn)).collect();
    match a.spans.last() {
        Some(span) => Ok((span.header, span.end, span.last_lsn, span.last_crc, segments, report)),
        None => {
            // Nothing valid survived (a torn first segment, or a salvage that
            // kept nothing): start afresh after the highest id seen.
            let first_lsn = insp.last_lsn.get() + 1;
            let header = create_first_segment(factory, a.max_id.next(), first_lsn, 0)?;
            report.segments = 1;
            Ok((header, SEGMENT_HEADER_LEN as u64, first_lsn - 1, 0, vec![(header.id, first_lsn)], report))
        }
    }
}

//! The `Wal`: appending, syncing, positions, closing. Opening is in
//! `open.rs`, truncations in `truncate.rs`, metadata in `metadata.rs`,
//! reading in `read.rs`, asynchronous durability in `durable.rs`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::format::{record_size, MAX_LSN};
use crate::group_commit::GroupCommit;
use crate::segments::SegmentSet;
use crate::state::{State, Target};
use crate::stats::{Counters, Stats};
use crate::{Lsn, Options};

/// What an open log shares with its iterators and its flusher thread.
#[derive(Debug)]
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub opts: Options,
    pub gc: GroupCommit,
    pub segments: Arc<Mutex<SegmentSet>>,
    pub counters: Arc<Counters>,
    /// Mirrors of `State::cuts.len()` and `State::first_lsn`, so iterators
    /// can check cheaply whether a record they are about to yield is still
    /// part of the log (and take the state lock only when one moved).
    pub cut_count: AtomicUsize,
    pub first_lsn: AtomicU64,
}

impl Inner {
    /// Publishes the state's cut count and purge point to the mirrors.
    pub fn publish(&self, st: &State) {
        self.cut_count.store(st.cuts.len(), Ordering::Release);
        self.first_lsn.store(st.first_lsn, Ordering::Release);
    }

    /// Fails with [`Error::Truncated`] if record `lsn` (read when `since`
    /// cuts had happened) is no longer part of the log.
    pub fn check_still_in_log(&self, lsn: u64, since: usize) -> Result<()> {
        if self.cut_count.load(Ordering::Acquire) == since && self.first_lsn.load(Ordering::Acquire) <= lsn {
            return Ok(());
        }
        let st = self.gc.lock_state();
        st.check_not_cut(lsn, since)?;
        if lsn < st.first_lsn {
            return Err(Error::Truncated { lsn: Lsn::new(lsn) });
        }
        Ok(())
    }
}

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
/// let payloads: Vec<_> = wal.range(Lsn::new(2)..)?.map(|r| r.map(|r| r.into_payload())).collect::<Result<_, _>>()?;
/// assert_eq!(payloads, [&b"committed"[..], b"a", b"b"]);
/// assert_eq!(wal.read(Lsn::new(3))?.payload().as_ref(), b"a");
/// wal.close()?;
///
/// let (wal, report) = Wal::open(dir.path(), Options::default())?;
/// assert_eq!((report.last_lsn, wal.last_lsn()), (Lsn::new(4), Lsn::new(4)));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Wal {
    pub(crate) inner: Arc<Inner>,
    /// The thread completing asynchronous waiters, started on first use.
    pub(crate) flusher: Mutex<Option<JoinHandle<()>>>,
    /// Serializes truncations and resets with each other.
    pub(crate) truncating: Mutex<()>,
    pub(crate) _lock: File,
}

impl Wal {
    /// The log directory.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// assert_eq!(wal.dir(), dir.path());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let max = self.inner.opts.get_max_record_size();
        if size > max {
            return Err(Error::RecordTooLarge { size, max });
        }
        Ok(())
    }

    /// Appends one record to the write buffer and returns its LSN. The record
    /// is not durable (nor even written) until [`Wal::sync`] covers it or the
    /// buffer fills, but it can be read at once. Fails with
    /// [`Error::RecordTooLarge`] (writing nothing) for a payload over
    /// [`Options::max_record_size`], and with [`Error::LsnOutOfRange`] once
    /// LSNs would pass [`crate::format::MAX_LSN`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"hello")?;
    /// assert_eq!(wal.read(lsn)?.payload().as_ref(), b"hello");
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn append(&self, payload: &[u8]) -> Result<Lsn> {
        self.append_unit(&[payload], false).map(|r| *r.start())
    }

    /// Appends records as one atomic batch: after any crash, all of them or
    /// none come back. Their payloads together must not exceed
    /// [`Options::max_record_size`]. Returns the range of LSNs assigned.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsns = wal.append_batch([&b"a"[..], b"b", b"c"])?;
    /// assert_eq!(*lsns.end() - *lsns.start(), 2);
    /// # Ok::<(), seawall::Error>(())
    /// ```
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
        let inner = &self.inner;
        let mut st = inner.gc.lock_state();
        st.check_usable()?;
        if !st.buffer.fits_empty_segment(encoded, payloads.len() as u64, st.meta_size) {
            return Err(Error::RecordTooLarge { size: total, max: inner.opts.get_max_record_size() });
        }
        let first = st.next_lsn;
        if first + payloads.len() as u64 - 1 > MAX_LSN {
            // Only a log whose header starts near the end of the LSN space gets here.
            return Err(st.out_of_range(Lsn::new(MAX_LSN + 1)));
        }
        let sealed = {
            let State { buffer, metas, first_lsn, .. } = &mut *st;
            buffer.stage_unit(first, payloads, || crate::meta::MetaRecord::snapshot(metas, *first_lsn))
        };
        State::note_sealed(&inner.segments, sealed);
        let last = first + payloads.len() as u64 - 1;
        st.next_lsn = last + 1;
        inner.counters.appends.fetch_add(payloads.len() as u64, Ordering::Relaxed);
        if durable {
            let since = st.cuts.len();
            inner.gc.wait(st, Target::durable(last, 0, since)).map(drop)?;
        } else {
            inner.gc.after_stage(st, last)?;
        }
        Ok(Lsn::new(first)..=Lsn::new(last))
    }

    /// Returns once every record up to `lsn` is durable. Concurrent callers
    /// share one `fdatasync`. Fails with [`Error::LsnOutOfRange`] past the
    /// last LSN, with [`Error::Truncated`] if a truncation removed record
    /// `lsn` meanwhile, and after a failed sync with [`Error::Poisoned`] (as
    /// does every later call).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append(b"x")?;
    /// wal.sync(lsn)?;
    /// assert_eq!(wal.durable_lsn(), lsn);
    /// assert!(wal.sync(lsn + 1).is_err());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn sync(&self, lsn: Lsn) -> Result<()> {
        let st = self.inner.gc.lock_state();
        st.check_usable()?;
        if lsn.get() > st.last_lsn() {
            return Err(st.out_of_range(lsn));
        }
        let since = st.cuts.len();
        self.inner.gc.wait(st, Target::durable(lsn.get(), 0, since)).map(drop)
    }

    /// Appends one record and returns once it is durable.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// let lsn = wal.append_durable(b"committed")?;
    /// assert_eq!(wal.durable_lsn(), lsn);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn append_durable(&self, payload: &[u8]) -> Result<Lsn> {
        self.append_unit(&[payload], true).map(|r| *r.start())
    }

    /// The last LSN known durable ([`Lsn::ZERO`] if none).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// assert_eq!(wal.durable_lsn(), seawall::Lsn::ZERO);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn durable_lsn(&self) -> Lsn {
        Lsn::new(self.inner.gc.lock_state().durable_lsn)
    }

    /// The last LSN appended ([`Lsn::ZERO`] if none).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append(b"x")?;
    /// assert_eq!(wal.last_lsn(), seawall::Lsn::new(1));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn last_lsn(&self) -> Lsn {
        Lsn::new(self.inner.gc.lock_state().last_lsn())
    }

    /// The first LSN of the log: exactly the purge point of the last
    /// [`Wal::truncate_before`] (or the `next` of [`Wal::reset`]), durably.
    /// It is `last_lsn() + 1` when the log holds no record.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for _ in 0..5 { wal.append(b"x")?; }
    /// wal.truncate_before(seawall::Lsn::new(3))?;
    /// assert_eq!(wal.first_lsn(), seawall::Lsn::new(3));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn first_lsn(&self) -> Lsn {
        Lsn::new(self.inner.gc.lock_state().first_lsn)
    }

    /// Counters of the work done since open.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append_durable(b"x")?;
    /// assert_eq!(wal.stats().appends, 1);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Writes and syncs everything appended, then closes the log. Dropping a
    /// `Wal` does the same but cannot report errors. On a log poisoned by a
    /// failed write or sync it returns [`Error::Poisoned`]: records appended
    /// since then were not made durable. Pending [`Wal::on_durable`]
    /// callbacks and [`Wal::wait_durable`] futures are completed first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append(b"x")?;
    /// wal.close()?; // `x` is durable now
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let inner = &self.inner;
        let res = {
            let st = inner.gc.lock_state();
            if st.closed {
                Ok(())
            } else if st.poisoned.is_some() {
                // Whatever was appended since the failure was never made
                // durable, so closing must not report success.
                st.check_usable()
            } else {
                let t = Target::durable(st.last_lsn(), st.meta_staged, st.cuts.len());
                inner.gc.wait(st, t).map(drop)
            }
        };
        // Last, a record claiming everything durable, so that the next open
        // adopts nothing it would have to copy.
        let res = res.and_then(|()| {
            inner.gc.exclusive(|st, writer| {
                if writer.unclaimed_data() {
                    st.buffer.stage_claim(st.last_lsn());
                    let mut chunks = st.buffer.take();
                    writer.write(&mut chunks, true)?;
                    st.buffer.recycle(chunks);
                }
                Ok(())
            })
        });
        let res = match res {
            Err(Error::Closed) => Ok(()),
            r => r,
        };
        let mut st = inner.gc.lock_state();
        st.closed = true;
        inner.gc.wake_everyone(&st);
        drop(st);
        if let Some(h) = crate::lock(&self.flusher).take() {
            let _ = h.join();
        }
        crate::lock(&inner.gc.writer).settle_spare();
        res
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

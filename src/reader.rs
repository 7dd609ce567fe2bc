//! The offline `Reader`: a read-only view of a log directory.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::inspect::Inspection;
use crate::io::{FileSystem, StdFs};
use crate::read::{read_one, resolve, Iter, Record};
use crate::recovery::{analyze, Analysis, SpanIndex};
use crate::segments::{SegmentFile, SegmentSet};
use crate::Lsn;

/// A read-only view of a log directory: takes no lock and never modifies a
/// file, so it can inspect a log while a `Wal` in another process writes it
/// (records still in flight at the tail may then show up as a torn tail,
/// and records written after a segment whose seal is still pending as after
/// a torn seal, until the writer's next sync completes the seal). It sees
/// exactly the log an open would recover: pages recovery would rebuild from
/// parity are served rebuilt.
///
/// ```
/// # fn main() -> Result<(), seawall::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
/// # wal.append_durable(b"x")?;
/// # wal.close()?;
/// let reader = seawall::Reader::open(dir.path())?;
/// for rec in reader.range(..)? {
///     let rec = rec?;
///     println!("{} {:?}", rec.lsn(), rec.payload());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reader {
    pub(crate) analysis: Analysis,
    segments: SegmentSet,
}

impl Reader {
    /// Scans the log in `dir`, trusting sealed segments through their
    /// trailers (as open does). Succeeds on a damaged log (see
    /// [`Reader::inspection`]); fails with [`Error::NotALog`] when `dir` is
    /// missing, not a directory, or holds no segment files.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert!(reader.inspection().is_clean());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        Reader::scan(dir.as_ref(), false)
    }

    /// Like [`Reader::open`], but reads and validates every byte of every
    /// segment instead of trusting seals: what `seawall verify` does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// let reader = seawall::Reader::verify(dir.path())?;
    /// assert!(reader.inspection().is_clean());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn verify(dir: impl AsRef<Path>) -> Result<Reader> {
        Reader::scan(dir.as_ref(), true)
    }

    fn scan(dir: &Path, verify: bool) -> Result<Reader> {
        let fs = StdFs;
        let analysis = analyze(dir, &fs, verify)?;
        let mut segments = SegmentSet::new(dir, Arc::new(StdFs));
        for span in &analysis.spans {
            let file = fs.open_read(&span.path).map_err(|e| Error::io("open", &span.path, e))?;
            let mut sf = SegmentFile::new(span.id, span.path.clone(), file, span.file_len);
            sf.overlay = analysis
                .rebuilt
                .iter()
                .filter(|(id, _)| *id == span.id)
                .map(|(_, r)| (r.offset, r.bytes.clone()))
                .collect();
            let handle = Arc::new(sf);
            match &span.index {
                SpanIndex::Sealed(t) => segments.push_trailer(*t, handle),
                SpanIndex::Walked(o) => segments.push_known(
                    span.id,
                    span.header.first_lsn,
                    span.last_lsn,
                    span.header.salt,
                    o.clone(),
                    Some(handle),
                ),
            }
        }
        Ok(Reader { analysis, segments })
    }

    /// What the scan found: segments, the tail's state, the valid LSN range.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// let insp = seawall::Reader::open(dir.path())?.inspection().clone();
    /// assert_eq!(insp.records(), 0);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn inspection(&self) -> &Inspection {
        &self.analysis.inspection
    }

    /// First LSN of the valid log (the purge point).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// assert_eq!(seawall::Reader::open(dir.path())?.first_lsn(), seawall::Lsn::new(1));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn first_lsn(&self) -> Lsn {
        self.analysis.inspection.first_lsn
    }

    /// Last LSN of the valid prefix ([`Lsn::ZERO`] when empty).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// assert_eq!(seawall::Reader::open(dir.path())?.last_lsn(), seawall::Lsn::ZERO);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn last_lsn(&self) -> Lsn {
        self.analysis.inspection.last_lsn
    }

    /// Reads valid record `lsn` in O(1) through the offset index.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// # wal.append(b"x")?; wal.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert_eq!(reader.read(seawall::Lsn::new(1))?.payload().as_ref(), b"x");
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn read(&self, lsn: Lsn) -> Result<Record> {
        let (first, last) = (self.first_lsn(), self.last_lsn());
        if lsn < first || lsn > last {
            return Err(Error::LsnOutOfRange { lsn, first, last });
        }
        let l = self.segments.locate_sealed(lsn.get())?.ok_or(Error::LsnOutOfRange { lsn, first, last })?;
        read_one(&l.file, l.salt, l.offset, l.next, lsn.get())
    }

    /// Iterates over the valid records in `range` (any range of [`Lsn`]s).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// # wal.append(b"x")?; wal.append(b"y")?; wal.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert_eq!(reader.range(seawall::Lsn::new(2)..)?.count(), 1);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn range(&self, range: impl RangeBounds<Lsn>) -> Result<Iter> {
        let (from, to) = resolve(range, self.first_lsn().get(), self.last_lsn().get())?;
        let spans = if from <= to { self.segments.spans(from, to) } else { Vec::new() };
        Ok(Iter::new(spans, from, to, None, crate::read::ReadPlan::of(&crate::Options::default())))
    }

    /// Iterates over the valid records from `lsn` on; `lsn` may range from
    /// `first_lsn()` to `last_lsn() + 1`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert_eq!(reader.iter_from(reader.first_lsn())?.count(), 0);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn iter_from(&self, lsn: Lsn) -> Result<Iter> {
        self.range(lsn..)
    }

    /// The value of metadata `key`, if set.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// # wal.set_meta(b"vote", b"7")?; wal.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert_eq!(reader.meta(b"vote").as_deref(), Some(&b"7"[..]));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn meta(&self, key: &[u8]) -> Option<Bytes> {
        self.analysis.meta.metas.get(key).cloned()
    }

    /// Every metadata entry, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # seawall::Wal::open(dir.path(), seawall::Options::default())?.0.close()?;
    /// assert!(seawall::Reader::open(dir.path())?.metas().is_empty());
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn metas(&self) -> BTreeMap<Bytes, Bytes> {
        self.analysis.meta.metas.clone()
    }
}

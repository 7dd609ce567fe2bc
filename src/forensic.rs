//! Reading what lies outside the recovered log, for an operator rescuing
//! data: the records that validate on their own past damage
//! ([`Reader::past_damage`]), and the records one segment-shaped file holds
//! ([`read_file`]: a segment file or a quarantine file). Reads only.
//!
//! The recovered log is a gap-free prefix: it ends at the first damage, and
//! [`Reader::range`] never goes past it. Records written after the damage
//! usually survive it, and an operator deciding whether to salvage (or
//! rescuing them by hand) needs to see them. This module finds them the way
//! recovery's own search past a stop does (FORMAT.md §5.3): a record counts
//! when it validates on its own, both checksums under its file's salt, at an
//! 8-aligned offset. Such a record was written by seawall into that file
//! (a stale or foreign one fails the salted checksums), but nothing proves it
//! was ever part of the log: these records are evidence, not a log.
//!
//! **Which records are reported** (each file on its own, in LSN order):
//! 1. records that take an LSN (the caller's records; meta, seal, pad and
//!    parity records are not shown, but meta records give
//!    [`FoundFile::metas`]);
//! 2. that a cut did not remove: records in the dead bytes of a cut marker
//!    (from its `dead_start` to the marker) or before a marker with an LSN
//!    after its `cut_lsn` are dropped, and so, because a file is written in
//!    LSN order, is every record followed later in the file by a record
//!    with the same or a lower LSN (a cut whose marker is lost or was never
//!    needed); cleared dead bytes are zeros and hold nothing;
//! 3. that no later segment supersedes: past damage, a record whose LSN is
//!    at or after the `first_lsn` of a later segment with a valid header is
//!    dropped (a cut across segments, or a recovery copy), as is every record
//!    before a later segment with the reset flag;
//! 4. at or after the file's search start: the damage point for the damaged
//!    segment, the start of the records for every later one.
//!
//! [`FoundFile`] counts what rules 2 and 3 dropped, so nothing is dropped
//! silently.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{BadFileReason, Error, Result};
use crate::format::{FORMAT_VERSION, SEGMENT_HEADER_LEN, SEG_ID_OFF, SEG_SALT_OFF, TRAILER_LEN, TRAILER_MAGIC};
use crate::format::{TRL_CRC_OFF, TRL_SALT_OFF};
use crate::inspect::{SegmentState, TailState};
use crate::io::{FileSystem, StdFs};
use crate::meta::MetaRecord;
use crate::read::Record;
use crate::reader::Reader;
use crate::record::{RawRecord, RecordKind};
use crate::scan::valid_records;
use crate::segment::{HeaderState, SegmentHeader};
use crate::{Lsn, SegmentId};

/// One record found outside the recovered log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRecord {
    /// The record, as [`Reader::read`] would return it.
    pub record: Record,
    /// Its predecessor (LSN − 1) is among the file's records that survive
    /// the rules, or is the segment header's chain seed, and the record
    /// names that predecessor's checksum: the two were written one after the
    /// other. A run of chained records has no gap and no foreign record in
    /// it.
    pub chained: bool,
}

/// Where the salt that validated a file's records came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaltSource {
    /// The file's valid segment header.
    Header,
    /// The salt field of a segment header that fails validation (its other
    /// bytes are damaged); records that validate under it prove it right.
    DamagedHeader,
    /// The trailer of a sealed segment whose header is damaged.
    Trailer,
}

/// The records one file holds outside the recovered log, and what was left out.
#[derive(Clone, Debug)]
pub struct FoundFile {
    /// The file read.
    pub path: PathBuf,
    /// The segment the file belongs to: from its name (a quarantine file's
    /// name starts with its segment's name), else from its header.
    pub segment: SegmentId,
    /// The file's header, when it is valid.
    pub header: Option<SegmentHeader>,
    /// Where the salt came from; `None` when no salt validated any record.
    pub salt: Option<SaltSource>,
    /// Offset the records are reported from (the damage point, or the end of
    /// the header).
    pub from_offset: u64,
    /// Records after this LSN are superseded by a later segment (rule 3).
    pub superseded_after: Option<Lsn>,
    /// The records, in LSN order (which is also their order in the file).
    pub records: Vec<FoundRecord>,
    /// Records from `from_offset` on that a cut removed (rule 2).
    pub cut: u64,
    /// Records from `from_offset` on that a later segment supersedes (rule 3).
    pub superseded: u64,
    /// The metadata the file's meta records give, applied in file order
    /// (cut ones left out). Complete only if `meta_snapshot`.
    pub metas: BTreeMap<Bytes, Bytes>,
    /// A snapshot was among them: `metas` is the whole metadata, not updates.
    pub meta_snapshot: bool,
    /// The purge point the last meta record that sets one names.
    pub purge_point: Option<Lsn>,
    /// The search stopped early (it checksums at most four times the file's
    /// size, so that crafted input cannot make it quadratic): records past
    /// the last one reported may be missing.
    pub gave_up: bool,
}

/// What one file of a [`PastDamage`] is read for.
#[derive(Clone, Debug)]
struct Job {
    path: PathBuf,
    id: SegmentId,
    from: u64,
    /// Records after this LSN are superseded (`Some(0)`: every record).
    limit: Option<u64>,
}

/// The files past the damage, read one at a time (so that only one
/// segment's bytes are held at once). Yields a [`FoundFile`] per file in
/// log order, or the error that kept a file from being read.
#[derive(Debug)]
pub struct PastDamage {
    jobs: VecDeque<Job>,
}

impl PastDamage {
    /// How many files remain to be read.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.append_durable(b"r")?;
    /// wal.close()?;
    /// // A clean log has nothing past damage to read.
    /// assert_eq!(seawall::Reader::verify(dir.path())?.past_damage().files(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn files(&self) -> usize {
        self.jobs.len()
    }
}

impl Iterator for PastDamage {
    type Item = Result<FoundFile>;

    fn next(&mut self) -> Option<Result<FoundFile>> {
        let job = self.jobs.pop_front()?;
        Some(read_job(&job))
    }
}

impl Reader {
    /// Every valid record past the point where the recovered log ends
    /// (corruption, or a torn tail with records after it), file by file: in
    /// the damaged segment from the damage on, then in every later segment
    /// file. None of them is part of the recovered log; see the
    /// [module documentation](crate::forensic) for the rules that choose
    /// them. Empty when the log ends cleanly.
    ///
    /// Damage inside a sealed segment that [`Reader::open`] trusted through
    /// its trailer is found only by reading: open the reader with
    /// [`Reader::verify`] to find every damage point.
    ///
    /// ```
    /// # fn main() -> Result<(), seawall::Error> {
    /// use std::os::unix::fs::FileExt;
    /// let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for i in 0..5u8 {
    ///     wal.append_durable(&[i; 10])?;
    /// }
    /// wal.close()?;
    /// // Damage record 3's payload: the log now ends at LSN 2.
    /// let at = seawall::Reader::open(dir.path())?.read(seawall::Lsn::new(3))?.offset();
    /// let seg = dir.path().join(seawall::SegmentId::new(1).file_name());
    /// std::fs::OpenOptions::new().write(true).open(seg).unwrap().write_all_at(b"!", at + 40).unwrap();
    ///
    /// let reader = seawall::Reader::verify(dir.path())?;
    /// assert_eq!(reader.last_lsn(), seawall::Lsn::new(2));
    /// let found: Vec<u64> = reader
    ///     .past_damage()
    ///     .map(|file| file.map(|f| f.records))
    ///     .collect::<Result<Vec<_>, _>>()?
    ///     .into_iter()
    ///     .flatten()
    ///     .map(|r| r.record.lsn().get())
    ///     .collect();
    /// assert_eq!(found, [4, 5]);
    /// # Ok(()) }
    /// ```
    pub fn past_damage(&self) -> PastDamage {
        let a = &self.analysis;
        let Some(cut) = a.cut.as_ref().filter(|_| a.inspection.tail != TailState::Clean) else {
            return PastDamage { jobs: VecDeque::new() };
        };
        let segs = &a.inspection.segments;
        // A later segment supersedes from its first LSN on; an unused one
        // (blank, or a recovery copy that never completed) supersedes nothing.
        let counts = |i: usize| segs[i].header.filter(|_| segs[i].state != SegmentState::Unused);
        let mut jobs = VecDeque::new();
        for i in cut.index..segs.len() {
            let skip = matches!(
                segs[i].state,
                SegmentState::Unused | SegmentState::TornHeader | SegmentState::Superseded | SegmentState::Purged
            );
            if skip {
                continue;
            }
            let limit = (i + 1..segs.len()).filter_map(counts).map(|h| if h.reset { 0 } else { h.first_lsn - 1 }).min();
            let from =
                if i == cut.index { cut.offset.max(SEGMENT_HEADER_LEN as u64) } else { SEGMENT_HEADER_LEN as u64 };
            jobs.push_back(Job { path: segs[i].path.clone(), id: segs[i].id, from, limit });
        }
        PastDamage { jobs }
    }

    /// The purge point the log's meta records set (`truncate_before`), if
    /// any: the log's first LSN unless segments before it are missing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// for _ in 0..3 { wal.append(b"x")?; }
    /// wal.truncate_before(seawall::Lsn::new(2))?;
    /// wal.close()?;
    /// let reader = seawall::Reader::open(dir.path())?;
    /// assert_eq!(reader.purge_point(), Some(seawall::Lsn::new(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purge_point(&self) -> Option<Lsn> {
        let p = self.analysis.meta.first_lsn;
        (p != 0).then(|| Lsn::new(p))
    }
}

/// The records one segment-shaped file holds: a segment file, or a
/// quarantine file (a copy of its segment's header, then the cut bytes at
/// their own offsets), read on its own, outside any log. Every record that
/// validates on its own under the file's salt is found, past any damage;
/// the [module documentation](crate::forensic)'s rules 1 and 2 choose among
/// them (rule 3 needs the other segments: see [`Reader::past_damage`]).
///
/// The salt comes from the header; if the header is damaged, from its salt
/// field or a sealed segment's trailer, whichever validates records. Fails
/// with [`Error::UnsupportedVersion`] for another format version, and
/// [`Error::BadFile`] ([`BadFileReason::NotASegment`]) when the file has
/// neither a valid header nor records under any salt it names.
///
/// ```
/// # fn main() -> Result<(), seawall::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
/// wal.append_batch([&b"a"[..], b"b"])?;
/// wal.close()?;
/// let file = seawall::forensic::read_file(dir.path().join("0000000000000001.wal"))?;
/// assert_eq!(file.records.len(), 2);
/// assert!(file.records.iter().all(|r| r.chained));
/// # Ok(()) }
/// ```
pub fn read_file(path: impl AsRef<Path>) -> Result<FoundFile> {
    let path = path.as_ref();
    let meta = std::fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::BadFile { path: path.into(), reason: BadFileReason::NotRegular });
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let named = name.get(..crate::format::SEGMENT_NAME_DIGITS + crate::format::SEGMENT_SUFFIX.len());
    let id = named.and_then(SegmentId::from_file_name);
    let found = read_job(&Job {
        path: path.into(),
        id: id.unwrap_or(SegmentId::new(0)),
        from: SEGMENT_HEADER_LEN as u64,
        limit: None,
    })?;
    if found.header.is_none() && found.salt.is_none() {
        return Err(Error::BadFile { path: path.into(), reason: BadFileReason::NotASegment });
    }
    Ok(found)
}

/// Reads one file for `job`. A job with segment id 0 takes the id from the
/// header's own field (a file whose name does not say).
fn read_job(job: &Job) -> Result<FoundFile> {
    let fs = StdFs;
    let file = fs.open_read(&job.path).map_err(|e| Error::io("open", &job.path, e))?;
    let len = file.len().map_err(|e| Error::io("stat", &job.path, e))?;
    let bytes = Bytes::from(crate::blocks::read_data(file.as_ref(), &job.path, len)?);
    let field = |o: usize| bytes.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let id = if job.id.get() == 0 { SegmentId::new(field(SEG_ID_OFF).unwrap_or(0)) } else { job.id };
    let state = SegmentHeader::decode(&bytes, id);
    let header = match state {
        HeaderState::Valid(h) => Some(h),
        HeaderState::OtherVersion(found) => {
            return Err(Error::UnsupportedVersion { segment: id, found, supported: FORMAT_VERSION })
        }
        _ => None,
    };
    let mut candidates = Vec::new();
    match header {
        Some(h) => candidates.push((h.salt, SaltSource::Header)),
        None => {
            if state != HeaderState::Blank {
                candidates.extend(field(SEG_SALT_OFF).map(|s| (s, SaltSource::DamagedHeader)));
            }
            candidates.extend(trailer_salt(file.as_ref(), len).map(|s| (s, SaltSource::Trailer)));
        }
    }
    let mut out = FoundFile {
        path: job.path.clone(),
        segment: id,
        header,
        salt: None,
        from_offset: job.from,
        superseded_after: job.limit.map(Lsn::new),
        records: Vec::new(),
        cut: 0,
        superseded: 0,
        metas: BTreeMap::new(),
        meta_snapshot: false,
        purge_point: None,
        gave_up: false,
    };
    for (salt, source) in candidates {
        let (found, gave_up) = valid_records(&bytes, SEGMENT_HEADER_LEN, salt);
        if found.is_empty() && header.is_none() {
            continue;
        }
        out.salt = Some(source);
        out.gave_up = gave_up;
        let seed = header.map(|h| (h.first_lsn - 1, h.prev_crc));
        choose(&mut out, &bytes, found, seed, job.limit);
        break;
    }
    Ok(out)
}

/// The salt a sealed segment's trailer names, if the file ends in a trailer
/// whose magic and checksum check out.
fn trailer_salt(file: &dyn crate::io::WalFile, len: u64) -> Option<u64> {
    let at = len.checked_sub(TRAILER_LEN as u64).filter(|&at| at >= SEGMENT_HEADER_LEN as u64)?;
    let mut t = [0u8; TRAILER_LEN];
    crate::io::read_exact_at(file, &mut t, at).ok()?;
    let crc = u32::from_le_bytes(t[TRL_CRC_OFF..].try_into().expect("4 bytes"));
    (t[..8] == TRAILER_MAGIC && crc == crc32fast::hash(&t[..TRL_CRC_OFF]))
        .then(|| u64::from_le_bytes(t[TRL_SALT_OFF..TRL_SALT_OFF + 8].try_into().expect("8 bytes")))
}

/// Applies the rules to `found` (every valid record of the file, in offset
/// order) and fills `out`: the records to report, the counts of dropped
/// ones, the metadata. `seed` is the header's `(first_lsn - 1, prev_crc)`.
fn choose(
    out: &mut FoundFile,
    bytes: &Bytes,
    found: Vec<(usize, RawRecord)>,
    seed: Option<(u64, u32)>,
    limit: Option<u64>,
) {
    let payload = |r: &RawRecord| bytes.slice(r.payload_start..r.payload_start + r.payload_len);
    let metas: Vec<Option<MetaRecord>> = found
        .iter()
        .map(|(_, r)| (r.kind == RecordKind::Meta).then(|| MetaRecord::decode(&payload(r))).flatten())
        .collect();
    let cut = cut_records(&found, &metas);
    let from = out.from_offset as usize;
    let mut chain: HashMap<u64, u32> = seed.into_iter().collect();
    let mut kept = Vec::new();
    for (i, (off, r)) in found.iter().enumerate() {
        if cut[i] {
            out.cut += u64::from(*off >= from && r.kind.takes_lsn());
            continue;
        }
        if let Some(m) = &metas[i] {
            let mut purge = out.purge_point.map_or(0, Lsn::get);
            m.apply(&mut out.metas, &mut purge);
            out.purge_point = (purge != 0).then(|| Lsn::new(purge));
            out.meta_snapshot |= m.snapshot;
        }
        if !r.kind.takes_lsn() {
            continue;
        }
        if limit.is_some_and(|l| r.lsn > l) {
            out.superseded += u64::from(*off >= from);
            continue;
        }
        chain.insert(r.lsn, r.crc);
        if *off >= from {
            kept.push((*off, *r));
        }
    }
    out.records = kept
        .into_iter()
        .map(|(off, r)| FoundRecord {
            chained: chain.get(&(r.lsn - 1)) == Some(&r.prev_crc),
            record: Record::found(r.lsn, payload(&r), r.kind, out.segment, off as u64, r.crc),
        })
        .collect();
}

/// Which of `found` (in offset order) a cut removed (rule 2): those in a
/// marker's dead bytes or before it with a later LSN than its cut, and those
/// followed later in the file by a record with the same or a lower LSN.
fn cut_records(found: &[(usize, RawRecord)], metas: &[Option<MetaRecord>]) -> Vec<bool> {
    let mut cut = vec![false; found.len()];
    // Backwards, carrying the lowest LSN (and the tightest marker) seen later.
    let mut lowest_later: Option<u64> = None;
    let mut markers: Vec<(usize, u64, usize)> = Vec::new(); // (dead_start, cut_lsn, marker offset)
    for i in (0..found.len()).rev() {
        let (off, r) = &found[i];
        let by_marker =
            markers.iter().any(|&(dead, lsn, at)| *off < at && (*off >= dead || (r.kind.takes_lsn() && r.lsn > lsn)));
        // A record followed by a record with the same or a lower LSN is from
        // before a cut. A record that takes no LSN carries the last LSN
        // before it, except a cut marker, which carries the LSN before the
        // cut: the log continues after its `cut_lsn`.
        let marker = metas[i].as_ref().and_then(|m| m.cut);
        let at_lsn = marker.map_or(r.lsn, |c| c.lsn);
        cut[i] = by_marker || lowest_later.is_some_and(|low| at_lsn >= low);
        if cut[i] {
            continue;
        }
        if let Some(c) = marker {
            markers.push((c.dead_start as usize, c.lsn, *off));
        }
        if r.kind.takes_lsn() {
            lowest_later = Some(lowest_later.map_or(r.lsn, |l| l.min(r.lsn)));
        }
    }
    cut
}

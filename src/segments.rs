//! The segment files of an open log: the one owner of their lifetimes.
//!
//! Every segment file the log uses is opened once and handed out as an
//! `Arc<SegmentFile>`: to the writer (the active segment), to reads and to
//! iterators. Removing a segment (`truncate_before`, `truncate_after`,
//! `reset`) unlinks its name durably, so the log no longer includes it, while
//! every handle still open keeps reading the same bytes until it is dropped:
//! removal is deferred by the kernel for as long as a handle lives, and a
//! reader never meets an I/O error for a file the log removed. No other
//! module opens, creates or removes a segment file of an open log.
//!
//! The entries also index records by LSN. The active segment's offsets live
//! with the write buffer (see `buffer.rs`): 4 bytes of memory per record of
//! the active segment. A sealed segment's offsets stay in its on-disk index
//! (written when it was sealed): a lookup is one 4-byte read, served from
//! the page cache, and costs no memory. Segments recovery walked keep their
//! offsets in memory (they are at most the newest segment, and segments
//! whose trailer was damaged).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::format::{RECORD_HEADER_LEN, SEAL_FIXED_LEN};
use crate::io::{read_exact_at, FileSystem, WalFile};
use crate::read::ReadSpan;
use crate::seal::Trailer;
use crate::SegmentId;

/// An open segment file.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    pub id: SegmentId,
    pub path: PathBuf,
    pub file: Box<dyn WalFile>,
    /// The file's intended length (the trailer ends there).
    pub capacity: u64,
    /// Pages rebuilt from parity that an offline reader serves instead of
    /// the damaged bytes on disk (an open log writes them back instead).
    pub overlay: Vec<(u64, Vec<u8>)>,
}

impl SegmentFile {
    pub fn new(id: SegmentId, path: PathBuf, file: Box<dyn WalFile>, capacity: u64) -> SegmentFile {
        SegmentFile { id, path, file, capacity, overlay: Vec::new() }
    }

    /// Reads `len` bytes at `off`.
    pub fn read(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_into(off, &mut buf)?;
        Ok(buf)
    }

    /// Fills `buf` with the bytes at `off` (a caller reusing one buffer for
    /// many reads pays for neither a fresh allocation nor its zeroing).
    pub fn read_into(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        read_exact_at(self.file.as_ref(), buf, off).map_err(|e| Error::io("read", &self.path, e))?;
        let len = buf.len();
        for (at, bytes) in &self.overlay {
            let (lo, hi) = ((*at).max(off), (at + bytes.len() as u64).min(off + len as u64));
            if lo < hi {
                buf[(lo - off) as usize..(hi - off) as usize]
                    .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
            }
        }
        Ok(())
    }
}

/// How an entry finds its records' offsets.
#[derive(Debug, Clone)]
pub(crate) enum Offsets {
    /// Known in memory (segments walked by recovery or sealed by this
    /// process until their trailer is written).
    Known(Arc<[u32]>),
    /// In the on-disk index the trailer locates: one 4-byte read per lookup.
    OnDisk(Trailer),
    /// The active segment: the write buffer has them.
    Active,
}

impl Offsets {
    /// The offset of record `i` of the segment and of record `i + 1` (when
    /// known), reading the on-disk index if need be. `None` past the end.
    pub fn lookup(&self, file: &SegmentFile, i: u64) -> Result<Option<(u64, Option<u64>)>> {
        match self {
            Offsets::Known(o) => {
                Ok(o.get(i as usize).map(|&x| (u64::from(x), o.get(i as usize + 1).map(|&n| u64::from(n)))))
            }
            Offsets::Active => Ok(None),
            Offsets::OnDisk(t) => {
                if i >= t.count() {
                    return Ok(None);
                }
                let at = u64::from(t.index_off) + (RECORD_HEADER_LEN + SEAL_FIXED_LEN) as u64 + 4 * i;
                let n = if i + 1 < t.count() { 8 } else { 4 };
                let b = file.read(at, n)?;
                let off = u64::from(u32::from_le_bytes(b[..4].try_into().expect("4 bytes")));
                let next = (n == 8).then(|| u64::from(u32::from_le_bytes(b[4..8].try_into().expect("4 bytes"))));
                Ok(Some((off, next)))
            }
        }
    }
}

/// One segment of the log.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: SegmentId,
    pub first_lsn: u64,
    /// Last LSN (for the active segment: not known here).
    pub last_lsn: Option<u64>,
    pub salt: u64,
    handle: OnceLock<Arc<SegmentFile>>,
    pub offsets: Offsets,
}

impl Entry {
    /// The open file, once the writer has created (or open has opened) it.
    pub fn handle(&self) -> Option<Arc<SegmentFile>> {
        self.handle.get().cloned()
    }
}

/// Where a record lies.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub file: Arc<SegmentFile>,
    pub salt: u64,
    pub offset: u64,
    /// Offset of the next record of the segment, when known (its size bound).
    pub next: Option<u64>,
}

/// The segments of an open log, in log order (the last one is active).
#[derive(Debug)]
pub(crate) struct SegmentSet {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    entries: Vec<Entry>,
}

impl SegmentSet {
    pub fn new(dir: &Path, fs: Arc<dyn FileSystem>) -> SegmentSet {
        SegmentSet { dir: dir.into(), fs, entries: Vec::new() }
    }

    /// Adds a sealed segment whose offsets are known.
    pub fn push_known(
        &mut self,
        id: SegmentId,
        first: u64,
        last: u64,
        salt: u64,
        offsets: Vec<u32>,
        h: Option<Arc<SegmentFile>>,
    ) {
        let handle = OnceLock::new();
        if let Some(h) = h {
            let _ = handle.set(h);
        }
        self.entries.push(Entry {
            id,
            first_lsn: first,
            last_lsn: Some(last),
            salt,
            handle,
            offsets: Offsets::Known(offsets.into()),
        });
    }

    /// Adds a sealed segment trusted through its trailer.
    pub fn push_trailer(&mut self, t: Trailer, h: Arc<SegmentFile>) {
        let handle = OnceLock::new();
        let _ = handle.set(h);
        self.entries.push(Entry {
            id: t.id,
            first_lsn: t.first_lsn,
            last_lsn: Some(t.last_lsn),
            salt: t.salt,
            handle,
            offsets: Offsets::OnDisk(t),
        });
    }

    /// Adds the active segment.
    pub fn push_active(&mut self, id: SegmentId, first: u64, salt: u64, h: Option<Arc<SegmentFile>>) {
        let handle = OnceLock::new();
        if let Some(h) = h {
            let _ = handle.set(h);
        }
        self.entries.push(Entry { id, first_lsn: first, last_lsn: None, salt, handle, offsets: Offsets::Active });
    }

    /// The writer opened the active segment `id` (a rotation): its handle and salt.
    pub fn set_active_file(&mut self, h: Arc<SegmentFile>, salt: u64) {
        if let Some(e) = self.entries.iter_mut().rev().find(|e| e.id == h.id) {
            e.salt = salt;
            let _ = e.handle.set(h);
        }
    }

    /// The buffer sealed segment `id` (its records are `first..=last`) and
    /// staged the next one.
    pub fn seal(&mut self, id: SegmentId, last: u64, offsets: Vec<u32>, next: SegmentId, next_first: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.last_lsn = Some(last);
            e.offsets = Offsets::Known(offsets.into());
        }
        self.push_active(next, next_first, 0, None);
    }

    /// Every entry, in log order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry holding LSN `lsn` (the active one if no sealed one does).
    pub fn entry_of(&self, lsn: u64) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.first_lsn <= lsn);
        self.entries.get(i.checked_sub(1)?)
    }

    /// Where sealed record `lsn` lies; `None` when it is in the active segment.
    pub fn locate_sealed(&self, lsn: u64) -> Result<Option<Location>> {
        let Some(e) = self.entry_of(lsn) else { return Ok(None) };
        if e.last_lsn.is_none_or(|l| lsn > l) {
            return Ok(None);
        }
        let file = e.handle().expect("sealed entries have a handle");
        let Some((offset, next)) = e.offsets.lookup(&file, lsn - e.first_lsn)? else { return Ok(None) };
        Ok(Some(Location { file, salt: e.salt, offset, next }))
    }

    /// The writer wrote the trailer of sealed segment `id`: its offsets need
    /// no memory any more.
    pub fn trailer_written(&mut self, t: Trailer) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == t.id && e.last_lsn == Some(t.last_lsn)) {
            e.offsets = Offsets::OnDisk(t);
        }
    }

    /// Removes (unlinks) the entries before index `keep` and returns them;
    /// the caller syncs the directory. Open handles keep their bytes.
    pub fn remove_front(&mut self, keep: usize) -> Result<Vec<SegmentId>> {
        let gone: Vec<Entry> = self.entries.drain(..keep).collect();
        for e in &gone {
            self.unlink(e.id)?;
        }
        Ok(gone.iter().map(|e| e.id).collect())
    }

    /// Unlinks segment `id`'s file.
    pub fn unlink(&self, id: SegmentId) -> Result<()> {
        let path = self.dir.join(id.file_name());
        self.fs.remove(&path).map_err(|e| Error::io("remove", &path, e))
    }

    /// Syncs the directory (after removals).
    pub fn sync_dir(&self) -> Result<()> {
        self.fs.sync_dir(&self.dir).map_err(|e| Error::io("fsync", &self.dir, e))
    }

    /// Cuts the entry holding LSN `lsn` back to it (`truncate_after` across
    /// segments): it becomes sealed at `lsn`.
    pub fn cut_entry(&mut self, idx: usize, lsn: u64, offsets: Vec<u32>) {
        let e = &mut self.entries[idx];
        e.last_lsn = Some(lsn);
        e.offsets = Offsets::Known(offsets.into());
    }

    /// The offsets of records `first_lsn..=upto` of the entry at `idx`.
    pub fn offsets_upto(&self, idx: usize, upto: u64) -> Result<Option<Vec<u32>>> {
        let e = &self.entries[idx];
        let Some(file) = e.handle() else { return Ok(None) };
        let mut out = Vec::new();
        for i in 0..=(upto - e.first_lsn) {
            match e.offsets.lookup(&file, i)? {
                Some((o, _)) => out.push(o as u32),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Forgets the entries of segments `ids` (already unlinked).
    pub fn drop_entries(&mut self, ids: &[SegmentId]) {
        self.entries.retain(|e| !ids.contains(&e.id));
    }

    /// The sealed entries' records overlapping LSNs `from..=to`, for an iterator.
    pub fn spans(&self, from: u64, to: u64) -> Vec<ReadSpan> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Some(last) = e.last_lsn else { continue };
            if last < from || e.first_lsn > to || last + 1 == e.first_lsn {
                continue;
            }
            let file = e.handle().expect("sealed entries have a handle");
            out.push(ReadSpan { file, salt: e.salt, seg_first: e.first_lsn, last, offsets: e.offsets.clone() });
        }
        out
    }
}

//! The flusher's side of the log: seals staged records, writes them to the
//! segment files, syncs, and rotates to the next segment.
//!
//! Only the current group-commit leader touches a `Writer`, so its state
//! needs no further locking. Invariants:
//! - `synced_lsn` is the LSN up to which every record is durable; it is what
//!   each sealed record stores as its synced delta, so recovery can tell
//!   damage to durable records from a torn unsynced write.
//! - Before the header of a new segment is written, the old segment is synced
//!   in full; before any record is written to a new segment, its header is
//!   synced. Recovery relies on both (see `decide.rs`).
//! - A background *early sync* (see [`Writer::maybe_sync_early`]) never moves
//!   `synced_lsn`, and its failure fails the next flush like a failed
//!   foreground sync.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::buffer::Chunk;
use crate::error::{Error, Result};
use crate::format::{FORMAT_VERSION, SEGMENT_HEADER_LEN};
use crate::io::{write_all_at, FileSystem, WalFile};
use crate::record::seal;
use crate::segment::{random_salt, SegmentHeader};
use crate::stats::Counters;
use crate::SegmentId;

type SpareResult = Result<(SegmentId, Box<dyn WalFile>)>;

/// Bytes written without a sync after which a background data sync of the
/// active segment starts (see [`Writer::maybe_sync_early`]).
const EARLY_SYNC_BYTES: u64 = 16 << 20;

/// The next segment file, prepared ahead of need.
enum Spare {
    None,
    Pending(JoinHandle<SpareResult>),
    Ready(SegmentId, Box<dyn WalFile>),
}

/// How new segment files are made.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFactory {
    pub fs: Arc<dyn FileSystem>,
    pub dir: PathBuf,
    pub size: u64,
    pub preallocate: bool,
    pub background: bool,
}

impl SegmentFactory {
    /// Creates segment `id`: the file, its allocation, a data sync and a sync
    /// of the directory. The header stays blank until the segment is used.
    pub fn create(&self, id: SegmentId) -> SpareResult {
        let path = self.dir.join(id.file_name());
        let file = self.fs.create(&path).map_err(|e| Error::io("create", &path, e))?;
        let prepared = (|| {
            if self.preallocate {
                file.allocate(self.size).map_err(|e| Error::io("fallocate", &path, e))?;
            }
            file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
            self.fs.sync_dir(&self.dir).map_err(|e| Error::io("fsync", &self.dir, e))
        })();
        if let Err(e) = prepared {
            // Leave no half-made file behind; recovery would remove it anyway.
            let _ = self.fs.remove(&path);
            return Err(e);
        }
        Ok((id, file))
    }
}

/// Writes sealed records to the active segment.
pub(crate) struct Writer {
    factory: SegmentFactory,
    file: Arc<dyn WalFile>,
    segment: SegmentId,
    salt: u64,
    /// Whether `file` has writes not yet synced.
    dirty: bool,
    /// Checksum of the last record sealed.
    prev_crc: u32,
    /// Last LSN written to a file.
    written_lsn: u64,
    /// Every record up to here is durable.
    synced_lsn: u64,
    /// Bytes written to `file` since its last sync started.
    unsynced: u64,
    /// A background data sync of `file` in progress.
    early: Option<JoinHandle<std::io::Result<()>>>,
    spare: Spare,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("segment", &self.segment).field("written_lsn", &self.written_lsn).finish()
    }
}

impl Writer {
    /// A writer continuing segment `segment` (already durable up to `last_lsn`).
    pub fn new(
        factory: SegmentFactory,
        file: Box<dyn WalFile>,
        header: &SegmentHeader,
        last_lsn: u64,
        last_crc: u32,
        counters: Arc<Counters>,
    ) -> Writer {
        let mut w = Writer {
            factory,
            file: Arc::from(file),
            segment: header.id,
            salt: header.salt,
            dirty: false,
            prev_crc: last_crc,
            written_lsn: last_lsn,
            synced_lsn: last_lsn,
            unsynced: 0,
            early: None,
            spare: Spare::None,
            counters,
        };
        w.prepare_spare();
        w
    }

    fn path(&self, id: SegmentId) -> PathBuf {
        self.factory.dir.join(id.file_name())
    }

    /// Starts preparing the segment after the active one, when done in the background.
    fn prepare_spare(&mut self) {
        if self.factory.background && matches!(self.spare, Spare::None) {
            let factory = self.factory.clone();
            let id = self.segment.next();
            let spawned = std::thread::Builder::new().name("seawall-prealloc".into()).spawn(move || factory.create(id));
            if let Ok(handle) = spawned {
                self.spare = Spare::Pending(handle);
            }
        }
    }

    /// The file for segment `id`: the prepared spare, or one made now.
    fn take_spare(&mut self, id: SegmentId) -> SpareResult {
        match std::mem::replace(&mut self.spare, Spare::None) {
            Spare::Ready(sid, f) if sid == id => return Ok((sid, f)),
            Spare::Pending(h) => {
                if let Ok(Ok((sid, f))) = h.join() {
                    if sid == id {
                        return Ok((sid, f));
                    }
                    let _ = self.factory.fs.remove(&self.path(sid));
                }
            }
            Spare::Ready(sid, _) => {
                let _ = self.factory.fs.remove(&self.path(sid));
            }
            Spare::None => {}
        }
        self.factory.create(id)
    }

    /// Waits for a background spare (and early sync) so no thread outlives the log.
    pub fn settle_spare(&mut self) {
        if let Some(h) = self.early.take() {
            // The log's final sync has collected any failure already.
            let _ = h.join();
        }
        if let Spare::Pending(h) = std::mem::replace(&mut self.spare, Spare::None) {
            if let Ok(Ok((id, f))) = h.join() {
                self.spare = Spare::Ready(id, f);
            }
        }
    }

    /// Starts a data sync of the active segment in a background thread once
    /// [`EARLY_SYNC_BYTES`] have been written since the last one (and only
    /// with background preparation enabled, which keeps the crash tests'
    /// sequence of operations deterministic). A rotation must sync the whole
    /// old segment before the new header is written, and a bulk load's final
    /// `sync` the whole tail: started early, that writeback overlaps with
    /// appending instead of stalling it. It claims nothing: `synced_lsn`
    /// moves only with a foreground sync, which first collects this one.
    fn maybe_sync_early(&mut self) -> Result<()> {
        if self.early.as_ref().is_some_and(|h| h.is_finished()) {
            self.finish_early()?;
        }
        if !self.factory.background || self.early.is_some() || self.unsynced < EARLY_SYNC_BYTES {
            return Ok(());
        }
        let (file, counters) = (self.file.clone(), self.counters.clone());
        let spawned = std::thread::Builder::new().name("seawall-writeback".into()).spawn(move || {
            file.sync_data()?;
            counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        if let Ok(h) = spawned {
            self.early = Some(h);
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Waits for the early sync and reports its failure. After a failed
    /// `fdatasync` the kernel may have dropped dirty pages, and a later sync
    /// of the same file can succeed without them: the error must fail the
    /// flush in progress (and so poison the log), never be lost.
    fn finish_early(&mut self) -> Result<()> {
        if let Some(h) = self.early.take() {
            let res = h.join().unwrap_or_else(|_| Err(std::io::Error::other("the background sync panicked")));
            res.map_err(|e| Error::io("fdatasync", self.path(self.segment), e))?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.finish_early()?;
        self.unsynced = 0;
        if self.dirty {
            let path = self.path(self.segment);
            self.file.sync_data().map_err(|e| Error::io("fdatasync", path, e))?;
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            self.dirty = false;
        }
        self.synced_lsn = self.written_lsn;
        Ok(())
    }

    /// Starts segment `id` with first LSN `first_lsn`: syncs the old segment,
    /// writes and syncs the new header, and makes the new segment active.
    pub fn open_segment(&mut self, id: SegmentId, first_lsn: u64) -> Result<()> {
        self.sync()?;
        let (id, file) = self.take_spare(id)?;
        let header =
            SegmentHeader { version: FORMAT_VERSION, id, first_lsn, salt: random_salt(id), prev_crc: self.prev_crc };
        let path = self.path(id);
        write_all_at(file.as_ref(), &header.encode(), 0).map_err(|e| Error::io("write", &path, e))?;
        file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.file = Arc::from(file);
        self.segment = id;
        self.salt = header.salt;
        self.prepare_spare();
        Ok(())
    }

    /// Seals and writes `chunks`, then syncs if `sync`. Returns the last LSN written.
    pub fn write(&mut self, chunks: &mut [Chunk], sync: bool) -> Result<u64> {
        for chunk in chunks.iter_mut() {
            if let Some(first_lsn) = chunk.opens_segment {
                self.open_segment(chunk.segment, first_lsn)?;
            }
            assert_eq!(chunk.segment, self.segment, "a chunk is written to its own segment");
            debug_assert!(chunk.offset >= SEGMENT_HEADER_LEN as u64);
            let mut off = 0;
            while off < chunk.bytes.len() {
                let (crc, size) = seal(&mut chunk.bytes[off..], self.salt, self.prev_crc, self.synced_lsn);
                self.prev_crc = crc;
                self.written_lsn += 1;
                off += size;
            }
            let path = self.path(self.segment);
            write_all_at(self.file.as_ref(), &chunk.bytes, chunk.offset).map_err(|e| Error::io("write", path, e))?;
            self.dirty = true;
            self.unsynced += chunk.bytes.len() as u64;
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
            self.counters.bytes_written.fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
        }
        if sync {
            self.sync()?;
        } else {
            self.maybe_sync_early()?;
        }
        Ok(self.written_lsn)
    }

    /// Makes a cut after `lsn` durable: opens a new segment starting at
    /// `lsn + 1` whose header supersedes every later record. `crc` is the
    /// checksum of record `lsn`. Everything written must already be durable.
    pub fn cut_after(&mut self, lsn: u64, crc: u32) -> Result<SegmentId> {
        assert!(!self.dirty, "a cut follows a sync");
        self.prev_crc = crc;
        self.written_lsn = lsn;
        self.synced_lsn = lsn;
        let id = self.segment.next();
        self.open_segment(id, lsn + 1)?;
        Ok(id)
    }

    /// The file-system seam.
    pub fn fs(&self) -> &dyn FileSystem {
        self.factory.fs.as_ref()
    }
}

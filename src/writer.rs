//! The flusher's side of the log: seals staged records, writes them to the
//! segment files, syncs, and rotates to the next segment.
//!
//! Only the current group-commit leader (or a truncation holding the log
//! exclusively) touches a `Writer`, so its state needs no further locking.
//! Invariants:
//! - `durable_off` is the offset of the active segment up to which every
//!   byte is durable; it is what each sealed record claims as its synced
//!   offset, so recovery can tell damage to durable bytes from a torn write.
//! - `parity` holds the XOR of the bytes written since the last completed
//!   sync (the unclaimed window); the buffer decides, before a take that
//!   syncs, whether the window needs a parity record, and the writer fills
//!   it in. Both restart the window at the same offsets.
//! - Before the seal record of a segment is written, its successor file
//!   exists (created and synced, with its directory entry); a full segment
//!   is made durable behind the writer, its trailer written only after a
//!   completed sync of everything before it (`sealer.rs`), and every pending
//!   seal finishes before a sync acknowledges anything; before any record is
//!   written to a new segment, its header is synced. Recovery relies on all
//!   three.
//! - A background *early sync* (see [`Writer::maybe_sync_early`]) only raises
//!   `durable_off` once it has completed, and its failure fails the next
//!   flush like a failed foreground sync. The writeback hint after a write
//!   that is not synced at once ([`Writer::start_writeback`]) raises nothing.
//!   It only lets unsynced bytes reach the disk sooner, in any order, which
//!   the crash model already covers: any unsynced write may or may not
//!   survive, torn or whole.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::buffer::Chunk;
use crate::error::{Error, Result};
use crate::format::{PARITY_PAYLOAD_LEN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::io::{write_all_at, FileSystem, WalFile};
use crate::parity::ParityAcc;
use crate::record::{kind_of, seal, size_of, RecordKind, Salted};
use crate::seal::Trailer;
use crate::sealer::Sealer;
use crate::segment::{random_salt, SegmentHeader};
use crate::segments::{SegmentFile, SegmentSet};
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

    /// Opens segment `id`, which exists with a blank or torn header (a sealed
    /// segment's successor kept by recovery), for use as the next segment.
    pub fn reuse(&self, id: SegmentId) -> SpareResult {
        let path = self.dir.join(id.file_name());
        let file = self.fs.open(&path).map_err(|e| Error::io("open", &path, e))?;
        if self.preallocate {
            file.allocate(self.size).map_err(|e| Error::io("fallocate", &path, e))?;
        }
        Ok((id, file))
    }
}

/// Writes sealed records to the active segment.
pub(crate) struct Writer {
    factory: SegmentFactory,
    segments: Arc<Mutex<SegmentSet>>,
    file: Arc<SegmentFile>,
    salt: u64,
    /// The checksum state after `salt`, which every record's checksums start from.
    salted: Salted,
    first_lsn: u64,
    /// Whether `file` has writes not yet synced.
    dirty: bool,
    /// Checksum of the last record that took an LSN.
    prev_crc: u32,
    /// Last LSN written to a file.
    written_lsn: u64,
    /// Offset of the active segment up to which everything is durable.
    durable_off: u64,
    /// Offset just past the last byte written to the active segment.
    written_off: u64,
    parity: ParityAcc,
    /// Bytes written to `file` since its last sync started.
    unsynced: u64,
    /// A background data sync of `file` in progress, and the offset it covers.
    early: Option<(JoinHandle<std::io::Result<()>>, SegmentId, u64)>,
    spare: Spare,
    /// Full segments being made durable behind the writer.
    sealer: Sealer,
    /// The trailer of the active segment, resumed sealed but without one:
    /// it is sealed behind the rotation out of it, once its successor
    /// exists (open itself needs no free space).
    unsealed: Option<Trailer>,
    counters: Arc<Counters>,
    /// Data (records, metadata) was written that no record written after it
    /// claims durable yet.
    unclaimed_data: bool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("segment", &self.file.id).field("written_lsn", &self.written_lsn).finish()
    }
}

/// Where a writer resumes: the active segment and its last record.
pub(crate) struct Resume {
    pub file: Arc<SegmentFile>,
    pub header: SegmentHeader,
    pub last_lsn: u64,
    pub last_crc: u32,
    /// Offset past the last record; everything before it is durable.
    pub end: u64,
    /// The trailer of a sealed segment whose seal a crash interrupted: it
    /// is sealed behind the writer like any full segment, once its
    /// successor exists and before anything written after it is
    /// acknowledged (W2).
    pub unsealed: Option<Trailer>,
}

impl Writer {
    /// A writer continuing the active segment of `r`.
    pub fn new(
        factory: SegmentFactory,
        segments: Arc<Mutex<SegmentSet>>,
        r: Resume,
        counters: Arc<Counters>,
    ) -> Writer {
        let sealer = Sealer::new(factory.background, counters.clone());
        let mut w = Writer {
            factory,
            segments,
            salt: r.header.salt,
            salted: Salted::new(r.header.salt),
            first_lsn: r.header.first_lsn,
            file: r.file,
            dirty: false,
            prev_crc: r.last_crc,
            written_lsn: r.last_lsn,
            durable_off: r.end,
            written_off: r.end,
            parity: ParityAcc::new(r.end),
            unsynced: 0,
            early: None,
            spare: Spare::None,
            sealer,
            unsealed: r.unsealed,
            counters,
            unclaimed_data: false,
        };
        w.prepare_spare();
        w
    }

    /// The active segment.
    pub fn file(&self) -> &Arc<SegmentFile> {
        &self.file
    }

    /// Starts preparing the segment after the active one, when done in the background.
    fn prepare_spare(&mut self) {
        if self.factory.background && matches!(self.spare, Spare::None) {
            let factory = self.factory.clone();
            let id = self.file.id.next();
            let spawned = std::thread::Builder::new().name("seawall-prealloc".into()).spawn(move || {
                if factory.dir.join(id.file_name()).exists() {
                    factory.reuse(id)
                } else {
                    factory.create(id)
                }
            });
            if let Ok(handle) = spawned {
                self.spare = Spare::Pending(handle);
            }
        }
    }

    /// Makes sure the file for segment `id` exists and is ready.
    fn ensure_spare(&mut self, id: SegmentId) -> Result<()> {
        let got = match std::mem::replace(&mut self.spare, Spare::None) {
            Spare::Ready(sid, f) if sid == id => Ok((sid, f)),
            Spare::Pending(h) => match h.join() {
                Ok(Ok((sid, f))) if sid == id => Ok((sid, f)),
                Ok(Err(e)) => Err(e),
                _ => self.make_spare(id),
            },
            _ => self.make_spare(id),
        };
        let (sid, f) = got?;
        self.spare = Spare::Ready(sid, f);
        Ok(())
    }

    fn make_spare(&self, id: SegmentId) -> SpareResult {
        if self.factory.dir.join(id.file_name()).exists() {
            self.factory.reuse(id)
        } else {
            self.factory.create(id)
        }
    }

    /// The file for segment `id`, prepared ahead or made now.
    fn take_spare(&mut self, id: SegmentId) -> SpareResult {
        self.ensure_spare(id)?;
        match std::mem::replace(&mut self.spare, Spare::None) {
            Spare::Ready(sid, f) => Ok((sid, f)),
            _ => unreachable!("ensure_spare readied it"),
        }
    }

    /// Waits for a background spare, early sync and seals, so no thread
    /// outlives the log.
    pub fn settle_spare(&mut self) {
        self.sealer.settle();
        if let Some((h, _, _)) = self.early.take() {
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
    /// sequence of operations deterministic), and while no seal is pending.
    /// A seal must sync the whole old segment, and a bulk load's final
    /// `sync` the whole tail: started early, that writeback overlaps with
    /// appending instead of stalling the sync.
    fn maybe_sync_early(&mut self) -> Result<()> {
        if self.early.as_ref().is_some_and(|(h, _, _)| h.is_finished()) {
            self.finish_early()?;
        }
        // Not while a seal is pending: a record may claim bytes of its
        // segment durable only once every segment before it is (`sealer.rs`).
        if !self.factory.background
            || self.early.is_some()
            || self.unsynced < EARLY_SYNC_BYTES
            || !self.sealer.is_empty()
        {
            return Ok(());
        }
        let (file, counters) = (self.file.clone(), self.counters.clone());
        let spawned = std::thread::Builder::new().name("seawall-writeback".into()).spawn(move || {
            file.file.sync_data()?;
            counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        if let Ok(h) = spawned {
            self.early = Some((h, self.file.id, self.written_off));
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Waits for the early sync and reports its failure. After a failed
    /// `fdatasync` the kernel may have dropped dirty pages, and a later sync
    /// of the same file can succeed without them: the error must fail the
    /// flush in progress (and so poison the log), never be lost. A success
    /// raises the offset later records claim.
    fn finish_early(&mut self) -> Result<()> {
        if let Some((h, id, covers)) = self.early.take() {
            let res = h.join().unwrap_or_else(|_| Err(std::io::Error::other("the background sync panicked")));
            res.map_err(|e| Error::io("fdatasync", &self.file.path, e))?;
            if id == self.file.id {
                self.durable_off = self.durable_off.max(covers);
            }
        }
        Ok(())
    }

    /// Syncs the active segment, after finishing every pending seal:
    /// everything written becomes durable.
    pub fn sync(&mut self) -> Result<()> {
        self.finish_early()?;
        if self.sealer.finish_all()?.contains(&self.file.id) {
            // Sealed since the last sync: the seal's syncs covered it all.
            self.dirty = false;
        }
        self.unsynced = 0;
        if self.dirty {
            self.file.file.sync_data().map_err(|e| Error::io("fdatasync", &self.file.path, e))?;
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            self.dirty = false;
        }
        self.durable_off = self.written_off;
        self.parity.reset(self.written_off);
        Ok(())
    }

    /// Whether data was written that no later record claims durable: a clean
    /// close then writes a record that does.
    pub fn unclaimed_data(&self) -> bool {
        self.unclaimed_data
    }

    /// Makes `file` (with a blank body after `SEGMENT_HEADER_LEN`) the active
    /// segment, with the given header, written and synced.
    fn activate(&mut self, id: SegmentId, file: Box<dyn WalFile>, header: SegmentHeader) -> Result<()> {
        let path = self.factory.dir.join(id.file_name());
        write_all_at(file.as_ref(), &header.encode(), 0).map_err(|e| Error::io("write", &path, e))?;
        file.sync_data().map_err(|e| Error::io("fdatasync", &path, e))?;
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(SegmentFile::new(id, path, file, self.factory.size));
        crate::lock(&self.segments).set_active_file(handle.clone(), header.salt);
        self.file = handle;
        self.salt = header.salt;
        self.salted = Salted::new(header.salt);
        self.first_lsn = header.first_lsn;
        self.dirty = false;
        self.unsynced = 0;
        let start = SEGMENT_HEADER_LEN as u64;
        (self.durable_off, self.written_off) = (start, start);
        self.parity.reset(start);
        self.prepare_spare();
        Ok(())
    }

    /// Starts segment `id` with first LSN `first_lsn` (a rotation): writes
    /// and syncs the new header, which says how much of the old segment is
    /// durable. The old segment is sealed behind (W2).
    fn open_segment(&mut self, id: SegmentId, first_lsn: u64) -> Result<()> {
        debug_assert!(self.file.id.next() == id, "a rotation moves to the next id");
        let (id, file) = self.take_spare(id)?;
        if let Some(t) = self.unsealed.take() {
            self.sealer.push(self.file.clone(), t)?;
        }
        let header = SegmentHeader {
            ahead: true,
            prev_synced: if self.durable_off > SEGMENT_HEADER_LEN as u64 { self.durable_off as u32 } else { 0 },
            ..SegmentHeader::new(id, first_lsn, random_salt(id), self.prev_crc, false)
        };
        self.activate(id, file, header)
    }

    /// Starts a fresh segment after the active one whose records begin at
    /// `first_lsn` and chain from `prev_crc` (`truncate_after` across
    /// segments), or a new log (`reset`). Everything written must be durable.
    pub fn start_segment(&mut self, first_lsn: u64, prev_crc: u32, reset: bool) -> Result<SegmentHeader> {
        assert!(!self.dirty && self.sealer.is_empty(), "a new start follows a sync");
        let id = self.file.id.next();
        let (id, file) = self.take_spare(id)?;
        // Everything before is durable: the new header, without the ahead
        // flag, proves it (W2); a resumed segment needs no trailer then.
        self.unsealed = None;
        let header = SegmentHeader::new(id, first_lsn, random_salt(id), prev_crc, reset);
        self.prev_crc = prev_crc;
        self.written_lsn = first_lsn - 1;
        self.activate(id, file, header)?;
        Ok(header)
    }

    /// After a cut inside the active segment: the log continues after LSN
    /// `lsn` (checksum `crc`), appending at the end of what was written.
    pub fn cut_within(&mut self, lsn: u64, crc: u32) {
        assert!(!self.dirty, "a cut follows a sync");
        self.written_lsn = lsn;
        self.prev_crc = crc;
    }

    /// Overwrites `bytes` bytes at `offset` of `file` with zeros and syncs it.
    pub fn clear(&mut self, file: &SegmentFile, ranges: &[(u64, u64)]) -> Result<()> {
        for &(offset, bytes) in ranges {
            crate::repair::write_zeros(file.file.as_ref(), &file.path, offset, bytes)?;
        }
        file.file.sync_data().map_err(|e| Error::io("fdatasync", &file.path, e))?;
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Seals and writes `chunks`, then syncs if `sync`. Returns the last LSN written.
    pub fn write(&mut self, chunks: &mut [Chunk], sync: bool) -> Result<u64> {
        self.sealer.reap()?;
        for chunk in chunks.iter_mut() {
            if let Some(first_lsn) = chunk.opens {
                self.open_segment(chunk.segment, first_lsn)?;
            }
            assert_eq!(chunk.segment, self.file.id, "a chunk is written to its own segment");
            assert_eq!(chunk.offset, self.written_off, "chunks are contiguous");
            if chunk.seals {
                // The successor must exist before anything says this segment is sealed.
                self.ensure_spare(self.file.id.next())?;
            }
            let index_crc = self.seal_chunk(chunk);
            write_all_at(self.file.file.as_ref(), &chunk.bytes, chunk.offset)
                .map_err(|e| Error::io("write", &self.file.path, e))?;
            if !sync {
                self.start_writeback(chunk.offset, chunk.bytes.len() as u64);
            }
            self.written_off += chunk.bytes.len() as u64;
            self.dirty = true;
            self.unsynced += chunk.bytes.len() as u64;
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
            self.counters.bytes_written.fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
            if let Some((index_off, index_crc)) = index_crc {
                self.seal_behind(index_off, index_crc)?;
            }
        }
        if sync {
            self.sync()?;
        } else {
            self.maybe_sync_early()?;
        }
        Ok(self.written_lsn)
    }

    /// Asks the kernel to start writing back the whole pages of the `len`
    /// bytes just written at `off`, for a write no sync follows at once: the
    /// disk then works while appenders do, and the sync a rotation or a
    /// `sync` call must wait for finds less to write. A page a later write
    /// still fills is left alone, so that write does not wait for it. A hint:
    /// no byte changes, and `durable_off` rises only after a completed sync.
    fn start_writeback(&self, off: u64, len: u64) {
        const PAGE: u64 = 4096;
        let (from, to) = (off / PAGE * PAGE, (off + len) / PAGE * PAGE);
        if to > from {
            self.file.file.start_writeback(from, to);
        }
    }

    /// Seals every record of `chunk` in place and adds it to the parity.
    /// Returns the offset and checksum of a seal record, if the chunk ends
    /// with one.
    fn seal_chunk(&mut self, chunk: &mut Chunk) -> Option<(u64, u32)> {
        let mut at = 0;
        let mut seal_rec = None;
        while at < chunk.bytes.len() {
            let off = chunk.offset + at as u64;
            let rec = &mut chunk.bytes[at..];
            let kind = kind_of(rec).expect("staged records have a kind");
            if kind == RecordKind::Parity {
                let start = chunk.parity.expect("a parity chunk names its window");
                debug_assert_eq!(start, self.parity.start, "buffer and writer agree on the window");
                let payload = crate::parity::encode(start, off, &self.parity.page());
                debug_assert_eq!(payload.len(), PARITY_PAYLOAD_LEN);
                rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + PARITY_PAYLOAD_LEN].copy_from_slice(&payload);
            }
            let synced = if self.durable_off > SEGMENT_HEADER_LEN as u64 { self.durable_off as u32 } else { 0 };
            let (crc, size) = seal(rec, &self.salted, self.prev_crc, synced, off);
            if kind.takes_lsn() {
                self.prev_crc = crc;
                self.written_lsn += 1;
            }
            if kind != RecordKind::Parity {
                self.parity.add(off, &chunk.bytes[at..at + size]);
            }
            if kind.takes_lsn() || kind == RecordKind::Meta {
                self.unclaimed_data = true;
            } else if u64::from(synced) == off {
                self.unclaimed_data = false;
            }
            if kind == RecordKind::Seal {
                seal_rec = Some((off, crc));
            }
            debug_assert_eq!(size, size_of(&chunk.bytes[at..]));
            at += size;
        }
        seal_rec
    }

    /// Hands the active segment, whose seal (and index) record at
    /// `index_off` with checksum `index_crc` is written, to the sealer,
    /// which writes its trailer once the rest is durable.
    fn seal_behind(&mut self, index_off: u64, index_crc: u32) -> Result<()> {
        let t = Trailer {
            id: self.file.id,
            salt: self.salt,
            first_lsn: self.first_lsn,
            last_lsn: self.written_lsn,
            last_crc: self.prev_crc,
            index_off: index_off as u32,
            index_crc,
        };
        // Readers may use the index now: it is written, in the page cache.
        crate::lock(&self.segments).trailer_written(t);
        self.sealer.push(self.file.clone(), t)
    }
}

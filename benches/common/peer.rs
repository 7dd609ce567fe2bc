//! The peer: okaywal on the same workloads. Every okaywal commit is durable
//! (one entry, its chunks, an end marker, an `fsync` shared between writers),
//! so a durable append is one entry of one chunk.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use okaywal::{Configuration, Entry, EntryId, LogManager, ReadChunkResult, SegmentReader, WriteAheadLog};

use super::raw::run_writers;
use super::{alloc, payload, per_writer, Sample};

/// Payload bytes per chunk in the bulk and read workloads (as seawall's records).
pub const CHUNK: usize = super::ours::BULK_RECORD;
/// Chunks per entry when filling a log to read back: okaywal syncs every
/// entry, so a log of 1 KiB entries would take hours to write.
pub const CHUNKS_PER_ENTRY: usize = 1024;

/// A log manager that keeps nothing (nothing is checkpointed anywhere).
#[derive(Debug, Default)]
struct Discard;

impl LogManager for Discard {
    fn recover(&mut self, _entry: &mut Entry<'_>) -> io::Result<()> {
        Ok(())
    }

    fn checkpoint_to(&mut self, _last: EntryId, _entries: &mut SegmentReader, _wal: &WriteAheadLog) -> io::Result<()> {
        Ok(())
    }
}

/// A log manager that reads every chunk of every entry on recovery, checks
/// its CRC and touches its bytes.
#[derive(Debug, Default)]
struct ReadAll {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    chunks: AtomicU64,
    bytes: AtomicU64,
    sum: AtomicU64,
}

impl LogManager for ReadAll {
    fn recover(&mut self, entry: &mut Entry<'_>) -> io::Result<()> {
        loop {
            match entry.read_chunk()? {
                ReadChunkResult::Chunk(mut chunk) => {
                    let data = chunk.read_all()?;
                    assert!(chunk.check_crc()?, "okaywal chunk CRC");
                    let sum = data.iter().step_by(64).fold(0u64, |a, &b| a.wrapping_add(b as u64));
                    self.counts.chunks.fetch_add(1, Relaxed);
                    self.counts.bytes.fetch_add(data.len() as u64, Relaxed);
                    self.counts.sum.fetch_add(sum, Relaxed);
                }
                ReadChunkResult::EndOfEntry => return Ok(()),
                ReadChunkResult::AbortedEntry => panic!("okaywal entry aborted"),
            }
        }
    }

    fn checkpoint_to(&mut self, _last: EntryId, _entries: &mut SegmentReader, _wal: &WriteAheadLog) -> io::Result<()> {
        Ok(())
    }
}

/// okaywal's configuration for `dir`: 64 MiB preallocated segments (like
/// seawall's), checkpointing after 48 MiB.
pub fn config(dir: &Path) -> Configuration {
    Configuration::default_for(dir).preallocate_bytes(64 << 20).checkpoint_after_bytes(48 << 20)
}

/// Appends one durable record.
fn commit(log: &WriteAheadLog, data: &[u8]) {
    let mut entry = log.begin_entry().expect("begin_entry");
    entry.write_chunk(data).expect("write_chunk");
    entry.commit().expect("commit");
}

/// An okaywal log in `dir` that keeps nothing: the durable workloads' log.
pub fn open(dir: &Path) -> WriteAheadLog {
    config(dir).open(Discard).expect("okaywal open")
}

/// `writers` threads each committing entries of one `size`-byte chunk to
/// `log`, `total` timed commits in all after `warmup` untimed ones per writer.
pub fn durable_on(log: &WriteAheadLog, writers: usize, size: usize, total: usize, warmup: usize) -> Sample {
    let per = per_writer(total, writers);
    let (elapsed, lats) = run_writers(writers, per, warmup, |w, i| commit(log, &payload(w, i, size)));
    let n = (per * writers) as u64;
    Sample { ops: n, bytes: n * size as u64, elapsed, ..Sample::default() }.with_latencies(lats)
}

/// [`durable_on`] on a fresh log in `dir`.
pub fn durable(dir: &Path, writers: usize, size: usize, total: usize, warmup: usize) -> Sample {
    let log = open(dir);
    let s = durable_on(&log, writers, size, total, warmup);
    log.shutdown().expect("okaywal shutdown");
    s
}

/// One entry of `total` bytes in 1 KiB chunks, committed once.
pub fn bulk(dir: &Path, total: u64) -> Sample {
    let log = config(dir).open(Discard).expect("okaywal open");
    let n = (total as usize).div_ceil(CHUNK);
    let p = payload(0, 0, CHUNK);
    let t0 = Instant::now();
    let mut entry = log.begin_entry().expect("begin_entry");
    for _ in 0..n {
        entry.write_chunk(&p).expect("write_chunk");
    }
    entry.commit().expect("commit");
    let elapsed = t0.elapsed();
    log.shutdown().expect("okaywal shutdown");
    Sample { ops: n as u64, bytes: (n * CHUNK) as u64, elapsed, ..Sample::default() }
}

/// okaywal's configuration for a log that is read back whole: no checkpoint.
fn read_config(dir: &Path) -> Configuration {
    Configuration::default_for(dir).preallocate_bytes(64 << 20).checkpoint_after_bytes(u64::MAX)
}

/// Fills `dir` with `total` bytes of 1 KiB chunks, [`CHUNKS_PER_ENTRY`] per entry.
pub fn fill(dir: &Path, total: u64) {
    let log = read_config(dir).open(Discard).expect("okaywal open");
    let n = (total as usize).div_ceil(CHUNK);
    let mut i = 0;
    while i < n {
        let mut entry = log.begin_entry().expect("begin_entry");
        for _ in 0..CHUNKS_PER_ENTRY.min(n - i) {
            entry.write_chunk(&payload(0, i, CHUNK)).expect("write_chunk");
            i += 1;
        }
        entry.commit().expect("commit");
    }
    log.shutdown().expect("okaywal shutdown");
}

/// Opens (recovers) the log in `dir`, reading every chunk.
pub fn open_iterate(dir: &Path) -> Sample {
    let base = alloc::start();
    let t0 = Instant::now();
    let counts = Arc::new(Counts::default());
    let log = read_config(dir).open(ReadAll { counts: counts.clone() }).expect("okaywal open");
    let elapsed = t0.elapsed();
    let heap = alloc::peak_since(base);
    log.shutdown().expect("okaywal shutdown");
    std::hint::black_box(counts.sum.load(Relaxed));
    let (ops, bytes) = (counts.chunks.load(Relaxed), counts.bytes.load(Relaxed));
    Sample { ops, bytes, elapsed, heap_peak: heap, ..Sample::default() }
}

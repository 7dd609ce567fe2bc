//! Read-ahead for long sequential scans: a helper thread streams the blocks
//! of a segment, each starting where the one before stops holding whole
//! records, while the iterator checks the records of the block it holds. The
//! copy out of the page cache and the checksums thus overlap.
//!
//! The helper only moves bytes. It finds where the next block starts by
//! following the length fields of the block it has just read (unchecked: a
//! wrong guess, from damage or the dead bytes of a cut, only means a block
//! the iterator will not use), and the iterator still validates every
//! record it takes from a block. A block is used only if it was read from
//! the very file handle and offset the iterator asks for and holds every
//! byte it needs; anything else (a failed read included) stops the stream,
//! and the iterator reads for itself as it would without read-ahead, so
//! errors and their reporting do not change.
//!
//! Invariants: every stream has a generation, and the iterator takes
//! blocks of the current one only, in the order they were read. At most
//! [`QUEUED`] + 1 blocks are in the helper's hands ([`QUEUED`] handed over
//! and waiting, one being read), so a scan holds at most [`QUEUED`] + 2.
//! Dropping a [`ReadAhead`] stops the
//! helper and waits for it, so no file handle outlives the iterator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::BytesMut;

use crate::error::Result;
use crate::format::{record_size, RECORD_HEADER_LEN, REC_LEN_OFF};
use crate::segments::SegmentFile;

/// Most read-ahead helpers running at once in a process: iterators past
/// this many read on their own threads, so that many concurrent scans do not
/// cost as many threads.
pub(crate) const MAX_HELPERS: usize = 16;

/// Blocks the helper may have read that the iterator has not taken yet.
/// One would do if both threads ran at an even pace; a shared machine
/// stalls either now and then, and with a single block queued the other
/// then waits too (3 gave 0.83x a raw read where 1 gave 0.77x, medians of
/// three bench rounds each). The cost is memory: a scan holds at most
/// `QUEUED + 2` blocks.
pub(crate) const QUEUED: usize = 3;

/// Read-ahead helpers running.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// Takes one of `max` slots counted by `count`, if one is free.
fn take_slot(count: &AtomicUsize, max: usize) -> bool {
    count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
}

/// A stream for the helper: blocks of `file` from `off` on.
struct Stream {
    gen: u64,
    file: Arc<SegmentFile>,
    off: u64,
    /// Bytes of the next block to read.
    len: usize,
    /// Bytes of a block (more when the next record is larger).
    block: usize,
    /// The largest block read on a guess.
    max: usize,
}

/// What the helper hands over.
enum Msg {
    /// The bytes of `file` from `off`.
    Block { gen: u64, file: Arc<SegmentFile>, off: u64, res: Result<BytesMut> },
    /// Stream `gen` has no more blocks.
    End { gen: u64 },
}

/// The helper thread and the stream it reads.
pub(crate) struct ReadAhead {
    /// `None` stops the stream.
    jobs: Option<Sender<Option<Stream>>>,
    /// In mutexes only so that an iterator stays `Sync`; never contended.
    msgs: Option<Mutex<Receiver<Msg>>>,
    spent: Mutex<Sender<BytesMut>>,
    /// Generation of the current stream.
    gen: u64,
    /// The current stream may still hand over blocks.
    flowing: bool,
    helper: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead").field("gen", &self.gen).field("flowing", &self.flowing).finish()
    }
}

impl ReadAhead {
    /// Starts the helper thread; `None` if the system refuses a thread (the
    /// iterator then reads for itself).
    pub fn start() -> Option<ReadAhead> {
        // A slot among the helpers of the process, or none: past the limit
        // an iterator reads alone.
        if !take_slot(&HELPERS, MAX_HELPERS) {
            return None;
        }
        let started = ReadAhead::spawn();
        if started.is_none() {
            HELPERS.fetch_sub(1, Ordering::AcqRel);
        }
        started
    }

    fn spawn() -> Option<ReadAhead> {
        let (jobs, job_rx) = channel::<Option<Stream>>();
        // Up to QUEUED blocks handed over and waiting: the helper reads the
        // next one meanwhile, then waits.
        let (msg_tx, msgs) = sync_channel::<Msg>(QUEUED);
        let (spent, spent_rx) = channel::<BytesMut>();
        let helper = std::thread::Builder::new()
            .name("seawall-readahead".into())
            .spawn(move || helper(&job_rx, &msg_tx, &spent_rx))
            .ok()?;
        Some(ReadAhead {
            jobs: Some(jobs),
            msgs: Some(Mutex::new(msgs)),
            spent: Mutex::new(spent),
            gen: 0,
            flowing: false,
            helper: Some(helper),
        })
    }

    /// Starts streaming blocks of `file` from `off` on, ending any stream
    /// before it: blocks of `block` bytes, or of the size of the record they
    /// start with, up to `max` (the first holds at least `need`).
    pub fn stream(&mut self, file: &Arc<SegmentFile>, off: u64, need: usize, block: usize, max: usize) {
        self.stop();
        let len = need.max(block);
        if len > max {
            return;
        }
        let job = Stream { gen: self.gen, file: file.clone(), off, len, block, max };
        self.flowing = self.jobs.as_ref().is_some_and(|j| j.send(Some(job)).is_ok());
    }

    /// Ends the stream: blocks it still hands over are dropped.
    pub fn stop(&mut self) {
        if self.flowing {
            if let Some(j) = &self.jobs {
                let _ = j.send(None);
            }
        }
        self.gen += 1;
        self.flowing = false;
    }

    /// The stream's next block, if it was read from `off` of `file` and
    /// holds at least `need` bytes; else the stream ends and `None`.
    pub fn take(&mut self, file: &Arc<SegmentFile>, off: u64, need: usize) -> Option<BytesMut> {
        while self.flowing {
            let msg = self.msgs.as_mut()?.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
            match msg {
                Err(_) => self.flowing = false,
                Ok(Msg::End { gen }) if gen == self.gen => self.flowing = false,
                Ok(Msg::Block { gen, file: f, off: at, res }) if gen == self.gen => match res {
                    Ok(buf) if Arc::ptr_eq(&f, file) && at == off && buf.len() >= need => return Some(buf),
                    _ => self.stop(),
                },
                // A block or end of a stream already stopped. (Its memory
                // is dropped: only blocks the iterator took are given back,
                // one per block the helper reads, so spare buffers never pile
                // up however often streams restart.)
                Ok(_) => {}
            }
        }
        None
    }

    /// Gives the memory of a block no payload uses any more to the helper.
    pub fn recycle(&mut self, buf: BytesMut) {
        let _ = self.spent.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).send(buf);
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing both channels ends the helper's loop, whether it waits
        // for a job, reads, or waits to hand a block over.
        self.jobs = None;
        self.msgs = None;
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
        HELPERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The helper's loop: reads the blocks of the current stream, in order,
/// until it ends, and waits for the next.
fn helper(jobs: &Receiver<Option<Stream>>, msgs: &SyncSender<Msg>, spent: &Receiver<BytesMut>) {
    let mut cur: Option<Stream> = None;
    loop {
        // A new job (or a stop) replaces the stream between two blocks.
        let job = if cur.is_some() {
            match jobs.try_recv() {
                Ok(job) => Some(job),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => return,
            }
        };
        if let Some(job) = job {
            cur = job;
            continue;
        }
        let Some(s) = cur.as_mut() else { continue };
        let (res, next) = read_block(s, spent.try_recv().unwrap_or_default());
        let msg = Msg::Block { gen: s.gen, file: s.file.clone(), off: s.off, res };
        if msgs.send(msg).is_err() {
            return;
        }
        match next {
            Some((off, need)) => (s.off, s.len) = (off, need.max(s.block)),
            None => {
                let gen = s.gen;
                cur = None;
                if msgs.send(Msg::End { gen }).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads the stream's next block into `buf` (whose memory is reused);
/// returns it and, if the stream goes on, where the block after it starts
/// and the bytes the record there needs.
fn read_block(s: &Stream, mut buf: BytesMut) -> (Result<BytesMut>, Option<(u64, usize)>) {
    let len = match s.file.file.len() {
        Ok(len) => len,
        Err(e) => return (Err(crate::Error::io("stat", &s.file.path, e)), None),
    };
    let want = s.len.min(len.saturating_sub(s.off) as usize);
    // A reused buffer keeps its bytes: zeroing them again would cost as
    // much as the copy.
    if buf.len() >= want {
        buf.truncate(want);
    } else {
        buf.resize(want, 0);
    }
    if let Err(e) = s.file.read_into(s.off, &mut buf) {
        return (Err(e), None);
    }
    // The guess is made here, on bytes this thread has just copied and
    // still has in its cache.
    let (at, size, blank) = next_start(&buf);
    let next = s.off + at as u64;
    let goes_on = want > 0 && next < len && !blank && size.max(s.block) <= s.max;
    (Ok(buf), goes_on.then_some((next, size)))
}

/// Where the block after `block` (read from a record's start) should begin:
/// the offset within `block` of the first record that does not end inside
/// it, by its length field, with the bytes that record needs (at least a
/// header); or of the first blank (all-zero) header, which no record has,
/// and then `true`: nothing follows. Unchecked: damage only makes a guess
/// the iterator will not use.
pub(crate) fn next_start(block: &[u8]) -> (usize, usize, bool) {
    let mut at = 0;
    loop {
        let Some(field) = block.get(at + REC_LEN_OFF..at + REC_LEN_OFF + 4) else {
            return (at, RECORD_HEADER_LEN, false);
        };
        if block.get(at..at + RECORD_HEADER_LEN).is_some_and(|h| h.iter().all(|&b| b == 0)) {
            return (at, RECORD_HEADER_LEN, true);
        }
        let len = u32::from_le_bytes(field.try_into().expect("4 bytes"));
        let size = record_size(u64::from(len)) as usize;
        if block.len() - at < size {
            return (at, size, false);
        }
        at += size;
    }
}

#[cfg(test)]
mod tests;

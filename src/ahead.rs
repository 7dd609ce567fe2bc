//! Read-ahead for long sequential scans: a helper thread reads the next block
//! of a segment while the iterator checks the records of the current one, so
//! that copying bytes out of the page cache and checksumming them overlap.
//!
//! The helper only moves bytes. It guesses where the next block starts by
//! following the length fields of the block just handed over (unchecked:
//! a wrong guess, from damage or the dead bytes of a cut, only means the
//! block is not used), and the iterator still validates every record it
//! takes from a block. A block is used only if it was read from the very
//! file handle and offset the iterator asks for and holds every byte it
//! needs; anything else (a failed read included) is dropped, and the
//! iterator reads for itself as it would without read-ahead, so errors and
//! their reporting do not change.
//!
//! Invariant: at most one read is in flight, and the iterator knows which.
//! Dropping a [`ReadAhead`] stops the helper and waits for it, so no file
//! handle outlives the iterator.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::BytesMut;

use crate::error::Result;
use crate::format::{record_size, RECORD_HEADER_LEN, REC_LEN_OFF};
use crate::segments::SegmentFile;

/// A read for the helper: `len` bytes of `file` from `off`, into `buf`.
struct Job {
    file: Arc<SegmentFile>,
    off: u64,
    len: usize,
    buf: BytesMut,
}

/// A finished read, with [`next_start`] of its block.
type Done = (Arc<SegmentFile>, u64, Result<(BytesMut, (usize, usize))>);

/// The helper thread and the read in flight.
pub(crate) struct ReadAhead {
    jobs: Option<SyncSender<Job>>,
    /// In a mutex only so that an iterator stays `Sync`; never contended.
    done: Mutex<Receiver<Done>>,
    /// File and offset of the read in flight.
    pending: Option<(Arc<SegmentFile>, u64)>,
    helper: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead").field("pending", &self.pending.as_ref().map(|p| (p.0.id, p.1))).finish()
    }
}

impl ReadAhead {
    /// Starts the helper thread; `None` if the system refuses a thread (the
    /// iterator then reads for itself).
    pub fn start() -> Option<ReadAhead> {
        let (jobs, rx) = sync_channel::<Job>(1);
        let (tx, done) = sync_channel::<Done>(1);
        let helper = std::thread::Builder::new()
            .name("seawall-readahead".into())
            .spawn(move || {
                while let Ok(Job { file, off, len, mut buf }) = rx.recv() {
                    // A reused buffer keeps its bytes: zeroing them again
                    // would cost as much as the copy.
                    if buf.len() >= len {
                        buf.truncate(len);
                    } else {
                        buf.resize(len, 0);
                    }
                    // The guess is made here, on bytes this thread has
                    // just copied and still has in its cache.
                    let res = file.read_into(off, &mut buf).map(|()| {
                        let next = next_start(&buf);
                        (buf, next)
                    });
                    if tx.send((file, off, res)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(ReadAhead { jobs: Some(jobs), done: Mutex::new(done), pending: None, helper: Some(helper) })
    }

    /// Asks for `len` bytes of `file` from `off`, read into `buf` (whose
    /// memory is reused), unless a read is in flight already.
    pub fn request(&mut self, file: &Arc<SegmentFile>, off: u64, len: usize, buf: BytesMut) {
        if self.pending.is_some() || len == 0 {
            return;
        }
        let job = Job { file: file.clone(), off, len, buf };
        if self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok()) {
            self.pending = Some((file.clone(), off));
        }
    }

    /// The block read from `off` of `file`, if that is the read in flight
    /// and it succeeded with at least `need` bytes, with [`next_start`] of
    /// it. Any other read in flight is waited for and dropped.
    pub fn take(&mut self, file: &Arc<SegmentFile>, off: u64, need: usize) -> Option<(BytesMut, (usize, usize))> {
        let (f, at) = self.pending.take()?;
        let (_, _, res) = self.wait()?;
        match res {
            Ok((buf, next)) if Arc::ptr_eq(&f, file) && at == off && buf.len() >= need => Some((buf, next)),
            _ => None,
        }
    }

    /// Drops the read in flight, if any (the iterator's spans changed).
    pub fn discard(&mut self) {
        if self.pending.take().is_some() {
            let _ = self.wait();
        }
    }

    /// The read in flight, once done (`None` if the helper is gone).
    fn wait(&mut self) -> Option<Done> {
        self.done.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).recv().ok()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the job channel ends the helper's loop once its read (if
        // any) is done; its send then fails or fills the buffered slot.
        self.jobs = None;
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
    }
}

/// Where the block after `block` (read from a record's start) should begin:
/// the offset within `block` of the first record that does not end inside
/// it, by its length field, with the bytes that record needs (at least a
/// header). Unchecked: damage only makes a guess the iterator will not use.
pub(crate) fn next_start(block: &[u8]) -> (usize, usize) {
    let mut at = 0;
    loop {
        let Some(field) = block.get(at + REC_LEN_OFF..at + REC_LEN_OFF + 4) else {
            return (at, RECORD_HEADER_LEN);
        };
        let len = u32::from_le_bytes(field.try_into().expect("4 bytes"));
        let size = record_size(u64::from(len)) as usize;
        if block.len() - at < size {
            return (at, size);
        }
        at += size;
    }
}

#[cfg(test)]
mod tests;

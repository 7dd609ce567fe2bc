//! Sealing full segments behind the writer (FORMAT.md W2).
//!
//! When a segment's seal record is written, the segment is complete, but
//! it is not yet durable. The writer goes on into the next segment at once;
//! the sealer makes the full one durable behind it: a data sync, then its
//! trailer, then a second data sync. Invariants:
//! - A trailer is written only after a completed sync of every byte before
//!   it, and after every earlier seal completed (seals complete in segment
//!   order): a valid trailer on disk proves its segment, and every segment
//!   before it, durable in full.
//!   Recovery trusts a segment through its trailer for that reason, and
//!   judges a segment without one like the end of the log (FORMAT.md §5.1).
//! - Nothing is acknowledged durable while a seal is pending: the writer's
//!   `sync` finishes every pending seal before the sync that acknowledges.
//!   So a crash that leaves a segment without its trailer loses only records
//!   no caller was told were durable, whatever it leaves of later segments.
//! - At most [`MAX_UNSEALED`] seals are pending; a rotation past that waits
//!   for the oldest, so the bytes not yet durable stay bounded.
//! - A failed seal fails the writer's next operation (and so poisons the
//!   log): after a failed `fdatasync` the kernel may have dropped the pages.
//!
//! With background work enabled, each seal runs in a thread of its own,
//! which syncs its segment at once but joins the thread of the seal before
//! it before writing its trailer. Without it (the crash tests'
//! deterministic mode), seals wait in a queue and run, oldest first, when
//! the writer next syncs or the queue is full: the crash model then meets
//! every state a background seal can leave.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::format::TRAILER_LEN;
use crate::io::write_all_at;
use crate::seal::Trailer;
use crate::segments::SegmentFile;
use crate::stats::Counters;
use crate::SegmentId;

/// Most segments whose seal may be pending at once.
pub(crate) const MAX_UNSEALED: usize = 4;

/// One failed step of a seal: the operation and its error.
type Failure = (&'static str, std::io::Error);

/// A seal running in a thread; it finishes only after the one before it.
type Running = JoinHandle<std::result::Result<(), Failure>>;

/// A full segment to make durable, and the trailer that then says so.
struct Job {
    file: Arc<SegmentFile>,
    trailer: Trailer,
}

impl Job {
    /// Sync, trailer, sync. Stops at the first failure.
    fn run(&self, counters: &Counters) -> std::result::Result<(), Failure> {
        self.run_after(counters, None)
    }

    /// Sync; then, once the seal `before` it (if any) succeeded, trailer
    /// and sync. Stops at the first failure, its own or `before`'s.
    fn run_after(&self, counters: &Counters, before: Option<Running>) -> std::result::Result<(), Failure> {
        let f = self.file.file.as_ref();
        f.sync_data().map_err(|e| ("fdatasync", e))?;
        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = before {
            h.join().unwrap_or_else(|_| Err(("fdatasync", std::io::Error::other("the seal panicked"))))?;
        }
        let at = self.file.capacity - TRAILER_LEN as u64;
        write_all_at(f, &self.trailer.encode(), at).map_err(|e| ("write", e))?;
        counters.writes.fetch_add(1, Ordering::Relaxed);
        f.sync_data().map_err(|e| ("fdatasync", e))?;
        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The seals pending behind the writer, oldest first: queued (deterministic
/// mode), or running in threads, each of which joins the one before it, so
/// that only the newest thread's handle is kept.
pub(crate) struct Sealer {
    background: bool,
    queued: VecDeque<Job>,
    /// The newest running seal, and the segments of all running ones.
    running: Option<(PathBuf, Running)>,
    running_ids: Vec<SegmentId>,
    counters: Arc<Counters>,
}

impl Sealer {
    pub fn new(background: bool, counters: Arc<Counters>) -> Sealer {
        Sealer { background, queued: VecDeque::new(), running: None, running_ids: Vec::new(), counters }
    }

    /// Whether no seal is pending.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.running.is_none()
    }

    /// Starts sealing `file`, whose seal record is written, with `trailer`.
    /// Waits for the pending seals first if [`MAX_UNSEALED`] are.
    pub fn push(&mut self, file: Arc<SegmentFile>, trailer: Trailer) -> Result<()> {
        debug_assert_eq!(file.id, trailer.id, "a trailer names its own segment");
        if self.queued.len() + self.running_ids.len() >= MAX_UNSEALED {
            if self.background {
                self.finish_all()?;
            } else {
                self.run_oldest()?;
            }
        }
        let job = Job { file, trailer };
        if !self.background {
            self.queued.push_back(job);
            return Ok(());
        }
        let (id, path) = (job.file.id, job.file.path.clone());
        let counters = self.counters.clone();
        let theirs = Job { file: job.file.clone(), trailer: job.trailer };
        // Handed to the new thread through a slot, so that it stays ours if
        // no thread can be had.
        let before = Arc::new(Mutex::new(self.running.take()));
        let slot = before.clone();
        let spawned = std::thread::Builder::new().name("seawall-seal".into()).spawn(move || {
            let before = crate::lock(&slot).take().map(|(_, h)| h);
            theirs.run_after(&counters, before)
        });
        match spawned {
            Ok(h) => {
                self.running = Some((path, h));
                self.running_ids.push(id);
            }
            Err(_) => {
                // No thread to be had: finish the earlier seals, then this
                // one, in place.
                self.running = crate::lock(&before).take();
                self.finish_all()?;
                job.run(&self.counters).map_err(|(op, e)| Error::io(op, path, e))?;
            }
        }
        Ok(())
    }

    /// Collects the running seals if they have all finished; a failure
    /// among them is returned.
    pub fn reap(&mut self) -> Result<()> {
        if self.running.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            self.join_running()?;
        }
        Ok(())
    }

    /// Finishes every pending seal, oldest first. Returns the segments sealed.
    pub fn finish_all(&mut self) -> Result<Vec<SegmentId>> {
        let mut done = self.join_running()?;
        while !self.queued.is_empty() {
            done.push(self.run_oldest()?);
        }
        Ok(done)
    }

    /// Joins the newest running seal, and so every one before it.
    fn join_running(&mut self) -> Result<Vec<SegmentId>> {
        let Some((path, h)) = self.running.take() else {
            return Ok(Vec::new());
        };
        let done = std::mem::take(&mut self.running_ids);
        let res = h.join().unwrap_or_else(|_| Err(("fdatasync", std::io::Error::other("the seal panicked"))));
        // A failure may be an earlier segment's: the path names the newest.
        res.map_err(|(op, e)| Error::io(op, path, e))?;
        Ok(done)
    }

    /// Runs the oldest queued seal.
    fn run_oldest(&mut self) -> Result<SegmentId> {
        let job = self.queued.pop_front().expect("a queued seal");
        job.run(&self.counters).map_err(|(op, e)| Error::io(op, job.file.path.clone(), e))?;
        Ok(job.file.id)
    }

    /// Waits for the seals running in threads, so none outlives the log
    /// (one must never write a trailer into a log another open recovered).
    /// Queued seals are dropped: like a crash, which recovery handles.
    pub fn settle(&mut self) {
        if let Some((_, h)) = self.running.take() {
            let _ = h.join();
        }
        self.running_ids.clear();
        self.queued.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::mpsc::{channel, Sender};
    use std::sync::Condvar;

    use super::*;

    /// A file that records the order of its writes and syncs in a shared
    /// log, and whose syncs wait while its gate is closed.
    #[derive(Debug)]
    struct Gated {
        name: &'static str,
        events: Arc<Mutex<Vec<String>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
        synced: Mutex<Sender<&'static str>>,
    }

    impl WalFile for Gated {
        fn write_at(&self, buf: &[u8], _: u64) -> io::Result<usize> {
            crate::lock(&self.events).push(format!("write {}", self.name));
            Ok(buf.len())
        }
        fn sync_data(&self) -> io::Result<()> {
            let (open, cv) = &*self.gate;
            let mut g = crate::lock(open);
            while !*g {
                g = cv.wait(g).unwrap();
            }
            drop(g);
            crate::lock(&self.events).push(format!("sync {}", self.name));
            let _ = crate::lock(&self.synced).send(self.name);
            Ok(())
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
            Ok(0)
        }
        fn len(&self) -> io::Result<u64> {
            Ok(4096)
        }
        fn set_len(&self, _: u64) -> io::Result<()> {
            Ok(())
        }
        fn allocate(&self, _: u64) -> io::Result<()> {
            Ok(())
        }
    }

    use crate::io::WalFile;

    struct Rig {
        events: Arc<Mutex<Vec<String>>>,
        synced: std::sync::mpsc::Receiver<&'static str>,
        tx: Sender<&'static str>,
    }

    impl Rig {
        fn new() -> Rig {
            let (tx, synced) = channel();
            Rig { events: Arc::default(), synced, tx }
        }

        fn segment(
            &self,
            id: u64,
            name: &'static str,
            gate: &Arc<(Mutex<bool>, Condvar)>,
        ) -> (Arc<SegmentFile>, Trailer) {
            let file =
                Gated { name, events: self.events.clone(), gate: gate.clone(), synced: Mutex::new(self.tx.clone()) };
            let id = SegmentId::new(id);
            let f = Arc::new(SegmentFile::new(id, PathBuf::from(name), Box::new(file), 4096));
            let t = Trailer { id, salt: 1, first_lsn: 1, last_lsn: 0, last_crc: 0, index_off: 64, index_crc: 0 };
            (f, t)
        }

        fn events(&self) -> Vec<String> {
            crate::lock(&self.events).clone()
        }
    }

    fn gate(open: bool) -> Arc<(Mutex<bool>, Condvar)> {
        Arc::new((Mutex::new(open), Condvar::new()))
    }

    #[test]
    fn background_seals_write_their_trailers_in_segment_order() {
        let rig = Rig::new();
        let (slow, fast) = (gate(false), gate(true));
        let mut s = Sealer::new(true, Arc::default());
        let (a, ta) = rig.segment(1, "a", &slow);
        let (b, tb) = rig.segment(2, "b", &fast);
        s.push(a, ta).unwrap();
        s.push(b, tb).unwrap();
        // Segment 2's data sync completes while segment 1's is held up...
        assert_eq!(rig.synced.recv_timeout(std::time::Duration::from_secs(60)), Ok("b"), "watchdog");
        // ...but its trailer waits for segment 1's seal.
        assert_eq!(rig.events(), ["sync b"]);
        assert!(!s.is_empty());
        *crate::lock(&slow.0) = true;
        slow.1.notify_all();
        assert_eq!(s.finish_all().unwrap(), [SegmentId::new(1), SegmentId::new(2)]);
        assert_eq!(rig.events(), ["sync b", "sync a", "write a", "sync a", "write b", "sync b"]);
        assert!(s.is_empty());
    }

    #[test]
    fn queued_seals_run_oldest_first_and_at_most_four_wait() {
        let rig = Rig::new();
        let open = gate(true);
        let mut s = Sealer::new(false, Arc::default());
        for (id, name) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
            let (f, t) = rig.segment(id, name, &open);
            s.push(f, t).unwrap();
        }
        assert!(rig.events().is_empty(), "queued seals wait for a sync");
        let (f, t) = rig.segment(5, "e", &open);
        s.push(f, t).unwrap();
        assert_eq!(rig.events(), ["sync a", "write a", "sync a"], "the fifth runs the oldest");
        assert_eq!(s.finish_all().unwrap().iter().map(|i| i.get()).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert_eq!(rig.events().len(), 15);
    }
}

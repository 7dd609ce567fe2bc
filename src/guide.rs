//! # Guide: the two protocols users get wrong
//!
//! A write-ahead log keeps its promises only if the code around it keeps a
//! few rules of order. Two protocols go wrong most often: checkpointing a
//! database (snapshot, then purge) and using the log under Raft (metadata,
//! conflict truncation, snapshot install). Both are below, each with the
//! order of its steps, why the order matters, and an example that runs as a
//! test.
//!
//! ## Checkpointing a database
//!
//! The database applies records to its state in LSN order, and only then
//! answers for them. From time to time it writes a snapshot of that state and
//! purges the records the snapshot covers.
//!
//! 1. **Apply in LSN order.** Apply record `n` only after every record before
//!    it. Read them with [`Wal::range`](crate::Wal::range), which yields LSN
//!    order; threads that append concurrently get LSNs in the order the log
//!    took them, not the order they called.
//! 2. **Make the covered records durable before the snapshot.** A snapshot
//!    that covers up to LSN `s` must not get ahead of the log: call
//!    [`Wal::sync(s)`](crate::Wal::sync) first. Otherwise a crash can leave a
//!    snapshot at `s` and a log that ends before `s`, and the next appends
//!    reuse LSNs the snapshot already applied; replay then skips them.
//! 3. **Write the snapshot durably, with its LSN in it.** Write it to a new
//!    file, `fsync` the file, rename it over the old one, `fsync` the
//!    directory.
//! 4. **Only then purge:** [`Wal::truncate_before(s + 1)`](crate::Wal::truncate_before).
//!    Purging first would lose the records the snapshot has not yet captured if
//!    the process crashed in between. After the call,
//!    [`Wal::first_lsn`](crate::Wal::first_lsn) is exactly `s + 1`, durably.
//! 5. **Recover** by loading the snapshot (LSN `s`) and replaying
//!    `range(s + 1..)`. A crash between steps 3 and 4 leaves records at or
//!    before `s` in the log: start at `s + 1`, not at `first_lsn()`. If the
//!    log ends before `s` (the snapshot came from elsewhere, or step 2 was
//!    skipped), [`Wal::reset(s + 1)`](crate::Wal::reset) before appending.
//!
//! ```
//! use std::collections::BTreeMap;
//! use seawall::{Lsn, Options, Wal};
//!
//! /// A key-value store: its state and the LSN of the last record applied.
//! #[derive(Default)]
//! struct Store {
//!     kv: BTreeMap<String, String>,
//!     applied: Lsn,
//! }
//!
//! impl Store {
//!     fn apply(&mut self, lsn: Lsn, record: &[u8]) {
//!         assert_eq!(lsn, self.applied + 1, "records are applied in LSN order");
//!         let text = std::str::from_utf8(record).unwrap();
//!         let (k, v) = text.split_once('=').unwrap();
//!         self.kv.insert(k.into(), v.into());
//!         self.applied = lsn;
//!     }
//!     fn snapshot(&self) -> String {
//!         let mut out = format!("{}\n", self.applied.get());
//!         for (k, v) in &self.kv {
//!             out += &format!("{k}={v}\n");
//!         }
//!         out
//!     }
//!     fn load(text: &str) -> Store {
//!         let mut lines = text.lines();
//!         let applied = Lsn::new(lines.next().unwrap().parse().unwrap());
//!         let kv = lines.map(|l| l.split_once('=').unwrap()).map(|(k, v)| (k.into(), v.into())).collect();
//!         Store { kv, applied }
//!     }
//! }
//!
//! /// Steps 3 and 4: the snapshot durably, then the purge.
//! fn checkpoint(wal: &Wal, store: &Store, dir: &std::path::Path) -> std::io::Result<()> {
//!     wal.sync(store.applied).unwrap(); // step 2
//!     let tmp = dir.join("snapshot.tmp");
//!     std::fs::write(&tmp, store.snapshot())?;
//!     std::fs::File::open(&tmp)?.sync_all()?;
//!     std::fs::rename(&tmp, dir.join("snapshot"))?;
//!     std::fs::File::open(dir)?.sync_all()?;
//!     wal.truncate_before(store.applied + 1).unwrap(); // step 4, only now
//!     Ok(())
//! }
//!
//! /// Step 5: the snapshot, then every record after it.
//! fn recover(wal: &Wal, dir: &std::path::Path) -> Store {
//!     let mut store = match std::fs::read_to_string(dir.join("snapshot")) {
//!         Ok(text) => Store::load(&text),
//!         Err(_) => Store::default(),
//!     };
//!     if wal.last_lsn() < store.applied {
//!         wal.reset(store.applied + 1).unwrap();
//!     }
//!     for record in wal.range(store.applied + 1..).unwrap() {
//!         let record = record.unwrap();
//!         store.apply(record.lsn(), record.payload());
//!     }
//!     store
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("log");
//! let (wal, _) = Wal::open(&log, Options::default())?;
//! let mut store = Store::default();
//! for (i, entry) in ["a=1", "b=2", "a=3"].iter().enumerate() {
//!     let lsn = wal.append(entry.as_bytes())?;
//!     store.apply(lsn, entry.as_bytes());
//!     assert_eq!(lsn, Lsn::new(i as u64 + 1));
//! }
//! checkpoint(&wal, &store, dir.path())?;
//! assert_eq!(wal.first_lsn(), Lsn::new(4), "exactly the purge point");
//! wal.append_durable(b"c=4")?;
//! wal.close()?;
//!
//! let (wal, _) = Wal::open(&log, Options::default())?;
//! let store = recover(&wal, dir.path());
//! assert_eq!(store.applied, Lsn::new(4));
//! assert_eq!(store.kv["a"], "3");
//! assert_eq!(store.kv["c"], "4");
//! # wal.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## seawall as a Raft log
//!
//! The `seawall-raft` crate of this workspace implements openraft's log
//! storage this way; the rules hold for any Raft implementation.
//!
//! - **Index and LSN.** Map Raft index `i` to one LSN by a fixed offset. LSNs
//!   start at 1; seawall-raft uses `LSN = index + 1`, so that openraft's
//!   index 0 has a place.
//! - **Metadata, not side files.** The vote must be durable before the node
//!   answers a vote request: [`Wal::set_meta`](crate::Wal::set_meta) returns
//!   once the value, and every record appended before it, is durable, and it
//!   shares the group commit with appends. Keep the vote, the committed index
//!   (if the implementation persists it) and the last purged log id (index
//!   and term: the term of a purged entry cannot be read back) as metadata.
//!   A side file cannot be written atomically with the log, and its own crash
//!   rules would need a protocol of their own.
//! - **Acknowledge only what is durable.** A follower must not tell the leader
//!   that entries are stored before they are: append them, then answer from
//!   [`Wal::on_durable`](crate::Wal::on_durable) (a callback on the log's own
//!   flusher) or [`Wal::wait_durable`](crate::Wal::wait_durable) (a future
//!   with no runtime of its own). Neither parks a thread per request, and a
//!   crowd of them still shares one `fdatasync`.
//! - **Conflict truncation.** When a follower finds its entry at index `i`
//!   conflicts with the leader's, it drops `i` and everything after it:
//!   [`Wal::truncate_after(lsn(i) - 1)`](crate::Wal::truncate_after), then
//!   appends the leader's entries. The cut is durable when the call returns
//!   and a cut record never comes back, whatever crashes or damage follow;
//!   it costs space in proportion to what the segment keeps. Raft never asks
//!   to cut a committed entry; seawall does not know which are committed.
//! - **Purge after a snapshot.** Once the state machine's snapshot up to index
//!   `s` is durable, record the purged log id as metadata, then
//!   [`Wal::truncate_before(lsn(s) + 1)`](crate::Wal::truncate_before). In
//!   that order a crash leaves at worst entries that are already purged by
//!   the metadata, never a purge the metadata does not know.
//! - **Snapshot install.** When the leader sends a snapshot that reaches past
//!   the follower's log (or conflicts with it), store the snapshot durably,
//!   record its last log id as the purged one, and call
//!   [`Wal::reset(lsn(s) + 1)`](crate::Wal::reset): every record is dropped
//!   durably, and the next append gets `lsn(s) + 1`. A crash in the middle
//!   leaves either the old log or the empty one; both are consistent with the
//!   metadata written before. Metadata survives `reset`.
//!
//! ```
//! use seawall::{Lsn, Options, Wal};
//! use std::sync::mpsc;
//!
//! fn lsn(index: u64) -> Lsn {
//!     Lsn::new(index + 1)
//! }
//! let dir = tempfile::tempdir()?;
//! let (wal, _) = Wal::open(dir.path(), Options::default())?;
//!
//! // A vote is durable when set_meta returns.
//! wal.set_meta(b"vote", b"term=3 node=2")?;
//!
//! // Entries 0..=4 arrive; the leader hears back once they are durable.
//! let (tx, rx) = mpsc::channel();
//! for index in 0..=4 {
//!     assert_eq!(wal.append(format!("term 3 entry {index}").as_bytes())?, lsn(index));
//! }
//! wal.on_durable(lsn(4), move |res| tx.send(res.is_ok()).unwrap());
//! assert!(rx.recv()?, "acknowledged once durable");
//!
//! // A new leader's entry 3 conflicts: drop 3 and 4, append the leader's.
//! wal.truncate_after(lsn(3) - 1)?;
//! assert_eq!(wal.append(b"term 4 entry 3")?, lsn(3));
//!
//! // A snapshot up to index 10 is installed: the log restarts after it.
//! wal.set_meta(b"purged", b"index=10 term=4")?;
//! wal.reset(lsn(10) + 1)?;
//! assert_eq!(wal.append(b"term 4 entry 11")?, lsn(11));
//! assert_eq!(wal.first_lsn(), lsn(11));
//! assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"term=3 node=2"[..]));
//! wal.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

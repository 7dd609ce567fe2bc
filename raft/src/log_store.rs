//! openraft's `RaftLogStorage` on a seawall `Wal`: entries are records at LSN = index + 1; vote, committed and purge point are metadata.
//!
//! # Layout
//!
//! - The entry of raft log index `i` is the record at LSN `i + 1` (see
//!   [`lsn_of`]). openraft 0.9 writes the cluster's first entry (the initial
//!   membership) at index 0, and seawall LSNs start at 1, so the offset is
//!   needed; it is fixed, so index arithmetic stays trivial and every entry
//!   also carries its own index, checked on every read.
//! - Metadata: [`META_VOTE`], [`META_COMMITTED`], [`META_PURGED`], each a
//!   [`crate::codec`] value. No other files.
//!
//! # Invariants
//!
//! 1. The log holds a gap-free run of entries, LSNs `first_lsn()..=last_lsn()`.
//! 2. With purge point `P` (the last purged log id), `first_lsn() <= lsn_of(P + 1)`
//!    always, and `==` except between the two steps of a purge (or after a
//!    crash between them, which [`SeawallLogStore::open`] finishes).
//!
//! # Crash ordering
//!
//! - **purge(P)**: first `set_meta(purged, P)` (durable), then drop the
//!   records (`truncate_before`, or `reset` when `P` is past the last entry).
//!   A crash between them leaves records the metadata already calls purged;
//!   `open` drops them. The other order could leave an empty log that starts
//!   past a purge point it never recorded: a hole.
//! - **truncate(i)**: first make every appended record durable, then
//!   `truncate_after`, which is durable when it returns. So a pending append
//!   callback always completes with `Ok` before the records it covers are
//!   cut, never with `Error::Truncated`.
//! - **append**: records are buffered (readable at once, as openraft
//!   requires) and the callback runs from `on_durable`, on seawall's flusher
//!   thread, once they are durable.
//! - **save_vote** / **save_committed**: `set_meta`, durable together with
//!   everything appended before it, before returning.
//!
//! Every call that may touch the disk runs on tokio's blocking pool: seawall
//! is synchronous, and an `fdatasync` must not stall a runtime worker.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader, StorageIOError};
use seawall::{Lsn, Options, Wal};

use crate::codec::{self, decode_entry_at, encode_entry};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Metadata key of the vote.
pub const META_VOTE: &[u8] = b"raft/vote";
/// Metadata key of the last committed log id.
pub const META_COMMITTED: &[u8] = b"raft/committed";
/// Metadata key of the last purged log id.
pub const META_PURGED: &[u8] = b"raft/purged";

/// Most entries one `limited_get_log_entries` returns (openraft's default
/// `max_payload_entries` is 300).
pub const MAX_ENTRIES_PER_READ: u64 = 256;

/// The LSN of the record holding raft log index `index`.
pub const fn lsn_of(index: u64) -> Lsn {
    Lsn::new(index + 1)
}

/// The raft log index held by the record at `lsn` (`lsn >= 1`).
pub const fn index_of(lsn: Lsn) -> u64 {
    lsn.get() - 1
}

/// openraft's log store on a seawall log. Clones share the log.
#[derive(Clone, Debug)]
pub struct SeawallLogStore {
    wal: Arc<Wal>,
}

/// A log reader for replication tasks; shares the log with its store.
#[derive(Clone, Debug)]
pub struct SeawallLogReader {
    wal: Arc<Wal>,
}

/// Every failure of this module, before it becomes an openraft `StorageError`.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Wal(#[from] seawall::Error),
    #[error(transparent)]
    Codec(#[from] codec::CodecError),
    #[error("append of entry {found} where entry {expected} comes next")]
    NotContiguous { expected: u64, found: u64 },
    #[error("log starts at entry {first} but entries up to {purged:?} are the only ones purged: entries are missing")]
    Hole { first: u64, purged: Option<u64> },
    #[error("truncation at entry {index} reaches below the first entry {first}")]
    TruncateBelowFirst { index: u64, first: u64 },
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn storage_error(subject: ErrorSubject<u64>, verb: ErrorVerb, e: Failure) -> StorageError {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

/// Runs `f` on the blocking pool and maps its failure to a `StorageError`.
async fn blocking<T: Send + 'static>(
    wal: &Arc<Wal>,
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    f: impl FnOnce(&Wal) -> Result<T, Failure> + Send + 'static,
) -> Result<T, StorageError> {
    let wal = wal.clone();
    match tokio::task::spawn_blocking(move || f(&wal)).await {
        Ok(res) => res.map_err(|e| storage_error(subject, verb, e)),
        Err(join) => Err(storage_error(subject, verb, join.into())),
    }
}

fn read_log_id_meta(wal: &Wal, key: &[u8]) -> Result<Option<LogId>, Failure> {
    match wal.meta(key) {
        None => Ok(None),
        Some(bytes) => Ok(codec::decode_log_id(&bytes)?),
    }
}

fn is_empty(wal: &Wal) -> bool {
    wal.last_lsn() < wal.first_lsn()
}

/// The first LSN the log must start at, given its purge point.
fn start_after(purged: Option<LogId>) -> Lsn {
    purged.map_or(lsn_of(0), |p| lsn_of(p.index + 1))
}

/// Drops the records up to `purged` (inclusive), if the log still holds any.
fn drop_purged(wal: &Wal, purged: LogId) -> Result<(), Failure> {
    let target = start_after(Some(purged));
    if target <= wal.first_lsn() {
        return Ok(());
    }
    if target.get() <= wal.last_lsn().get() + 1 {
        wal.truncate_before(target)?;
    } else {
        // Past the last entry (a snapshot from the leader covers more than
        // this node ever received): nothing survives, and the next entry
        // the leader sends is `purged.index + 1`.
        wal.reset(target)?;
    }
    Ok(())
}

/// Reads the entries of indexes `[start, end)` that the log holds, as a
/// gap-free run. A purge or truncation racing the read ends the run early
/// (`Error::Truncated`): what was read before is still a run of valid entries.
fn read_range(wal: &Wal, start: u64, end: u64) -> Result<Vec<Entry>, Failure> {
    let mut tried = None;
    loop {
        let from = lsn_of(start.min(u64::MAX - 1)).max(wal.first_lsn());
        let to = lsn_of(end.min(u64::MAX - 1)).min(wal.last_lsn().next());
        if from >= to {
            return Ok(Vec::new());
        }
        let iter = match wal.range(from..to) {
            Ok(iter) => iter,
            // The log's bounds moved between reading them and opening the
            // range (a purge or a truncation ran): read them again. The loop
            // ends because each retry needs the bounds to have moved again,
            // and the same bounds twice make the error final.
            Err(seawall::Error::LsnOutOfRange { .. }) if tried != Some((from, to)) => {
                tried = Some((from, to));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::with_capacity((to - from).min(MAX_ENTRIES_PER_READ) as usize);
        for rec in iter {
            match rec {
                Ok(rec) => out.push(decode_entry_at(rec.payload(), index_of(rec.lsn()))?),
                Err(seawall::Error::Truncated { .. }) => break,
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(out);
    }
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl SeawallLogStore {
    /// Opens (or creates) the log in `dir` with seawall's default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<SeawallLogStore, StorageError> {
        SeawallLogStore::open_with(dir, Options::default())
    }

    /// Opens (or creates) the log in `dir` and finishes a purge that a
    /// crash interrupted.
    pub fn open_with(dir: impl AsRef<Path>, opts: Options) -> Result<SeawallLogStore, StorageError> {
        let open = || -> Result<SeawallLogStore, Failure> {
            let (wal, _report) = Wal::open(dir, opts)?;
            let purged = read_log_id_meta(&wal, META_PURGED)?;
            if let Some(p) = purged {
                drop_purged(&wal, p)?;
            }
            if !is_empty(&wal) && wal.first_lsn() > start_after(purged) {
                return Err(Failure::Hole { first: index_of(wal.first_lsn()), purged: purged.map(|p| p.index) });
            }
            Ok(SeawallLogStore { wal: Arc::new(wal) })
        };
        open().map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Read, e))
    }

    /// The underlying log.
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }
}

impl RaftLogReader<TypeConfig> for SeawallLogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Read, move |wal| read_range(wal, start, end)).await
    }

    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry>, StorageError> {
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        let entries = self.try_get_log_entries(start..end).await?;
        // openraft sends what this returns as the entries after `start - 1`,
        // so a run that does not begin at `start` (purged meanwhile) must not
        // be returned. openraft 0.9.25 treats an empty answer as a heartbeat
        // and then sends a snapshot; and it never purges a range it is
        // replicating, so this happens only if that guard is ever lost.
        if entries.first().is_some_and(|e| e.log_id.index != start) {
            return Ok(Vec::new());
        }
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for SeawallLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        SeawallLogReader { wal: self.wal.clone() }.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for SeawallLogStore {
    type LogReader = SeawallLogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Read, |wal| {
            let purged = read_log_id_meta(wal, META_PURGED)?;
            let last = if is_empty(wal) {
                purged
            } else {
                let lsn = wal.last_lsn();
                Some(decode_entry_at(wal.read(lsn)?.payload(), index_of(lsn))?.log_id)
            };
            Ok(LogState { last_purged_log_id: purged, last_log_id: last })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> SeawallLogReader {
        SeawallLogReader { wal: self.wal.clone() }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let bytes = codec::encode(vote);
        blocking(&self.wal, ErrorSubject::Vote, ErrorVerb::Write, move |wal| Ok(wal.set_meta(META_VOTE, &bytes)?)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let bytes = self.wal.meta(META_VOTE);
        bytes
            .map(|b| codec::decode::<Vote>(&b))
            .transpose()
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Read, e.into()))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let bytes = codec::encode_log_id(&committed);
        blocking(&self.wal, ErrorSubject::Store, ErrorVerb::Write, move |wal| Ok(wal.set_meta(META_COMMITTED, &bytes)?))
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        read_log_id_meta(&self.wal, META_COMMITTED).map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Read, e))
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            callback.log_io_completed(Ok(()));
            return Ok(());
        };
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Write, move |wal| {
            for (k, e) in entries.iter().enumerate() {
                if e.log_id.index != first + k as u64 {
                    return Err(Failure::NotContiguous { expected: first + k as u64, found: e.log_id.index });
                }
            }
            let next = wal.last_lsn().next();
            if lsn_of(first) != next {
                if !is_empty(wal) {
                    return Err(Failure::NotContiguous { expected: index_of(next), found: first });
                }
                // An empty log asked to start elsewhere. openraft itself
                // never does this (a node's log starts at index 0 or right
                // after its purge point); its storage test suite does.
                wal.reset(lsn_of(first))?;
            }
            let mut last = Lsn::ZERO;
            for e in &entries {
                last = wal.append(&encode_entry(e))?;
            }
            debug_assert_eq!(last, lsn_of(first + entries.len() as u64 - 1));
            wal.on_durable(last, move |res| callback.log_io_completed(res.map_err(io::Error::other)));
            Ok(())
        })
        .await
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Delete, move |wal| {
            // Keep the entries before `log_id.index`: LSNs up to `index`.
            let keep = Lsn::new(log_id.index);
            let last = wal.last_lsn();
            if keep >= last {
                return Ok(());
            }
            if keep.next() < wal.first_lsn() {
                return Err(Failure::TruncateBelowFirst { index: log_id.index, first: index_of(wal.first_lsn()) });
            }
            // Appends first, so their callbacks report success before the cut.
            wal.sync(last)?;
            wal.truncate_after(keep)?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Delete, move |wal| {
            if read_log_id_meta(wal, META_PURGED)? >= Some(log_id) {
                return Ok(());
            }
            // The purge point first (durable, with every append before it),
            // then the records: see "Crash ordering" above.
            wal.set_meta(META_PURGED, &codec::encode_log_id(&Some(log_id)))?;
            drop_purged(wal, log_id)
        })
        .await
    }
}

//! openraft's `RaftLogStorage` on a seawall `Wal`: entries are records at LSN = index + 1; vote, committed and purge point are metadata.
//!
//! # Layout
//!
//! - The entry of raft log index `i` is the record at LSN `i + 1` (see
//!   [`lsn_of`]). openraft 0.9 writes the cluster's first entry (the initial
//!   membership) at index 0, and seawall LSNs start at 1, so the offset is
//!   needed; it is fixed, so index arithmetic stays trivial and every entry
//!   also carries its own index, checked on every read.
//! - A record may instead be a *filler* ([`codec::FILLER`]): an index that
//!   holds no entry, which reads report absent. See "Skipped indexes".
//! - Metadata: [`META_VOTE`], [`META_COMMITTED`], [`META_PURGED`], each a
//!   [`crate::codec`] value. No other files.
//!
//! # Invariants
//!
//! 1. The log is a gap-free run of records, LSNs `first_lsn()..=last_lsn()`
//!    (seawall's own guarantee), so the next entry's index is `last_lsn()`.
//! 2. With purge point `P` (the last purged log id), `first_lsn() <= lsn_of(P + 1)`
//!    always, and `==` except between the two steps of a purge (or after a
//!    crash between them, which [`SeawallLogStore::open`] finishes).
//! 3. The last record holds an entry: a filler never ends the log. Fillers
//!    come in runs of at most [`MAX_FILLERS`], each written in one atomic
//!    batch with the entry after it, and a truncation that would leave
//!    fillers last cuts them too.
//!
//! # Skipped indexes
//!
//! openraft itself appends only right after its last entry, or after its
//! purge point when its log is empty ("there must not be a hole in logs",
//! says `RaftLogStorage::append`). Its storage test suite does two other
//! things, and the store takes both without giving up an invariant:
//!
//! - **Entries at or before the purge point** (`get_initial_state_membership_from_log_and_sm`
//!   purges up to index 2, then appends index 1, then index 3): the purge
//!   point already covers them, since the state machine holds their effect
//!   and openraft never reads at or before it, so they are dropped, and the
//!   callback reports the append durable once everything before it is. The
//!   log stays "purge point, then a gap-free run": index 3 then follows
//!   directly.
//! - **An append past the next index** (a log that starts at index 1 or 2,
//!   with nothing purged): the skipped indexes get fillers, in one atomic
//!   batch with the first entry, so LSN = index + 1 holds for every record
//!   and a crash leaves either both or neither. A gap over [`MAX_FILLERS`]
//!   is refused rather than written record by record.
//!
//! # Crash ordering
//!
//! - **purge(P)**: first `set_meta(purged, P)` (durable), then drop the
//!   records (`truncate_before`, or `reset` when `P` is past the last entry).
//!   A crash between them leaves records the metadata already calls purged;
//!   `open` drops them. The other order could leave an empty log that starts
//!   past a purge point it never recorded: a hole.
//! - **truncate(i)**: `truncate_after`, which first makes every appended
//!   record durable and is durable itself when it returns. So the disk goes
//!   through "appended, then cut", never "cut, then the append acknowledged".
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
use std::iter;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader, StorageIOError};
use seawall::{Lsn, Options, Wal};

use crate::codec::{self, decode_slot, encode_entry, FILLER};
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

/// Most indexes one append may skip (see "Skipped indexes"). openraft never
/// skips one; its test suite skips at most two.
pub const MAX_FILLERS: u64 = 1024;

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
    #[error("append of entry {found} where entry {expected} comes next would skip more than {MAX_FILLERS} indexes")]
    GapTooLarge { expected: u64, found: u64 },
    #[error("log starts at entry {first} but entries up to {purged:?} are the only ones purged: entries are missing")]
    Hole { first: u64, purged: Option<u64> },
    #[error("the log ends in a filler at index {index}, not in an entry")]
    EndsInFiller { index: u64 },
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

/// The entry or filler at `lsn`, which must be in the log.
fn read_slot(wal: &Wal, lsn: Lsn) -> Result<Option<Entry>, Failure> {
    Ok(decode_slot(wal.read(lsn)?.payload(), index_of(lsn))?)
}

/// The id of the last entry of a non-empty log (invariant 3: the last record).
fn last_entry_id(wal: &Wal) -> Result<LogId, Failure> {
    let lsn = wal.last_lsn();
    read_slot(wal, lsn)?.map(|e| e.log_id).ok_or(Failure::EndsInFiller { index: index_of(lsn) })
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

/// Reads the entries of indexes `[start, end)` that the log holds, in
/// order; fillers are left out. A purge or truncation racing the read ends
/// it early (`Error::Truncated`): what was read before is still a run of
/// valid entries.
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
                Ok(rec) => out.extend(decode_slot(rec.payload(), index_of(rec.lsn()))?),
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

/// Appends `entries` (consecutive indexes) to the log as "Skipped indexes"
/// in the module doc says; returns nothing, the records are buffered.
fn append_entries(wal: &Wal, entries: &[Entry]) -> Result<(), Failure> {
    let Some(first) = entries.first().map(|e| e.log_id.index) else { return Ok(()) };
    for (k, e) in entries.iter().enumerate() {
        if e.log_id.index != first + k as u64 {
            return Err(Failure::NotContiguous { expected: first + k as u64, found: e.log_id.index });
        }
    }
    // Entries the purge point covers are dropped.
    let covered = read_log_id_meta(wal, META_PURGED)?.map_or(0, |p| p.index + 1).saturating_sub(first);
    let Some((head, rest)) = entries.split_at(covered.min(entries.len() as u64) as usize).1.split_first() else {
        return Ok(());
    };
    let next = index_of(wal.last_lsn().next());
    let index = head.log_id.index;
    if index < next {
        return Err(Failure::NotContiguous { expected: next, found: index });
    }
    let skipped = index - next;
    if skipped > MAX_FILLERS {
        return Err(Failure::GapTooLarge { expected: next, found: index });
    }
    let head = encode_entry(head);
    if skipped == 0 {
        wal.append(&head)?;
    } else {
        wal.append_batch(iter::repeat_n(FILLER, skipped as usize).chain([&head[..]]))?;
    }
    for e in rest {
        wal.append(&encode_entry(e))?;
    }
    Ok(())
}

impl SeawallLogStore {
    /// Opens (or creates) the log in `dir` with seawall's default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<SeawallLogStore, StorageError> {
        SeawallLogStore::open_with(dir, Options::default())
    }

    /// Opens (or creates) the log in `dir`, finishes a purge that a crash
    /// interrupted, and checks invariants 2 and 3.
    pub fn open_with(dir: impl AsRef<Path>, opts: Options) -> Result<SeawallLogStore, StorageError> {
        let open = || -> Result<SeawallLogStore, Failure> {
            let (wal, _report) = Wal::open(dir, opts)?;
            let purged = read_log_id_meta(&wal, META_PURGED)?;
            if let Some(p) = purged {
                drop_purged(&wal, p)?;
            }
            if !is_empty(&wal) {
                if wal.first_lsn() > start_after(purged) {
                    return Err(Failure::Hole { first: index_of(wal.first_lsn()), purged: purged.map(|p| p.index) });
                }
                last_entry_id(&wal)?;
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
    /// The entries of `range` the log holds: entries before the first one,
    /// past the last one, or at a filler's index are absent (openraft
    /// allows it).
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
            let last = if is_empty(wal) { purged } else { Some(last_entry_id(wal)?) };
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
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Write, move |wal| {
            append_entries(wal, &entries)?;
            // Everything appended so far, these entries included (if the
            // purge point covered them all, what came before them).
            wal.on_durable(wal.last_lsn(), move |res| {
                let res = match res {
                    // seawall reports `Truncated` to a waiter whose records
                    // a cut removed, even when they had been durable before
                    // it, if its flusher thread had not delivered the `Ok`
                    // yet. Here every cut (`truncate_after`, `reset`) first
                    // makes every appended record durable, so the records
                    // this callback covers were durable: `Ok` is the truth,
                    // and an error would make openraft stop the node.
                    Err(seawall::Error::Truncated { .. }) => Ok(()),
                    res => res.map_err(io::Error::other),
                };
                callback.log_io_completed(res)
            });
            Ok(())
        })
        .await
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.wal, ErrorSubject::Logs, ErrorVerb::Delete, move |wal| {
            // Keep the entries before `log_id.index`: LSNs up to `index`.
            let mut keep = Lsn::new(log_id.index);
            if keep >= wal.last_lsn() {
                return Ok(());
            }
            if keep.next() < wal.first_lsn() {
                return Err(Failure::TruncateBelowFirst { index: log_id.index, first: index_of(wal.first_lsn()) });
            }
            // Invariant 3: fillers the cut would leave last go too. Ends at
            // the first LSN at the latest; in practice after at most
            // MAX_FILLERS steps, since every run of fillers has an entry after it.
            while keep >= wal.first_lsn() && read_slot(wal, keep)?.is_none() {
                keep = keep - 1;
            }
            // `truncate_after` makes every appended record durable before it
            // cuts, so the disk never holds "cut, then the append acknowledged".
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

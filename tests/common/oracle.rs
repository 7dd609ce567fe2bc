//! The crash oracle: what a recovered log may hold at a given point of a
//! workload, the check of a recovered log against it, and the judging of a
//! whole crash state (every reader of it, and a second open).
//!
//! Payloads carry a unique sequence number, so a record cut by
//! `truncate_after` can never be mistaken for the one that replaced it;
//! metadata values do too, so a value can never be mistaken for another.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use seawall::{Error, Lsn, Options, Reader, RecordKind, RecoveryMode, TailState, Wal};

use super::media::Damage;
use super::reads::check_reads;
use super::recording_fs::{materialize, Image, NoSync, PassThroughFs};
use super::Rng;

/// One record of the model log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Unique across the workload: the payload is derived from it.
    pub seq: u64,
    pub len: u32,
    pub starts_unit: bool,
    pub ends_unit: bool,
}

/// The payload of the record with sequence number `seq` and length `len`
/// (at least 8): the sequence number, then bytes derived from it.
pub fn payload(seq: u64, len: u32) -> Vec<u8> {
    assert!(len >= 8);
    let mut p = Vec::with_capacity(len as usize);
    p.extend_from_slice(&seq.to_le_bytes());
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while p.len() < len as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p.extend_from_slice(&x.to_le_bytes());
    }
    p.truncate(len as usize);
    p
}

/// Metadata as the oracle keeps it: key to value.
pub type Metas = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a recovered log may be at one point of a workload.
///
/// `log` holds the records LSN `base`, `base + 1`, ... that may come back
/// (a recovered log must be a contiguous run of it, and those before the
/// purge point only after media damage: the purge is logical); it starts at
/// the purge point `floor` or, while a `truncate_before` runs, at the one
/// before (purge points are exact), and must reach at least `acked`. While a
/// `reset` runs, the empty log starting at `reset_to` may come back instead.
///
/// Its metadata is `metas` (every completed `set_meta`), except that while a
/// `set_meta` runs, its key may hold either the old value or `pending`'s.
#[derive(Clone, Debug)]
pub struct Expect {
    pub base: u64,
    pub log: Vec<Entry>,
    pub floor: u64,
    pub acked: u64,
    /// Where the log may start (inside a batch, too): `floor`, and while a
    /// `truncate_before` runs, the purge point before it.
    pub purges: Vec<u64>,
    pub metas: Metas,
    /// The key and value of a `set_meta` that is running.
    pub pending: Option<(Vec<u8>, Vec<u8>)>,
    /// The `next` of a `reset` that is running.
    pub reset_to: Option<u64>,
}

/// The value a `set_meta` of the workload sets: `seq` makes it unique, as
/// in a payload; at least 8 bytes.
pub fn meta_value(seq: u64, len: u32) -> Vec<u8> {
    payload(seq, len.max(8))
}

impl Expect {
    /// The empty log of a fresh directory.
    pub fn empty() -> Expect {
        Expect::empty_at(1, Metas::new())
    }

    /// The empty log continuing at `next` with `metas`: what `reset(next)`
    /// leaves.
    pub fn empty_at(next: u64, metas: Metas) -> Expect {
        Expect {
            base: next,
            log: Vec::new(),
            floor: next,
            acked: next - 1,
            purges: vec![next],
            metas,
            pending: None,
            reset_to: None,
        }
    }

    /// What a completed `truncate_before(lsn)` leaves: the log starts exactly
    /// at `lsn` (a no-op at or before the purge point).
    pub fn purge_to(&mut self, lsn: u64) {
        self.floor = self.floor.max(lsn);
        self.purges = vec![self.floor];
    }

    /// Whether `r` is the empty log a running `reset` may leave.
    pub fn is_reset_result(&self, r: &Recovered) -> bool {
        self.reset_to.is_some_and(|next| r.first == next && r.records.is_empty())
    }

    /// A fingerprint of what this model allows. A crash state judged
    /// against one model must be judged again against another: the same
    /// bytes that are a fine crash state while a sync runs lose a record
    /// once the sync has returned.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.base, &self.log, self.floor, &self.purges, self.acked, &self.metas, &self.pending, self.reset_to)
            .hash(&mut h);
        h.finish()
    }

    /// LSN the next append gets.
    pub fn next_lsn(&self) -> u64 {
        self.base + self.log.len() as u64
    }

    pub fn entry(&self, lsn: u64) -> Option<&Entry> {
        lsn.checked_sub(self.base).and_then(|i| self.log.get(i as usize))
    }

    /// Drops everything after `lsn`.
    pub fn cut_after(&mut self, lsn: u64) {
        self.log.truncate(lsn.saturating_sub(self.base - 1) as usize);
    }

    /// A log recovered by open (everything in it durable) as the new model.
    pub fn from_recovered(log: &Recovered) -> Expect {
        let entries = log
            .records
            .iter()
            .map(|(kind, p)| Entry {
                seq: u64::from_le_bytes(p[..8].try_into().unwrap()),
                len: p.len() as u32,
                starts_unit: matches!(kind, RecordKind::Full | RecordKind::BatchFirst),
                ends_unit: kind.ends_unit(),
            })
            .collect();
        Expect {
            base: log.first,
            log: entries,
            floor: log.first,
            acked: log.first + log.records.len() as u64 - 1,
            purges: vec![log.first],
            metas: log.metas.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
            pending: None,
            reset_to: None,
        }
    }
}

/// A log as `Wal::open` recovered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub first: u64,
    pub records: Vec<(RecordKind, bytes::Bytes)>,
    pub metas: BTreeMap<bytes::Bytes, bytes::Bytes>,
}

impl Recovered {
    pub fn last(&self) -> u64 {
        self.first + self.records.len() as u64 - 1
    }

    /// Reads every record of an open log, checking LSNs are contiguous.
    pub fn read(wal: &Wal) -> Result<Recovered, String> {
        let first = wal.first_lsn().get();
        let iter = wal.iter_from(Lsn::new(first)).map_err(|e| format!("iter_from({first}) failed: {e}"))?;
        let mut log = Recovered::collect(first, iter)?;
        log.metas = wal.metas();
        if log.last() != wal.last_lsn().get() {
            return Err(format!("read up to LSN {} but last_lsn() is {}", log.last(), wal.last_lsn()));
        }
        Ok(log)
    }

    /// Reads the valid log with the offline `Reader` (which modifies nothing).
    pub fn read_offline(reader: &Reader) -> Result<Recovered, String> {
        let first = reader.first_lsn().get();
        let iter = reader.iter_from(Lsn::new(first)).map_err(|e| format!("Reader::iter_from({first}): {e}"))?;
        let mut log = Recovered::collect(first, iter)?;
        log.metas = reader.metas();
        if log.last() != reader.last_lsn().get() {
            return Err(format!("Reader read up to LSN {} but last_lsn() is {}", log.last(), reader.last_lsn()));
        }
        Ok(log)
    }

    fn collect(first: u64, iter: seawall::Iter) -> Result<Recovered, String> {
        match Recovered::collect_until_error(first, iter)? {
            (log, None) => Ok(log),
            (_, Some(e)) => Err(format!("reading the log failed: {e}")),
        }
    }

    /// Reads records until the iterator ends or fails (a damaged log may
    /// fail a read), checking LSNs are contiguous; returns the records read
    /// (and no metadata: the caller adds it) and the error, if any.
    pub fn collect_until_error(first: u64, iter: seawall::Iter) -> Result<(Recovered, Option<Error>), String> {
        let mut records = Vec::new();
        for (i, rec) in iter.enumerate() {
            let rec = match rec {
                Ok(rec) => rec,
                Err(e) => return Ok((Recovered { first, records, metas: BTreeMap::new() }, Some(e))),
            };
            if rec.lsn().get() != first + i as u64 {
                return Err(format!("record {} read where LSN {} was due", rec.lsn(), first + i as u64));
            }
            records.push((rec.kind(), rec.payload().clone()));
        }
        Ok((Recovered { first, records, metas: BTreeMap::new() }, None))
    }
}

/// Checks only the records a reader returned from a damaged log, not how
/// many: each is, bit-exact, the record the model holds at its LSN (never
/// one cut by `truncate_after`, never altered bytes).
pub fn check_records_only(e: &Expect, r: &Recovered) -> Result<(), String> {
    for (i, (kind, bytes)) in r.records.iter().enumerate() {
        let lsn = r.first + i as u64;
        let Some(want) = e.entry(lsn) else {
            return Err(format!("LSN {lsn} came back, but the log holds LSNs {}..{} only", e.base, e.next_lsn()));
        };
        let starts = matches!(kind, RecordKind::Full | RecordKind::BatchFirst);
        if bytes[..] != payload(want.seq, want.len)[..]
            || starts != want.starts_unit
            || kind.ends_unit() != want.ends_unit
        {
            let got = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
            return Err(format!(
                "LSN {lsn} came back as {kind:?} seq {got:?} ({} bytes), not as the record the log holds there (seq {}, {} bytes)",
                bytes.len(),
                want.seq,
                want.len
            ));
        }
    }
    Ok(())
}

/// What a damaged durable state came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DamageOutcome {
    /// Open brought back every acknowledged record.
    AllBack,
    /// Open or a read reported `Error::Corruption`.
    Reported,
    /// Damage at the frontier, and open came back shorter.
    FrontierLoss,
}

fn is_corruption(e: &Option<Error>) -> bool {
    matches!(e, Some(Error::Corruption { .. }))
}

/// Judges a durable image after media `damage` (the media-damage oracle):
/// every acknowledged record comes back bit-exact, or `Wal::open` fails with
/// `Error::Corruption`, or reading fails with `Error::Corruption`; never Ok
/// with fewer records, unless the damage touches the frontier. Whatever any
/// reader returns is the model's record at its LSN (a cut record never comes
/// back), in `Reader`, in the default open and in a salvage after a refusal;
/// and `Reader` does not call a log that lost acknowledged records merely
/// torn or clean.
pub fn check_damaged_state(
    dir: &Path,
    image: &Image,
    damage: &Damage,
    e: &Expect,
    opts: &Options,
) -> Result<DamageOutcome, String> {
    let excused = damage.in_frontier(image);
    materialize(image, dir);
    damage.apply(dir);
    // Reader first: it modifies nothing, so open can follow on the same
    // copy. Open's verdict is the one reported first.
    let before = files_of(dir);
    let reader = judge_reader(dir, e, excused);
    judge_open(dir, e, excused, opts, &before).and_then(|outcome| reader.map(|()| outcome))
}

/// Every file of `dir` with its bytes, except the lock file (its content is
/// no part of the log).
fn files_of(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name() != seawall::format::LOCK_FILE)
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap()))
        .collect()
}

/// The read-only view of a damaged log (what `seawall verify` and `dump`
/// show): its records are the model's, and if it lost acknowledged records
/// outside the frontier it says the log is corrupt.
fn judge_reader(dir: &Path, e: &Expect, excused: bool) -> Result<(), String> {
    let reader = match Reader::open(dir) {
        Ok(reader) => reader,
        Err(Error::Corruption { .. }) => return Ok(()),
        Err(err) => return Err(format!("Reader::open failed with {err}")),
    };
    let iter = reader.iter_from(reader.first_lsn()).map_err(|err| format!("Reader::iter_from: {err}"))?;
    let (r, err) = Recovered::collect_until_error(reader.first_lsn().get(), iter)?;
    check_records_only(e, &r).map_err(|m| format!("Reader: {m}"))?;
    let tail = &reader.inspection().tail;
    let reported = matches!(tail, TailState::Corrupt { .. }) || is_corruption(&err);
    if let Some(err) = err.filter(|_| !reported) {
        return Err(format!("Reader: reading failed with {err}, not Error::Corruption"));
    }
    if !reported && !excused && r.last() < e.acked && !e.is_reset_result(&r) {
        return Err(format!(
            "Reader shows LSNs up to {} and calls the log {tail:?}: acknowledged records {}..={} lost and not reported",
            r.last(),
            r.last() + 1,
            e.acked
        ));
    }
    Ok(())
}

/// `Wal::open` of a damaged log: every acknowledged record back, or
/// `Error::Corruption` from open or a read, or (frontier) a shorter log of
/// the model's records; after a refusal, salvage keeps only model records.
fn judge_open(
    dir: &Path,
    e: &Expect,
    excused: bool,
    opts: &Options,
    before: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<DamageOutcome, String> {
    let open =
        |mode: RecoveryMode| Wal::open_with(dir, opts.clone().recovery_mode(mode), Arc::new(PassThroughFs(NoSync)));
    let read = |wal: &Wal| {
        let iter = wal.iter_from(wal.first_lsn()).map_err(|err| format!("iter_from after open: {err}"))?;
        Recovered::collect_until_error(wal.first_lsn().get(), iter)
    };
    match open(RecoveryMode::TruncateTornTail) {
        Err(Error::Corruption { .. }) => {
            // A refused open (and the Reader before it) modified nothing;
            // salvage cuts at the damage, and what it keeps is still the
            // model's.
            if files_of(dir) != *before {
                return Err("open refused the log as corrupt, but changed its files".to_string());
            }
            let (wal, _) = open(RecoveryMode::Salvage).map_err(|err| format!("salvage open failed: {err}"))?;
            let (r, _) = read(&wal)?;
            check_records_only(e, &r).map_err(|m| format!("after salvage: {m}"))?;
            Ok(DamageOutcome::Reported)
        }
        Err(err) => Err(format!("open failed with {err}; a damaged log must open, or fail with Error::Corruption")),
        Ok((wal, _)) => match read(&wal)? {
            (r, Some(Error::Corruption { .. })) => {
                check_records_only(e, &r)?;
                Ok(DamageOutcome::Reported)
            }
            (_, Some(err)) => Err(format!("reading after open failed with {err}, not Error::Corruption")),
            (r, None) if excused => {
                check_records_only(e, &r)?;
                Ok(if r.last() >= e.acked { DamageOutcome::AllBack } else { DamageOutcome::FrontierLoss })
            }
            (r, None) => {
                check(e, &r).map_err(|m| format!("open returned Ok: {m}"))?;
                Ok(DamageOutcome::AllBack)
            }
        },
    }
}

/// Checks a recovered log against `e`: (1) every acknowledged record is back,
/// bit-exact, with its LSN; (2) the log is a gap-free run of the model log
/// with no phantom, stale or truncated-away record, and batches are whole.
///
/// While a `reset` runs, the empty log it leaves passes too. The metadata
/// is checked by [`check_metas`].
pub fn check(e: &Expect, r: &Recovered) -> Result<(), String> {
    if e.is_reset_result(r) {
        return Ok(());
    }
    let (first, last) = (r.first, r.last());
    // Purge points are exact and durable: the log starts at the model's
    // first LSN or, while `truncate_before` runs, at the point it sets.
    if !e.purges.contains(&first) {
        return Err(format!("log starts at LSN {first}; expected one of {:?}", e.purges));
    }
    if last > e.next_lsn() - 1 {
        return Err(format!("log ends at LSN {last}, past the last appended LSN {}", e.next_lsn() - 1));
    }
    // Even where truncate_before allowed records to go, the log must still
    // reach the last acknowledged LSN, or the next append would reuse it.
    if last < e.acked {
        return Err(format!("acknowledged records {}..={} are lost (log ends at {last})", last + 1, e.acked));
    }
    check_records_only(e, r)?;
    if let Some(e0) = e.entry(first) {
        // Only a purge point (truncate_before) may start the log inside a batch.
        if !e0.starts_unit && !e.purges.contains(&first) {
            return Err(format!("log starts at LSN {first}, inside an atomic batch"));
        }
    }
    if let Some(el) = e.entry(last) {
        if last >= first && !el.ends_unit {
            return Err(format!("log ends at LSN {last}, inside an atomic batch"));
        }
    }
    Ok(())
}

/// Checks a recovered log's metadata against `e`: every key holds the value
/// of its last completed `set_meta`, and no other key is set, except that
/// the key of a running `set_meta` may hold the value being set.
pub fn check_metas(e: &Expect, r: &Recovered) -> Result<(), String> {
    let got: Metas = r.metas.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    if got == e.metas {
        return Ok(());
    }
    if let Some((k, v)) = &e.pending {
        let mut new = e.metas.clone();
        new.insert(k.clone(), v.clone());
        if got == new {
            return Ok(());
        }
    }
    let show = |m: &Metas| {
        m.iter().map(|(k, v)| format!("{}={}b", String::from_utf8_lossy(k), v.len())).collect::<Vec<_>>().join(", ")
    };
    let pending = e.pending.as_ref().map(|(k, v)| format!("; being set: {}={}b", String::from_utf8_lossy(k), v.len()));
    Err(format!("metadata is {{{}}}, expected {{{}}}{}", show(&got), show(&e.metas), pending.unwrap_or_default()))
}

/// Opens a crash state with the real recovery and checks it: the oracle
/// (records, metadata, and reads of random LSNs and ranges); the offline
/// `Reader`, before recovery, must see the same log and read the same; a
/// second open must find the same log and nothing to repair.
pub fn check_crash_state(dir: &Path, image: &Image, e: &Expect, opts: &Options) -> Result<Recovered, String> {
    check_crash_state_report(dir, image, e, opts).map(|(r, _)| r)
}

/// [`check_crash_state`], with the report of the open that recovered it.
pub fn check_crash_state_report(
    dir: &Path,
    image: &Image,
    e: &Expect,
    opts: &Options,
) -> Result<(Recovered, seawall::RecoveryReport), String> {
    materialize(image, dir);
    // Which LSNs are read by LSN: random, but the same for the same state.
    let mut rng = Rng::new(super::crash::fingerprint(image) as u64 ^ e.fingerprint());
    let offline = match Reader::open(dir) {
        Ok(reader) => {
            // A pure crash state is never corruption, so every recovery mode
            // agrees with the default one: Strict refuses at most a torn tail,
            // and Salvage has nothing to quarantine.
            if let seawall::TailState::Corrupt { .. } = reader.inspection().tail {
                return Err(format!("a pure crash state was judged corrupt: {:?}", reader.inspection().tail));
            }
            let o = Recovered::read_offline(&reader)?;
            check_reads("Reader", &reader, e, (o.first, o.last()), &mut rng)?;
            Some(o)
        }
        Err(seawall::Error::NotALog { .. }) => None,
        Err(err) => return Err(format!("Reader::open failed on a pure crash state: {err}")),
    };
    let open = || Wal::open_with(dir, opts.clone(), Arc::new(PassThroughFs(NoSync)));
    let (wal, first_report) = open().map_err(|err| format!("open failed on a pure crash state: {err}"))?;
    let r = Recovered::read(&wal)?;
    check(e, &r)?;
    check_metas(e, &r)?;
    check_reads("Wal", &wal, e, (r.first, r.last()), &mut rng)?;
    if let Some(o) = offline.filter(|o| o != &r) {
        return Err(format!(
            "before recovery the Reader saw LSNs {}..={} ({} metadata entries); open recovered {}..={} ({})",
            o.first,
            o.last(),
            o.metas.len(),
            r.first,
            r.last(),
            r.metas.len()
        ));
    }
    drop(wal);
    let (wal, report) = open().map_err(|err| format!("second open failed: {err}"))?;
    let again = Recovered::read(&wal)?;
    if again != r {
        return Err(format!(
            "second open found LSNs {}..={} ({} metadata entries), first found {}..={} ({})",
            again.first,
            again.last(),
            again.metas.len(),
            r.first,
            r.last(),
            r.metas.len()
        ));
    }
    if !report.is_clean() || !report.actions.is_empty() {
        return Err(format!("second open repaired again: {report:?}"));
    }
    Ok((r, first_report))
}

/// One call of a workload: the operation indexes it spanned, and the model
/// while it ran and after it returned.
#[derive(Clone, Debug)]
pub struct Call {
    pub what: String,
    pub start: usize,
    pub end: usize,
    pub during: Expect,
    pub after: Expect,
}

/// The calls of a workload, for looking up the model at any crash point.
#[derive(Clone, Debug)]
pub struct History {
    pub initial: Expect,
    pub calls: Vec<Call>,
}

impl History {
    /// The model after `k` recorded operations (a crash right after op `k`).
    pub fn at(&self, k: usize) -> (&Expect, Option<&Call>) {
        match self.calls.iter().rposition(|c| c.start <= k) {
            None => (&self.initial, None),
            Some(i) => {
                let c = &self.calls[i];
                if k < c.end {
                    (&c.during, Some(c))
                } else {
                    (&c.after, Some(c))
                }
            }
        }
    }
}

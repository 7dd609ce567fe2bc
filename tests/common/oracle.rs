//! The crash oracle: what a recovered log may hold at a given point of a
//! workload, and the check of a recovered log against it.
//!
//! Payloads carry a unique sequence number, so a record cut by
//! `truncate_after` can never be mistaken for the one that replaced it.

use seawall::{Lsn, Reader, RecordKind, Wal};

/// One record of the model log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        p.push(x as u8);
    }
    p
}

/// What a recovered log may be at one point of a workload.
///
/// `log` holds the records LSN `base`, `base + 1`, ... that may come back
/// (a recovered log must be a contiguous run of it); it may start anywhere
/// from `base` to `floor` (whole segments before `floor` may have been removed
/// by `truncate_before`) and must reach at least `acked`.
#[derive(Clone, Debug)]
pub struct Expect {
    pub base: u64,
    pub log: Vec<Entry>,
    pub floor: u64,
    pub acked: u64,
}

impl Expect {
    /// The empty log of a fresh directory.
    pub fn empty() -> Expect {
        Expect { base: 1, log: Vec::new(), floor: 1, acked: 0 }
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
        Expect { base: log.first, log: entries, floor: log.first, acked: log.first + log.records.len() as u64 - 1 }
    }
}

/// A log as `Wal::open` recovered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub first: u64,
    pub records: Vec<(RecordKind, bytes::Bytes)>,
}

impl Recovered {
    pub fn last(&self) -> u64 {
        self.first + self.records.len() as u64 - 1
    }

    /// Reads every record of an open log, checking LSNs are contiguous.
    pub fn read(wal: &Wal) -> Result<Recovered, String> {
        let first = wal.first_lsn().get();
        let iter = wal.iter_from(Lsn::new(first)).map_err(|e| format!("iter_from({first}) failed: {e}"))?;
        let log = Recovered::collect(first, iter)?;
        if log.last() != wal.last_lsn().get() {
            return Err(format!("read up to LSN {} but last_lsn() is {}", log.last(), wal.last_lsn()));
        }
        Ok(log)
    }

    /// Reads the valid log with the offline `Reader` (which modifies nothing).
    pub fn read_offline(reader: &Reader) -> Result<Recovered, String> {
        let first = reader.first_lsn().get();
        let iter = reader.iter_from(Lsn::new(first)).map_err(|e| format!("Reader::iter_from({first}): {e}"))?;
        let log = Recovered::collect(first, iter)?;
        if log.last() != reader.last_lsn().get() {
            return Err(format!("Reader read up to LSN {} but last_lsn() is {}", log.last(), reader.last_lsn()));
        }
        Ok(log)
    }

    fn collect(first: u64, iter: seawall::Iter) -> Result<Recovered, String> {
        let mut records = Vec::new();
        for (i, rec) in iter.enumerate() {
            let rec = rec.map_err(|e| format!("reading the log failed: {e}"))?;
            if rec.lsn().get() != first + i as u64 {
                return Err(format!("record {} read where LSN {} was due", rec.lsn(), first + i as u64));
            }
            records.push((rec.kind(), rec.payload().clone()));
        }
        Ok(Recovered { first, records })
    }
}

/// Checks a recovered log against `e`: (1) every acknowledged record is back,
/// bit-exact, with its LSN; (2) the log is a gap-free run of the model log
/// with no phantom, stale or truncated-away record, and batches are whole.
pub fn check(e: &Expect, r: &Recovered) -> Result<(), String> {
    let (first, last) = (r.first, r.last());
    if first < e.base || first > e.floor.max(e.base) {
        return Err(format!("log starts at LSN {first}; expected between {} and {}", e.base, e.floor));
    }
    if last > e.next_lsn() - 1 {
        return Err(format!("log ends at LSN {last}, past the last appended LSN {}", e.next_lsn() - 1));
    }
    // Even where truncate_before allowed records to go, the log must still
    // reach the last acknowledged LSN, or the next append would reuse it.
    if last < e.acked {
        return Err(format!("acknowledged records {}..={} are lost (log ends at {last})", last + 1, e.acked));
    }
    for (i, (kind, bytes)) in r.records.iter().enumerate() {
        let lsn = first + i as u64;
        let want = e.entry(lsn).expect("in range");
        if bytes.len() != want.len as usize || bytes[..] != payload(want.seq, want.len)[..] {
            let got = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
            return Err(format!(
                "LSN {lsn}: payload of {} bytes (seq {got:?}) is not the appended one (seq {}, {} bytes)",
                bytes.len(),
                want.seq,
                want.len
            ));
        }
        let starts = matches!(kind, RecordKind::Full | RecordKind::BatchFirst);
        if starts != want.starts_unit || kind.ends_unit() != want.ends_unit {
            return Err(format!("LSN {lsn}: kind {kind:?} does not match the batch it was appended in"));
        }
    }
    if let Some(e0) = e.entry(first) {
        // Only a purge point (truncate_before) may start the log inside a batch.
        if !e0.starts_unit && first != e.floor {
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

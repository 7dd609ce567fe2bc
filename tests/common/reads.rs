//! Reads by LSN of a recovered log, checked against the oracle's model:
//! `read(lsn)` of random LSNs inside the log returns the model's record there
//! bit-exact, outside it `Error::LsnOutOfRange`, and `range` of a random
//! sub-range returns exactly the model's records, in order. The same checks
//! serve `Wal` and the offline `Reader`.

use seawall::{Error, Iter, Lsn, Reader, Record, Wal};

use super::oracle::{check_records_only, Expect, Recovered};
use super::Rng;

/// The reads by LSN that `Wal` and `Reader` both offer.
pub trait ReadByLsn {
    fn read(&self, lsn: Lsn) -> seawall::Result<Record>;
    fn range(&self, from: Lsn, to: Lsn) -> seawall::Result<Iter>;
}

impl ReadByLsn for Wal {
    fn read(&self, lsn: Lsn) -> seawall::Result<Record> {
        Wal::read(self, lsn)
    }
    fn range(&self, from: Lsn, to: Lsn) -> seawall::Result<Iter> {
        Wal::range(self, from..=to)
    }
}

impl ReadByLsn for Reader {
    fn read(&self, lsn: Lsn) -> seawall::Result<Record> {
        Reader::read(self, lsn)
    }
    fn range(&self, from: Lsn, to: Lsn) -> seawall::Result<Iter> {
        Reader::range(self, from..=to)
    }
}

/// LSNs read by LSN per check: few, so that checking every crash state
/// stays cheap; over tens of thousands of states every position is read.
const READS: usize = 3;

/// Checks `log`, which holds LSNs `first..=last` (`last` is `first - 1`
/// when it is empty), with reads of LSNs drawn from `rng`: each record read
/// is the model's record at its LSN; the LSNs just outside are out of range;
/// a random sub-range yields exactly its records. `who` names the reader.
pub fn check_reads(
    who: &str,
    log: &impl ReadByLsn,
    e: &Expect,
    (first, last): (u64, u64),
    rng: &mut Rng,
) -> Result<(), String> {
    for lsn in [first - 1, last + 1] {
        match log.read(Lsn::new(lsn)) {
            Err(Error::LsnOutOfRange { .. }) => {}
            other => {
                let got = other.map(|rec| rec.lsn());
                return Err(format!("{who}: read({lsn}) outside {first}..={last} gave {got:?}, not LsnOutOfRange"));
            }
        }
    }
    if last < first {
        return Ok(());
    }
    let span = last - first + 1;
    let one = |lsn: u64| -> Result<Record, String> {
        let rec = log.read(Lsn::new(lsn)).map_err(|err| format!("{who}: read({lsn}) of {first}..={last}: {err}"))?;
        if rec.lsn().get() != lsn {
            return Err(format!("{who}: read({lsn}) returned LSN {}", rec.lsn()));
        }
        Ok(rec)
    };
    for _ in 0..READS {
        let lsn = first + rng.below(span);
        let rec = one(lsn)?;
        let got =
            Recovered { first: lsn, records: vec![(rec.kind(), rec.payload().clone())], metas: Default::default() };
        check_records_only(e, &got).map_err(|m| format!("{who}: read({lsn}): {m}"))?;
    }
    let a = first + rng.below(span);
    let b = a + rng.below(last - a + 1);
    let iter = log.range(Lsn::new(a), Lsn::new(b)).map_err(|err| format!("{who}: range({a}..={b}): {err}"))?;
    let (got, err) = Recovered::collect_until_error(a, iter)?;
    if let Some(err) = err {
        return Err(format!("{who}: range({a}..={b}) failed after {} records: {err}", got.records.len()));
    }
    if got.last() != b {
        return Err(format!("{who}: range({a}..={b}) ended at LSN {}", got.last()));
    }
    check_records_only(e, &got).map_err(|m| format!("{who}: range({a}..={b}): {m}"))
}

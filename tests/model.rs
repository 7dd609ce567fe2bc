//! Guards the public contract as a whole: random sequences of append,
//! append_batch, sync, truncate_before, truncate_after, set_meta, reset,
//! reads of random LSNs and ranges, close-and-reopen and process crashes are
//! run against a plain `Vec` model (and a map of metadata), and after every
//! step the log must read back exactly as the model says: its records, its
//! exact first LSN and its metadata.
//!
//! quickcheck prints the shrunk failing sequence; the seed is printed first and
//! `SEAWALL_SEED=<n>` replays it; `QUICKCHECK_TESTS` raises the number of cases
//! (default 200 here).

#[path = "support/damage.rs"]
mod damage;

use std::collections::BTreeMap;
use std::ops::Bound;

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use seawall::{Error, Lsn, Options, Reader, Wal};

#[derive(Clone, Debug)]
enum Op {
    Append(u16),
    Batch(Vec<u16>),
    Sync,
    AppendDurable(u16),
    /// Truncate before the LSN at this fraction (0..=255) of the log.
    TruncateBefore(u8),
    /// Truncate after the LSN at this fraction of the log.
    TruncateAfter(u8),
    Reopen,
    /// A process crash: the files as they are, without close.
    Crash,
    /// Sets key `k{0 % 4}` to a value of this many bytes (up to 899).
    SetMeta(u8, u16),
    /// Resets the log to continue at `1 + n % (next LSN + 64)`: lower or
    /// higher than the records it drops.
    Reset(u16),
    /// Reads LSN `n % (next LSN + 3)`, in the log or outside it.
    Read(u16),
    /// A range of this kind (`0..7`, see `bounds`) between two LSNs picked
    /// like `Read`'s.
    Range(u8, u16, u16),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let size = |g: &mut Gen| u16::arbitrary(g) % 3000;
        match u8::arbitrary(g) % 22 {
            0..=4 => Op::Append(size(g)),
            5 | 6 => Op::Batch((0..1 + usize::arbitrary(g) % 4).map(|_| size(g)).collect()),
            7 | 8 => Op::Sync,
            9 | 10 => Op::AppendDurable(size(g)),
            11 => Op::TruncateBefore(u8::arbitrary(g)),
            12 => Op::TruncateAfter(u8::arbitrary(g)),
            13 | 14 => Op::Reopen,
            15 => Op::Crash,
            16 => Op::SetMeta(u8::arbitrary(g), u16::arbitrary(g) % 900),
            17 => Op::Reset(u16::arbitrary(g)),
            18 | 19 => Op::Read(u16::arbitrary(g)),
            _ => Op::Range(u8::arbitrary(g), u16::arbitrary(g), u16::arbitrary(g)),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Op>> {
        match self {
            Op::Batch(v) if v.len() > 1 => Box::new(std::iter::once(Op::Batch(v[..1].to_vec()))),
            _ => Box::new(std::iter::empty()),
        }
    }
}

struct Model {
    /// `(lsn, payload)` of every record still in the log.
    records: Vec<(u64, Vec<u8>)>,
    /// The log's first LSN: exactly the last purge point or reset.
    first: u64,
    next_lsn: u64,
    /// The last value set for each key.
    metas: BTreeMap<Vec<u8>, Vec<u8>>,
    durable: u64,
    /// LSNs at which a batch ends (to avoid truncating inside one).
    unit_ends: std::collections::BTreeSet<u64>,
}

fn body(lsn: u64, len: u16) -> Vec<u8> {
    (0..len as u64).map(|i| (lsn.wrapping_mul(31) ^ i) as u8).collect()
}

fn opts() -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

fn pick(m: &Model, frac: u8) -> u64 {
    let span = m.next_lsn - m.first;
    m.first + span * frac as u64 / 255
}

/// An LSN for a read: in the log, or up to three past its end, or before it.
fn any_lsn(m: &Model, n: u16) -> u64 {
    u64::from(n) % (m.next_lsn + 3)
}

/// The range bounds of kind `kind` between `a` and `b`.
fn bounds(kind: u8, a: u64, b: u64) -> (Bound<u64>, Bound<u64>) {
    use Bound::*;
    match kind % 7 {
        0 => (Included(a), Excluded(b)),
        1 => (Included(a), Included(b)),
        2 => (Included(a), Unbounded),
        3 => (Unbounded, Excluded(b)),
        4 => (Unbounded, Included(b)),
        5 => (Unbounded, Unbounded),
        _ => (Excluded(a), Included(b)),
    }
}

/// What a range selects, as documented: from its inclusive start (`first`
/// when open) to its inclusive end (the last LSN when open); `None` (out of
/// range) for a start before `first` or past the last LSN + 1, or an end
/// past the last LSN.
fn model_range(m: &Model, (start, end): (Bound<u64>, Bound<u64>)) -> Option<Vec<(u64, Vec<u8>)>> {
    let last = m.next_lsn - 1;
    let from = match start {
        Bound::Included(a) => a,
        Bound::Excluded(a) => a + 1,
        Bound::Unbounded => m.first,
    };
    let to = match end {
        Bound::Included(b) => Some(b),
        Bound::Excluded(b) => b.checked_sub(1),
        Bound::Unbounded => Some(last),
    };
    if from < m.first || from > last + 1 || to.is_some_and(|t| t > last) {
        return None;
    }
    Some(m.records.iter().filter(|r| r.0 >= from && to.is_some_and(|t| r.0 <= t)).cloned().collect())
}

/// Calls `range` with the range type `bounds` stands for.
fn wal_range(wal: &Wal, (start, end): (Bound<u64>, Bound<u64>)) -> seawall::Result<seawall::Iter> {
    use Bound::*;
    let l = Lsn::new;
    match (start, end) {
        (Included(a), Excluded(b)) => wal.range(l(a)..l(b)),
        (Included(a), Included(b)) => wal.range(l(a)..=l(b)),
        (Included(a), Unbounded) => wal.range(l(a)..),
        (Unbounded, Excluded(b)) => wal.range(..l(b)),
        (Unbounded, Included(b)) => wal.range(..=l(b)),
        (Unbounded, Unbounded) => wal.range(..),
        (s, e) => wal.range((s.map(l), e.map(l))),
    }
}

fn read_all(it: seawall::Result<seawall::Iter>) -> Result<Vec<(u64, Vec<u8>)>, String> {
    it.map_err(|e| e.to_string())?
        .map(|r| r.map(|r| (r.lsn().get(), r.payload().to_vec())))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

fn model_metas(m: &Model) -> BTreeMap<seawall::Bytes, seawall::Bytes> {
    m.metas.iter().map(|(k, v)| (seawall::Bytes::copy_from_slice(k), seawall::Bytes::copy_from_slice(v))).collect()
}

fn check(wal: &Wal, m: &Model) -> Result<(), String> {
    let (first, last) = (wal.first_lsn().get(), wal.last_lsn().get());
    if (first, last) != (m.first, m.next_lsn - 1) {
        return Err(format!("log holds {first}..={last}, model {}..={}", m.first, m.next_lsn - 1));
    }
    let got = read_all(wal.range(..))?;
    if got != m.records {
        return Err(format!("read {} records, model has {}", got.len(), m.records.len()));
    }
    if wal.metas() != model_metas(m) {
        return Err(format!("metadata {:?}, model {:?}", wal.metas(), m.metas));
    }
    Ok(())
}

/// The offline reader of a closed log sees what the model holds.
fn check_reader(dir: &std::path::Path, m: &Model) -> Result<(), String> {
    let r = Reader::open(dir).map_err(|e| e.to_string())?;
    let (first, last) = (r.first_lsn().get(), r.last_lsn().get());
    if (first, last) != (m.first, m.next_lsn - 1) {
        return Err(format!("Reader sees {first}..={last}, model {}..={}", m.first, m.next_lsn - 1));
    }
    if read_all(r.range(..))? != m.records || r.metas() != model_metas(m) {
        return Err("Reader reads other records or metadata".into());
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> TestResult {
    let mut dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(dir.path(), opts()).unwrap();
    let mut m = Model {
        records: Vec::new(),
        first: 1,
        next_lsn: 1,
        metas: BTreeMap::new(),
        durable: 0,
        unit_ends: Default::default(),
    };
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Append(len) | Op::AppendDurable(len) => {
                let lsn = m.next_lsn;
                let got = if matches!(op, Op::Append(_)) {
                    wal.append(&body(lsn, *len)).unwrap()
                } else {
                    m.durable = lsn;
                    wal.append_durable(&body(lsn, *len)).unwrap()
                };
                assert_eq!(got, Lsn::new(lsn));
                m.records.push((lsn, body(lsn, *len)));
                m.unit_ends.insert(lsn);
                m.next_lsn += 1;
            }
            Op::Batch(lens) => {
                let first = m.next_lsn;
                let bodies: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, l)| body(first + i as u64, *l)).collect();
                let r = wal.append_batch(bodies.iter().map(|b| &b[..])).unwrap();
                assert_eq!(*r.start(), Lsn::new(first));
                for b in bodies {
                    m.records.push((m.next_lsn, b));
                    m.next_lsn += 1;
                }
                m.unit_ends.insert(m.next_lsn - 1);
            }
            Op::Sync => {
                wal.sync(Lsn::new(m.next_lsn - 1)).unwrap();
                m.durable = m.next_lsn - 1;
            }
            Op::TruncateBefore(frac) => {
                let lsn = pick(&m, *frac);
                let first = wal.truncate_before(Lsn::new(lsn)).unwrap().get();
                if first != lsn.max(m.first) {
                    return TestResult::error(format!("step {step}: truncate_before({lsn}) returned {first}"));
                }
                m.first = first;
                m.records.retain(|r| r.0 >= first);
                m.durable = m.next_lsn - 1;
            }
            Op::TruncateAfter(frac) => {
                let first = m.first;
                let lsn = pick(&m, *frac).saturating_sub(1).max(first - 1);
                if lsn >= first && !m.unit_ends.contains(&lsn) {
                    let e = wal.truncate_after(Lsn::new(lsn)).unwrap_err();
                    assert!(matches!(e, seawall::Error::InsideBatch { .. }), "{e}");
                    continue;
                }
                wal.truncate_after(Lsn::new(lsn)).unwrap();
                m.records.retain(|r| r.0 <= lsn);
                m.unit_ends.retain(|&l| l <= lsn);
                m.next_lsn = lsn + 1;
                m.durable = lsn;
            }
            Op::Reopen => {
                wal.close().unwrap();
                if let Err(e) = check_reader(dir.path(), &m) {
                    return TestResult::error(format!("after step {step} ({op:?}): {e}"));
                }
                wal = Wal::open(dir.path(), opts()).unwrap().0;
                m.durable = m.next_lsn - 1;
            }
            Op::Crash => {
                let crashed = damage::snapshot(dir.path());
                drop(wal);
                dir = crashed;
                let (w, report) = Wal::open(dir.path(), opts()).unwrap();
                wal = w;
                // Records staged but never written are gone; everything
                // durable survived, and what survived is a prefix.
                let last = wal.last_lsn().get();
                if last < m.durable || last > m.next_lsn - 1 {
                    return TestResult::error(format!("step {step}: crash kept up to {last}, durable {}", m.durable));
                }
                let _ = report;
                m.records.retain(|r| r.0 <= last);
                m.unit_ends.retain(|&l| l <= last);
                m.next_lsn = last + 1;
                m.durable = last;
            }
            Op::SetMeta(k, len) => {
                let (key, value) = (format!("k{}", k % 4).into_bytes(), body(step as u64, *len));
                wal.set_meta(&key, &value).unwrap();
                m.metas.insert(key, value);
                m.durable = m.next_lsn - 1;
            }
            Op::Reset(n) => {
                let next = 1 + u64::from(*n) % (m.next_lsn + 64);
                wal.reset(Lsn::new(next)).unwrap();
                m.records.clear();
                m.unit_ends.clear();
                (m.first, m.next_lsn, m.durable) = (next, next, next - 1);
            }
            Op::Read(n) => {
                let lsn = any_lsn(&m, *n);
                let want = m.records.iter().find(|r| r.0 == lsn);
                match (wal.read(Lsn::new(lsn)), want) {
                    (Ok(r), Some(w)) if r.payload()[..] == w.1[..] && r.lsn().get() == lsn => {}
                    (Err(Error::LsnOutOfRange { lsn: l, first, last }), None)
                        if (l.get(), first.get(), last.get()) == (lsn, m.first, m.next_lsn - 1) => {}
                    (got, _) => {
                        let got = got.map(|r| r.lsn());
                        return TestResult::error(format!("step {step}: read({lsn}) gave {got:?}, model {want:?}"));
                    }
                }
            }
            Op::Range(kind, a, b) => {
                let b = bounds(*kind, any_lsn(&m, *a), any_lsn(&m, *b));
                let got = wal_range(&wal, b);
                match (model_range(&m, b), got) {
                    (Some(want), Ok(it)) => match read_all(Ok(it)) {
                        Ok(got) if got == want => {}
                        got => {
                            let n = got.map(|g| g.len());
                            return TestResult::error(format!(
                                "step {step}: range {b:?} read {n:?}, model {}",
                                want.len()
                            ));
                        }
                    },
                    (None, Err(Error::LsnOutOfRange { .. })) => {}
                    (want, got) => {
                        let (want, got) = (want.map(|w| w.len()), got.map(|_| "an iterator"));
                        return TestResult::error(format!("step {step}: range {b:?} gave {got:?}, model {want:?}"));
                    }
                }
            }
        }
        if let Err(e) = check(&wal, &m) {
            return TestResult::error(format!("after step {step} ({op:?}): {e}"));
        }
    }
    TestResult::passed()
}

#[test]
fn log_matches_vec_model() {
    let tests = std::env::var("QUICKCHECK_TESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed = std::env::var("SEAWALL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    // Printed before the run, so a failure (quickcheck panics with the shrunk
    // sequence) can be replayed exactly.
    println!("model test: {tests} cases, replay with SEAWALL_SEED={seed}");
    QuickCheck::new().tests(tests).rng(Gen::from_size_and_seed(60, seed)).quickcheck(run as fn(Vec<Op>) -> TestResult);
}

#[test]
fn regression_truncate_everything_then_append() {
    let ops = vec![Op::Append(10), Op::Append(20), Op::TruncateAfter(0), Op::Append(5), Op::Reopen, Op::Crash];
    assert!(!run(ops).is_failure());
}

#[test]
fn metadata_and_resets_survive_crashes_and_reopens() {
    use Op::*;
    let ops = vec![
        Append(100),
        SetMeta(0, 10),
        Batch(vec![5, 6]),
        Reset(2),
        Crash,
        SetMeta(1, 20),
        Append(7),
        Reset(500),
        Read(0),
        Range(2, 0, 0),
        Reopen,
        SetMeta(0, 899),
        TruncateAfter(0),
        Crash,
    ];
    let r = run(ops);
    assert!(!r.is_failure() && !r.is_error(), "{r:?}");
}

//! Random workloads of log operations, and running one against a `Wal` on a
//! recording file system while keeping the oracle's history.

use std::path::Path;
use std::sync::Arc;

use seawall::{Error, Lsn, Options, Wal};

use super::oracle::{payload, Call, Entry, Expect, History, Recovered};
use super::recording_fs::RecordingFs;
use super::Rng;

/// One step of a workload. LSN arguments are fractions (0..=255) of the
/// range valid when the step runs, so every workload is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Append(u32),
    Batch(Vec<u32>),
    AppendDurable(u32),
    Sync,
    TruncateBefore(u8),
    TruncateAfter(u8),
    Reopen,
}

/// A payload length: mostly small, sometimes big enough to force a rotation
/// of 64 KiB segments.
pub fn random_len(rng: &mut Rng) -> u32 {
    match rng.below(100) {
        0..=54 => 8 + rng.below(200) as u32,
        55..=84 => 200 + rng.below(4000) as u32,
        85..=94 => 4000 + rng.below(16_000) as u32,
        _ => 20_000 + rng.below(40_000) as u32,
    }
}

pub fn random_action(rng: &mut Rng) -> Action {
    match rng.below(100) {
        0..=29 => Action::Append(random_len(rng)),
        30..=41 => Action::Batch((0..2 + rng.below(3)).map(|_| random_len(rng).min(12_000)).collect()),
        42..=59 => Action::AppendDurable(random_len(rng)),
        60..=79 => Action::Sync,
        80..=86 => Action::TruncateBefore(rng.below(256) as u8),
        87..=94 => Action::TruncateAfter(rng.below(256) as u8),
        _ => Action::Reopen,
    }
}

pub fn random_workload(rng: &mut Rng, len: usize) -> Vec<Action> {
    (0..len).map(|_| random_action(rng)).collect()
}

/// Options for a workload: 64 KiB segments, no background thread (so the
/// order of operations is deterministic), and varied preallocation and
/// buffer sizes.
pub fn random_options(rng: &mut Rng) -> Options {
    let opts = Options::default().segment_size(64 * 1024).background_preallocation(false);
    let opts = opts.preallocate(rng.below(4) != 0);
    if rng.below(2) == 0 {
        opts.write_buffer_size(4096)
    } else {
        opts
    }
}

/// A workload that has run: the operations it recorded and its history.
pub struct Run {
    pub fs: RecordingFs,
    pub history: History,
}

/// Runs `actions` on the log in `dir` (whose files must equal the image the
/// recording file system `fs` was made with), starting with an open. The
/// first open's history expects `initial` while it runs, and the log it
/// recovers afterwards (so recovery itself can be crashed). Panics with a
/// message on any error or model mismatch; the caller adds the seed.
pub fn run(dir: &Path, opts: &Options, fs: &RecordingFs, initial: Expect, actions: &[Action]) -> Result<Run, String> {
    let mut h = History { initial: initial.clone(), calls: Vec::new() };
    let mut m = initial;
    let mut seq = m.log.iter().map(|e| e.seq + 1).max().unwrap_or(0).max(1 << 32);
    let mut wal = Some(open(dir, opts, fs, &mut h, &mut m)?);
    for (i, a) in actions.iter().enumerate() {
        let w = wal.as_ref().expect("open");
        let start = fs.op_count();
        let during;
        let what = format!("step {i}: {a:?}");
        let check_lsn = |got: Lsn, want: u64| {
            if got.get() == want {
                Ok(())
            } else {
                Err(format!("{what}: returned LSN {got}, model says {want}"))
            }
        };
        match a {
            Action::Append(len) | Action::AppendDurable(len) => {
                let want = m.next_lsn();
                m.log.push(Entry { seq, len: *len, starts_unit: true, ends_unit: true });
                during = m.clone();
                let p = payload(seq, *len);
                seq += 1;
                let lsn = if matches!(a, Action::Append(_)) { w.append(&p) } else { w.append_durable(&p) };
                check_lsn(lsn.map_err(|e| format!("{what}: {e}"))?, want)?;
                if matches!(a, Action::AppendDurable(_)) {
                    m.acked = want;
                }
            }
            Action::Batch(lens) => {
                let want = m.next_lsn();
                let ps: Vec<Vec<u8>> = lens
                    .iter()
                    .enumerate()
                    .map(|(j, &len)| {
                        m.log.push(Entry { seq, len, starts_unit: j == 0, ends_unit: j + 1 == lens.len() });
                        seq += 1;
                        payload(seq - 1, len)
                    })
                    .collect();
                during = m.clone();
                let range = w.append_batch(ps.iter().map(|p| &p[..])).map_err(|e| format!("{what}: {e}"))?;
                check_lsn(*range.start(), want)?;
            }
            Action::Sync => {
                during = m.clone();
                let last = m.next_lsn() - 1;
                w.sync(Lsn::new(last)).map_err(|e| format!("{what}: {e}"))?;
                m.acked = m.acked.max(last);
            }
            Action::TruncateBefore(frac) => {
                let (first, last) = (w.first_lsn().get(), m.next_lsn() - 1);
                let lsn = first + (last + 1 - first) * u64::from(*frac) / 255;
                m.floor = m.floor.max(lsn);
                m.purges.push(lsn);
                during = m.clone();
                let new_first = w.truncate_before(Lsn::new(lsn)).map_err(|e| format!("{what} ({lsn}): {e}"))?;
                if new_first.get() > lsn {
                    return Err(format!("{what}: truncate_before({lsn}) left first LSN {new_first}"));
                }
                m.acked = m.next_lsn() - 1; // it syncs everything first
            }
            Action::TruncateAfter(frac) => {
                let first = w.first_lsn().get();
                // Unit boundaries at or after first - 1.
                let cuts: Vec<u64> = std::iter::once(first - 1)
                    .chain((first..m.next_lsn()).filter(|&l| m.entry(l).is_some_and(|e| e.ends_unit)))
                    .collect();
                let lsn = cuts[(cuts.len() - 1) * usize::from(*frac) / 255];
                let mut d = m.clone();
                d.acked = d.acked.min(lsn);
                during = d;
                w.truncate_after(Lsn::new(lsn)).map_err(|e| format!("{what} ({lsn}): {e}"))?;
                m.cut_after(lsn);
                m.acked = lsn;
            }
            Action::Reopen => {
                during = m.clone();
                let old = wal.take().expect("open");
                old.close().map_err(|e| format!("{what}: close: {e}"))?;
                m.acked = m.next_lsn() - 1;
                h.calls.push(Call { what: what.clone(), start, end: fs.op_count(), during, after: m.clone() });
                wal = Some(open(dir, opts, fs, &mut h, &mut m)?);
                let r = Recovered::read(wal.as_ref().unwrap())?;
                if r.last() != m.next_lsn() - 1 {
                    return Err(format!("{what}: reopened a cleanly closed log ending at {}", r.last()));
                }
                continue;
            }
        }
        h.calls.push(Call { what, start, end: fs.op_count(), during, after: m.clone() });
    }
    drop(wal);
    Ok(Run { fs: fs.clone(), history: h })
}

/// Opens the log through `fs` as one call of the history. While recovery
/// runs the model is `m`; afterwards it is the log recovered, which must
/// itself pass `m`'s check.
fn open(dir: &Path, opts: &Options, fs: &RecordingFs, h: &mut History, m: &mut Expect) -> Result<Wal, String> {
    let start = fs.op_count();
    let during = m.clone();
    let (wal, _report) =
        Wal::open_with(dir, opts.clone(), Arc::new(fs.clone())).map_err(|e: Error| format!("open: {e}"))?;
    let r = Recovered::read(&wal)?;
    super::oracle::check(m, &r).map_err(|e| format!("open: recovered log fails the oracle: {e}"))?;
    let mut after = Expect::from_recovered(&r);
    after.floor = after.floor.max(m.floor.min(after.next_lsn()));
    after.purges.extend(&m.purges);
    *m = after.clone();
    h.calls.push(Call { what: "open".into(), start, end: fs.op_count(), during, after });
    Ok(wal)
}

//! Random workloads of log operations, and running one against a `Wal` on a
//! recording file system while keeping the oracle's history.

use std::path::Path;
use std::sync::Arc;

use seawall::{Error, Lsn, Options, Wal};

use super::oracle::{meta_value, payload, Call, Entry, Expect, History, Recovered};
use super::reads::check_reads;
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
    /// `set_meta` of key `key{n % 3}` to a value of this length (at most
    /// 1,000 bytes: three keys stay within the 4 KiB metadata limit of a
    /// 64 KiB segment).
    SetMeta(u8, u32),
    /// `reset` to an LSN from 1 to 8 past the next one, at this fraction.
    Reset(u8),
    /// `read` of LSNs and a `range`, drawn from this seed, checked against
    /// the model (a read may write buffered records, never sync them).
    Read(u8),
    /// `on_durable` of the last LSN, waiting for its callback.
    OnDurable,
}

/// How long a test waits for an `on_durable` callback before calling it a
/// hang.
pub const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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
        0..=26 => Action::Append(random_len(rng)),
        27..=37 => Action::Batch((0..2 + rng.below(3)).map(|_| random_len(rng).min(12_000)).collect()),
        38..=53 => Action::AppendDurable(random_len(rng)),
        54..=67 => Action::Sync,
        68..=70 => Action::OnDurable,
        71..=73 => Action::Read(rng.below(256) as u8),
        74..=80 => Action::TruncateBefore(rng.below(256) as u8),
        81..=88 => Action::TruncateAfter(rng.below(256) as u8),
        89..=93 => Action::SetMeta(rng.below(3) as u8, 8 + rng.below(993) as u32),
        94 | 95 => Action::Reset(rng.below(256) as u8),
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
    let opts = if rng.below(2) == 0 { opts.write_buffer_size(4096) } else { opts };
    // Small read blocks make the oracle's scans read ahead on a helper.
    match rng.below(3) {
        0 => opts.read_block_size(4096),
        1 => opts.read_block_size(4096).read_ahead(false),
        _ => opts,
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
    // Sequence numbers never repeat: not those of records, nor of values.
    let values = m.metas.values().chain(m.pending.as_ref().map(|p| &p.1));
    let value_seqs = values.map(|v| u64::from_le_bytes(v[..8].try_into().expect("8 bytes")) + 1);
    let mut seq = m.log.iter().map(|e| e.seq + 1).chain(value_seqs).max().unwrap_or(0).max(1 << 32);
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
                let (first, last) = (m.floor, m.next_lsn() - 1);
                let lsn = first + (last + 1 - first) * u64::from(*frac) / 255;
                let mut d = m.clone();
                d.floor = lsn;
                d.purges.push(lsn);
                during = d;
                let new_first = w.truncate_before(Lsn::new(lsn)).map_err(|e| format!("{what} ({lsn}): {e}"))?;
                if new_first.get() != lsn {
                    return Err(format!("{what}: truncate_before({lsn}) left first LSN {new_first}"));
                }
                m.purge_to(lsn);
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
            Action::SetMeta(key, len) => {
                let (k, v) = (format!("key{}", key % 3).into_bytes(), meta_value(seq, *len));
                seq += 1;
                let mut d = m.clone();
                d.pending = Some((k.clone(), v.clone()));
                during = d;
                w.set_meta(&k, &v).map_err(|e| format!("{what}: {e}"))?;
                m.metas.insert(k, v);
                // Every record appended before it is durable with it.
                m.acked = m.next_lsn() - 1;
            }
            Action::Reset(frac) => {
                let next = 1 + (m.next_lsn() + 7) * u64::from(*frac) / 255;
                let mut d = m.clone();
                d.reset_to = Some(next);
                during = d;
                w.reset(Lsn::new(next)).map_err(|e| format!("{what} ({next}): {e}"))?;
                m = Expect::empty_at(next, m.metas.clone());
            }
            Action::Read(seed) => {
                during = m.clone();
                let mut rng = super::Rng::new(u64::from(*seed) << 32 | i as u64);
                check_reads("Wal", w, &m, (m.floor, m.next_lsn() - 1), &mut rng).map_err(|e| format!("{what}: {e}"))?;
            }
            Action::OnDurable => {
                during = m.clone();
                let last = m.next_lsn() - 1;
                let (tx, rx) = std::sync::mpsc::channel();
                w.on_durable(Lsn::new(last), move |res| drop(tx.send(res)));
                let res = rx.recv_timeout(CALLBACK_TIMEOUT).map_err(|e| format!("{what}: no callback: {e}"))?;
                res.map_err(|e| format!("{what}: {e}"))?;
                m.acked = m.acked.max(last);
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
        check_live(wal.as_ref().expect("open"), &m).map_err(|e| format!("{what}: {e}"))?;
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
    super::oracle::check_metas(m, &r).map_err(|e| format!("open: recovered metadata fails the oracle: {e}"))?;
    // Purge points are exact and durable: the recovered log's first LSN is
    // the model's from here on. Records purged before it stay in the model
    // (after media damage they may come back whole), but not those a
    // `reset` dropped.
    let mut after = Expect::from_recovered(&r);
    if m.base < after.base && !m.is_reset_result(&r) {
        let purged = m.log[..(after.base - m.base) as usize].to_vec();
        after.log.splice(0..0, purged);
        after.base = m.base;
    }
    *m = after.clone();
    h.calls.push(Call { what: "open".into(), start, end: fs.op_count(), during, after });
    Ok(wal)
}

/// The open log agrees with the model after a step: its first and last LSN,
/// and its metadata.
fn check_live(w: &Wal, m: &Expect) -> Result<(), String> {
    let (first, last) = (w.first_lsn().get(), w.last_lsn().get());
    if (first, last) != (m.floor, m.next_lsn() - 1) {
        return Err(format!("the log holds LSNs {first}..={last}, the model {}..={}", m.floor, m.next_lsn() - 1));
    }
    let metas: super::oracle::Metas = w.metas().into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    if metas != m.metas {
        return Err(format!("metas() holds {} entries, the model {}", metas.len(), m.metas.len()));
    }
    Ok(())
}

//! `ops_model`: arbitrary sequences of appends, batches, syncs, truncations,
//! reads (one iterator may live across steps), reopens, crashes and media
//! damage, and the log-store calls (`set_meta`, `reset`, `read`, `range`,
//! `on_durable`), checked against a plain `Vec` model with its metadata.
//!
//! A crash copies the log directory while the `Wal` is still open (the page
//! cache a killed process leaves behind), then damages only bytes that were
//! not yet durable, as a power loss may: each 512-byte sector past the last
//! durable record is kept, zeroed or replaced, or the file is cut short. The
//! copy must recover to a prefix of the model that keeps every durable
//! record, ends on a batch boundary, and carries on from there.
//!
//! Media damage syncs everything, then flips bits or garbles sectors of a
//! copy anywhere in its segment files: the copy must bring back every record
//! or report corruption (unless the damage touches the frontier), and never
//! a record cut by `truncate_after`. A live iterator yields only records the
//! log holds at that moment (or held before `truncate_before` dropped them),
//! in LSN order, and ends early only with `Error::Truncated`.

use std::collections::BTreeMap;
use std::path::Path;

use seawall::{Error, Iter, Lsn, RecoveryMode, TailState, Wal};
use tempfile::TempDir;

use super::files::{media_damage, mutate, restore, snapshot, tempdir, touches_frontier, Region};
use super::input::Input;
use super::recover::{check_log, options, Expect, Promise};

const MAX_RECORD: u64 = 8 * 1024;

/// The log as it should be: records `first..first + recs.len()`.
struct Model {
    first: u64,
    /// Payload, and whether the record ends a unit (lone or last of a batch).
    recs: Vec<(Vec<u8>, bool)>,
    /// Every record up to here must be durable.
    durable: u64,
    /// Payloads of records `truncate_before` dropped: an iterator that was
    /// already running may still yield them, whole.
    purged: BTreeMap<u64, Vec<u8>>,
    /// Records cut from the log (by `truncate_after`, `reset` or a crash's
    /// recovery).
    cut: Vec<(u64, Vec<u8>)>,
    /// Every completed `set_meta`: durable once it returns.
    metas: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Model {
    fn last(&self) -> u64 {
        self.first + self.recs.len() as u64 - 1
    }

    fn ends_unit(&self, lsn: u64) -> bool {
        lsn + 1 == self.first || self.recs[(lsn - self.first) as usize].1
    }

    fn truncate_to(&mut self, last: u64) {
        let keep = (last + 1 - self.first) as usize;
        let first_cut = self.first + keep as u64;
        self.cut.extend(self.recs.drain(keep..).enumerate().map(|(i, r)| (first_cut + i as u64, r.0)));
        self.durable = self.durable.min(last);
    }

    /// What a copy of the log must recover to, after damage that `promise` describes.
    fn expect<'a>(&'a self, payloads: &'a [Vec<u8>], promise: Promise) -> Expect<'a> {
        Expect { first: self.first, payloads, purged: &self.purged, cut: &self.cut, promise }
    }
}

struct Log {
    dir: TempDir,
    wal: Option<Wal>,
    preallocate: bool,
    /// An iterator kept across steps.
    live: Option<Live>,
    /// The newest segment file (name and bytes) as it was when everything
    /// written was last durable: a crash damages no byte it shares with it.
    /// (Meta records, such as `set_meta`'s, lie past the last durable record,
    /// so the records' positions alone do not say where durable bytes end.)
    durable_tail: Option<(String, Vec<u8>)>,
}

/// An iterator created at one step and advanced at later ones.
struct Live {
    it: Iter,
    /// The LSN it is due to yield next.
    next: u64,
    /// The last LSN of the log when it was created.
    end: u64,
}

impl Log {
    fn wal(&self) -> &Wal {
        self.wal.as_ref().expect("the log is open")
    }

    fn open(&mut self) -> seawall::RecoveryReport {
        // 4 KiB read blocks: long ranges and live iterators read ahead.
        let opts = options()
            .preallocate(self.preallocate)
            .max_record_size(MAX_RECORD)
            .write_buffer_size(4096)
            .read_block_size(4096);
        let (wal, report) = Wal::open(self.dir.path(), opts).expect("open");
        self.wal = Some(wal);
        // Everything open keeps is durable when it returns.
        self.durable_tail = durable_tail(self.dir.path());
        report
    }
}

fn payload(lsn: u64, len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (lsn as usize ^ i).wrapping_mul(7).wrapping_add(usize::from(salt)) as u8).collect()
}

fn length(input: &mut Input) -> usize {
    match input.byte() % 16 {
        0 => 4000 + input.below(MAX_RECORD + 1024 - 4000) as usize,
        1..=3 => input.below(3000) as usize,
        _ => input.below(100) as usize,
    }
}

/// Runs one case.
pub fn ops_model(data: &[u8]) {
    let mut input = Input::new(data);
    let mut log = Log { dir: tempdir(), wal: None, preallocate: input.one_in(2), live: None, durable_tail: None };
    log.open();
    let mut m = Model {
        first: 1,
        recs: Vec::new(),
        durable: 0,
        purged: BTreeMap::new(),
        cut: Vec::new(),
        metas: BTreeMap::new(),
    };
    for step in 0..64 {
        if input.is_empty() {
            break;
        }
        let salt = step as u8;
        let op = input.byte();
        if op >= LOG_STORE_OPS {
            log_store_op(&mut log, &mut m, &mut input, op - LOG_STORE_OPS, salt);
            check_step(&mut log, &m, step);
            continue;
        }
        match op % 14 {
            0..=2 => append(&log, &mut m, &mut input, salt, false),
            3 => append(&log, &mut m, &mut input, salt, true),
            4 => batch(&log, &mut m, &mut input, salt),
            5 => {
                let to = lsn_arg(&mut input, m.last() + 3);
                let res = log.wal().sync(Lsn::new(to));
                if to > m.last() {
                    assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "sync({to}) past the end: {res:?}");
                } else {
                    res.expect("sync");
                    m.durable = m.durable.max(to);
                }
            }
            6 => truncate_before(&log, &mut m, &mut input),
            7 => truncate_after(&log, &mut m, &mut input),
            8 => read(&log, &mut m, &mut input),
            12 => live_iterator(&mut log, &m, &mut input),
            13 => media(&log, &mut m, &mut input),
            9 => {
                log.live = None;
                log.wal.take().expect("open").close().expect("close");
                let report = log.open();
                assert!(report.is_clean(), "a closed log reopens clean: {:?}", report.tail);
                assert_eq!((report.first_lsn.get(), report.last_lsn.get()), (m.first, m.last()));
                m.durable = m.last();
            }
            _ => crash(&mut log, &mut m, &mut input),
        }
        check_step(&mut log, &m, step);
    }
    let all = m.first;
    check_records(log.wal(), &m, all);
    log.live = None;
    log.wal.take().expect("open").close().expect("close");
    let model: Vec<Vec<u8>> = m.recs.iter().map(|r| r.0.clone()).collect();
    check_log(log.dir.path(), Some(&m.expect(&model, Promise::TornAtWorst(m.last()))));
}

/// The open log agrees with the model after a step; if everything it
/// wrote is durable, its newest segment is noted as durable.
fn check_step(log: &mut Log, m: &Model, step: usize) {
    let wal = log.wal();
    assert_eq!((wal.first_lsn().get(), wal.last_lsn().get()), (m.first, m.last()), "after step {step}");
    assert!(wal.durable_lsn().get() >= m.durable, "durable LSN went back");
    let metas: BTreeMap<Vec<u8>, Vec<u8>> = wal.metas().into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    assert!(metas == m.metas, "after step {step}: metas() holds {} entries, the model {}", metas.len(), m.metas.len());
    // Every call that leaves the last LSN durable (a sync, `set_meta`, a
    // truncation, `reset`, open) syncs all it wrote, meta records included.
    if wal.durable_lsn() == wal.last_lsn() {
        log.durable_tail = durable_tail(log.dir.path());
    }
}

/// The newest segment file, to note as durable.
fn durable_tail(dir: &Path) -> Option<(String, Vec<u8>)> {
    let mut files = snapshot(dir);
    let last = last_segment(&files);
    Some(files.swap_remove(last))
}

/// Op bytes from here up select a log-store call. The earlier ops take the
/// bytes below (by `% 14`), so inputs found before the log-store calls
/// existed replay as they did once their op bytes are moved below it.
const LOG_STORE_OPS: u8 = 224;

/// How long to wait for an `on_durable` callback before calling it a hang.
const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn log_store_op(log: &mut Log, m: &mut Model, input: &mut Input, k: u8, salt: u8) {
    match k % 8 {
        0..=2 => set_meta(log, m, input, salt),
        3 => reset(log, m, input),
        4 | 5 => read_lsn(log, m, input),
        6 => range(log, m, input),
        _ => on_durable(log, m, input),
    }
}

/// `set_meta` of one of three keys: durable, with every record before it,
/// once it returns.
fn set_meta(log: &Log, m: &mut Model, input: &mut Input, salt: u8) {
    let key = format!("k{}", input.below(3)).into_bytes();
    let value = payload(u64::from(key[1]), input.below(200) as usize, salt);
    log.wal().set_meta(&key, &value).expect("set_meta");
    m.metas.insert(key, value);
    m.durable = m.last();
}

/// `reset` to an LSN from 1 to 8 past the next one, or out of range: every
/// record is cut, and the log continues at `next` with its metadata.
fn reset(log: &mut Log, m: &mut Model, input: &mut Input) {
    let next = if input.one_in(16) { u64::MAX } else { 1 + input.below(m.last() + 8) };
    let res = log.wal().reset(Lsn::new(next));
    if next > seawall::format::MAX_LSN {
        assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "reset({next}): {res:?}");
        return;
    }
    res.expect("reset");
    let first = m.first;
    m.cut.extend(m.recs.drain(..).enumerate().map(|(i, r)| (first + i as u64, r.0)));
    m.cut.extend(std::mem::take(&mut m.purged));
    m.first = next;
    m.durable = next - 1;
}

/// `read` of an LSN from `first - 1` to `last + 1` (or the largest there is):
/// the model's record, or `LsnOutOfRange` outside the log.
fn read_lsn(log: &Log, m: &Model, input: &mut Input) {
    let lsn = if input.one_in(16) { u64::MAX } else { m.first - 1 + input.below(m.recs.len() as u64 + 3) };
    let res = log.wal().read(Lsn::new(lsn));
    match lsn.checked_sub(m.first).and_then(|i| m.recs.get(i as usize)) {
        Some((p, ends)) => {
            let rec = res.expect("read");
            assert_eq!(rec.lsn().get(), lsn);
            assert!(rec.payload()[..] == p[..], "read({lsn}) returns other bytes");
            assert_eq!(rec.kind().ends_unit(), *ends, "read({lsn}) has the wrong batch role");
        }
        None => assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "read({lsn}) outside the log: {res:?}"),
    }
}

/// `range` in each of its forms, over a random span of the log: exactly the
/// model's records, in order.
fn range(log: &Log, m: &Model, input: &mut Input) {
    let n = m.recs.len() as u64;
    let a = m.first + input.below(n + 1);
    let b = a + input.below(m.last() + 2 - a); // one past the last LSN wanted
    let wal = log.wal();
    let (it, from, to) = match input.below(4) {
        0 => (wal.range(Lsn::new(a)..Lsn::new(b)), a, b),
        1 if b > a => (wal.range(Lsn::new(a)..=Lsn::new(b - 1)), a, b),
        1 | 2 => (wal.range(..Lsn::new(b)), m.first, b),
        _ => (wal.range(Lsn::new(a)..), a, m.last() + 1),
    };
    let mut lsn = from;
    for rec in it.expect("range") {
        let rec = rec.expect("range read");
        assert_eq!(rec.lsn().get(), lsn, "range({from}..{to}) skipped");
        let want = &m.recs[(lsn - m.first) as usize];
        assert!(rec.payload()[..] == want.0[..], "range({from}..{to}): record {lsn} reads back other bytes");
        lsn += 1;
    }
    assert_eq!(lsn, to, "range({from}..{to}) ended early");
}

/// `on_durable` of an LSN up to one past the last: its callback runs once,
/// with Ok once the record is durable, or `LsnOutOfRange` past the end.
fn on_durable(log: &Log, m: &mut Model, input: &mut Input) {
    let lsn = m.first.saturating_sub(1) + input.below(m.recs.len() as u64 + 2);
    let (tx, rx) = std::sync::mpsc::channel();
    log.wal().on_durable(Lsn::new(lsn), move |res| tx.send(res).expect("the test waits"));
    let res = rx.recv_timeout(CALLBACK_TIMEOUT).expect("the callback runs");
    assert!(rx.recv_timeout(std::time::Duration::ZERO).is_err(), "a callback ran twice");
    if lsn > m.last() {
        assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "on_durable({lsn}) past the end: {res:?}");
    } else {
        res.expect("on_durable");
        m.durable = m.durable.max(lsn);
        assert!(log.wal().durable_lsn().get() >= lsn, "on_durable({lsn}) ran before it was durable");
    }
}

fn append(log: &Log, m: &mut Model, input: &mut Input, salt: u8, durable: bool) {
    let len = length(input);
    let p = payload(m.last() + 1, len, salt);
    let wal = log.wal();
    let res = if durable { wal.append_durable(&p) } else { wal.append(&p) };
    if len as u64 > MAX_RECORD {
        assert!(matches!(res, Err(Error::RecordTooLarge { .. })), "oversized append: {res:?}");
        return;
    }
    assert_eq!(res.expect("append").get(), m.last() + 1);
    m.recs.push((p, true));
    if durable {
        m.durable = m.last();
    }
}

fn batch(log: &Log, m: &mut Model, input: &mut Input, salt: u8) {
    let n = input.below(5) as usize;
    let next = m.last() + 1;
    let ps: Vec<Vec<u8>> = (0..n).map(|i| payload(next + i as u64, length(input) / 2, salt)).collect();
    let total: u64 = ps.iter().map(|p| p.len() as u64).sum();
    let res = log.wal().append_batch(ps.iter().map(|p| p.as_slice()));
    match res {
        _ if n == 0 => assert!(matches!(res, Err(Error::EmptyBatch)), "empty batch: {res:?}"),
        _ if total > MAX_RECORD => assert!(matches!(res, Err(Error::RecordTooLarge { .. })), "big batch: {res:?}"),
        Ok(r) => {
            assert_eq!((r.start().get(), r.end().get()), (next, next + n as u64 - 1));
            let last = ps.len() - 1;
            m.recs.extend(ps.into_iter().enumerate().map(|(i, p)| (p, i == last)));
        }
        Err(e) => panic!("batch of {n} ({total} bytes) failed: {e}"),
    }
}

/// An LSN argument below `n`, or now and then the largest there is (API
/// arguments must not overflow LSN arithmetic).
fn lsn_arg(input: &mut Input, n: u64) -> u64 {
    if input.one_in(16) {
        u64::MAX
    } else {
        input.below(n)
    }
}

fn truncate_before(log: &Log, m: &mut Model, input: &mut Input) {
    let to = lsn_arg(input, m.last() + 3);
    let res = log.wal().truncate_before(Lsn::new(to));
    if to > m.last() + 1 {
        assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "truncate_before({to}) past the end: {res:?}");
        return;
    }
    let first = res.expect("truncate_before").get();
    assert!(first >= m.first && first <= to.max(m.first), "truncate_before({to}) moved the start to {first}");
    for (i, (p, _)) in m.recs.drain(..(first - m.first) as usize).enumerate() {
        m.purged.insert(m.first + i as u64, p);
    }
    m.first = first;
    m.durable = m.last();
}

fn truncate_after(log: &Log, m: &mut Model, input: &mut Input) {
    // Mostly near the end, where consensus logs cut.
    let span = m.recs.len() as u64 + 2;
    let back = if input.one_in(4) { input.below(span) } else { input.below(4.min(span)) };
    let Some(to) = (m.last() + 1).checked_sub(back) else { return };
    let to = if input.one_in(16) { u64::MAX } else { to };
    let res = log.wal().truncate_after(Lsn::new(to));
    if to < m.first - 1 || to > m.last() {
        assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "truncate_after({to}) out of range: {res:?}");
    } else if !m.ends_unit(to) {
        assert!(matches!(res, Err(Error::InsideBatch { .. })), "truncate_after({to}) inside a batch: {res:?}");
        m.durable = m.last();
    } else {
        res.expect("truncate_after");
        m.truncate_to(to);
        m.durable = to;
    }
}

fn read(log: &Log, m: &mut Model, input: &mut Input) {
    if input.one_in(16) {
        let res = log.wal().iter_from(Lsn::new(u64::MAX));
        assert!(matches!(res, Err(Error::LsnOutOfRange { .. })), "iter_from(u64::MAX): {:?}", res.map(drop));
    }
    let from = m.first + input.below(m.recs.len() as u64 + 1);
    check_records(log.wal(), m, from);
    // No durability is assumed from a read: a read may write records
    // without syncing them (only `durable_lsn()` says what it synced).
}

/// Creates the live iterator, or advances it a few records, checking each
/// against the log as it is now.
fn live_iterator(log: &mut Log, m: &Model, input: &mut Input) {
    let Some(live) = log.live.as_mut() else {
        let from = m.first + input.below(m.recs.len() as u64 + 1);
        let it = log.wal().iter_from(Lsn::new(from)).expect("iter_from");
        log.live = Some(Live { it, next: from, end: m.last() });
        return;
    };
    for _ in 0..1 + input.below(8) {
        match live.it.next() {
            None => {
                let (next, end) = (live.next, live.end);
                assert!(next > end, "a live iterator ended at LSN {} without an error, short of {end}", next - 1);
                log.live = None;
                return;
            }
            Some(Ok(rec)) => {
                let lsn = rec.lsn().get();
                assert_eq!(lsn, live.next, "a live iterator skipped to LSN {lsn}");
                let held = match lsn.checked_sub(m.first) {
                    Some(i) => m.recs.get(i as usize).map(|r| &r.0),
                    None => m.purged.get(&lsn),
                };
                assert!(
                    held.is_some_and(|p| p[..] == rec.payload()[..]),
                    "a live iterator yielded LSN {lsn} with bytes the log no longer holds there (a cut record?)"
                );
                live.next += 1;
            }
            Some(Err(e)) if is_truncated(&e) => {
                assert!(live.it.next().is_none(), "a live iterator went on after Error::Truncated");
                log.live = None;
                return;
            }
            Some(Err(e)) => panic!("a live iterator failed with {e:?}, not Error::Truncated"),
        }
    }
}

/// `Error::Truncated`: the record an iterator was about to yield was cut
/// from the log.
fn is_truncated(e: &Error) -> bool {
    matches!(e, Error::Truncated { .. })
}

/// Syncs everything, damages durable bytes of a copy of the log like failing
/// media, and checks the copy; the log itself goes on undamaged.
fn media(log: &Log, m: &mut Model, input: &mut Input) {
    log.wal().sync(Lsn::new(m.last())).expect("sync");
    m.durable = m.last();
    let mut files = snapshot(log.dir.path());
    let undamaged = files.clone();
    let touched = media_damage(input, &mut files, 3);
    let promise =
        if touches_frontier(&undamaged, &touched) { Promise::Frontier } else { Promise::KeptOrReported(m.last()) };
    let copy = tempdir();
    restore(&files, copy.path());
    let model: Vec<Vec<u8>> = m.recs.iter().map(|r| r.0.clone()).collect();
    check_log(copy.path(), Some(&m.expect(&model, promise)));
}

fn check_records(wal: &Wal, m: &Model, from: u64) {
    let mut lsn = from;
    for rec in wal.iter_from(Lsn::new(from)).expect("iter_from") {
        let rec = rec.expect("read back");
        assert_eq!(rec.lsn().get(), lsn);
        let want = &m.recs[(lsn - m.first) as usize];
        assert!(rec.payload().as_ref() == want.0.as_slice(), "record {lsn} reads back other bytes");
        assert_eq!(rec.kind().ends_unit(), want.1, "record {lsn} has the wrong batch role");
        lsn += 1;
    }
    assert_eq!(lsn, m.last() + 1, "iteration ends at the last record");
}

/// Copies the log as a crash would leave it, damages what was not durable,
/// and continues on the copy.
fn crash(log: &mut Log, m: &mut Model, input: &mut Input) {
    let wal = log.wal();
    let durable = wal.durable_lsn().get();
    let files = snapshot(log.dir.path());
    // Where durable bytes end: after record `durable` if it is in the last
    // segment, else at the last segment's header (every earlier segment was
    // synced before the last one was started).
    // (Salvage may have left quarantine files, named after a segment.)
    let last = last_segment(&files);
    let last_id = seawall::SegmentId::from_file_name(&files[last].0).expect("segment name");
    let mut from = seawall::format::SEGMENT_HEADER_LEN;
    if durable >= m.first {
        // (`iter_from` syncs the live log, which the snapshot no longer sees;
        // only the record's position is taken from it.)
        if let Some(Ok(rec)) = wal.iter_from(Lsn::new(durable)).expect("iter_from").next() {
            if rec.segment() == last_id {
                from = rec.offset() as usize + seawall::format::record_size(rec.payload().len() as u64) as usize;
            }
        }
    }
    let mut files = files;
    if let Some((_, bytes)) = log.durable_tail.as_ref().filter(|t| t.0 == files[last].0) {
        let now = &files[last].1;
        let same = now.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(now.len().min(bytes.len()));
        from = from.max(same);
    }
    log.durable_tail = None;
    let region = Region::After { file: last, from };
    if log.preallocate {
        // A preallocated file's length was synced when it was made: no cut.
        mutate_no_truncate(input, &mut files, last, region);
    } else {
        mutate(input, &mut files, region, 6);
    }
    log.live = None;
    log.wal.take().expect("open");
    let dir = tempdir();
    restore(&files, dir.path());
    log.dir = dir;
    let report = log.open();
    assert!(!matches!(report.tail, TailState::Corrupt { .. }));
    let (first, recovered) = (report.first_lsn.get(), report.last_lsn.get());
    assert_eq!(first, m.first, "a crash moved the start of the log");
    assert!(recovered >= durable.max(m.durable), "durable record lost: recovered to {recovered}, durable {durable}");
    assert!(recovered <= m.last(), "phantom records after a crash: {recovered} > {}", m.last());
    assert!(m.ends_unit(recovered), "recovery split a batch at {recovered}");
    m.truncate_to(recovered);
    m.durable = recovered;
    check_records(log.wal(), m, m.first);
    check_strict_reopen(log.dir.path());
}

fn mutate_no_truncate(input: &mut Input, files: &mut super::files::Snapshot, f: usize, region: Region) {
    let len = files[f].1.len();
    mutate(input, files, region, 6);
    files[f].1.resize(len, 0);
}

/// The index of the newest segment file in `files` (sorted by name).
fn last_segment(files: &super::files::Snapshot) -> usize {
    files.iter().rposition(|f| seawall::SegmentId::from_file_name(&f.0).is_some()).expect("a segment")
}

/// Recovery left nothing for the next open to do: a strict dry run (which
/// takes no lock) finds the log clean.
fn check_strict_reopen(dir: &Path) {
    let report = Wal::plan_recovery(dir, &options().recovery_mode(RecoveryMode::Strict)).expect("plan");
    assert!(report.is_clean(), "recovery left work for the next open: {:?}", report.tail);
}

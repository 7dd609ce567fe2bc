//! Read-ahead (`Options::read_ahead`): a long scan reads its next block on a
//! helper thread. It must change nothing but speed: the same records, the
//! same errors at the same places (damage, unreadable sectors), and live
//! iterators that still never yield a record a truncation removed while the
//! helper was reading ahead of them.
//!
//! The logs here use 4 KiB read blocks, so that a scan of a few segments of
//! 64 KiB reads dozens of blocks and the helper is busy all along; each
//! test checks through `Stats::blocks_read_ahead` that it was. A watchdog
//! fails a test that hangs (a helper and an iterator waiting on each
//! other) instead of hanging the run.

mod common;

#[path = "support/probe_fs.rs"]
mod probe_fs;
#[path = "support/watchdog.rs"]
mod watchdog;

use std::path::Path;
use std::sync::Arc;

use common::damage::flip_bit;
use common::{scratch_dir, Rng};
use probe_fs::{ProbeFs, EIO};
use seawall::{Error, Iter, Lsn, Options, Reader, Wal};

fn opts(ahead: bool) -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false).read_block_size(4096).read_ahead(ahead)
}

/// Payload of record `lsn` in generation `gen` (records appended after a
/// cut are a new generation).
fn payload(lsn: u64, gen: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (lsn as usize).wrapping_mul(31).wrapping_add(i).wrapping_add(usize::from(gen) * 97) as u8)
        .collect()
}

/// Sizes from empty to larger than 16 read blocks, most of them small.
fn size(rng: &mut Rng) -> usize {
    match rng.below(20) {
        0 => 20_000 + rng.below(40_000) as usize,
        1..=3 => rng.below(6000) as usize,
        _ => rng.below(300) as usize,
    }
}

/// What a scan saw: every record's identity and bytes, then how it ended.
#[derive(Debug, PartialEq)]
struct Scan {
    records: Vec<(u64, u64, u64, Vec<u8>)>,
    end: Option<String>,
}

fn scan(it: Iter) -> Scan {
    let mut records = Vec::new();
    for item in it {
        match item {
            Ok(r) => records.push((r.lsn().get(), r.segment().get(), r.offset(), r.payload().to_vec())),
            Err(e) => return Scan { records, end: Some(describe(&e)) },
        }
    }
    Scan { records, end: None }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Io { op, source, .. } => format!("io {op} {:?}", source.raw_os_error()),
        other => format!("{other}"),
    }
}

/// Builds a log of several segments with batches, metadata, cuts within
/// and across segments and a purge; returns the payloads it holds.
fn build(dir: &Path, seed: u64) -> Vec<(u64, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    let (wal, _) = Wal::open(dir, opts(false)).unwrap();
    let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
    // Whether each record of the model ends a unit (a lone record or the
    // last of a batch).
    let mut ends: Vec<bool> = Vec::new();
    let mut gen = 0u8;
    for step in 0..400u64 {
        let next = wal.last_lsn().get() + 1;
        match rng.below(40) {
            0 if model.len() > 10 => {
                // A cut at the end of a unit (a cut inside a batch is refused).
                let back = model.len() - 1 - rng.below(8) as usize;
                if let Some(keep) = (0..=back).rev().find(|&k| ends[k]) {
                    wal.truncate_after(Lsn::new(model[keep].0)).unwrap();
                    model.truncate(keep + 1);
                    ends.truncate(keep + 1);
                    gen += 1;
                }
            }
            1 => wal.set_meta(b"step", &step.to_le_bytes()).unwrap(),
            2 => {
                let ps: Vec<Vec<u8>> = (0..3).map(|i| payload(next + i, gen, size(&mut rng))).collect();
                wal.append_batch(ps.iter().map(|p| p.as_slice())).unwrap();
                model.extend(ps.into_iter().enumerate().map(|(i, p)| (next + i as u64, p)));
                ends.extend([false, false, true]);
            }
            3 => {
                wal.sync(wal.last_lsn()).unwrap();
            }
            _ => {
                let p = payload(next, gen, size(&mut rng));
                assert_eq!(wal.append(&p).unwrap().get(), next);
                model.push((next, p));
                ends.push(true);
            }
        }
    }
    let purge = model[model.len() / 5].0;
    wal.truncate_before(Lsn::new(purge)).unwrap();
    model.retain(|(l, _)| *l >= purge);
    wal.close().unwrap();
    assert!(wal_segments(dir) >= 4, "the log spans several segments");
    model
}

fn wal_segments(dir: &Path) -> usize {
    Reader::open(dir).unwrap().inspection().segments.len()
}

/// Scans the whole log and a few ranges of it, with and without read-ahead;
/// returns the scans of each (whole log first).
fn scans(dir: &Path, ahead: bool, rng: &mut Rng) -> (Vec<Scan>, u64) {
    let (wal, _) = Wal::open(dir, opts(ahead)).unwrap();
    let (first, last) = (wal.first_lsn().get(), wal.last_lsn().get());
    let mut out = vec![scan(wal.iter_from(Lsn::new(first)).unwrap())];
    for _ in 0..8 {
        let a = first + rng.below(last - first + 1);
        let b = a + rng.below(last - a + 1);
        out.push(match wal.range(Lsn::new(a)..=Lsn::new(b)) {
            Ok(it) => scan(it),
            Err(e) => Scan { records: Vec::new(), end: Some(describe(&e)) },
        });
    }
    let taken = wal.stats().blocks_read_ahead;
    wal.close().unwrap();
    (out, taken)
}

/// Every scan yields the same records with read-ahead as without it, and
/// they are the records the log holds.
#[test]
fn read_ahead_yields_exactly_what_reading_alone_yields() {
    let _dog = watchdog::Watchdog::start("read_ahead_yields_exactly_what_reading_alone_yields", String::new());
    for seed in 1..=4 {
        let tmp = scratch_dir("seawall-ahead-");
        let model = build(tmp.path(), seed);
        let (alone, none) = scans(tmp.path(), false, &mut Rng::new(seed));
        let (ahead, taken) = scans(tmp.path(), true, &mut Rng::new(seed));
        assert_eq!(none, 0, "seed {seed}: no read-ahead when it is off");
        assert!(taken > 20, "seed {seed}: the scans took {taken} blocks from the read-ahead");
        assert_eq!(ahead, alone, "seed {seed}");
        let whole = &ahead[0];
        assert_eq!(whole.end, None, "seed {seed}");
        let got: Vec<(u64, Vec<u8>)> = whole.records.iter().map(|r| (r.0, r.3.clone())).collect();
        assert_eq!(got, model, "seed {seed}: the records of the log");
    }
}

/// Damage inside sealed segments, which open trusts through their trailers:
/// a scan reports it at the same record, with the same error, with
/// read-ahead as without, after yielding the same records before it.
#[test]
fn read_ahead_reports_damage_where_reading_alone_does() {
    let _dog = watchdog::Watchdog::start("read_ahead_reports_damage_where_reading_alone_does", String::new());
    let tmp = scratch_dir("seawall-ahead-");
    let model = build(tmp.path(), 7);
    let reader = Reader::open(tmp.path()).unwrap();
    let all: Vec<(u64, u64)> = reader
        .iter_from(reader.first_lsn())
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (r.segment().get(), r.offset()))
        .collect();
    // Records of segments open trusts through their trailers (it walks the
    // others, and would find the damage itself).
    let trusted: Vec<u64> = reader.inspection().segments.iter().filter(|s| s.trusted).map(|s| s.id.get()).collect();
    let places: Vec<(u64, u64)> = all.into_iter().filter(|p| trusted.contains(&p.0)).collect();
    drop(reader);
    assert!(places.len() > 100, "sealed segments hold many records");
    let mut rng = Rng::new(7);
    for case in 0..12 {
        let copy = scratch_dir("seawall-ahead-copy-");
        for e in std::fs::read_dir(tmp.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
        let (seg, off) = places[rng.below(places.len() as u64) as usize];
        let at = off + rng.below(40);
        let path = copy.path().join(seawall::SegmentId::new(seg).file_name());
        flip_bit(&path, at, rng.below(8) as u8);
        let (alone, _) = scans(copy.path(), false, &mut Rng::new(case));
        let (ahead, taken) = scans(copy.path(), true, &mut Rng::new(case));
        assert!(taken > 0, "case {case}");
        assert_eq!(ahead, alone, "case {case}: segment {seg}, offset {at}");
        assert!(alone[0].end.is_some(), "case {case}: the damage at segment {seg}, offset {at} is reported");
        assert!(alone[0].records.len() < model.len(), "case {case}");
    }
}

/// An unreadable sector in a sealed segment, read ahead by the helper
/// before the iterator reaches it: the records before it are yielded, and
/// the record touching it fails with the `EIO`, as without read-ahead.
#[test]
fn read_ahead_over_an_unreadable_sector_fails_only_the_record_touching_it() {
    let _dog = watchdog::Watchdog::start(
        "read_ahead_over_an_unreadable_sector_fails_only_the_record_touching_it",
        String::new(),
    );
    let tmp = scratch_dir("seawall-ahead-");
    build(tmp.path(), 11);
    let reader = Reader::open(tmp.path()).unwrap();
    let mut recs: Vec<(u64, seawall::SegmentId, u64)> = reader
        .iter_from(reader.first_lsn())
        .unwrap()
        .map(|r| r.unwrap())
        .map(|r| (r.lsn().get(), r.segment(), r.offset()))
        .collect();
    // Records of segments open trusts through their trailers.
    let trusted: Vec<_> = reader.inspection().segments.iter().filter(|s| s.trusted).map(|s| s.id).collect();
    recs.retain(|r| trusted.contains(&r.1));
    drop(reader);
    let (lsn, seg, off) = recs[recs.len() * 2 / 3];
    let path = tmp.path().join(seg.file_name());
    let run = |ahead: bool| {
        let fs = ProbeFs::new();
        fs.make_unreadable(&path, off + 8..off + 9);
        let (wal, _) = Wal::open_with(tmp.path(), opts(ahead), Arc::new(fs)).unwrap();
        let s = scan(wal.iter_from(wal.first_lsn()).unwrap());
        let taken = wal.stats().blocks_read_ahead;
        wal.close().unwrap();
        (s, taken)
    };
    let (alone, _) = run(false);
    let (ahead, taken) = run(true);
    assert!(taken > 0);
    assert_eq!(ahead, alone);
    assert_eq!(alone.records.last().map(|r| r.0 + 1), Some(lsn), "the records before the bad sector");
    assert_eq!(alone.end, Some(format!("io read {:?}", Some(EIO))));
}

/// Live iterators with the helper reading ahead of them while the log is
/// cut behind, inside and ahead of them, purged and appended to: each
/// yields, in LSN order, only records the log holds (or held before a
/// purge) with the bytes it holds, and ends early only with
/// `Error::Truncated`, once.
#[test]
fn live_iterators_reading_ahead_never_yield_cut_records() {
    let _dog = watchdog::Watchdog::start("live_iterators_reading_ahead_never_yield_cut_records", String::new());
    let mut taken = 0;
    for seed in 1..=6u64 {
        let mut rng = Rng::new(seed * 1000);
        let tmp = scratch_dir("seawall-ahead-");
        let (wal, _) = Wal::open(tmp.path(), opts(true)).unwrap();
        // The payload the log holds (or held before a purge) at each LSN.
        let mut held: Vec<Vec<u8>> = vec![Vec::new()];
        let mut gen = 0u8;
        for lsn in 1..=600u64 {
            let p = payload(lsn, gen, size(&mut rng) % 3000);
            wal.append(&p).unwrap();
            held.push(p);
        }
        wal.sync(wal.last_lsn()).unwrap();
        let mut it = wal.iter_from(Lsn::new(1)).unwrap();
        let mut next = 1u64;
        let mut ended = false;
        for round in 0..40 {
            for _ in 0..rng.below(40) {
                match it.next() {
                    Some(Ok(r)) => {
                        let lsn = r.lsn().get();
                        assert_eq!(lsn, next, "seed {seed} round {round}: LSN order");
                        assert!(
                            held.get(lsn as usize).is_some_and(|p| p[..] == r.payload()[..]),
                            "seed {seed} round {round}: LSN {lsn} yielded with bytes the log does not hold"
                        );
                        next += 1;
                    }
                    Some(Err(e)) => {
                        assert!(matches!(e, Error::Truncated { .. }), "seed {seed} round {round}: {e}");
                        assert!(it.next().is_none(), "seed {seed}: the iterator went on after Error::Truncated");
                        ended = true;
                        break;
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if ended {
                break;
            }
            let last = wal.last_lsn().get();
            match rng.below(4) {
                0 => {
                    // A cut ahead of, at or behind the iterator.
                    let cut = (next + rng.below(200)).saturating_sub(100).clamp(wal.first_lsn().get(), last);
                    wal.truncate_after(Lsn::new(cut)).unwrap();
                    gen += 1;
                    held.truncate(cut as usize + 1);
                    for lsn in cut + 1..=cut + rng.below(60) {
                        let p = payload(lsn, gen, size(&mut rng) % 3000);
                        wal.append(&p).unwrap();
                        held.push(p);
                    }
                }
                1 => {
                    let to = (next + rng.below(50)).saturating_sub(25).clamp(wal.first_lsn().get(), last);
                    wal.truncate_before(Lsn::new(to)).unwrap();
                }
                _ => {
                    for lsn in last + 1..=last + rng.below(30) {
                        let p = payload(lsn, gen, size(&mut rng) % 3000);
                        wal.append(&p).unwrap();
                        held.push(p);
                    }
                }
            }
        }
        taken += wal.stats().blocks_read_ahead;
        drop(it);
        wal.close().unwrap();
    }
    assert!(taken > 20, "the iterators took {taken} blocks from the read-ahead");
}

//! Guards truncation. Records cut by a completed `truncate_after` stay cut
//! whatever single byte of the log directory is damaged afterwards, and
//! whoever reads it: `Wal::open` in every recovery mode, `Reader`, and
//! `seawall dump`. Iterators created before a truncation yield only records
//! still in the log, or end with `Error::Truncated`: never an I/O error for
//! a file the log removed, never a cut record. Records read before a
//! truncation keep their payloads.

#[path = "support/spawn_turn.rs"]
mod spawn_turn;

mod common;
#[path = "support/v2.rs"]
mod v2;

use common::damage;
use std::collections::BTreeMap;
use std::path::Path;

use common::recording_fs::{materialize, Image};
use common::scratch_dir;
use damage::{dir_contents, flip_bit};
use seawall::format::{LOCK_FILE, SEGMENT_HEADER_LEN};
use seawall::{Error, Iter, Lsn, Options, Reader, Record, RecoveryMode, Wal};

fn opts(preallocate: bool) -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false).preallocate(preallocate)
}

/// Payload of record `lsn` appended before (`after_cut == false`) or after
/// the cut: the two never match.
fn text(lsn: u64, after_cut: bool) -> Vec<u8> {
    let when = if after_cut { "after" } else { "before" };
    format!("record {lsn:02} appended {when:>6} the cut").into_bytes()
}

/// A log after `truncate_after(5)` and a clean close: what may come back
/// (LSN -> payload) and what must not.
struct CutLog {
    image: Image,
    kept: BTreeMap<u64, Vec<u8>>,
    cut: Vec<Vec<u8>>,
}

/// Appends LSNs 1..=10, cuts after 5, appends `again` new records, closes.
fn cut_log(preallocate: bool, again: u64) -> CutLog {
    let tmp = scratch_dir("seawall-cut-");
    let (wal, _) = Wal::open(tmp.path(), opts(preallocate)).unwrap();
    for lsn in 1..=10 {
        assert_eq!(wal.append(&text(lsn, false)).unwrap(), Lsn::new(lsn));
    }
    wal.truncate_after(Lsn::new(5)).unwrap();
    for lsn in 6..6 + again {
        assert_eq!(wal.append(&text(lsn, true)).unwrap(), Lsn::new(lsn));
    }
    wal.close().unwrap();
    let mut image = dir_contents(tmp.path());
    image.remove(LOCK_FILE);
    let kept = (1..=5).map(|l| (l, text(l, false))).chain((6..6 + again).map(|l| (l, text(l, true)))).collect();
    CutLog { image, kept, cut: (6..=10).map(|l| text(l, false)).collect() }
}

/// Checks what one reader returned: every record is the one the log holds
/// at its LSN, and none is a cut one. A read error ends the check: damage
/// may be reported.
fn judge(who: &str, records: Iter, log: &CutLog) -> Result<(), String> {
    for rec in records {
        let Ok(rec) = rec else { return Ok(()) };
        let (lsn, p) = (rec.lsn().get(), rec.payload());
        if log.cut.iter().any(|c| c[..] == p[..]) {
            return Err(format!("{who} brought back cut record {lsn}: {:?}", String::from_utf8_lossy(p)));
        }
        if log.kept.get(&lsn).is_none_or(|k| k[..] != p[..]) {
            return Err(format!("{who} returned LSN {lsn} with bytes never appended there: {p:?}"));
        }
    }
    Ok(())
}

/// Every reader of the log after `damage`, each on a fresh damaged copy in `dir`.
fn check_damaged(damage: impl Fn(&Path), dir: &Path, log: &CutLog, preallocate: bool) -> Result<(), String> {
    let fresh = || {
        materialize(&log.image, dir);
        damage(dir);
    };
    for mode in [RecoveryMode::Strict, RecoveryMode::TruncateTornTail, RecoveryMode::Salvage] {
        fresh();
        if let Ok((wal, _)) = Wal::open(dir, opts(preallocate).recovery_mode(mode)) {
            let records = wal.iter_from(wal.first_lsn()).map_err(|e| format!("{mode:?} open: iter_from: {e}"))?;
            judge(&format!("Wal::open ({mode:?})"), records, log)?;
        }
    }
    fresh();
    if let Ok(reader) = Reader::open(dir) {
        if let Ok(records) = reader.iter_from(reader.first_lsn()) {
            judge("Reader", records, log)?;
        }
    }
    dump_shows_no_cut_record(dir, log)
}

#[cfg(feature = "cli")]
fn dump_shows_no_cut_record(dir: &Path, log: &CutLog) -> Result<(), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seawall"))
        .args(["dump", "--format", "raw"])
        .arg(dir)
        .output()
        .map_err(|e| format!("run seawall dump: {e}"))?;
    // Raw format: each payload preceded by its length (u32, little-endian).
    let mut rest = &out.stdout[..];
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
        let (p, tail) = tail.split_at(len);
        if log.cut.iter().any(|c| c[..] == p[..]) {
            return Err(format!("seawall dump printed cut record {:?}", String::from_utf8_lossy(p)));
        }
        rest = tail;
    }
    Ok(())
}

#[cfg(not(feature = "cli"))]
fn dump_shows_no_cut_record(_dir: &Path, _log: &CutLog) -> Result<(), String> {
    Ok(())
}

/// Flips one bit in every byte of every file that holds data (all eight
/// bits of each segment header), checks each damaged copy with every reader,
/// and fails with the first violations. A preallocated file ends in up to
/// 64 KiB of zeros: past its last non-zero byte only a seeded sample of 256
/// offsets is damaged.
fn damage_every_byte(name: &str, preallocate: bool, again: u64) {
    let scratch = scratch_dir("seawall-cut-check-");
    let log = cut_log(preallocate, again);
    let mut rng = common::Rng::new(0x5eed_c0de);
    let (mut states, mut failures) = (0, Vec::new());
    for (file, bytes) in &log.image {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        let mut offsets: Vec<usize> = (0..end).collect();
        if end < bytes.len() {
            offsets.extend((0..256).map(|_| end + rng.below((bytes.len() - end) as u64) as usize));
        }
        for off in offsets {
            let bits: Vec<u8> = if off < SEGMENT_HEADER_LEN { (0..8).collect() } else { vec![(off % 8) as u8] };
            for bit in bits {
                states += 1;
                let damage = |dir: &Path| flip_bit(&dir.join(file), off as u64, bit);
                if let Err(e) = check_damaged(damage, scratch.path(), &log, preallocate) {
                    failures.push(format!("bit {bit} of byte {off} of {file}: {e}"));
                }
            }
        }
    }
    println!("{name}: {states} single-bit damages checked, {} bring cut records back", failures.len());
    assert!(
        failures.is_empty(),
        "{name}: {} of {states} single-bit damages bring back records cut by a completed truncate_after; the first:\n{}",
        failures.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Regression: after `truncate_after(5)` of LSNs 1..=10 and a clean close,
/// one flipped bit in the header of the segment that made the cut durable
/// turned it into a "torn rotation": recovery removed it and records 6..=10
/// came back.
#[test]
fn no_single_flipped_bit_brings_back_records_cut_by_truncate_after() {
    let _turn = spawn_turn::spawning();
    damage_every_byte("cut, nothing appended after", false, 0);
}

/// The same, in preallocated segments, with records 6..=8 appended again
/// after the cut.
#[test]
fn no_single_flipped_bit_brings_back_cut_records_after_new_ones_were_appended() {
    let _turn = spawn_turn::spawning();
    damage_every_byte("cut, three records appended after, preallocated", true, 3);
}

// ---------------------------------------------------------------------------
// Live iterators and records across truncations.
// ---------------------------------------------------------------------------

/// A log of `n` records spread over several 64 KiB segments.
fn filled(dir: &Path, n: u64) -> Wal {
    let (wal, _) = Wal::open(dir, opts(true)).unwrap();
    for lsn in 1..=n {
        wal.append(&damage::payload(lsn, 7)).unwrap();
    }
    wal.sync(Lsn::new(n)).unwrap();
    wal
}

/// The first LSN stored in segment `seg`.
fn first_in_segment(wal: &Wal, seg: u64) -> u64 {
    let mut it = wal.iter_from(wal.first_lsn()).unwrap().map(|r| r.unwrap());
    it.find(|r| r.segment().get() == seg).expect("the log reaches the segment").lsn().get()
}

/// Drains a live iterator that was due to yield `next` and then every LSN
/// up to `last`: each record must be the one `current` says the log holds
/// at its LSN now, in LSN order; it may end early only with
/// `Error::Truncated`, once.
fn drain_live(mut it: Iter, mut next: u64, last: u64, current: impl Fn(u64) -> Option<Vec<u8>>) -> Result<(), String> {
    while let Some(item) = it.next() {
        match item {
            Ok(rec) => {
                let lsn = rec.lsn().get();
                if lsn != next {
                    return Err(format!("the iterator yielded LSN {lsn} where {next} was due"));
                }
                if current(lsn).is_none_or(|p| p[..] != rec.payload()[..]) {
                    return Err(format!("the iterator yielded LSN {lsn} with bytes the log no longer holds there"));
                }
                next += 1;
            }
            Err(e) if v2::truncated(&e).is_some() => {
                return match it.next() {
                    None => Ok(()),
                    Some(more) => Err(format!("the iterator went on after Error::Truncated: {more:?}")),
                };
            }
            Err(e) => return Err(format!("the iterator failed with {e:?}{}", v2::HINT)),
        }
    }
    if next != last + 1 {
        return Err(format!("the iterator ended at LSN {} without an error; it was due to reach {last}", next - 1));
    }
    Ok(())
}

/// Regression: an iterator created before `truncate_before` removed
/// segments failed with `Io { op: "mmap", NotFound }` when it reached a
/// removed segment.
#[test]
fn iterator_reading_when_truncate_before_removes_its_segments_never_fails_with_io() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-iter-");
    let wal = filled(tmp.path(), 1500);
    let mut it = wal.iter_from(Lsn::new(1)).unwrap();
    for lsn in 1..=10 {
        assert_eq!(it.next().unwrap().unwrap().lsn(), Lsn::new(lsn));
    }
    let cut = first_in_segment(&wal, 3);
    assert!(wal.truncate_before(Lsn::new(cut)).unwrap() > Lsn::new(10), "segments 1 and 2 are gone");
    drain_live(it, 11, 1500, |l| Some(damage::payload(l, 7))).unwrap();
}

/// The same for an iterator that had not yielded anything yet.
#[test]
fn iterator_not_yet_started_when_truncate_before_removes_its_segments_never_fails_with_io() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-iter-");
    let wal = filled(tmp.path(), 1500);
    let it = wal.iter_from(Lsn::new(1)).unwrap();
    wal.truncate_before(Lsn::new(first_in_segment(&wal, 3))).unwrap();
    drain_live(it, 1, 1500, |l| Some(damage::payload(l, 7))).unwrap();
}

/// Cuts after `cut` while an iterator sits at LSN 4, appends records again
/// up to `again`, and drains the iterator: cut records never show up in it.
fn iterator_across_truncate_after(records: u64, cut: u64, again: u64) {
    let tmp = scratch_dir("seawall-iter-");
    let wal = filled(tmp.path(), records);
    let mut it = wal.iter_from(Lsn::new(1)).unwrap();
    for _ in 1..=3 {
        it.next().unwrap().unwrap();
    }
    wal.truncate_after(Lsn::new(cut)).unwrap();
    for lsn in cut + 1..=again {
        wal.append(&damage::payload(lsn, 8)).unwrap();
    }
    let current = |l: u64| match l {
        l if l <= cut => Some(damage::payload(l, 7)),
        l if l <= again => Some(damage::payload(l, 8)),
        _ => None,
    };
    drain_live(it, 4, records, current).unwrap();
}

/// An iterator created before `truncate_after` yielded the cut records
/// (their bytes were still in the file) instead of the log's records.
#[test]
fn iterator_never_yields_records_cut_by_truncate_after_in_its_segment() {
    let _turn = spawn_turn::holding_logs();
    iterator_across_truncate_after(10, 5, 8);
}

/// The same when the cut removes later segments of the iterator's range.
#[test]
fn iterator_never_yields_records_cut_by_truncate_after_across_segments() {
    let _turn = spawn_turn::holding_logs();
    iterator_across_truncate_after(1500, 100, 120);
}

/// Regression: in a reopened log a sealed segment's offsets are read from
/// its index on disk. `truncate_after` inside that segment clears the index
/// with the rest of the dead bytes, and an iterator planned before the cut
/// (started or not) looked its next record up in the cleared index and
/// failed with a checksum error at offset 0 for a record still in the log.
/// Live iterators now take their spans anew when a read fails.
#[test]
fn iterator_planned_before_truncate_after_inside_a_sealed_segment_reads_on() {
    let _turn = spawn_turn::holding_logs();
    for started in [0, 3] {
        let tmp = scratch_dir("seawall-iter-");
        filled(tmp.path(), 1500).close().unwrap();
        let (wal, _) = Wal::open(tmp.path(), opts(true)).unwrap();
        let (second, third) = (first_in_segment(&wal, 2), first_in_segment(&wal, 3));
        let cut = (second + third) / 2;
        // Starts inside the first segment, or at the second's first record
        // (then its first read is an index lookup).
        let from = if started == 0 { second } else { 1 };
        let mut it = wal.iter_from(Lsn::new(from)).unwrap();
        for _ in 0..started {
            it.next().unwrap().unwrap();
        }
        wal.truncate_after(Lsn::new(cut)).unwrap();
        for lsn in cut + 1..=cut + 50 {
            wal.append(&damage::payload(lsn, 8)).unwrap();
        }
        let current = |l: u64| match l {
            l if l <= cut => Some(damage::payload(l, 7)),
            l if l <= cut + 50 => Some(damage::payload(l, 8)),
            _ => None,
        };
        let mut reached = from + started;
        let checked = drain_live(wal.iter_from(Lsn::new(from + started)).unwrap(), from + started, cut + 50, current);
        checked.unwrap();
        // The iterator planned before the cut: every record up to the cut,
        // then (at the latest) `Error::Truncated`.
        for item in it.by_ref() {
            match item {
                Ok(rec) => {
                    assert_eq!(rec.lsn().get(), reached, "started {started}");
                    assert_eq!(Some(rec.payload().to_vec()), current(reached), "started {started}: LSN {reached}");
                    reached += 1;
                }
                Err(e) => {
                    assert!(v2::truncated(&e).is_some(), "started {started}: LSN {reached}: {e:?}");
                    break;
                }
            }
        }
        assert!(reached > cut, "started {started}: the iterator stopped at {reached}, before the cut at {cut}");
    }
}

/// Records handed out before `truncate_before` removed their segment, and
/// before `truncate_after` cut them and new records took their place, keep
/// their payloads byte for byte.
#[test]
fn records_read_before_truncations_keep_their_payloads() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-records-");
    let wal = filled(tmp.path(), 1500);
    let held: Vec<Record> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap()).collect();
    wal.truncate_before(Lsn::new(first_in_segment(&wal, 3))).unwrap();
    wal.truncate_after(Lsn::new(1400)).unwrap();
    for lsn in 1401..=1600 {
        wal.append(&damage::payload(lsn, 9)).unwrap();
    }
    wal.sync(Lsn::new(1600)).unwrap();
    wal.close().unwrap();
    let (wal, _) = Wal::open(tmp.path(), opts(true)).unwrap();
    wal.truncate_after(Lsn::new(1450)).unwrap();
    wal.append_durable(b"the last record").unwrap();
    for rec in &held {
        let lsn = rec.lsn().get();
        assert!(rec.payload()[..] == damage::payload(lsn, 7)[..], "the payload of LSN {lsn} changed under its holder");
    }
    assert!(matches!(wal.iter_from(Lsn::new(1)), Err(Error::LsnOutOfRange { .. })));
}

/// Recovery copies the records no later record claims into a new segment
/// whose header supersedes them; the originals stay in the segment before
/// it. A `truncate_after` that cuts the copied records must not leave them
/// there for a damaged copy header to bring back.
#[test]
fn a_damaged_copy_header_does_not_bring_back_records_cut_from_the_copy() {
    let _turn = spawn_turn::holding_logs();
    let (live, dir) = (scratch_dir("copy-cut-live"), scratch_dir("copy-cut"));
    let (wal, _) = Wal::open(live.path(), opts(false)).expect("open");
    for lsn in 1..=3 {
        wal.append_durable(&text(lsn, false)).expect("append");
    }
    // The directory as a killed process leaves it: record 3 is durable but
    // nothing written after it claims it.
    for (name, bytes) in dir_contents(live.path()) {
        if name != LOCK_FILE {
            std::fs::write(dir.path().join(name), bytes).expect("copy");
        }
    }
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), opts(false)).expect("recover");
    wal.truncate_after(Lsn::new(2)).expect("truncate_after");
    wal.close().expect("close");
    let mut segments: Vec<String> = dir_contents(dir.path()).into_keys().filter(|n| n.ends_with(".wal")).collect();
    segments.sort();
    assert!(segments.len() >= 2, "recovery copied record 3 into a new segment: {segments:?}");
    let copy = dir.path().join(segments.last().expect("a segment"));
    flip_bit(&copy, 0, 0);
    let reader = Reader::open(dir.path()).expect("Reader::open");
    for rec in reader.iter_from(reader.first_lsn()).expect("iterate").flatten() {
        assert!(rec.lsn().get() <= 2, "record {}, cut by truncate_after, came back (Reader)", rec.lsn());
    }
    let (wal, _) = Wal::open(dir.path(), opts(false).recovery_mode(RecoveryMode::Salvage)).expect("salvage");
    assert!(wal.last_lsn().get() <= 2, "record {}, cut by truncate_after, came back (salvage)", wal.last_lsn());
}

//! Guards the recovery contract against every kind of damage named in the
//! format spec: each test builds a log, damages it with the shared helpers,
//! and checks what `Wal::open` (in each recovery mode) and `Reader` make of it.

#[path = "support/damage.rs"]
mod damage;

use damage::*;
use seawall::format::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use seawall::{CorruptionReason, Error, Lsn, Options, Reader, RecoveryAction, RecoveryMode, TailState, Wal};

fn open(dir: &std::path::Path) -> seawall::Result<(Wal, seawall::RecoveryReport)> {
    Wal::open(dir, small_opts())
}

fn expect_prefix(wal: &Wal, last: u64) {
    let got = read_all(wal);
    let want: Vec<(u64, Vec<u8>)> = (1..=last).map(|l| (l, payload(l, 7))).collect();
    assert_eq!(got, want);
}

/// The offset just past the last valid record of segment 1.
fn end_of_records(dir: &std::path::Path) -> u64 {
    Reader::open(dir).unwrap().inspection().segments[0].bytes_used
}

#[test]
fn clean_log_reopens_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 20, small_opts());
    let (wal, report) = open(dir.path()).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.last_lsn, Lsn::new(20));
    expect_prefix(&wal, 20);
}

#[test]
fn torn_payload_is_truncated_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 10, small_opts());
    crash_before_close(dir.path());
    let pos = record_positions(dir.path());
    let (_, _, off) = pos[9];
    // A crash in the middle of writing record 10: its payload is half garbage.
    let seg = segment_path(dir.path(), 1);
    write_bytes(&seg, off + RECORD_HEADER_LEN as u64, &[0xAB; 3]);
    let end = end_of_records(dir.path());
    assert!(end < off + 40, "record 10 no longer validates");
    let (wal, report) = open(dir.path()).unwrap();
    match report.tail {
        TailState::Torn { segment, offset, bytes, last_lsn } => {
            assert_eq!((segment.get(), offset, last_lsn), (1, off, Lsn::new(9)));
            assert!(bytes > 0);
        }
        other => panic!("expected a torn tail, got {other:?}"),
    }
    assert!(report.bytes_dropped() > 0);
    expect_prefix(&wal, 9);
    drop(wal);
    // The dropped bytes were cleared durably: nothing after the cut.
    let rest = read_bytes(&seg, off, 4096);
    assert!(rest.iter().all(|&b| b == 0), "dropped bytes must be zeroed");
}

#[test]
fn torn_header_of_last_record_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 5, small_opts());
    let end = end_of_records(dir.path());
    // A header whose write was cut: a few bytes of it landed.
    write_bytes(&segment_path(dir.path(), 1), end, &[1, 2, 3, 4, 5, 6, 7]);
    let (wal, report) = open(dir.path()).unwrap();
    assert!(matches!(report.tail, TailState::Torn { offset, .. } if offset == end));
    expect_prefix(&wal, 5);
}

#[test]
fn zeroed_tail_is_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 6, small_opts());
    let (_, _, off) = record_positions(dir.path())[5];
    // The last record never reached the disk: its bytes are zeros.
    zero_range(&segment_path(dir.path(), 1), off, 4096);
    let (wal, report) = open(dir.path()).unwrap();
    assert_eq!(report.tail, TailState::Clean);
    expect_prefix(&wal, 5);
}

#[test]
fn bad_checksum_before_synced_records_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 30, small_opts());
    let (_, _, off) = record_positions(dir.path())[9];
    let seg = segment_path(dir.path(), 1);
    flip_bit(&seg, off + RECORD_HEADER_LEN as u64, 3);
    let before = dir_contents(dir.path());
    match open(dir.path()) {
        Err(Error::Corruption { segment, offset, lsn, reason }) => {
            assert_eq!((segment.get(), offset, lsn), (1, off, Lsn::new(10)));
            assert_eq!(reason, CorruptionReason::DamageToSyncedRecords);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let mut after = dir_contents(dir.path());
    after.remove("LOCK");
    let mut before = before;
    before.remove("LOCK");
    assert_eq!(before, after, "a refused open modifies nothing");
}

#[test]
fn corruption_followed_by_valid_records_is_refused_in_strict_mode_too() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 12, small_opts());
    let (_, _, off) = record_positions(dir.path())[3];
    zero_range(&segment_path(dir.path(), 1), off, 16);
    let strict = small_opts().recovery_mode(RecoveryMode::Strict);
    assert!(matches!(Wal::open(dir.path(), strict), Err(Error::Corruption { .. })));
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    match insp.tail {
        TailState::Corrupt { lsn, valid_records_after, .. } => {
            assert_eq!(lsn, Lsn::new(4));
            assert_eq!(valid_records_after, 8, "records 5..=12 are still valid");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn strict_mode_refuses_a_torn_tail_and_modifies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 4, small_opts());
    let end = end_of_records(dir.path());
    write_bytes(&segment_path(dir.path(), 1), end, &[9; 20]);
    let before = dir_contents(dir.path());
    let strict = small_opts().recovery_mode(RecoveryMode::Strict);
    assert!(matches!(Wal::open(dir.path(), strict), Err(Error::TornTail { .. })));
    assert_eq!(before, dir_contents(dir.path()));
}

#[test]
fn salvage_quarantines_everything_it_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts();
    durable_log(dir.path(), 1500, opts.clone()); // spans several 64 KiB segments
    let pos = record_positions(dir.path());
    let (_, seg1, off) = pos[99];
    let segments_before = Reader::open(dir.path()).unwrap().inspection().segments.len();
    assert!(segments_before > 2);
    let seg = segment_path(dir.path(), seg1);
    let cut_bytes = std::fs::read(&seg).unwrap()[off as usize..].to_vec();
    flip_bit(&seg, off + 9, 0);
    // The default open trusts the sealed segment's index; reading the record
    // finds the damage, and so do a verifying scan and a strict open.
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    assert!(matches!(wal.read(Lsn::new(100)), Err(Error::Corruption { .. })));
    drop(wal);
    assert!(matches!(Reader::verify(dir.path()).unwrap().inspection().tail, TailState::Corrupt { .. }));
    let strict = opts.clone().recovery_mode(RecoveryMode::Strict);
    assert!(matches!(Wal::open(dir.path(), strict), Err(Error::Corruption { .. })));
    let (wal, report) = Wal::open(dir.path(), opts.recovery_mode(RecoveryMode::Salvage)).unwrap();
    expect_prefix(&wal, 99);
    let quarantined: Vec<_> = report
        .actions
        .iter()
        .filter_map(|a| match a {
            RecoveryAction::QuarantinedBytes { file, .. } | RecoveryAction::QuarantinedSegment { file, .. } => {
                Some(file.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(quarantined.len(), 1 + (segments_before - seg1 as usize));
    // A quarantine file is the segment's header and the cut bytes at their
    // own offsets, so `seawall dump` reads it as a segment.
    let saved = std::fs::read(&quarantined[0]).unwrap();
    let original = std::fs::read(&seg).unwrap();
    assert_eq!(saved[..SEGMENT_HEADER_LEN], original[..SEGMENT_HEADER_LEN]);
    let mut damaged = cut_bytes.clone();
    damaged[9] ^= 1;
    let kept = &saved[off as usize..];
    assert_eq!(kept[..], damaged[..kept.len()], "the cut bytes are kept, byte for byte");
    assert!(kept.len() > 100);
    // Appending continues after the cut and survives another reopen.
    wal.append_durable(b"after salvage").unwrap();
    drop(wal);
    let (wal, report) = Wal::open(dir.path(), small_opts()).unwrap();
    assert!(report.is_clean());
    assert_eq!(wal.last_lsn(), Lsn::new(100));
}

#[test]
fn stale_record_from_recycled_segment_fails_validation() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 8, small_opts());
    let seg = segment_path(dir.path(), 1);
    let old = std::fs::read(&seg).unwrap();
    // Reuse the bytes: a fresh log whose first segment has a new salt, with
    // the old records left in place behind its header.
    let fresh = tempfile::tempdir().unwrap();
    durable_log(fresh.path(), 1, small_opts());
    let new_seg = segment_path(fresh.path(), 1);
    let mut bytes = std::fs::read(&new_seg).unwrap();
    let end = Reader::open(fresh.path()).unwrap().inspection().segments[0].bytes_used as usize;
    // Old records from the same offsets on: same LSNs 2.., valid under the old salt.
    bytes[end..old.len()].copy_from_slice(&old[end..]);
    std::fs::write(&new_seg, &bytes).unwrap();
    let (wal, report) = Wal::open(fresh.path(), small_opts()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(1), "stale records never validate under a new salt");
    assert!(matches!(report.tail, TailState::Torn { .. }));
    assert_eq!(read_all(&wal), vec![(1, payload(1, 7))]);
}

#[test]
fn truncated_segment_header_of_new_segment_is_a_torn_rotation() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 3, small_opts());
    // A crash while the next segment's header was being written.
    let next = segment_path(dir.path(), 2);
    std::fs::write(
        &next,
        &seawall::SegmentHeader {
            version: seawall::format::FORMAT_VERSION,
            id: seawall::SegmentId::new(2),
            first_lsn: 4,
            salt: 1,
            prev_crc: 0,
            reset: false,
            copy: false,
            ahead: false,
            prev_synced: 0,
        }
        .encode()[..30],
    )
    .unwrap();
    let (wal, report) = open(dir.path()).unwrap();
    assert!(matches!(report.tail, TailState::Torn { segment, .. } if segment.get() == 2));
    assert!(report.actions.iter().any(|a| matches!(a, RecoveryAction::RemovedSegment { .. })));
    expect_prefix(&wal, 3);
    wal.append_durable(&payload(4, 7)).unwrap();
    drop(wal);
    let (wal, _) = open(dir.path()).unwrap();
    expect_prefix(&wal, 4);
}

#[test]
fn truncated_segment_header_mid_log_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 1500, small_opts()); // several segments
    truncate_at(&segment_path(dir.path(), 2), 20);
    match open(dir.path()) {
        Err(Error::Corruption { segment, reason, .. }) => {
            assert_eq!(segment.get(), 2);
            assert_eq!(reason, CorruptionReason::ShortHeader);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_magic_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 5, small_opts());
    write_bytes(&segment_path(dir.path(), 1), 0, b"NOTAWAL!");
    match open(dir.path()) {
        Err(Error::Corruption { reason, .. }) => assert_eq!(reason, CorruptionReason::BadMagic),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 2, small_opts());
    let seg = segment_path(dir.path(), 1);
    let mut header = read_bytes(&seg, 0, SEGMENT_HEADER_LEN);
    header[8] = 9;
    let crc = crc32fast::hash(&header[..60]);
    header[60..64].copy_from_slice(&crc.to_le_bytes());
    write_bytes(&seg, 0, &header);
    assert!(matches!(
        open(dir.path()),
        Err(Error::UnsupportedVersion { found: 9, supported: seawall::format::FORMAT_VERSION, .. })
    ));
    assert!(matches!(Reader::open(dir.path()), Err(Error::UnsupportedVersion { .. })));
}

#[test]
fn truncated_record_of_same_length_does_not_resurrect_its_old_successor() {
    // Records 4 and 5 are cut; a new record 4 with the same bytes as the old
    // one is appended. The old record 5 still sits right after where the new
    // record 4 would be if it were written in place: it must never return.
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 5, small_opts());
    let (wal, _) = open(dir.path()).unwrap();
    wal.truncate_after(Lsn::new(3)).unwrap();
    assert_eq!(wal.append_durable(&payload(4, 7)).unwrap(), Lsn::new(4));
    let crashed = snapshot(dir.path());
    drop(wal);
    for d in [crashed.path(), dir.path()] {
        let (wal, _) = open(d).unwrap();
        expect_prefix(&wal, 4);
    }
}

#[test]
fn recovery_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 7, small_opts());
    write_bytes(&segment_path(dir.path(), 1), end_of_records(dir.path()), &[0x55; 100]);
    drop(open(dir.path()).unwrap());
    let first = dir_contents(dir.path());
    let (_, report) = open(dir.path()).unwrap();
    assert!(report.is_clean() && report.actions.is_empty(), "{report:?}");
    assert_eq!(first, dir_contents(dir.path()));
}

#[test]
fn incomplete_batch_at_the_tail_is_dropped_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path()).unwrap();
    wal.append_durable(b"solo").unwrap();
    let batch = wal.append_batch([&b"b1"[..], b"b2", b"b3"]).unwrap();
    wal.sync(*batch.end()).unwrap();
    drop(wal);
    crash_before_close(dir.path());
    let pos = record_positions(dir.path());
    assert_eq!(pos.len(), 4);
    // The batch's last record was torn.
    flip_bit(&segment_path(dir.path(), 1), pos[3].2 + 2, 1);
    let (wal, report) = open(dir.path()).unwrap();
    assert!(matches!(report.tail, TailState::Torn { last_lsn, .. } if last_lsn == Lsn::new(1)));
    assert_eq!(read_all(&wal), vec![(1, b"solo".to_vec())]);
}

#[test]
fn options_out_of_range_are_rejected_before_touching_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("log");
    let r = Wal::open(&target, Options::default().segment_size(1000));
    assert!(matches!(r, Err(Error::InvalidOption { option: "segment_size", .. })));
    assert!(!target.exists());
}

#[test]
fn salvage_quarantines_every_data_segment_after_the_damage_and_removes_a_blank_spare() {
    let dir = tempfile::tempdir().unwrap();
    // With background preallocation the log leaves a blank spare behind.
    durable_log(dir.path(), 1500, small_opts().background_preallocation(true));
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert_eq!(insp.segments.last().unwrap().state, seawall::SegmentState::Unused);
    let data_segments = insp.segments.iter().filter(|s| s.header.is_some()).count();
    assert!(data_segments >= 3);
    let (_, _, off) = record_positions(dir.path())[20];
    flip_bit(&segment_path(dir.path(), 1), off + 40, 2);
    let insp = Reader::verify(dir.path()).unwrap().inspection().clone();
    let after: Vec<_> = insp.segments[1..].iter().map(|s| s.state).collect();
    assert!(after[..after.len() - 1].iter().all(|s| *s == seawall::SegmentState::AfterCorruption), "{after:?}");
    let (_, report) = Wal::open(dir.path(), small_opts().recovery_mode(RecoveryMode::Salvage)).unwrap();
    let moved = report.actions.iter().filter(|a| matches!(a, RecoveryAction::QuarantinedSegment { .. })).count();
    let removed: Vec<_> = report
        .actions
        .iter()
        .filter_map(|a| match a {
            RecoveryAction::RemovedSegment { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(moved, data_segments - 1, "every later segment holding data is kept in quarantine");
    assert_eq!(removed, [seawall::RemovalReason::Unused], "only the blank spare is removed");
}

/// The payload of record `lsn` in [`bulk_log`]: 100 bytes, unique per LSN.
fn bulk_payload(lsn: u64) -> Vec<u8> {
    let mut p = payload(lsn, 11);
    p.resize(100, (lsn % 251) as u8);
    p[..8].copy_from_slice(&lsn.to_le_bytes());
    p
}

/// `n` records of 100 bytes appended without waiting, then one `sync` that
/// returns `Ok`, and a clean close: every record is acknowledged.
fn bulk_log(dir: &std::path::Path, n: u64, opts: Options) {
    let (wal, _) = Wal::open(dir, opts).unwrap();
    for lsn in 1..=n {
        assert_eq!(wal.append(&bulk_payload(lsn)).unwrap(), Lsn::new(lsn));
    }
    wal.sync(Lsn::new(n)).unwrap();
    wal.close().unwrap();
}

/// What may become of an acknowledged log after damage: open refuses it as
/// corrupt, or brings back every record bit-exact. Anything else is silent loss.
fn assert_all_back_or_corrupt(dir: &std::path::Path, opts: Options, n: u64, what: &str) {
    match Wal::open(dir, opts) {
        Err(Error::Corruption { .. }) => {}
        Err(e) => panic!("{what}: open failed with {e:?}, not Error::Corruption"),
        Ok((wal, report)) => {
            assert_eq!(
                wal.last_lsn(),
                Lsn::new(n),
                "{what}: open returned Ok with last_lsn {} of {n} acknowledged records (tail {:?}): \
                 acknowledged records were dropped without an error",
                wal.last_lsn(),
                report.tail
            );
            for (i, rec) in wal.iter_from(Lsn::new(1)).unwrap().enumerate() {
                let lsn = i as u64 + 1;
                match rec {
                    Ok(rec) => {
                        assert!(rec.payload()[..] == bulk_payload(lsn)[..], "{what}: LSN {lsn} came back altered")
                    }
                    Err(Error::Corruption { .. }) => return,
                    Err(e) => panic!("{what}: reading LSN {lsn} failed with {e:?}"),
                }
            }
        }
    }
}

/// Regression: 20,000 records appended, one `sync` acknowledging them all,
/// then one bit of record 1's payload flipped. No record after the damage
/// claimed that record 1 was durable (none was written after a sync), so
/// recovery took the damage for a torn unsynced write, and open returned Ok
/// with last_lsn 0: 20,000 acknowledged records silently gone.
#[test]
fn one_flipped_bit_never_silently_drops_the_records_a_sync_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(4 << 20);
    bulk_log(dir.path(), 20_000, opts.clone());
    let (_, seg, off) = record_positions(dir.path())[0];
    flip_bit(&segment_path(dir.path(), seg), off + RECORD_HEADER_LEN as u64 + 40, 4);
    let strict = opts.clone().recovery_mode(RecoveryMode::Strict);
    assert_all_back_or_corrupt(dir.path(), opts, 20_000, "default open");
    assert_all_back_or_corrupt(dir.path(), strict, 20_000, "strict open");
    // The read-only view must not call the log merely torn either.
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert!(
        insp.last_lsn == Lsn::new(20_000) || matches!(insp.tail, TailState::Corrupt { .. }),
        "Reader shows LSNs up to {} and calls the rest {:?}: `seawall verify` would not report corruption",
        insp.last_lsn,
        insp.tail
    );
}

/// Regression: with the oldest of 25 segment files deleted, open succeeded
/// with a log starting wherever the second file did, and nothing said that
/// records at the start were missing.
#[test]
fn deleted_oldest_segment_is_reported_as_missing_records() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts();
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    let big = vec![0x5a; 8000];
    while Reader::open(dir.path()).unwrap().inspection().segments.len() < 25 {
        for _ in 0..8 {
            wal.append(&big).unwrap();
        }
        wal.sync(wal.last_lsn()).unwrap();
    }
    wal.close().unwrap();
    std::fs::remove_file(segment_path(dir.path(), 1)).unwrap();
    for mode in [RecoveryMode::TruncateTornTail, RecoveryMode::Strict] {
        match Wal::open(dir.path(), opts.clone().recovery_mode(mode)) {
            Err(Error::Corruption { .. }) => {}
            Ok((wal, _)) => panic!(
                "{mode:?} open succeeded with LSNs {}..={} after the first segment file was deleted",
                wal.first_lsn(),
                wal.last_lsn()
            ),
            Err(e) => panic!("{mode:?} open failed with {e:?}, not Error::Corruption"),
        }
    }
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert!(
        matches!(insp.tail, TailState::Corrupt { .. }),
        "Reader calls the log {:?} (LSNs {}..={}) with its first segment file missing",
        insp.tail,
        insp.first_lsn,
        insp.last_lsn
    );
}

/// A record rewritten whole in a trusted sealed segment (both checksums
/// valid, so open does not look and the record itself reads as valid) breaks
/// the hash chain: an iterator stops at the next record with
/// `ChainMismatch`, whether it reads ahead or not, and yields nothing after.
#[test]
fn a_rewritten_record_in_a_sealed_segment_breaks_the_chain_for_iterators() {
    use seawall::format::{REC_PREV_CRC_OFF, REC_SYNCED_OFF};
    let dir = tempfile::tempdir().unwrap();
    durable_log(dir.path(), 1500, small_opts());
    let pos = record_positions(dir.path());
    let (lsn, seg, off) = pos[20];
    assert_eq!((seg, lsn), (1, 21), "record 21 lies in the first segment, which is sealed");
    let path = segment_path(dir.path(), seg);
    let header = read_bytes(&path, off, RECORD_HEADER_LEN);
    let u32_at = |o: usize| u32::from_le_bytes(header[o..o + 4].try_into().unwrap());
    let salt = Reader::open(dir.path()).unwrap().inspection().segments[0].header.unwrap().salt;
    let mut forged = payload(lsn, 7);
    forged.iter_mut().for_each(|b| *b = !*b);
    let rec = seawall::raw::encode_record(
        salt,
        lsn,
        seawall::RecordKind::Full,
        u32_at(REC_PREV_CRC_OFF),
        u32_at(REC_SYNCED_OFF),
        off,
        &forged,
    );
    write_bytes(&path, off, &rec);
    for ahead in [false, true] {
        let (wal, report) = Wal::open(dir.path(), small_opts().read_ahead(ahead).read_block_size(4096)).unwrap();
        assert!(report.is_clean(), "a trusted sealed segment is not walked at open: {report:?}");
        let mut it = wal.iter_from(Lsn::new(1)).unwrap();
        for want in 1..=lsn {
            let r = it.next().unwrap().unwrap();
            assert_eq!(r.lsn(), Lsn::new(want));
        }
        match it.next() {
            Some(Err(Error::Corruption { lsn: at, reason: CorruptionReason::ChainMismatch, .. })) => {
                assert_eq!(at, Lsn::new(lsn + 1))
            }
            other => panic!("read ahead {ahead}: expected a chain mismatch at {}, got {other:?}", lsn + 1),
        }
        assert!(it.next().is_none(), "an iterator ends after an error");
    }
}

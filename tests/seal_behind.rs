//! Guards the rotation rule of FORMAT.md W2 and the recovery rules that go
//! with it (§5.1 step 5): a full segment is sealed behind the writer, the
//! next segment's header and records may be written first, and nothing is
//! acknowledged until the seal completes. A crash image taken while seals
//! are pending (the bytes a killed process leaves in the page cache) must
//! reopen with every acknowledged record, drop only what was never
//! acknowledged, and report damage to an acknowledged prefix of an unsealed
//! segment as corruption rather than as a torn seal.
//!
//! The crash states the writer can leave are explored by `crash_states.rs`;
//! these tests pin the named cases.

#[path = "support/probe_fs.rs"]
mod probe_fs;
#[path = "support/watchdog.rs"]
mod watchdog;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use probe_fs::ProbeFs;
use seawall::{Error, Lsn, Options, Reader, RecoveryAction, TailState, Wal};
use watchdog::Watchdog;

const SEGMENT: u64 = 64 << 10;

/// Deterministic: no background threads, so pending seals wait, queued,
/// until the next sync; a small write buffer, so appends reach the files.
fn opts() -> Options {
    Options::default().segment_size(SEGMENT).background_preallocation(false).write_buffer_size(4096)
}

/// Copies the segment files of `from` to a fresh directory: what a process
/// killed at this moment leaves (the page cache holds every write).
fn image(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "wal") {
            std::fs::copy(&p, to.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    to
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016}.wal"))
}

/// Appends 1 KiB records without syncing until segment `segments` is in
/// use and holds a few of them; returns the last LSN appended.
fn fill(wal: &Wal, dir: &Path, segments: u64) -> Lsn {
    let mut last = Lsn::ZERO;
    while !segment_path(dir, segments).exists() {
        last = wal.append(&[7u8; 1024]).unwrap();
    }
    for _ in 0..16 {
        last = wal.append(&[7u8; 1024]).unwrap();
    }
    last
}

#[test]
fn a_crash_with_seals_pending_keeps_the_acknowledged_and_drops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), opts()).unwrap();
    let acked = wal.append_durable(b"acknowledged").unwrap();
    fill(&wal, dir.path(), 3);
    let crashed = image(dir.path());
    drop(wal);

    // Segments 2 and 3 were started before segment 1's seal completed, and
    // nothing proves segment 1 durable: the log ends with it, and nothing
    // after it had been acknowledged. A Reader shows what an open keeps.
    let before = Reader::open(crashed.path()).unwrap();
    let insp = before.inspection().clone();
    assert!(insp.segments[..3].iter().all(|s| !s.trusted), "no seal has completed");
    assert!(matches!(insp.tail, TailState::Torn { segment, offset: 0, .. } if segment.get() == 2), "{insp:?}");
    assert_eq!(insp.rule, "torn-seal");
    let seg1_last = insp.segments[0].last_lsn.unwrap();
    assert!(seg1_last >= acked);
    assert_eq!(before.last_lsn(), seg1_last);
    assert!(insp.segments[1].records > 0 && insp.segments[2].records > 0, "the dropped segments hold records");
    drop(before);

    let plan = Wal::plan_recovery(crashed.path(), &opts()).unwrap();
    assert!(matches!(plan.tail, TailState::Torn { segment, offset: 0, .. } if segment.get() == 2), "{plan}");
    assert_eq!(plan.last_lsn, seg1_last, "{plan}");

    let (wal, report) = Wal::open(crashed.path(), opts()).unwrap();
    assert_eq!(&wal.read(acked).unwrap().payload()[..], b"acknowledged");
    assert_eq!(wal.last_lsn(), seg1_last, "{report}");
    // The records of segments 2 and 3 are moved aside, never destroyed
    // (renames: recovery needs no free space).
    for id in [2, 3] {
        let moved =
            |a: &RecoveryAction| matches!(a, RecoveryAction::QuarantinedSegment { segment, .. } if segment.get() == id);
        assert!(report.actions.iter().any(moved), "segment {id}: {report}");
    }
    assert!(report.quarantined());

    // Segment 1 is sealed: the log goes on in a new segment 2, and the sync
    // that acknowledges it first seals segment 1, trailer and all.
    let next = wal.append_durable(b"after").unwrap();
    assert_eq!(next, seg1_last.next());
    wal.close().unwrap();
    let after = Reader::open(crashed.path()).unwrap();
    assert!(after.inspection().segments[0].trusted, "segment 1 is sealed now: {:?}", after.inspection());
    assert_eq!(&after.read(next).unwrap().payload()[..], b"after");
    let (wal, report) = Wal::open(crashed.path(), opts()).unwrap();
    assert!(report.is_clean(), "{report}");
    wal.close().unwrap();
}

#[test]
fn a_clean_close_seals_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), opts()).unwrap();
    let last = fill(&wal, dir.path(), 4);
    wal.close().unwrap();
    let r = Reader::open(dir.path()).unwrap();
    let segs = &r.inspection().segments;
    assert!(segs.len() >= 4);
    for s in &segs[..3] {
        assert!(s.trusted, "segment {} is trusted through its trailer", s.id);
    }
    assert_eq!(r.last_lsn(), last);
}

#[test]
fn damage_to_the_acknowledged_prefix_of_an_unsealed_segment_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), opts()).unwrap();
    let acked = wal.append_durable(&[1u8; 300]).unwrap();
    fill(&wal, dir.path(), 2);
    let crashed = image(dir.path());
    drop(wal);

    // The power fails: what segment 1 held after the acknowledged record was
    // never synced and is gone (its seal record too); then the media flips
    // a bit of the acknowledged record. Only segment 2's header says that
    // record was durable (`prev_synced`).
    let (offset, end) = {
        let r = Reader::open(crashed.path()).unwrap();
        let rec = r.read(acked).unwrap();
        let next = r.read(acked.next()).unwrap();
        assert_eq!(next.segment().get(), 1, "the next record is in segment 1 too");
        (rec.offset(), next.offset())
    };
    let path = segment_path(crashed.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[end as usize..len].fill(0);
    bytes[offset as usize + 40] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();

    match Wal::open(crashed.path(), opts()) {
        Err(Error::Corruption { segment, .. }) => assert_eq!(segment.get(), 1),
        Err(e) => panic!("expected corruption, got {e:?}"),
        Ok((wal, report)) => {
            panic!("open dropped acknowledged LSN {acked}: the log ends at {} ({report})", wal.last_lsn())
        }
    }

    // The same image with the record intact is a torn seal: the record
    // stays, what followed it goes.
    bytes[offset as usize + 40] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let (wal, _) = Wal::open(crashed.path(), opts()).unwrap();
    assert_eq!(wal.last_lsn(), acked);
    wal.close().unwrap();
}

/// The rotation rule does not stall appenders: with the sync of segment 1
/// held (a disk that has not finished writing it back), appends go on
/// through two rotations, into segment 3. A sync waits for the seal: it
/// cannot return while segment 1's sync is held, and once it returns,
/// segments 1 and 2 carry their trailers. Under the rule of format 2 the
/// first rotation would wait for segment 1's sync, and the watchdog would
/// fail the test.
#[test]
fn appends_go_on_into_later_segments_while_a_seal_waits_for_the_disk() {
    let _watchdog = Watchdog::start("appends_go_on_into_later_segments_while_a_seal_waits_for_the_disk", String::new());
    let dir = tempfile::tempdir().unwrap();
    let probe = ProbeFs::new();
    let opts = Options::default().segment_size(SEGMENT).write_buffer_size(4096);
    let (wal, _) = Wal::open_with(dir.path(), opts, Arc::new(probe.clone())).unwrap();
    let acked = wal.append_durable(b"before").unwrap();
    probe.shut_gate_for(&segment_path(dir.path(), 1));
    // Until segment 4's file exists: segment 3 is in use (the next spare
    // is made as a segment comes into use).
    let last = fill(&wal, dir.path(), 4);
    // Segment 1's seal is stuck in its first sync.
    probe.wait_for_held_syncs(1);
    let wal = Arc::new(wal);
    let (tx, rx) = std::sync::mpsc::channel();
    let syncer = {
        let wal = wal.clone();
        std::thread::spawn(move || tx.send(wal.sync(last)).unwrap())
    };
    assert!(rx.try_recv().is_err(), "a sync returned while segment 1 was not durable");
    probe.open_gate();
    rx.recv().unwrap().unwrap();
    syncer.join().unwrap();
    let r = Reader::open(dir.path()).unwrap();
    let segs = &r.inspection().segments;
    assert!(segs[0].trusted && segs[1].trusted, "segments 1 and 2 are sealed: {:?}", r.inspection());
    assert_eq!(r.last_lsn(), last);
    assert_eq!(&r.read(acked).unwrap().payload()[..], b"before");
}

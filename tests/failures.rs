//! Guards the defined outcome of each misuse and environmental failure that
//! needs no fault injection: a second open (in this or another process),
//! records too large, empty batches, LSNs out of range, wrong directories.

#[path = "support/spawn_turn.rs"]
mod spawn_turn;

#[path = "support/damage.rs"]
mod damage;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use seawall::{Error, Lsn, NotALogReason, Options, Reader, Wal};

const CHILD_ENV: &str = "SEAWALL_LOCK_CHILD_DIR";

#[test]
fn second_open_in_the_same_process_is_locked() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    assert!(matches!(Wal::open(dir.path(), Options::default()), Err(Error::Locked { .. })));
    wal.append_durable(b"still works").unwrap();
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(1));
}

/// Run as a child process by `second_open_in_another_process_is_locked`:
/// holds the log open until its stdin closes.
#[test]
fn lock_holder_child() {
    let _turn = spawn_turn::holding_logs();
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let (wal, _) = Wal::open(&dir, Options::default()).unwrap();
    wal.append_durable(b"from the child").unwrap();
    println!("LOCKED");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    wal.close().unwrap();
}

#[test]
fn second_open_in_another_process_is_locked() {
    let _turn = spawn_turn::spawning();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("LOCKED") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited before locking");
    }
    assert!(matches!(Wal::open(dir.path(), Options::default()), Err(Error::Locked { .. })));
    // A reader takes no lock and sees the child's durable record.
    assert_eq!(Reader::open(dir.path()).unwrap().last_lsn(), Lsn::new(1));
    drop(child.stdin.take()); // let the child close the log and exit
    assert!(child.wait().unwrap().success());
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(1));
}

#[test]
fn record_too_large_writes_nothing() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().max_record_size(1000).background_preallocation(false);
    let (wal, _) = Wal::open(dir.path(), opts).unwrap();
    wal.append_durable(b"small").unwrap();
    let before = damage::dir_contents(dir.path());
    match wal.append(&[0u8; 1001]) {
        Err(Error::RecordTooLarge { size: 1001, max: 1000 }) => {}
        other => panic!("{other:?}"),
    }
    let batch = [&[0u8; 600][..], &[0u8; 600][..]];
    assert!(matches!(wal.append_batch(batch), Err(Error::RecordTooLarge { size: 1200, .. })));
    assert_eq!(wal.last_lsn(), Lsn::new(1), "no LSN was used");
    wal.sync(wal.last_lsn()).unwrap();
    assert_eq!(before, damage::dir_contents(dir.path()), "nothing was written");
    assert_eq!(wal.append(&[0u8; 1000]).unwrap(), Lsn::new(2));
}

#[test]
fn empty_batch_is_rejected() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    assert!(matches!(wal.append_batch(std::iter::empty::<&[u8]>()), Err(Error::EmptyBatch)));
    assert_eq!(wal.last_lsn(), Lsn::ZERO);
}

#[test]
fn lsns_out_of_range_are_rejected() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default()).unwrap();
    for i in 0..5u8 {
        wal.append(&[i]).unwrap();
    }
    assert!(matches!(wal.iter_from(Lsn::new(0)), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.iter_from(Lsn::new(7)), Err(Error::LsnOutOfRange { .. })));
    assert_eq!(wal.iter_from(Lsn::new(6)).unwrap().count(), 0);
    assert!(matches!(wal.truncate_after(Lsn::new(6)), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.truncate_before(Lsn::new(7)), Err(Error::LsnOutOfRange { .. })));
    // The largest LSN an argument can name is out of range too, never an
    // overflow (truncate_after(u64::MAX) added 1 to it and panicked).
    let max = Lsn::new(u64::MAX);
    assert!(matches!(wal.truncate_after(max), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.truncate_before(max), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.read(max), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.sync(max), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.range(max..), Err(Error::LsnOutOfRange { .. })));
    assert!(matches!(wal.reset(max), Err(Error::LsnOutOfRange { .. })));
    assert_eq!(wal.last_lsn(), Lsn::new(5), "nothing changed");
    let batch = wal.append_batch([&b"x"[..], b"y", b"z"]).unwrap();
    assert!(matches!(wal.truncate_after(Lsn::new(batch.start().get())), Err(Error::InsideBatch { .. })));
    wal.truncate_after(Lsn::new(batch.end().get())).unwrap();
    assert_eq!(wal.last_lsn(), Lsn::new(8));
    let reader = Reader::open(dir.path()).unwrap();
    assert!(matches!(reader.iter_from(Lsn::new(10)), Err(Error::LsnOutOfRange { .. })));
}

#[test]
fn a_file_is_not_a_log_directory() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"data").unwrap();
    for r in [Wal::open(&file, Options::default()).map(drop), Reader::open(&file).map(drop)] {
        assert!(matches!(r, Err(Error::NotALog { reason: NotALogReason::NotADirectory, .. })), "{r:?}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
}

#[test]
fn a_directory_of_other_files_is_not_taken_over() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let r = Wal::open(dir.path(), Options::default()).map(drop);
    assert!(matches!(r, Err(Error::NotALog { reason: NotALogReason::ForeignFiles, .. })), "{r:?}");
    assert!(!dir.path().join("0000000000000001.wal").exists());
}

#[test]
fn missing_or_empty_directories_for_readers() {
    let _turn = spawn_turn::holding_logs();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(matches!(Reader::open(&missing), Err(Error::NotALog { reason: NotALogReason::Missing, .. })));
    assert!(matches!(Reader::open(dir.path()), Err(Error::NotALog { reason: NotALogReason::NoSegments, .. })));
    assert!(!missing.exists(), "a reader creates nothing");
    // A writer creates what is missing.
    let (wal, report) = Wal::open(&missing, Options::default()).unwrap();
    assert!(report.is_clean());
    assert_eq!(wal.append(b"first").unwrap(), Lsn::new(1));
}

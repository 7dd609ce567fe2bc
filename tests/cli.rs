//! The `seawall` tool end to end: every command and every documented exit
//! status, on logs built with the library and then damaged (torn tail,
//! zeroed sector, flipped bit mid-log, stale segment, wrong magic, empty and
//! missing directories), and proof that read-only commands change no byte.
//! `dump` has its own file (`cli_dump.rs`), as do the conventions every
//! command follows (`cli_conventions.rs`) and what a terminal shows
//! (`cli_terminal.rs`).
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::path::Path;

use cli::*;
use seawall::format::RECORD_HEADER_LEN;
use seawall::{Lsn, Reader, SegmentHeader, SegmentId, SegmentState, Wal};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// verify: one test per exit status and damage case.
// ---------------------------------------------------------------------------

#[test]
fn verify_clean_log_exits_0() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let out = run(&["verify"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stdout(&out));
    assert!(stdout(&out).starts_with("clean: 40 records checked"), "{}", stdout(&out));
    let (status, doc) = verify(&dir);
    assert_eq!((status, doc["status"].as_str(), doc["records_checked"].as_u64()), (CLEAN, Some("clean"), Some(40)));
}

#[test]
fn verify_torn_tail_exits_1() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    tear_tail(&dir);
    let (status, doc) = verify(&dir);
    assert_eq!(status, TORN, "{doc}");
    assert_eq!(doc["tail"]["state"], "torn");
    assert_eq!(doc["tail"]["last_lsn"], 40);
    assert!(stdout(&run(&["verify"], &dir)).contains("a normal open drops them"));
}

#[test]
fn verify_zeroed_sector_mid_log_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(400);
    let (seg, off) = locate(&dir, 100);
    zero_range(&seg, off / 512 * 512, 512);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!(doc["tail"]["state"], "corrupt");
    assert!(doc["tail"]["valid_records_after"].as_u64().unwrap() > 0, "{doc}");
}

#[test]
fn verify_flipped_bit_mid_log_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 5);
    flip_bit(&seg, off + RECORD_HEADER_LEN as u64 + 2, 3);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!((doc["tail"]["lsn"].as_u64(), doc["last_lsn"].as_u64()), (Some(5), Some(4)));
    let text = stdout(&run(&["verify"], &dir));
    assert!(text.starts_with("corrupt: 4 records checked"), "{text}");
}

/// `verify` checks every record of sealed segments too: a normal open
/// trusts them through their trailers, and `verify` used to as well, so a
/// flipped bit inside a sealed segment came out clean.
#[test]
fn verify_flipped_bit_inside_a_sealed_segment_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(1500);
    let (seg, off) = locate(&dir, 5);
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    let holder = segments.iter().find(|s| s.path == seg).expect("the record's segment is inspected");
    assert_eq!(holder.state, SegmentState::Sealed, "LSN 5 lies in a sealed segment");
    flip_bit(&seg, off + RECORD_HEADER_LEN as u64 + 2, 3);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!((doc["tail"]["state"].as_str(), doc["tail"]["lsn"].as_u64()), (Some("corrupt"), Some(5)), "{doc}");
    let text = stdout(&run(&["verify"], &dir));
    assert!(text.starts_with("corrupt: 4 records checked"), "{text}");
}

#[test]
fn verify_stale_segment_exits_2() {
    let _turn = cli::one_at_a_time();
    // A copy of an old segment left under a newer name: its header names
    // another segment, and it holds records.
    let (_tmp, dir) = durable_log(1500);
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    assert!(segments.len() >= 2, "the log rotated");
    let next = segments.last().unwrap().id.next();
    std::fs::copy(&segments[0].path, dir.join(next.file_name())).unwrap();
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!(doc["tail"]["segment"], next.file_name());
}

/// Regression: with the oldest of 25 segment files deleted, verify called
/// the log clean (exit 0).
#[test]
fn verify_missing_oldest_segment_exits_2() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("log");
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    // Eight records of 8000 bytes fill a 64 KiB segment.
    for _ in 0..25 * 8 {
        wal.append(&[0x5a; 8000]).unwrap();
    }
    wal.close().unwrap();
    assert!(Reader::open(&dir).unwrap().inspection().segments.len() >= 25);
    std::fs::remove_file(dir.join(SegmentId::new(1).file_name())).unwrap();
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "verify of a log missing its first segment file: {doc}");
}

#[test]
fn verify_wrong_magic_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    flip_bit(&dir.join(SegmentId::new(1).file_name()), 0, 0);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!(doc["tail"]["reason"], "bad magic");
}

#[test]
fn verify_unsupported_version_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let header = SegmentHeader {
        version: 99,
        id: SegmentId::new(1),
        first_lsn: 1,
        salt: 7,
        prev_crc: 0,
        reset: false,
        copy: false,
        ahead: false,
        prev_synced: 0,
    };
    let mut file = header.encode().to_vec();
    file.resize(64 * 1024, 0);
    std::fs::write(tmp.path().join(SegmentId::new(1).file_name()), file).unwrap();
    let out = run(&["verify"], tmp.path());
    assert_eq!(code(&out), NOT_A_LOG);
    assert!(stderr(&out).contains("format version 99"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_empty_directory_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let (status, doc) = verify(tmp.path());
    assert_eq!((status, doc["status"].as_str()), (NOT_A_LOG, Some("unreadable")));
    let out = run(&["verify"], tmp.path());
    assert!(stderr(&out).contains("no segment files"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_missing_directory_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let out = run(&["verify"], &tmp.path().join("nope"));
    assert_eq!(code(&out), NOT_A_LOG);
    assert!(stderr(&out).contains("no such directory"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_file_instead_of_directory_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"hello").unwrap();
    let out = run(&["verify"], &file);
    assert_eq!(code(&out), NOT_A_LOG);
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_directory_of_other_files_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"not a log").unwrap();
    let out = run(&["verify"], tmp.path());
    assert_eq!(code(&out), NOT_A_LOG);
    assert_one_clear_line(&out);
}

#[test]
fn verify_unreadable_segment_exits_3() {
    let _turn = cli::one_at_a_time();
    // A directory where a segment file should be: reading it fails (even
    // for root, whom file permissions would not stop).
    let (_tmp, dir) = durable_log(3);
    std::fs::create_dir(dir.join(SegmentId::new(2).file_name())).unwrap();
    let out = run(&["verify"], &dir);
    assert_eq!(code(&out), NOT_A_LOG, "{}", stdout(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_garbage_segment_file_is_classified() {
    let _turn = cli::one_at_a_time();
    // A segment full of garbage after a valid one: damage with data.
    let (_tmp, dir) = durable_log(3);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(dir.join(SegmentId::new(2).file_name()), garbage).unwrap();
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    // A truncated segment file: a header cut short over no data is a torn rotation.
    std::fs::write(dir.join(SegmentId::new(2).file_name()), &b"SEAWALL\0\x01"[..]).unwrap();
    let (status, doc) = verify(&dir);
    assert_eq!(status, TORN, "{doc}");
}

// ---------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------

#[test]
fn inspect_shows_segments_totals_and_tail() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(1500);
    let out = run(&["inspect"], &dir);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("SEGMENT") && text.contains("ALLOCATED") && text.contains("total ("), "{text}");
    assert!(text.contains("sealed") && text.contains("active"), "{text}");
    assert!(text.contains("tail: clean"), "{text}");

    let out = run(&["inspect", "--json"], &dir);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["first_lsn"].as_u64(), doc["last_lsn"].as_u64()), (Some(1), Some(1500)));
    let segs = doc["segments"].as_array().unwrap();
    assert!(segs.len() >= 2);
    assert_eq!(segs.iter().map(|s| s["records"].as_u64().unwrap()).sum::<u64>(), 1500);
    assert_eq!(doc["tail"]["state"], "clean");
    assert_eq!(doc["writer"], "none");
}

#[test]
fn inspect_reports_corruption_and_torn_tail_with_exit_0() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    tear_tail(&dir);
    let out = run(&["inspect"], &dir);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("tail: torn"), "{}", stdout(&out));
    let (seg, off) = locate(&dir, 10);
    flip_bit(&seg, off + 40, 0);
    let out = run(&["inspect", "--json"], &dir);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["tail"]["state"], "corrupt", "{doc}");
    assert_eq!(doc["tail"]["lsn"], 10);
    assert_eq!(doc["tail"]["valid_records_after"], 30);
}

#[test]
fn inspect_says_when_a_writer_has_the_log_open() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&run(&["inspect", "--json"], &dir).stdout).unwrap();
    assert_eq!(doc["writer"], "active");
    assert!(stdout(&run(&["inspect"], &dir)).contains("may still be in flight"));
    assert!(stdout(&run(&["verify"], &dir)).contains("may still be in flight"));
    assert!(stderr(&run(&["dump"], &dir)).contains("may still be in flight"));
    drop(wal);
    let doc: serde_json::Value = serde_json::from_slice(&run(&["inspect", "--json"], &dir).stdout).unwrap();
    assert_eq!(doc["writer"], "none");
}

#[test]
fn inspect_bad_input_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    for path in [tmp.path().to_path_buf(), tmp.path().join("missing")] {
        let out = run(&["inspect"], &path);
        assert_eq!(code(&out), NOT_A_LOG);
        assert_one_clear_line(&out);
    }
}

// ---------------------------------------------------------------------------
// repair
// ---------------------------------------------------------------------------

#[test]
fn repair_cuts_a_torn_tail_and_dry_run_changes_nothing() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    tear_tail(&dir);
    let before = snapshot(&dir);
    let out = run(&["repair", "--dry-run"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("would clear"), "{}", stdout(&out));
    assert_eq!(snapshot(&dir), before, "a dry run modified the log");
    assert_eq!(verify(&dir).0, TORN);

    let out = run(&["repair"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("did clear") && text.contains("21 bytes dropped"), "{text}");
    assert_eq!(verify(&dir).0, CLEAN);
    let again = stdout(&run(&["repair"], &dir));
    assert!(again.contains("did nothing"), "{again}");
}

#[test]
fn repair_refuses_corruption_without_salvage() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 7);
    flip_bit(&seg, off + 33, 1);
    let without_lock =
        |dir: &Path| -> BTreeMap<_, _> { snapshot(dir).into_iter().filter(|(p, _)| !p.ends_with("LOCK")).collect() };
    let before = without_lock(&dir);
    for args in [&["repair"][..], &["repair", "--dry-run"][..]] {
        let out = run(args, &dir);
        assert_eq!(code(&out), CORRUPT, "{args:?}");
        assert!(stderr(&out).contains("--salvage"), "{}", stderr(&out));
        assert_one_clear_line(&out);
        assert_eq!(without_lock(&dir), before, "{args:?} modified the log");
    }
}

#[test]
fn repair_salvage_quarantines_the_cut_bytes() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 7);
    flip_bit(&seg, off + 33, 1);
    let out = run(&["repair", "--salvage", "--dry-run"], &dir);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("would copy"), "{}", stdout(&out));
    let out = run(&["repair", "--salvage"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("did copy") && stdout(&out).contains("LSN 1..=6"), "{}", stdout(&out));
    let quarantined: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".quarantine"))
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(verify(&dir).0, CLEAN);
}

#[test]
fn repair_bad_input_creates_nothing() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let missing = tmp.path().join("missing");
    let out = run(&["repair"], &missing);
    assert_eq!(code(&out), NOT_A_LOG);
    assert_one_clear_line(&out);
    assert!(!missing.exists(), "repair created the directory");
    let out = run(&["repair"], tmp.path());
    assert_eq!(code(&out), NOT_A_LOG);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "repair wrote into an empty directory");
}

#[test]
fn repair_of_a_log_held_open_exits_4() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    let out = run(&["repair"], &dir);
    assert_eq!(code(&out), LOCKED);
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    assert_one_clear_line(&out);
    wal.close().unwrap();
}

#[test]
fn repair_dry_run_of_a_log_held_open_exits_4_and_changes_nothing() {
    let _turn = cli::one_at_a_time();
    // A plan made without the lock would judge the writer's files (a spare
    // segment made ahead of need, a write in flight) as if it had crashed.
    // The writer makes no spare here, so that its files stay still while
    // they are compared.
    let (_tmp, dir) = durable_log(5);
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.append_durable(b"in the live log").unwrap();
    let before = snapshot(&dir);
    for args in [&["repair", "--dry-run"][..], &["repair", "--dry-run", "--salvage"][..]] {
        let out = run(args, &dir);
        assert_eq!(code(&out), LOCKED, "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} printed a plan: {}", stdout(&out));
        assert_one_clear_line(&out);
        assert_eq!(snapshot(&dir), before, "{args:?} modified the log");
    }
    wal.close().unwrap();
    let out = run(&["repair", "--dry-run"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// Read-only means read-only.
// ---------------------------------------------------------------------------

#[test]
fn read_only_commands_change_no_byte_of_a_damaged_log() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(1500);
    tear_tail(&dir);
    let (seg, off) = locate(&dir, 700);
    flip_bit(&seg, off + 40, 5);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    let before = snapshot(&dir);
    let commands: [&[&str]; 14] = [
        &["inspect"],
        &["inspect", "--json"],
        &["verify"],
        &["verify", "--json"],
        &["dump"],
        &["dump", "--format", "json"],
        &["dump", "--format", "hex"],
        &["dump", "--format", "raw"],
        &["dump", "--from", "3", "--to", "9"],
        &["dump", "--past-damage"],
        &["dump", "--past-damage", "--meta", "--json"],
        &["dump", "--follow", "--to", "3"],
        &["repair", "--dry-run"],
        &["repair", "--dry-run", "--salvage"],
    ];
    for args in commands {
        let out = run(args, &dir);
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        assert_eq!(snapshot(&dir), before, "{args:?} modified the log");
    }
    for file in std::fs::read_dir(&dir).unwrap() {
        let out = seawall().args(["dump", "--meta"]).arg(file.unwrap().path()).output().unwrap();
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert_eq!(snapshot(&dir), before, "dump of a file modified the log");
    }
    assert!(!dir.join("LOCK").exists(), "a read-only command created the lock file");
}

// ---------------------------------------------------------------------------
// bench, demo, usage
// ---------------------------------------------------------------------------

#[test]
fn bench_with_tiny_parameters_reports_its_figures() {
    let _turn = cli::one_at_a_time();
    let out = seawall().args(["bench", "--writers", "2", "--records", "40", "--record-size", "16"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for figure in ["ops/s", "p99.9", "records per fsync", "baseline", "ratio"] {
        assert!(text.contains(figure), "{figure} missing: {text}");
    }
    assert!(text.contains("fsyncs") && text.contains("for 40 records"), "{text}");
}

#[test]
fn bench_no_sync_in_a_given_directory() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("bench");
    let out = seawall().args(["bench", "--no-sync", "--writers", "3", "--records", "30"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(Reader::open(&dir).unwrap().last_lsn(), Lsn::new(30));
    // It refuses to write into a directory that holds something.
    let out = seawall().args(["bench", "--records", "5"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
    assert_one_clear_line(&out);
}

#[test]
fn demo_kills_tears_recovers_and_proves() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("demo");
    let out = seawall().args(["demo", "--acks", "300", "--writers", "8"]).arg(&dir).output().unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    assert!(text.contains("sent SIGKILL") && text.contains("tore the tail"), "{text}");
    assert!(text.contains("PASS"), "{text}");
    assert_eq!(verify(&dir).0, CLEAN);
    // The demo never reuses a directory that holds something.
    let out = seawall().arg("demo").arg(&dir).output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
}

#[test]
fn demo_default_runs_in_a_temporary_directory() {
    let _turn = cli::one_at_a_time();
    let out = seawall().arg("demo").output().unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS"));
}

#[test]
fn help_documents_the_exit_codes_and_usage_errors_exit_5() {
    let _turn = cli::one_at_a_time();
    let out = seawall().args(["verify", "--help"]).output().unwrap();
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("1  torn tail") && text.contains("2  corruption") && text.contains("3  not a seawall log"));
    assert!(stdout(&seawall().arg("--help").output().unwrap()).contains("Exit status"));
    let out = seawall().arg("frobnicate").output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
    let out = seawall().arg("inspect").output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
}

/// Every action `repair` takes prints as a sentence, the copy of records no
/// later record proved durable among them (it printed as a debug dump).
#[test]
fn repair_of_a_crashed_writer_names_the_unclaimed_copy_in_words() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    damage::crash_before_close(&dir);
    let out = run(&["repair"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let copy = text.lines().find(|l| l.contains("did copy")).unwrap_or_else(|| panic!("no copy in {text}"));
    assert!(copy.contains("LSN 5..=5 into 0000000000000002.wal: no later record proved them durable"), "{text}");
    assert!(!text.contains('{') && !text.contains("SegmentId("), "{text}");
}

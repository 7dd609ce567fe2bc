//! The `seawall` tool end to end: every command and every documented exit
//! status, on logs built with the library and then damaged (torn tail,
//! zeroed sector, flipped bit mid-log, stale segment, wrong magic, empty and
//! missing directories), and proof that read-only commands change no byte.
#![cfg(feature = "cli")]

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

#[path = "support/damage.rs"]
mod damage;

use assert_cmd::Command;
use damage::{flip_bit, write_bytes as write_at, zero_range};
use seawall::format::RECORD_HEADER_LEN;
use seawall::{Lsn, Options, Reader, SegmentHeader, SegmentId, SegmentState, Wal};
use tempfile::TempDir;

const CLEAN: i32 = 0;
const TORN: i32 = 1;
const CORRUPT: i32 = 2;
const NOT_A_LOG: i32 = 3;
const LOCKED: i32 = 4;
const BAD_ARGS: i32 = 5;
const FAILED: i32 = 6;

fn seawall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seawall"))
}

fn options() -> Options {
    // Small segments so tests rotate; no spare segment so directories are
    // exactly what the test wrote.
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

fn payload(i: u64) -> Vec<u8> {
    format!("record {i} {}", "x".repeat((i % 50) as usize)).into_bytes()
}

/// A log of `n` records, each appended durably, so every record after the
/// first names its predecessor as durable (damage mid-log is corruption).
fn durable_log(n: u64) -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("log");
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    for i in 1..=n {
        assert_eq!(wal.append_durable(&payload(i)).unwrap(), Lsn::new(i));
    }
    wal.close().unwrap();
    (tmp, dir)
}

/// Where record `lsn` lies: its segment file and offset.
fn locate(dir: &Path, lsn: u64) -> (PathBuf, u64) {
    let reader = Reader::open(dir).unwrap();
    let rec = reader.iter_from(Lsn::new(lsn)).unwrap().next().unwrap().unwrap();
    (dir.join(rec.segment().file_name()), rec.offset())
}

/// The active segment and the offset just past its last valid record.
fn valid_end(dir: &Path) -> (PathBuf, u64) {
    let reader = Reader::open(dir).unwrap();
    let seg = reader.inspection().segments.iter().find(|s| s.state == SegmentState::Active).unwrap().clone();
    (seg.path, seg.bytes_used)
}

/// Garbage after the last valid record: a write cut by a crash.
fn tear_tail(dir: &Path) {
    let (seg, end) = valid_end(dir);
    write_at(&seg, end, &[0xAB; 21]);
}

/// Every file in `dir` (recursively) with its length and a hash of its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, u64)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let mut h = DefaultHasher::new();
            h.write(&bytes);
            files.insert(path, (bytes.len() as u64, h.finish()));
        }
    }
    files
}

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    seawall().args(args).arg(dir).output().unwrap()
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The exit status and the JSON document of `verify --json`.
fn verify(dir: &Path) -> (i32, serde_json::Value) {
    let out = run(&["verify", "--json"], dir);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["exit_code"], code(&out), "{doc}");
    (code(&out), doc)
}

/// One line on stderr, prefixed with the tool's name, and no panic.
fn assert_one_clear_line(out: &std::process::Output) {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    assert!(err.starts_with("seawall: "), "stderr: {err:?}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "stderr: {err:?}");
}

// ---------------------------------------------------------------------------
// verify: one test per exit status and damage case.
// ---------------------------------------------------------------------------

#[test]
fn verify_clean_log_exits_0() {
    let (_tmp, dir) = durable_log(40);
    let out = run(&["verify"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stdout(&out));
    assert!(stdout(&out).starts_with("clean: 40 records checked"), "{}", stdout(&out));
    let (status, doc) = verify(&dir);
    assert_eq!((status, doc["status"].as_str(), doc["records_checked"].as_u64()), (CLEAN, Some("clean"), Some(40)));
}

#[test]
fn verify_torn_tail_exits_1() {
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
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 5);
    flip_bit(&seg, off + RECORD_HEADER_LEN as u64 + 2, 3);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!((doc["tail"]["lsn"].as_u64(), doc["last_lsn"].as_u64()), (Some(5), Some(4)));
    let text = stdout(&run(&["verify"], &dir));
    assert!(text.starts_with("corrupt: 4 records checked"), "{text}");
}

#[test]
fn verify_stale_segment_exits_2() {
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
    let (_tmp, dir) = durable_log(10);
    flip_bit(&dir.join(SegmentId::new(1).file_name()), 0, 0);
    let (status, doc) = verify(&dir);
    assert_eq!(status, CORRUPT, "{doc}");
    assert_eq!(doc["tail"]["reason"], "bad magic");
}

#[test]
fn verify_unsupported_version_exits_3() {
    let tmp = TempDir::new().unwrap();
    let header = SegmentHeader { version: 99, id: SegmentId::new(1), first_lsn: 1, salt: 7, prev_crc: 0 };
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
    let tmp = TempDir::new().unwrap();
    let (status, doc) = verify(tmp.path());
    assert_eq!((status, doc["status"].as_str()), (NOT_A_LOG, Some("unreadable")));
    let out = run(&["verify"], tmp.path());
    assert!(stderr(&out).contains("no segment files"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_missing_directory_exits_3() {
    let tmp = TempDir::new().unwrap();
    let out = run(&["verify"], &tmp.path().join("nope"));
    assert_eq!(code(&out), NOT_A_LOG);
    assert!(stderr(&out).contains("no such directory"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn verify_file_instead_of_directory_exits_3() {
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
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"not a log").unwrap();
    let out = run(&["verify"], tmp.path());
    assert_eq!(code(&out), NOT_A_LOG);
    assert_one_clear_line(&out);
}

#[test]
fn verify_unreadable_segment_exits_3() {
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
    let tmp = TempDir::new().unwrap();
    for path in [tmp.path().to_path_buf(), tmp.path().join("missing")] {
        let out = run(&["inspect"], &path);
        assert_eq!(code(&out), NOT_A_LOG);
        assert_one_clear_line(&out);
    }
}

// ---------------------------------------------------------------------------
// dump
// ---------------------------------------------------------------------------

#[test]
fn dump_text_respects_from_to_and_limit() {
    let (_tmp, dir) = durable_log(30);
    let out = seawall().args(["dump", "--from", "5", "--to", "20", "--limit", "3"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("LSN") && lines[0].contains("PAYLOAD"));
    assert!(lines[1].trim_start().starts_with("5 ") && lines[1].contains("record 5"), "{text}");
    assert!(lines[3].trim_start().starts_with("7 "), "{text}");
}

#[test]
fn dump_json_lines_mark_text_and_binary_payloads() {
    let tmp = TempDir::new().unwrap();
    let (wal, _) = Wal::open(tmp.path(), options()).unwrap();
    wal.append(b"plain text").unwrap();
    wal.append(&[0xff, 0x00, 0xfe]).unwrap();
    wal.append_batch([&b"a"[..], b"b", b"c"]).unwrap();
    wal.close().unwrap();
    for flag in [&["--format", "json"][..], &["--json"][..]] {
        let out = seawall().arg("dump").args(flag).arg(tmp.path()).output().unwrap();
        assert_eq!(code(&out), 0);
        let docs: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(docs.len(), 5);
        assert_eq!(
            (docs[0]["payload_encoding"].as_str(), docs[0]["payload"].as_str()),
            (Some("utf8"), Some("plain text"))
        );
        assert_eq!((docs[1]["payload_encoding"].as_str(), docs[1]["payload"].as_str()), (Some("base64"), Some("/wD+")));
        assert_eq!(docs[1]["length"], 3);
        let batch: Vec<&str> = docs[2..].iter().map(|d| d["batch"].as_str().unwrap()).collect();
        assert_eq!(batch, ["first", "middle", "last"]);
        for (i, d) in docs.iter().enumerate() {
            assert_eq!(d["lsn"], i as u64 + 1);
            for field in ["checksum", "segment", "offset"] {
                assert!(!d[field].is_null(), "{field} missing in {d}");
            }
        }
    }
}

#[test]
fn dump_raw_is_length_prefixed_payloads() {
    let (_tmp, dir) = durable_log(12);
    let out = seawall().args(["dump", "--format", "raw"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), 0);
    let (mut bytes, mut i) = (&out.stdout[..], 1);
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(&bytes[4..4 + len], payload(i).as_slice());
        bytes = &bytes[4 + len..];
        i += 1;
    }
    assert_eq!(i, 13);
}

#[test]
fn dump_hex_shows_header_and_bytes() {
    let (_tmp, dir) = durable_log(2);
    let out = seawall().args(["dump", "--format", "hex", "--limit", "1"]).arg(&dir).output().unwrap();
    let text = stdout(&out);
    assert!(text.starts_with("LSN 1  length 10"), "{text}");
    assert!(text.contains("72 65 63 6f 72 64") && text.contains("|record 1 x|"), "{text}");
}

#[test]
fn dump_lsn_out_of_range_exits_5() {
    let (_tmp, dir) = durable_log(10);
    for args in [&["--from", "12"][..], &["--to", "11"][..], &["--from", "0"][..]] {
        let out = seawall().arg("dump").args(args).arg(&dir).output().unwrap();
        assert_eq!(code(&out), BAD_ARGS, "{args:?}");
        assert!(stderr(&out).contains("outside"), "{}", stderr(&out));
        assert_one_clear_line(&out);
    }
    let out = seawall().args(["dump", "--from", "eleven"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), BAD_ARGS);
}

#[test]
fn dump_to_a_full_disk_exits_6() {
    let (_tmp, dir) = durable_log(50);
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_seawall")).arg("dump").arg(&dir).stdout(full).output().unwrap();
    assert_eq!(code(&out), FAILED);
    assert_one_clear_line(&out);
}

#[test]
fn dump_of_a_torn_log_prints_the_valid_prefix() {
    let (_tmp, dir) = durable_log(8);
    tear_tail(&dir);
    let out = seawall().args(["dump", "--json"]).arg(&dir).output().unwrap();
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out).lines().count(), 8);
    assert!(stderr(&out).contains("torn tail after LSN 8"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// repair
// ---------------------------------------------------------------------------

#[test]
fn repair_cuts_a_torn_tail_and_dry_run_changes_nothing() {
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
    let (_tmp, dir) = durable_log(5);
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    let out = run(&["repair"], &dir);
    assert_eq!(code(&out), LOCKED);
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    assert_one_clear_line(&out);
    wal.close().unwrap();
}

// ---------------------------------------------------------------------------
// Read-only means read-only.
// ---------------------------------------------------------------------------

#[test]
fn read_only_commands_change_no_byte_of_a_damaged_log() {
    let (_tmp, dir) = durable_log(1500);
    tear_tail(&dir);
    let (seg, off) = locate(&dir, 700);
    flip_bit(&seg, off + 40, 5);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    let before = snapshot(&dir);
    let commands: [&[&str]; 11] = [
        &["inspect"],
        &["inspect", "--json"],
        &["verify"],
        &["verify", "--json"],
        &["dump"],
        &["dump", "--format", "json"],
        &["dump", "--format", "hex"],
        &["dump", "--format", "raw"],
        &["dump", "--from", "3", "--to", "9"],
        &["repair", "--dry-run"],
        &["repair", "--dry-run", "--salvage"],
    ];
    for args in commands {
        let out = run(args, &dir);
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        assert_eq!(snapshot(&dir), before, "{args:?} modified the log");
    }
    assert!(!dir.join("LOCK").exists(), "a read-only command created the lock file");
}

// ---------------------------------------------------------------------------
// bench, demo, usage
// ---------------------------------------------------------------------------

#[test]
fn bench_with_tiny_parameters_reports_its_figures() {
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
    let out = seawall().arg("demo").output().unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS"));
}

#[test]
fn help_documents_the_exit_codes_and_usage_errors_exit_5() {
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

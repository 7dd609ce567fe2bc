//! What `seawall` shows of a damaged log beyond its recovered part: `dump
//! --past-damage` (the records after mid-log damage, marked as outside the
//! log, without the records a cut removed or a later segment supersedes, and
//! the exit status that still reports the damage), `dump FILE` of a single
//! segment or quarantine file, the metadata and purge point (`dump --meta`,
//! `inspect`), and the LSN ranges `inspect` names as missing.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::*;
use seawall::format::RECORD_HEADER_LEN;
use seawall::{Lsn, Reader, SegmentId, Wal};
use tempfile::TempDir;

fn dump(args: &[&str], path: &Path) -> std::process::Output {
    seawall().arg("dump").args(args).arg(path).output().unwrap()
}

/// `(lsn, in_log)` of every record object of a JSON dump (the failure
/// object at the end, if any, has no LSN).
fn lsns(out: &std::process::Output) -> Vec<(u64, bool)> {
    json_lines(out).iter().filter_map(|d| Some((d["lsn"].as_u64()?, d["in_log"].as_bool().unwrap_or(true)))).collect()
}

/// Damages the payload of record `lsn`.
fn damage_record(dir: &Path, lsn: u64) {
    let (seg, off) = locate(dir, lsn);
    flip_bit(&seg, off + RECORD_HEADER_LEN as u64 + 1, 2);
}

fn quarantine_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".quarantine"))
        .collect();
    files.sort();
    files
}

#[test]
fn dump_past_damage_prints_the_records_after_the_damage_marked_and_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    damage_record(&dir, 10);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let want: Vec<(u64, bool)> = (1..=9).map(|l| (l, true)).chain((11..=40).map(|l| (l, false))).collect();
    assert_eq!(lsns(&out), want);
    let docs = json_lines(&out);
    let outside: Vec<&serde_json::Value> = docs.iter().filter(|d| d["in_log"] == false).collect();
    // Record 11 names the damaged record 10 as its predecessor: not chained.
    assert_eq!(outside[0]["chained"], false);
    assert!(outside[1..].iter().all(|d| d["chained"] == true), "{outside:?}");
    assert_eq!(outside[0]["payload"].as_str().unwrap().as_bytes(), payload(11).as_slice());
    let last = docs.last().unwrap();
    assert_eq!((last["status"].as_str(), last["exit_status"].as_i64()), (Some("corrupt"), Some(2)), "{last}");

    let out = dump(&["--past-damage"], &dir);
    assert_eq!(code(&out), CORRUPT);
    let text = stdout(&out);
    let banner = text.lines().position(|l| l.starts_with("# past the damage")).expect(&text);
    assert_eq!(banner, 1 + 9, "{text}");
    assert!(text.lines().nth(banner + 1).unwrap().contains("30 records, LSN 11..=40 (29 chained)"), "{text}");
    assert!(text.lines().nth(banner + 2).unwrap().contains("CHAIN"), "{text}");
    assert_eq!(text.lines().count(), 1 + 9 + 3 + 30, "{text}");
    let err = stderr(&out);
    assert!(err.contains("corrupt at LSN 10") && err.contains("printed 30 records found after it"), "{err}");
    assert_one_clear_line(&out);
}

#[test]
fn dump_without_past_damage_refuses_lsns_past_the_damage_and_says_how() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    damage_record(&dir, 10);
    let out = dump(&["--from", "20"], &dir);
    assert_eq!(code(&out), BAD_ARGS);
    assert!(stderr(&out).contains("outside the log") && stderr(&out).contains("--past-damage"), "{}", stderr(&out));
    assert_one_clear_line(&out);
    let out = dump(&["--from", "20", "--to", "25", "--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT);
    assert_eq!(lsns(&out), (20..=25).map(|l| (l, false)).collect::<Vec<_>>());
    // Without the option, the stderr line says the records exist.
    let out = dump(&[], &dir);
    assert!(stderr(&out).contains("30 valid records") && stderr(&out).contains("--past-damage"), "{}", stderr(&out));
}

#[test]
fn dump_past_damage_finds_damage_inside_a_sealed_segment() {
    let _turn = cli::one_at_a_time();
    // A plain open trusts sealed segments through their trailers; the
    // past-damage scan reads them.
    let (_tmp, dir) = durable_log(1500);
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    assert!(segments.len() >= 2, "the log rotated");
    damage_record(&dir, 100);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let want: Vec<(u64, bool)> = (1..=99).map(|l| (l, true)).chain((101..=1500).map(|l| (l, false))).collect();
    assert_eq!(lsns(&out), want);
    let text = stdout(&dump(&["--past-damage", "--from", "1500"], &dir));
    let files = text.lines().filter(|l| l.starts_with("# 0000")).count();
    assert_eq!(files, segments.iter().filter(|s| s.records > 0).count(), "{text}");
}

#[test]
fn dump_past_damage_leaves_out_records_a_cut_marker_removed() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    let (seg, off6) = locate(&dir, 6);
    let (_, end) = valid_end(&dir);
    let before = std::fs::read(&seg).unwrap();
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.truncate_after(Lsn::new(5)).unwrap();
    wal.close().unwrap();
    // A crash after the marker was durable, before the dead bytes were
    // cleared: records 6..=10 are back, still valid, before the marker.
    write_at(&seg, off6, &before[off6 as usize..end as usize]);
    damage_record(&dir, 3);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    assert_eq!(lsns(&out), [(1, true), (2, true), (4, false), (5, false)]);
    let text = stdout(&dump(&["--past-damage"], &dir));
    assert!(text.contains("LSN 4..=5 (1 chained); left out: 5 cut, 0 superseded"), "{text}");
}

#[test]
fn dump_past_damage_keeps_the_records_written_after_a_cut() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    let (seg, off6) = locate(&dir, 6);
    let (_, end) = valid_end(&dir);
    let before = std::fs::read(&seg).unwrap();
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.truncate_after(Lsn::new(5)).unwrap();
    for i in 6..=8 {
        wal.append_durable(format!("rewritten {i}").as_bytes()).unwrap();
    }
    wal.close().unwrap();
    write_at(&seg, off6, &before[off6 as usize..end as usize]);
    damage_record(&dir, 3);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let outside: Vec<(u64, String)> = json_lines(&out)
        .iter()
        .filter(|d| d["in_log"] == false)
        .map(|d| (d["lsn"].as_u64().unwrap(), d["payload"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(u64, String)> = (4..=5)
        .map(|l| (l, String::from_utf8(payload(l)).unwrap()))
        .chain((6..=8).map(|l| (l, format!("rewritten {l}"))))
        .collect();
    assert_eq!(outside, want);
}

#[test]
fn dump_past_damage_leaves_out_records_a_later_segment_supersedes() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(1500);
    let first = Reader::open(&dir).unwrap().inspection().segments[0].clone();
    let (old_last, cut) = (first.last_lsn.unwrap().get(), first.last_lsn.unwrap().get() - 50);
    let (seg, off) = locate(&dir, cut + 1);
    let before = std::fs::read(&seg).unwrap();
    // A cut across segments: a new segment starts at `cut + 1`, and the
    // bytes of the first segment after `cut` are cleared; put them back, as
    // a crash before the clearing would have left them.
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.truncate_after(Lsn::new(cut)).unwrap();
    wal.append_durable(b"after the cut").unwrap();
    wal.close().unwrap();
    write_at(&seg, off, &before[off as usize..]);
    damage_record(&dir, cut - 10);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let want: Vec<(u64, bool)> =
        (1..cut - 10).map(|l| (l, true)).chain((cut - 9..=cut + 1).map(|l| (l, false))).collect();
    assert_eq!(lsns(&out), want);
    let text = stdout(&dump(&["--past-damage", "--from", &cut.to_string()], &dir));
    let superseded =
        format!("left out: 0 cut, {} superseded (a later segment supersedes every LSN after {cut})", old_last - cut);
    assert!(text.contains(&superseded), "{text}");
}

#[test]
fn dump_past_damage_of_a_clean_log_prints_the_log() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
    assert_eq!(lsns(&out), (1..=5).map(|l| (l, true)).collect::<Vec<_>>());
    assert!(!stdout(&dump(&["--past-damage"], &dir)).contains("past the damage"));
}

#[test]
fn dump_past_damage_or_meta_with_raw_exits_5() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    for flag in ["--past-damage", "--meta"] {
        let out = dump(&[flag, "--format", "raw"], &dir);
        assert_eq!(code(&out), BAD_ARGS, "{flag}");
        assert_one_clear_line(&out);
    }
}

#[test]
fn dump_of_a_quarantine_file_lists_the_records_it_holds() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    damage_record(&dir, 10);
    let out = run(&["repair", "--salvage"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
    let files = quarantine_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    // The quarantine file holds the damaged record 10 and the 30 after it.
    let out = dump(&["--json"], &files[0]);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
    assert_eq!(lsns(&out), (11..=40).map(|l| (l, false)).collect::<Vec<_>>());
    let text = stdout(&dump(&[], &files[0]));
    assert!(text.starts_with("# file ") && text.contains("segment 0000000000000001.wal"), "{text}");
    assert!(text.contains("30 records, LSN 11..=40 (29 chained)"), "{text}");
    // Raw output carries the payloads, for a program rescuing them.
    let out = dump(&["--format", "raw", "--limit", "1"], &files[0]);
    assert_eq!(&out.stdout[4..], payload(11).as_slice());
}

#[test]
fn dump_of_a_segment_file_lists_its_records_past_its_damage() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    damage_record(&dir, 10);
    let seg = dir.join(SegmentId::new(1).file_name());
    let out = dump(&["--json", "--from", "5", "--to", "12"], &seg);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
    assert_eq!(lsns(&out), [5, 6, 7, 8, 9, 11, 12].map(|l| (l, false)));
    // A copy under another name is read through the id its header names.
    let copy = dir.parent().unwrap().join("copy-of-a-segment");
    std::fs::copy(&seg, &copy).unwrap();
    assert_eq!(lsns(&dump(&["--json"], &copy)).len(), 39);
    let out = dump(&["--past-damage"], &seg);
    assert_eq!(code(&out), BAD_ARGS);
    assert_one_clear_line(&out);
}

#[test]
fn dump_of_a_file_that_is_no_segment_exits_3() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("0000000000000001.wal.64.quarantine");
    std::fs::write(&file, vec![0x5a; 4096]).unwrap();
    let out = dump(&[], &file);
    assert_eq!(code(&out), NOT_A_LOG, "{}", stdout(&out));
    assert!(stderr(&out).contains("not a seawall segment file"), "{}", stderr(&out));
    assert_one_clear_line(&out);
}

#[test]
fn dump_past_damage_reads_a_segment_whose_header_is_damaged() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(1500);
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    let second = &segments[1];
    let (lo, hi) = (second.first_lsn.unwrap().get(), second.last_lsn.unwrap().get());
    flip_bit(&second.path, 0, 1); // its magic
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let outside: Vec<u64> = lsns(&out).into_iter().filter(|l| !l.1).map(|l| l.0).collect();
    assert_eq!(outside, (lo..=1500).collect::<Vec<_>>());
    let text = stdout(&dump(&["--past-damage", "--to", &hi.to_string(), "--from", &hi.to_string()], &dir));
    assert!(text.contains("salt taken from the damaged header"), "{text}");
}

/// A log with metadata and a purge point.
fn log_with_meta() -> (TempDir, PathBuf) {
    let (tmp, dir) = durable_log(10);
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    wal.set_meta(b"vote", b"term 3").unwrap();
    wal.set_meta(b"bin", &[0xff, 0x00]).unwrap();
    wal.truncate_before(Lsn::new(4)).unwrap();
    wal.close().unwrap();
    (tmp, dir)
}

#[test]
fn dump_meta_prints_metadata_and_purge_point_first() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = log_with_meta();
    let out = dump(&["--meta", "--json"], &dir);
    assert_eq!(code(&out), CLEAN, "{}", stderr(&out));
    let docs = json_lines(&out);
    assert_eq!(docs[0]["purge_point"], 4, "{}", docs[0]);
    let entries = docs[0]["metadata"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0]["key"].as_str(), entries[0]["value"].as_str()), (Some("bin"), Some("/wA=")));
    assert_eq!(entries[0]["value_encoding"], "base64");
    assert_eq!((entries[1]["key"].as_str(), entries[1]["value"].as_str()), (Some("vote"), Some("term 3")));
    assert_eq!(docs[1]["lsn"], 4);
    let text = stdout(&dump(&["--meta", "--limit", "1"], &dir));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# metadata: 2 entries; purge point: LSN 4", "{text}");
    assert_eq!(lines[1..3], ["#   \"bin\" = 0xff00", "#   \"vote\" = \"term 3\""], "{text}");
    assert!(lines[3].contains("LSN") && lines[4].trim_start().starts_with("4 "), "{text}");
}

#[test]
fn dump_meta_of_a_segment_file_shows_what_its_meta_records_set() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = log_with_meta();
    let seg = dir.join(SegmentId::new(1).file_name());
    let text = stdout(&dump(&["--meta"], &seg));
    assert!(text.contains("# metadata: 2 entries; purge point: LSN 4"), "{text}");
    assert!(text.contains("\"vote\" = \"term 3\""), "{text}");
}

#[test]
fn inspect_shows_metadata_and_purge_point() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = log_with_meta();
    let text = stdout(&run(&["inspect"], &dir));
    assert!(
        text.contains("purge point: LSN 4\nmetadata: 2 entries\n  \"bin\" = 0xff00\n  \"vote\" = \"term 3\""),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&run(&["inspect", "--json"], &dir).stdout).unwrap();
    assert_eq!(doc["purge_point"], 4);
    assert_eq!(doc["metadata"][1]["value"], "term 3");
    assert_eq!(doc["missing"], serde_json::json!([]));
}

/// A log of 10 segment files of 8 records each (8000-byte payloads).
fn ten_segments() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("log");
    let (wal, _) = Wal::open(&dir, options()).unwrap();
    for _ in 0..10 * 8 {
        wal.append(&[0x5a; 8000]).unwrap();
    }
    wal.close().unwrap();
    (tmp, dir)
}

#[test]
fn inspect_names_the_records_of_a_deleted_middle_segment_as_missing() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = ten_segments();
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    let gone = &segments[3];
    let (lo, hi) = (gone.first_lsn.unwrap().get(), gone.last_lsn.unwrap().get());
    std::fs::remove_file(&gone.path).unwrap();
    let out = run(&["inspect", "--json"], &dir);
    assert_eq!(code(&out), CLEAN);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["missing"], serde_json::json!([{ "first": lo, "last": hi }]), "{doc}");
    assert_eq!(doc["last_lsn"], lo - 1);
    // Every segment after the gap still shows what it holds.
    for (s, row) in segments[4..].iter().zip(&doc["segments"].as_array().unwrap()[3..]) {
        assert_eq!(row["file"], s.id.file_name());
        assert_eq!(
            (&row["first_lsn"], &row["last_lsn"]),
            (&s.first_lsn.map(Lsn::get).into(), &s.last_lsn.map(Lsn::get).into()),
            "{row}"
        );
        assert_eq!(row["records"], s.records);
    }
    let text = stdout(&run(&["inspect"], &dir));
    assert!(text.contains(&format!("missing: LSN {lo}..={hi}: the log should hold them")), "{text}");
    assert!(text.contains("after-corruption"), "{text}");
}

#[test]
fn inspect_names_the_records_of_a_deleted_first_segment_as_missing() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = ten_segments();
    let segments = Reader::open(&dir).unwrap().inspection().segments.clone();
    std::fs::remove_file(&segments[0].path).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&run(&["inspect", "--json"], &dir).stdout).unwrap();
    let hi = segments[0].last_lsn.unwrap().get();
    assert_eq!(doc["missing"], serde_json::json!([{ "first": 1, "last": hi }]), "{doc}");
    assert_eq!(doc["tail"]["reason"], "records between the purge point and the first segment are missing");
    let rows = doc["segments"].as_array().unwrap();
    assert_eq!(rows[0]["first_lsn"], hi + 1, "{doc}");
    // dump --past-damage prints them all, none as part of the log.
    let out = dump(&["--past-damage", "--json"], &dir);
    assert_eq!(code(&out), CORRUPT);
    assert_eq!(lsns(&out), (hi + 1..=80).map(|l| (l, false)).collect::<Vec<_>>());
}

//! `seawall dump`: ranges, the four formats, how checksums and capped
//! payloads print, and the exit status that reports how the log ends
//! (0 clean, 1 torn tail, 2 corrupt) after the records it could print.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use std::path::Path;

use assert_cmd::assert::OutputAssertExt;
use cli::*;
use seawall::{Lsn, Reader, Wal};
use tempfile::TempDir;

fn dump(args: &[&str], dir: &Path) -> std::process::Output {
    seawall().arg("dump").args(args).arg(dir).output().unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A log of one record whose payload is `bytes`.
fn one_record_log(bytes: &[u8]) -> TempDir {
    let tmp = TempDir::new().unwrap();
    let (wal, _) = Wal::open(tmp.path(), options()).unwrap();
    wal.append(bytes).unwrap();
    wal.close().unwrap();
    tmp
}

#[test]
fn dump_text_respects_from_to_and_limit() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(30);
    let out = dump(&["--from", "5", "--to", "20", "--limit", "3"], &dir);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("LSN") && lines[0].contains("PAYLOAD"));
    assert!(lines[1].trim_start().starts_with("5 ") && lines[1].contains("record 5"), "{text}");
    assert!(lines[3].trim_start().starts_with("7 "), "{text}");
}

#[test]
fn dump_to_past_the_end_stops_at_the_end() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    let out = dump(&["--json", "--to", "11"], &dir);
    out.clone().assert().code(CLEAN).stderr("");
    assert_eq!(json_lines(&out).len(), 10);
    let out = dump(&["--json", "--from", "5", "--to", &u64::MAX.to_string()], &dir);
    out.clone().assert().code(CLEAN).stderr("");
    let lsns: Vec<u64> = json_lines(&out).iter().map(|d| d["lsn"].as_u64().unwrap()).collect();
    assert_eq!(lsns, (5..=10).collect::<Vec<_>>());
}

#[test]
fn dump_json_lines_mark_text_and_binary_payloads() {
    let _turn = cli::one_at_a_time();
    let tmp = TempDir::new().unwrap();
    let (wal, _) = Wal::open(tmp.path(), options()).unwrap();
    wal.append(b"plain text").unwrap();
    wal.append(&[0xff, 0x00, 0xfe]).unwrap();
    wal.append_batch([&b"a"[..], b"b", b"c"]).unwrap();
    wal.close().unwrap();
    for flag in [&["--format", "json"][..], &["--json"][..]] {
        let out = dump(flag, tmp.path());
        assert_eq!(code(&out), 0);
        let docs = json_lines(&out);
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
fn dump_prints_checksums_as_eight_hex_digits_in_every_format() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(20);
    let reader = Reader::open(&dir).unwrap();
    let want: Vec<String> =
        reader.iter_from(Lsn::new(1)).unwrap().map(|r| format!("{:08x}", r.unwrap().checksum())).collect();
    assert!(want.iter().all(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));

    let json: Vec<String> =
        json_lines(&dump(&["--json"], &dir)).iter().map(|d| d["checksum"].as_str().unwrap().to_string()).collect();
    let text = stdout(&dump(&[], &dir));
    let text: Vec<String> = text.lines().skip(1).map(|l| l.split_whitespace().nth(5).unwrap().to_string()).collect();
    let hex = stdout(&dump(&["--format", "hex"], &dir));
    let hex: Vec<String> = hex
        .lines()
        .filter(|l| l.starts_with("LSN "))
        .map(|l| l.rsplit("checksum ").next().unwrap().to_string())
        .collect();
    assert_eq!((&json, &text, &hex), (&want, &want, &want));
}

#[test]
fn dump_raw_is_length_prefixed_payloads() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(12);
    let out = dump(&["--format", "raw"], &dir);
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
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(2);
    let out = dump(&["--format", "hex", "--limit", "1"], &dir);
    let text = stdout(&out);
    assert!(text.starts_with("LSN 1  length 10"), "{text}");
    // A short line keeps the ASCII column where a full one has it.
    let line = "  00000000  72 65 63 6f 72 64 20 31 20 78                    |record 1 x|";
    assert_eq!(text.lines().nth(1), Some(line), "{text}");
}

#[test]
fn dump_hex_of_binary_payloads_of_every_length() {
    let _turn = cli::one_at_a_time();
    let bytes: Vec<u8> = (0..=255u8).collect();
    let tmp = TempDir::new().unwrap();
    let (wal, _) = Wal::open(tmp.path(), options()).unwrap();
    for len in [0, 1, 15, 16, 17, 33, 256] {
        wal.append(&bytes[..len]).unwrap();
    }
    wal.close().unwrap();
    let out = dump(&["--format", "hex"], tmp.path());
    out.clone().assert().code(CLEAN);
    let text = stdout(&out);
    let dumped: Vec<&str> = text.lines().filter(|l| !l.starts_with("LSN ")).collect();
    assert_eq!(dumped.len(), 1 + 1 + 1 + 2 + 3 + 16, "{text}");
    for (i, line) in dumped.iter().enumerate() {
        assert_eq!(&line[59..61], "  ", "line {i}: {line:?}");
        assert!(line.ends_with('|') && line[61..].starts_with('|'), "line {i}: {line:?}");
    }
    let full = text.lines().find(|l| l.starts_with("  000000f0")).unwrap();
    assert_eq!(full, "  000000f0  f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff  |................|");
    let ascii = text.lines().find(|l| l.starts_with("  00000040")).unwrap();
    assert!(ascii.ends_with("|@ABCDEFGHIJKLMNO|"), "{ascii}");
}

#[test]
fn dump_max_payload_caps_hex_and_text() {
    let _turn = cli::one_at_a_time();
    let tmp = one_record_log(&[b'z'; 100]);
    let out = dump(&["--format", "hex", "--max-payload", "20"], tmp.path());
    out.clone().assert().code(CLEAN);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("length 100"), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[2].starts_with("  00000010  7a 7a 7a 7a  "), "{text}");
    assert_eq!(lines[3], "  ... 80 more bytes");

    let text = stdout(&dump(&["--max-payload", "5"], tmp.path()));
    assert!(text.lines().nth(1).unwrap().ends_with("  zzzzz..."), "{text}");
    // Without the option a text line shows 48 bytes.
    let text = stdout(&dump(&[], tmp.path()));
    assert!(text.lines().nth(1).unwrap().ends_with(&format!("  {}...", "z".repeat(48))), "{text}");
    // A cut inside a multi-byte character shows the text before it.
    let tmp = one_record_log("ab\u{e9}cd".as_bytes());
    let text = stdout(&dump(&["--max-payload", "3"], tmp.path()));
    assert!(text.lines().nth(1).unwrap().ends_with("  ab..."), "{text}");
}

#[test]
fn dump_max_payload_with_json_or_raw_exits_5() {
    let _turn = cli::one_at_a_time();
    let tmp = one_record_log(b"payload");
    for format in ["json", "raw"] {
        let out = dump(&["--format", format, "--max-payload", "3"], tmp.path());
        assert_eq!(code(&out), BAD_ARGS, "{format}");
        assert_one_clear_line(&out);
    }
}

#[test]
fn dump_lsn_out_of_range_exits_5() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    for args in [&["--from", "12"][..], &["--from", "0"][..], &["--from", "5", "--to", "3"][..]] {
        let out = dump(args, &dir);
        assert_eq!(code(&out), BAD_ARGS, "{args:?}");
        assert!(stderr(&out).contains("outside") || stderr(&out).contains("before"), "{}", stderr(&out));
        assert_one_clear_line(&out);
    }
    let out = dump(&["--from", "eleven"], &dir);
    assert_eq!(code(&out), BAD_ARGS);
    assert_one_clear_line(&out);
}

#[test]
fn dump_to_a_full_disk_exits_6() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(50);
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_seawall")).arg("dump").arg(&dir).stdout(full).output().unwrap();
    assert_eq!(code(&out), FAILED);
    assert_one_clear_line(&out);
}

#[test]
fn dump_of_a_torn_log_prints_the_valid_records_and_exits_1() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(8);
    tear_tail(&dir);
    let out = dump(&[], &dir);
    assert_eq!(code(&out), TORN);
    assert_eq!(stdout(&out).lines().count(), 1 + 8);
    assert!(stderr(&out).contains("torn tail after LSN 8"), "{}", stderr(&out));
    assert_one_clear_line(&out);
    // In JSON, the records and then what went wrong, in place of a record.
    let out = dump(&["--json"], &dir);
    assert_eq!(code(&out), TORN);
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 9);
    assert!(docs[..8].iter().all(|d| d["error"].is_null()));
    assert_eq!((docs[8]["status"].as_str(), docs[8]["exit_status"].as_i64()), (Some("torn"), Some(1)));
    assert!(docs[8]["error"].as_str().unwrap().contains("torn tail after LSN 8"), "{}", docs[8]);
}

#[test]
fn dump_of_a_corrupt_log_prints_the_records_before_the_damage_and_exits_2() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(40);
    let (seg, off) = locate(&dir, 10);
    flip_bit(&seg, off + 40, 0);
    let out = dump(&[], &dir);
    assert_eq!(code(&out), CORRUPT, "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1 + 9, "{text}");
    assert!(text.lines().last().unwrap().trim_start().starts_with("9 "), "{text}");
    let err = stderr(&out);
    assert!(err.contains("corrupt at LSN 10") && err.contains("30 valid records"), "{err}");
    assert_one_clear_line(&out);

    let out = dump(&["--format", "json", "--from", "3"], &dir);
    assert_eq!(code(&out), CORRUPT);
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 7 + 1);
    let last = docs.last().unwrap();
    assert_eq!((last["status"].as_str(), last["exit_status"].as_i64()), (Some("corrupt"), Some(2)), "{last}");
    // The other formats report the same way; raw output stays payloads only.
    for format in ["hex", "raw"] {
        let out = dump(&["--format", format], &dir);
        assert_eq!(code(&out), CORRUPT, "{format}");
        assert_one_clear_line(&out);
    }
}

//! `seawall dump`: ranges, the four formats, out-of-range arguments, a full
//! disk, and a torn log.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use cli::*;
use seawall::Wal;
use tempfile::TempDir;

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

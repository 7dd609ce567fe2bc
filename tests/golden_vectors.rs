//! Guards the format contract: the golden segment files in
//! `format-spec/vectors/` are rebuilt byte for byte from the code's encoders,
//! and decoding them yields exactly the records listed in each vector's
//! `expected.txt`. A change to any constant in `src/format.rs` breaks this
//! test until FORMAT.md, the version and the vectors are updated together.
//! Run with `SEAWALL_BLESS=1` to rewrite the vectors after a deliberate
//! format change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use seawall::format::{FORMAT_VERSION, SEGMENT_HEADER_LEN};
use seawall::raw::encode_record;
use seawall::{Lsn, Reader, RecordKind, SegmentHeader, SegmentId, TailState};

/// One record of a vector: LSN, kind, payload, and whether it claims every
/// byte before it durable (its synced offset is its own offset).

type Rec = (u64, RecordKind, &'static [u8], u64);

struct Segment {
    id: u64,
    first_lsn: u64,
    salt: u64,
    prev_crc: u32,
    records: Vec<Rec>,
    /// Bytes appended after the records (a torn write), before zero padding.
    trailer: Vec<u8>,
    len: usize,
}

fn crc_of(rec: &[u8]) -> u32 {
    u32::from_le_bytes(rec[0..4].try_into().unwrap())
}

/// Builds a segment file; returns its bytes and the checksum of its last record.
fn build(seg: &Segment) -> (Vec<u8>, u32) {
    let header = SegmentHeader {
        version: FORMAT_VERSION,
        id: SegmentId::new(seg.id),
        first_lsn: seg.first_lsn,
        salt: seg.salt,
        prev_crc: seg.prev_crc,
        reset: false,
    };
    let mut bytes = header.encode().to_vec();
    assert_eq!(bytes.len(), SEGMENT_HEADER_LEN);
    let mut prev = seg.prev_crc;
    for &(lsn, kind, payload, synced) in &seg.records {
        let at = bytes.len() as u64;
        let claim = if synced > 0 { at as u32 } else { 0 };
        let rec = encode_record(seg.salt, lsn, kind, prev, claim, at, payload);
        prev = crc_of(&rec);
        bytes.extend_from_slice(&rec);
    }
    bytes.extend_from_slice(&seg.trailer);
    assert!(bytes.len() <= seg.len);
    bytes.resize(seg.len, 0);
    (bytes, prev)
}

fn vectors() -> Vec<(&'static str, Vec<Segment>)> {
    use RecordKind::*;
    let basic = vec![Segment {
        id: 1,
        first_lsn: 1,
        salt: 0x0123_4567_89ab_cdef,
        prev_crc: 0,
        records: vec![
            (1, Full, b"hello", 0),
            (2, Full, b"", 1),
            (3, BatchFirst, b"batch-a", 2),
            (4, BatchMiddle, b"batch-b", 2),
            (5, BatchLast, b"batch-c", 2),
        ],
        trailer: vec![],
        len: 512,
    }];
    let torn = vec![Segment {
        id: 1,
        first_lsn: 1,
        salt: 0xfeed_face_cafe_beef,
        prev_crc: 0,
        records: vec![(1, Full, b"durable", 0), (2, BatchFirst, b"half of", 1)],
        // The start of a record header whose write was cut short.
        trailer: vec![0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03],
        len: 512,
    }];
    // Segment 1 holds LSNs 1..=3; segment 2 starts at LSN 3, superseding the
    // old record 3 (a durable `truncate_after(2)` followed by a new append).
    let crc2 = {
        let r1 = encode_record(11, 1, Full, 0, 0, 64, b"one");
        let at = 64 + r1.len() as u64;
        crc_of(&encode_record(11, 2, Full, crc_of(&r1), at as u32, at, b"two"))
    };
    let rewound = vec![
        Segment {
            id: 1,
            first_lsn: 1,
            salt: 11,
            prev_crc: 0,
            records: vec![(1, Full, b"one", 0), (2, Full, b"two", 1), (3, Full, b"cut", 2)],
            trailer: vec![],
            len: 512,
        },
        Segment {
            id: 2,
            first_lsn: 3,
            salt: 22,
            prev_crc: crc2,
            records: vec![(3, Full, b"three", 2), (4, Full, b"four", 3)],
            trailer: vec![],
            len: 512,
        },
    ];
    vec![("v1-basic", basic), ("v1-torn-tail", torn), ("v1-truncate-after", rewound)]
}

fn describe(dir: &Path) -> String {
    let reader = Reader::open(dir).expect("a vector opens");
    let mut out = String::new();
    for rec in reader.iter_from(reader.first_lsn()).expect("iterates") {
        let rec = rec.expect("valid record");
        let hex: String = rec.payload().iter().map(|b| format!("{b:02x}")).collect();
        writeln!(
            out,
            "record lsn={} kind={:?} segment={} offset={} crc={:08x} payload={}",
            rec.lsn(),
            rec.kind(),
            rec.segment().get(),
            rec.offset(),
            rec.checksum(),
            hex
        )
        .unwrap();
    }
    let tail = match &reader.inspection().tail {
        TailState::Clean => "clean".to_string(),
        TailState::Torn { segment, offset, bytes, last_lsn } => {
            format!("torn segment={} offset={offset} bytes={bytes} last_lsn={last_lsn}", segment.get())
        }
        TailState::Corrupt { segment, offset, lsn, reason, .. } => {
            format!("corrupt segment={} offset={offset} lsn={lsn} reason={reason:?}", segment.get())
        }
    };
    writeln!(out, "tail {tail}").unwrap();
    writeln!(out, "range first={} last={}", reader.first_lsn(), reader.last_lsn()).unwrap();
    out
}

fn vector_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("format-spec/vectors").join(name)
}

#[test]
fn golden_vectors_match_the_encoder_and_decode_as_expected() {
    let bless = std::env::var_os("SEAWALL_BLESS").is_some();
    for (name, segments) in vectors() {
        let dir = vector_dir(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
        }
        for seg in &segments {
            let (bytes, _) = build(seg);
            let path = dir.join(SegmentId::new(seg.id).file_name());
            if bless {
                std::fs::write(&path, &bytes).unwrap();
            }
            let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(golden == bytes, "{name}: {} differs from what the encoder writes", path.display());
        }
        let got = describe(&dir);
        let expected_path = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        assert_eq!(got, expected, "{name}: decoded records differ from expected.txt");
    }
}

#[test]
fn golden_vectors_are_read_only_for_readers() {
    // Reading a vector never changes it (Reader takes no lock, writes nothing).
    for (name, _) in vectors() {
        let dir = vector_dir(name);
        let before: Vec<Vec<u8>> = files(&dir).iter().map(|p| std::fs::read(p).unwrap()).collect();
        let _ = describe(&dir);
        let after: Vec<Vec<u8>> = files(&dir).iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(before, after, "{name}");
    }
}

#[test]
fn truncate_after_vector_supersedes_the_cut_record() {
    let reader = Reader::open(vector_dir("v1-truncate-after")).unwrap();
    let payloads: Vec<_> = reader.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap().payload().to_vec()).collect();
    assert_eq!(payloads, [&b"one"[..], b"two", b"three", b"four"]);
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

use super::*;
use crate::format::SEGMENT_HEADER_LEN;
use crate::meta::MetaRecord;
use crate::record::{encode_record, RecordKind};

const SALT: u64 = 0x5eed;

/// A segment body: the records `(lsn, kind, payload, synced_off)` after a
/// blank header, chained, then some zeros.
fn segment(records: &[(u64, RecordKind, &[u8], u32)]) -> Vec<u8> {
    let mut b = vec![0u8; SEGMENT_HEADER_LEN];
    let mut prev = 0;
    for &(lsn, kind, payload, synced) in records {
        let r = encode_record(SALT, lsn, kind, prev, synced, b.len() as u64, payload);
        if kind.takes_lsn() {
            prev = u32::from_le_bytes(r[0..4].try_into().unwrap());
        }
        b.extend_from_slice(&r);
    }
    b.resize(b.len() + 256, 0);
    b
}

fn walk(b: &[u8]) -> (Walker, Stop) {
    let mut w = Walker::new(SALT, 1, 0);
    let stop = w.run(Window::whole(b));
    (w, stop)
}

#[test]
fn accepts_whole_units_only() {
    use RecordKind::*;
    let b = segment(&[(1, Full, b"a", 0), (2, BatchFirst, b"b", 0), (3, BatchMiddle, b"c", 0)]);
    let (w, _) = walk(&b);
    assert_eq!((w.records(), w.lsn, w.end), (1, 1, SEGMENT_HEADER_LEN + 40));
}

#[test]
fn cap_holds_a_walk_to_its_limit() {
    use RecordKind::*;
    let b = segment(&[(1, Full, b"a", 0), (2, Full, b"b", 0), (3, Full, b"c", 0)]);
    let (mut w, _) = walk(&b);
    w.cap(2);
    let crc2 = u32::from_le_bytes(b[w.offsets[1] as usize..][..4].try_into().unwrap());
    assert_eq!((w.records(), w.lsn, w.crc, w.end), (2, 2, crc2, SEGMENT_HEADER_LEN + 80));
}

#[test]
fn a_cut_after_the_limit_still_rewinds() {
    use RecordKind::*;
    // LSNs 1..=3, a cut back to 1, LSNs 2 and 3 again: a successor starting
    // at 4 supersedes nothing here, and the walk must end with the new 2, 3.
    let mut b = vec![0u8; SEGMENT_HEADER_LEN];
    let mut crcs = vec![0u32];
    for lsn in 1..=3u64 {
        let r = encode_record(SALT, lsn, Full, *crcs.last().unwrap(), 0, b.len() as u64, b"old");
        crcs.push(u32::from_le_bytes(r[0..4].try_into().unwrap()));
        b.extend_from_slice(&r);
    }
    let dead = (SEGMENT_HEADER_LEN + 40) as u32;
    let cut = crate::meta::CutInfo { lsn: 1, crc: crcs[1], dead_start: dead };
    let m = MetaRecord { cut: Some(cut), ..MetaRecord::default() }.encode();
    b.extend_from_slice(&encode_record(SALT, 3, Meta, crcs[3], 0, b.len() as u64, &m));
    let mut prev = crcs[1];
    let mut new = Vec::new();
    for lsn in 2..=3u64 {
        new.push(b.len() as u32);
        let r = encode_record(SALT, lsn, Full, prev, 0, b.len() as u64, b"new");
        prev = u32::from_le_bytes(r[0..4].try_into().unwrap());
        b.extend_from_slice(&r);
    }
    b.resize(b.len() + 64, 0);
    let j = crate::judge::judge(
        0,
        &mut b,
        Walker::new(SALT, 1, 0),
        Some(crate::judge::Limit { last_lsn: 3, sealed_durable: true, durable_to: 0 }),
    )
    .expect("judged");
    assert_eq!(j.verdict, crate::decide::Verdict::Complete, "{}", j.rule);
    let w = j.walker;
    assert_eq!((w.lsn, w.crc, &w.offsets[1..]), (3, prev, &new[..]));
}

#[test]
fn meta_records_take_no_lsn_and_update_the_state() {
    use RecordKind::*;
    let m = MetaRecord { first_lsn: Some(2), ..MetaRecord::default() }.encode();
    let b = segment(&[(1, Full, b"a", 0), (1, Meta, &m, 0), (2, Full, b"b", 0)]);
    let (w, stop) = walk(&b);
    assert_eq!((w.records(), w.lsn, w.meta.first_lsn), (2, 2, 2));
    assert!(matches!(stop, Stop::Bad(_)));
}

#[test]
fn probe_finds_later_records_and_claims() {
    use RecordKind::*;
    let mut b = segment(&[(1, Full, b"a", 0), (2, Full, b"b", 64), (3, Full, b"c", 144)]);
    let second = SEGMENT_HEADER_LEN + 40;
    b[second + 32] ^= 0xff; // damage record 2's payload
    let (w, _) = walk(&b);
    assert_eq!(w.lsn, 1);
    let ev = probe(Window::whole(&b), &w);
    assert_eq!(ev.later_records, 1);
    assert!(ev.claimed, "record 3 was written after the bytes of record 2 were durable");
    assert!(!ev.tail_zero(w.end));
}

#[test]
fn a_claim_short_of_the_damage_is_no_claim() {
    use RecordKind::*;
    let mut b = segment(&[(1, Full, b"a", 0), (2, Full, b"b", 64), (3, Full, b"c", 104)]);
    b[SEGMENT_HEADER_LEN + 40 + 32] ^= 0xff;
    let (w, _) = walk(&b);
    assert!(!probe(Window::whole(&b), &w).claimed, "record 3 claims only up to the start of record 2");
}

#[test]
fn nonzero_len_finds_the_last_nonzero_byte() {
    assert_eq!(nonzero_len(&[]), 0);
    for len in [1, 7, 63, 64, 65, 200, 1000] {
        let zeros = vec![0u8; len];
        assert_eq!(nonzero_len(&zeros), 0, "all zero, {len} bytes");
        for at in [0, len / 3, len / 2, len - 1] {
            let mut b = zeros.clone();
            b[at] = 1;
            assert_eq!(nonzero_len(&b), at + 1, "one byte at {at} of {len}");
        }
    }
}

#[test]
fn probe_on_zero_tail() {
    let b = segment(&[(1, RecordKind::Full, b"a", 0)]);
    let (w, _) = walk(&b);
    let ev = probe(Window::whole(&b), &w);
    assert!(ev.tail_zero(w.end) && ev.later_records == 0);
}

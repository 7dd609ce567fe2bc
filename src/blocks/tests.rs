//! Judging a segment a window at a time must come to exactly the judgement
//! of its whole bytes: the same walk, rule, verdict, evidence, rebuilt pages
//! and dead bytes, for segments as the log writes them (batches, metadata,
//! cuts, parity, seals) and for every kind of damage done to them.

use super::*;
use crate::mem_file::MemFile;
use crate::segment::{HeaderState, SegmentHeader};
use crate::{Lsn, Options, SegmentId, Wal};

/// The segment files of a log written with records of many sizes, batches,
/// metadata, durable appends (which write parity), cuts and rotations; the
/// last one left open, with records nothing claims.
fn segments() -> Vec<(SegmentId, Vec<u8>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || Options::default().segment_size(256 << 10);
    let (wal, _) = Wal::open(dir.path(), opts()).expect("open");
    for i in 0..1200usize {
        let p = vec![(i % 251) as u8 + 1; (i * 37) % 3000];
        match i % 13 {
            0 => drop(wal.append_batch([&p[..], b"b", &p[..p.len() / 2]]).expect("batch")),
            5 => drop(wal.append_durable(&p).expect("durable")),
            9 => wal.set_meta(b"k", &p[..p.len().min(40)]).expect("meta"),
            _ => drop(wal.append(&p).expect("append")),
        }
        if i % 400 == 399 {
            for _ in 0..6 {
                wal.append(b"to be cut").expect("append");
            }
            wal.truncate_after(Lsn::new(wal.last_lsn().get() - 3)).expect("cut");
        }
    }
    wal.close().expect("close");
    let (wal, _) = Wal::open(dir.path(), opts()).expect("reopen");
    for i in 0..300usize {
        wal.append(&vec![7u8; (i * 53) % 2000]).expect("append");
    }
    wal.sync(wal.last_lsn()).expect("sync");
    for i in 0..40usize {
        wal.append(&vec![9u8; i * 10]).expect("append");
    }
    let mut out: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let id = SegmentId::from_file_name(&p.file_name()?.to_string_lossy())?;
            Some((id, std::fs::read(&p).expect("read")))
        })
        .collect();
    out.sort();
    drop(wal);
    out
}

/// What a judgement says, in a form to compare.
fn summary(j: &Judged, dead: &[(u64, u64)]) -> String {
    format!("{:?} {} {:?} {:?} {:?} {dead:?}", j.walker, j.rule, j.verdict, j.evidence, j.rebuilt)
}

/// The judgement of the whole bytes, as recovery made it before it read in
/// blocks.
fn whole(bytes: &[u8], walker: Walker, limit: Option<Limit>) -> String {
    let mut b = bytes.to_vec();
    let j = judge(0, &mut b, walker, limit).expect("a whole segment is always judged");
    let dead: Vec<(u64, u64)> = j
        .walker
        .dead
        .iter()
        .filter(|&&(a, e)| b.get(a..e.min(b.len())).is_some_and(|d| nonzero_len(d) > 0))
        .map(|&(a, e)| (a as u64, e as u64))
        .collect();
    summary(&j, &dead)
}

/// Checks segment `id` held to no limit and to a few limits after its
/// first LSN (a later segment starting there).
fn check(name: &str, id: SegmentId, bytes: &[u8]) {
    let HeaderState::Valid(h) = SegmentHeader::decode(&bytes[..SEGMENT_HEADER_LEN], id) else {
        return;
    };
    let held = |last_lsn, sealed_durable| Some(Limit { last_lsn, sealed_durable, durable_to: 0 });
    let mut limits = vec![None];
    for last_lsn in [h.first_lsn - 1, h.first_lsn + 50, h.first_lsn + 300] {
        limits.extend([held(last_lsn, true), held(last_lsn, false)]);
    }
    let walker = || Walker::new(h.salt, h.first_lsn, h.prev_crc);
    let file = MemFile::new(bytes.to_vec());
    for limit in limits {
        let want = whole(bytes, walker(), limit);
        for block in [64, 100, 333, 4096, 1 << 20] {
            let got = judge_in_blocks(&file, Path::new(name), bytes.len() as u64, walker(), limit, block)
                .expect("memory reads");
            assert_eq!(summary(&got.judged, &got.dead), want, "{name}, limit {limit:?}, block {block}");
        }
    }
}

#[test]
fn windows_judge_as_the_whole_segment_does() {
    let segs = segments();
    assert!(segs.len() >= 3, "the workload rotates");
    for &(i, ref seg) in &segs {
        check(&format!("segment {i}"), i, seg);
        let used = nonzero_len(seg);
        if used <= SEGMENT_HEADER_LEN {
            continue;
        }
        // Damage at offsets spread over the records: a flipped byte, the
        // rest zeroed (a torn tail), a zeroed page.
        for k in 1..24 {
            let at = SEGMENT_HEADER_LEN + (used - SEGMENT_HEADER_LEN) * k / 24;
            let mut b = seg.clone();
            b[at] ^= 0x40;
            check(&format!("segment {i}, byte {at} flipped"), i, &b);
            let mut b = seg.clone();
            b[at..].fill(0);
            check(&format!("segment {i}, zero from {at}"), i, &b);
            let mut b = seg.clone();
            let page = at / 4096 * 4096;
            let page_end = (page + 4096).min(b.len());
            b[page.max(SEGMENT_HEADER_LEN)..page_end].fill(0);
            check(&format!("segment {i}, page {page} zeroed"), i, &b);
        }
    }
}

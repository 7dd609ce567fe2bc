//! The read-ahead hands over exactly the bytes asked for, from the file and
//! offset asked for, or nothing; and its guess of the next block's start
//! follows the length fields.

use std::path::PathBuf;

use super::*;
use crate::mem_file::MemFile;
use crate::record::{encode_record, RecordKind};
use crate::SegmentId;

fn file(bytes: Vec<u8>, bad: u64) -> Arc<SegmentFile> {
    let len = bytes.len() as u64;
    Arc::new(SegmentFile::new(SegmentId::new(1), PathBuf::from("mem"), Box::new(MemFile { bytes, bad }), len))
}

/// A 64-byte header, the records of [`records`], then `zeros` zero bytes.
fn segment(sizes: &[usize], zeros: usize) -> Vec<u8> {
    let mut seg = vec![0xCC; 64];
    seg.extend(records(sizes).0);
    seg.resize(seg.len() + zeros, 0);
    seg
}

/// Takes every block of a stream from offset 64, each where the last one
/// stops holding whole records; returns their offsets.
fn drain(ra: &mut ReadAhead, f: &Arc<SegmentFile>, bytes: &[u8], block: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut off = 64u64;
    let mut need = RECORD_HEADER_LEN;
    while let Some(got) = ra.take(f, off, need) {
        let end = off as usize + got.len();
        assert_eq!(&got[..], &bytes[off as usize..end], "the bytes at {off}");
        assert!(got.len() >= block.min(bytes.len() - off as usize), "a block is whole");
        seen.push(off);
        let (rel, size, _) = next_start(&got);
        (off, need) = (off + rel as u64, size);
    }
    seen
}

#[test]
fn streams_blocks_each_starting_at_the_first_record_the_last_did_not_hold() {
    let sizes: Vec<usize> = (0..300).map(|i| [0, 5, 100, 900, 3000, 7000][i % 6]).collect();
    let bytes = segment(&sizes, 0);
    let f = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    let seen = drain(&mut ra, &f, &bytes, 4096);
    // Every block but the last ends inside a record or at one's start, and
    // the stream reaches the end of the file.
    assert!(seen.len() > 100, "{} blocks", seen.len());
    let last = *seen.last().unwrap();
    assert!(bytes.len() as u64 - last <= 7000 + 64, "the last block is near the end");
}

#[test]
fn a_blank_header_ends_the_stream() {
    let bytes = segment(&[100; 200], 1 << 20);
    let f = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    let seen = drain(&mut ra, &f, &bytes, 4096);
    let records_end = 64 + 200 * record_size(100);
    assert!(seen.iter().all(|&o| o <= records_end), "no block starts past the records: {seen:?}");
}

#[test]
fn an_unexpected_offset_file_or_short_block_ends_the_stream() {
    let bytes = segment(&[100; 400], 0);
    let f = file(bytes.clone(), u64::MAX);
    let twin = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert!(ra.take(&f, 96, 32).is_none(), "another offset");
    assert!(ra.take(&f, 64, 32).is_none(), "the stream ended with the miss");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert!(ra.take(&twin, 64, 32).is_none(), "another handle on the same bytes");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert!(ra.take(&f, 64, 4097).is_none(), "fewer bytes than needed");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    ra.stop();
    assert!(ra.take(&f, 64, 1).is_none(), "a stopped stream");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert_eq!(drain(&mut ra, &f, &bytes, 4096).first(), Some(&64), "a stream after a stop");
}

#[test]
fn a_failed_read_ends_the_stream_and_hands_over_nothing() {
    let bytes = segment(&[100; 400], 0);
    let f = file(bytes.clone(), 20_000);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    let seen = drain(&mut ra, &f, &bytes, 4096);
    assert!(!seen.is_empty() && seen.iter().all(|&o| o + 4096 <= 20_000), "{seen:?}");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert!(ra.take(&f, 64, 32).is_some(), "the helper goes on after a failure");
}

#[test]
fn a_record_larger_than_the_largest_guess_is_not_read_ahead() {
    let bytes = segment(&[100, 100_000, 100], 0);
    let f = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    let seen = drain(&mut ra, &f, &bytes, 4096);
    assert_eq!(seen, [64], "the stream ends before the large record");
    let big = 64 + record_size(100);
    ra.stream(&f, big, record_size(100_000) as usize, 4096, 16 * 4096);
    assert!(ra.take(&f, big, 32).is_none(), "no stream for it");
}

#[test]
fn a_drop_stops_the_helper_and_lets_go_of_the_file() {
    let bytes = segment(&[100; 400], 0);
    let f = file(bytes, u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.stream(&f, 64, RECORD_HEADER_LEN, 4096, 16 * 4096);
    assert!(ra.take(&f, 64, 32).is_some());
    // The helper has read on and waits to hand the next block over.
    drop(ra);
    assert_eq!(Arc::strong_count(&f), 1, "the helper let go of the file");
}

/// Records of the given payload sizes, back to back from offset 64.
fn records(sizes: &[usize]) -> (Vec<u8>, Vec<usize>) {
    let (mut block, mut starts) = (Vec::new(), Vec::new());
    for (i, &n) in sizes.iter().enumerate() {
        starts.push(block.len());
        let off = 64 + block.len() as u64;
        block.extend(encode_record(9, i as u64 + 1, RecordKind::Full, 0, 0, off, &vec![0xAB; n]));
    }
    starts.push(block.len());
    (block, starts)
}

#[test]
fn the_next_block_starts_at_the_first_record_not_wholly_read() {
    let sizes = [0, 1, 31, 32, 100, 5000, 7];
    let (block, starts) = records(&sizes);
    for cut in 0..=block.len() {
        let (at, need, blank) = next_start(&block[..cut]);
        assert!(!blank, "no record header here is blank (cut at {cut})");
        // The first record that does not end within `cut` bytes.
        let k = (0..sizes.len()).find(|&k| starts[k + 1] > cut);
        assert_eq!(at, k.map_or(block.len(), |k| starts[k]), "cut at {cut}");
        // Its size once its length field is read, else a header.
        let size = k.filter(|_| cut - at >= REC_LEN_OFF + 4).map_or(RECORD_HEADER_LEN, |k| starts[k + 1] - starts[k]);
        assert_eq!(need, size, "cut at {cut}");
    }
}

#[test]
fn a_damaged_length_field_gives_a_guess_and_no_panic() {
    let (mut block, _) = records(&[10, 10]);
    block[REC_LEN_OFF..REC_LEN_OFF + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (at, need, blank) = next_start(&block);
    assert_eq!((at, need, blank), (0, record_size(u64::from(u32::MAX)) as usize, false));
    assert_eq!(next_start(&[]), (0, RECORD_HEADER_LEN, false));
    assert_eq!(next_start(&[0u8; 31]), (0, RECORD_HEADER_LEN, false));
    let (block, starts) = records(&[10, 10]);
    let mut blank = block.clone();
    blank.extend([0u8; 4096]);
    assert_eq!(next_start(&blank), (starts[2], RECORD_HEADER_LEN, true), "the walk stops at a blank header");
}

#[test]
fn an_iterator_with_read_ahead_stays_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ReadAhead>();
    check::<crate::Iter>();
}

#[test]
fn at_most_max_helpers_run_at_once() {
    let count = AtomicUsize::new(0);
    for _ in 0..MAX_HELPERS {
        assert!(take_slot(&count, MAX_HELPERS));
    }
    assert!(!take_slot(&count, MAX_HELPERS), "one past the limit");
    count.fetch_sub(1, Ordering::AcqRel);
    assert!(take_slot(&count, MAX_HELPERS), "a released slot is free again");
}

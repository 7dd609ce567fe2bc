//! The read-ahead hands over exactly the bytes asked for, from the file and
//! offset asked for, or nothing; and its guess of the next block's start
//! follows the length fields.

use std::io;
use std::path::PathBuf;

use super::*;
use crate::io::WalFile;
use crate::record::{encode_record, RecordKind};
use crate::SegmentId;

/// A read-only file in memory whose reads fail from `bad` on.
#[derive(Debug)]
struct MemFile {
    bytes: Vec<u8>,
    bad: u64,
}

impl WalFile for MemFile {
    fn write_at(&self, _: &[u8], _: u64) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn sync_data(&self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset + buf.len() as u64 > self.bad {
            return Err(io::Error::other("latent sector error"));
        }
        let from = (offset as usize).min(self.bytes.len());
        let n = buf.len().min(self.bytes.len() - from);
        buf[..n].copy_from_slice(&self.bytes[from..from + n]);
        Ok(n)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }
    fn set_len(&self, _: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn allocate(&self, _: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

fn file(bytes: Vec<u8>, bad: u64) -> Arc<SegmentFile> {
    let len = bytes.len() as u64;
    Arc::new(SegmentFile::new(SegmentId::new(1), PathBuf::from("mem"), Box::new(MemFile { bytes, bad }), len))
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn hands_over_the_bytes_of_the_read_asked_for() {
    let bytes = pattern(10_000);
    let f = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    for (off, len) in [(0u64, 4096usize), (4096, 5904), (123, 1)] {
        ra.request(&f, off, len, BytesMut::new());
        let (got, next) = ra.take(&f, off, len).expect("the read asked for");
        assert_eq!(&got[..], &bytes[off as usize..off as usize + len]);
        assert_eq!(next, next_start(&got), "the guess for the block after");
    }
}

#[test]
fn hands_over_nothing_for_another_offset_file_or_a_short_block() {
    let bytes = pattern(8192);
    let f = file(bytes.clone(), u64::MAX);
    let twin = file(bytes, u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.request(&f, 0, 4096, BytesMut::new());
    assert!(ra.take(&f, 64, 32).is_none(), "another offset");
    assert!(ra.take(&f, 0, 32).is_none(), "the read was dropped with the miss");
    ra.request(&f, 0, 4096, BytesMut::new());
    assert!(ra.take(&twin, 0, 32).is_none(), "another handle on the same bytes");
    ra.request(&f, 0, 4096, BytesMut::new());
    assert!(ra.take(&f, 0, 4097).is_none(), "fewer bytes than needed");
    ra.request(&f, 0, 4096, BytesMut::new());
    ra.discard();
    assert!(ra.take(&f, 0, 1).is_none(), "a discarded read");
    ra.request(&f, 4096, 4096, BytesMut::new());
    assert!(ra.take(&f, 4096, 4096).is_some(), "a read after a discard");
}

#[test]
fn a_failed_read_hands_over_nothing() {
    let f = file(pattern(8192), 6000);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.request(&f, 4096, 4096, BytesMut::new());
    assert!(ra.take(&f, 4096, 1).is_none());
    ra.request(&f, 0, 4096, BytesMut::new());
    assert!(ra.take(&f, 0, 4096).is_some(), "the helper goes on after a failure");
}

#[test]
fn one_read_in_flight_and_a_drop_waits_for_it() {
    let bytes = pattern(8192);
    let f = file(bytes.clone(), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    ra.request(&f, 0, 4096, BytesMut::new());
    ra.request(&f, 4096, 4096, BytesMut::new());
    let (got, _) = ra.take(&f, 0, 4096).expect("the first request stands");
    assert_eq!(&got[..], &bytes[..4096]);
    ra.request(&f, 4096, 4096, BytesMut::new());
    drop(ra);
    assert_eq!(Arc::strong_count(&f), 1, "the helper let go of the file");
}

#[test]
fn reuses_the_buffer_it_is_given() {
    let f = file(pattern(8192), u64::MAX);
    let mut ra = ReadAhead::start().expect("a thread");
    let mut buf = BytesMut::with_capacity(8192);
    buf.resize(8192, 0xEE);
    let ptr = buf.as_ptr();
    ra.request(&f, 0, 4096, buf);
    let (got, _) = ra.take(&f, 0, 4096).expect("read");
    assert_eq!((got.as_ptr(), got.len()), (ptr, 4096));
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
        let (at, need) = next_start(&block[..cut]);
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
    let (at, need) = next_start(&block);
    assert_eq!((at, need), (0, record_size(u64::from(u32::MAX)) as usize));
    assert_eq!(next_start(&[]), (0, RECORD_HEADER_LEN));
    assert_eq!(next_start(&[0u8; 31]), (0, RECORD_HEADER_LEN));
}

#[test]
fn an_iterator_with_read_ahead_stays_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ReadAhead>();
    check::<crate::Iter>();
}

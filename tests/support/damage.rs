//! Shared helpers that build and damage logs on disk, for the test suites.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use seawall::{Lsn, Options, Reader, SegmentId, Wal};

/// Path of segment `id` in `dir`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(SegmentId::new(id).file_name())
}

/// Flips one bit of the file at `path`.
pub fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 1 << bit;
    f.write_all_at(&b, offset).unwrap();
}

/// Overwrites `len` bytes at `offset` with zeros.
pub fn zero_range(path: &Path, offset: u64, len: usize) {
    write_bytes(path, offset, &vec![0u8; len]);
}

/// Writes `bytes` at `offset`.
pub fn write_bytes(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Truncates the file to `len` bytes.
pub fn truncate_at(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// Reads `len` bytes at `offset`.
pub fn read_bytes(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let f = OpenOptions::new().read(true).open(path).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, offset).unwrap();
    b
}

/// Every file of `dir` (by name) with its contents.
pub fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Copies every file of `dir` into a new temporary directory: what a crashed
/// process leaves behind (the page cache survives a process crash).
pub fn snapshot(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for (name, bytes) in dir_contents(dir) {
        std::fs::write(copy.path().join(name), bytes).unwrap();
    }
    copy
}

/// A deterministic payload for `lsn`, varying in length.
pub fn payload(lsn: u64, seed: u64) -> Vec<u8> {
    let mut x = lsn.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed;
    let len = (x % 300) as usize + 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Small segments, deterministic file operations.
pub fn small_opts() -> Options {
    Options::default().segment_size(64 * 1024).background_preallocation(false)
}

/// Creates a log of `n` records in `dir`, each appended durably (so every
/// record states that its predecessors were durable), and closes it.
pub fn durable_log(dir: &Path, n: u64, opts: Options) {
    let (wal, _) = Wal::open(dir, opts).unwrap();
    for lsn in 1..=n {
        assert_eq!(wal.append_durable(&payload(lsn, 7)).unwrap(), Lsn::new(lsn));
    }
    wal.close().unwrap();
}

/// `(lsn, segment, offset)` of every valid record, via the public reader.
pub fn record_positions(dir: &Path) -> Vec<(u64, u64, u64)> {
    let reader = Reader::open(dir).unwrap();
    reader
        .iter_from(reader.first_lsn())
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.lsn().get(), r.segment().get(), r.offset())
        })
        .collect()
}

/// All payloads of the log, in order, after opening it with `opts`.
pub fn read_all(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    wal.iter_from(wal.first_lsn()).unwrap().map(|r| r.unwrap()).map(|r| (r.lsn().get(), r.payload().to_vec())).collect()
}

/// Turns a cleanly closed log into the log a crash would have left: removes
/// the record a clean close writes last (which claims every byte before it
/// durable), so that the records before it are again the last, unclaimed
/// writes a torn write may have hit.
pub fn crash_before_close(dir: &Path) {
    use seawall::format::{SEGMENT_HEADER_LEN, SEGMENT_SUFFIX};
    use seawall::raw::{decode_record, HeaderState};
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == &SEGMENT_SUFFIX[1..]))
        .collect();
    segs.sort();
    for path in segs.iter().rev() {
        let bytes = std::fs::read(path).unwrap();
        let id = SegmentId::from_file_name(&path.file_name().unwrap().to_string_lossy()).unwrap();
        let HeaderState::Valid(h) = seawall::SegmentHeader::decode(&bytes, id) else { continue };
        let (mut off, mut last) = (SEGMENT_HEADER_LEN, None);
        while let Ok(r) = decode_record(&bytes, off, h.salt) {
            last = Some((off, r));
            off = r.next;
        }
        let Some((at, r)) = last else { continue };
        assert!(
            r.kind == seawall::RecordKind::Pad && r.synced_off == Some(at as u32),
            "the log ends with a clean close's record"
        );
        zero_range(path, at as u64, r.next - at);
        return;
    }
    panic!("no segment holds records");
}

//! Guards segment management: files are named in log order, preallocated to
//! the segment size (or grown on demand when preallocation is off), rotated
//! when full, and removed whole by `truncate_before`.

#[path = "support/damage.rs"]
mod damage;
#[path = "support/probe_fs.rs"]
mod probe_fs;

use std::sync::Arc;

use seawall::{Lsn, Options, Reader, SegmentState, Wal};

const SEG: u64 = 64 * 1024;

fn fill(wal: &Wal, n: u64) {
    for lsn in 1..=n {
        wal.append(&damage::payload(lsn, 1)).unwrap();
    }
    wal.sync(wal.last_lsn()).unwrap();
}

#[test]
fn segments_are_preallocated_to_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), damage::small_opts()).unwrap();
    fill(&wal, 2000);
    wal.close().unwrap();
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert!(insp.segments.len() >= 4, "2000 records rotate through several 64 KiB segments");
    for seg in &insp.segments {
        assert_eq!(seg.file_len, SEG, "{} is preallocated", seg.path.display());
        assert!(seg.bytes_used <= SEG);
    }
    let names: Vec<_> = insp.segments.iter().map(|s| s.path.file_name().unwrap().to_owned()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "lexical order of names is log order");
    let sealed = insp.segments.iter().filter(|s| s.state == SegmentState::Sealed).count();
    assert_eq!(sealed, insp.segments.len() - 1);
}

#[test]
fn without_preallocation_segments_grow_with_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), damage::small_opts().preallocate(false)).unwrap();
    fill(&wal, 100);
    wal.close().unwrap();
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert_eq!(insp.segments.len(), 1);
    assert_eq!(insp.segments[0].file_len, insp.segments[0].bytes_used, "the file ends where its records end");
    let (wal, report) = Wal::open(dir.path(), damage::small_opts().preallocate(false)).unwrap();
    assert!(report.is_clean());
    assert_eq!(wal.last_lsn(), Lsn::new(100));
}

#[test]
fn background_preallocation_prepares_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default().segment_size(SEG)).unwrap();
    fill(&wal, 10);
    wal.close().unwrap(); // waits for the background thread
    let insp = Reader::open(dir.path()).unwrap().inspection().clone();
    assert_eq!(insp.segments.len(), 2);
    assert_eq!(insp.segments[1].state, SegmentState::Unused);
    assert_eq!(insp.segments[1].file_len, SEG);
    // A reopen removes the unused spare (and prepares a new one).
    let (_, report) = Wal::open(dir.path(), damage::small_opts()).unwrap();
    assert!(report.is_clean());
}

#[test]
fn truncate_before_removes_whole_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), damage::small_opts()).unwrap();
    fill(&wal, 2000);
    let before = Reader::open(dir.path()).unwrap().inspection().segments.clone();
    let second_first = before[1].first_lsn.unwrap();
    // Records before the second segment's first LSN: exactly the first segment goes.
    let first = wal.truncate_before(second_first).unwrap();
    assert_eq!(first, second_first);
    assert!(!before[0].path.exists());
    // An LSN inside a segment keeps that segment, and the purge point is exact.
    let inside = Lsn::new(before[2].first_lsn.unwrap().get() + 1);
    assert_eq!(wal.truncate_before(inside).unwrap(), inside);
    assert_eq!(wal.first_lsn(), inside);
    assert!(before[2].path.exists() && !before[1].path.exists());
    assert!(matches!(wal.read(inside - 1), Err(seawall::Error::LsnOutOfRange { .. })));
    assert_eq!(wal.read(inside).unwrap().lsn(), inside);
    // The active segment is never removed, even when every record is before the LSN.
    let last = wal.last_lsn();
    let active = Reader::open(dir.path())
        .unwrap()
        .inspection()
        .segments
        .iter()
        .rev()
        .find(|s| s.header.is_some())
        .unwrap()
        .path
        .clone();
    wal.truncate_before(last.next()).unwrap();
    assert!(active.exists());
    assert_eq!(wal.iter_from(wal.first_lsn()).unwrap().count(), 0, "every record is purged");
    assert_eq!(wal.first_lsn(), last.next());
    drop(wal);
    let (wal, _) = Wal::open(dir.path(), damage::small_opts()).unwrap();
    assert_eq!(wal.last_lsn(), last);
    assert_eq!(wal.first_lsn(), last.next(), "the purge point is durable");
}

/// Where the file's data ends by `SEEK_DATA`/`SEEK_HOLE`, as the seam
/// (`WalFile::data_end`) tells it.
fn data_end(path: &std::path::Path) -> u64 {
    use seawall::io::FileSystem;
    let f = seawall::io::StdFs.open_read(path).unwrap();
    f.data_end(f.len().unwrap())
}

/// Open reads the never-written tail of the active segment to check it is
/// zero; afterwards it lets those pages go, so that they are not read again
/// at the next open (cached, they count as data). No byte changes.
#[test]
fn open_releases_the_cached_zeros_of_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(4 << 20).background_preallocation(false);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    fill(&wal, 100);
    wal.close().unwrap();
    let path = damage::segment_path(dir.path(), 1);
    let used = Reader::open(dir.path()).unwrap().inspection().segments[0].bytes_used;
    if data_end(&path) >= 4 << 20 {
        eprintln!("skipped: this file system does not report preallocated, never-written space as a hole");
        return;
    }
    // Reading every byte caches the zeros, which then count as data.
    let before = std::fs::read(&path).unwrap();
    let cached = data_end(&path);
    let (wal, report) = Wal::open(dir.path(), opts).unwrap();
    assert!(report.is_clean(), "{report:?}");
    drop(wal);
    let after = data_end(&path);
    assert!(after < cached, "open released the zeros: data ends at {after}, at {cached} before");
    assert!(after >= used && after <= used.next_multiple_of(4096) + 4096, "data ends at {after}, records at {used}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "no byte changed");
}

/// Open reads the active segment's records and what follows them only as
/// far as the page cache holds it: never its preallocated, never-written
/// space up to the end (which reading the place of its trailer, or any
/// page there, would bring into the cache as data).
#[test]
fn open_reads_the_active_segment_only_as_far_as_it_was_written() {
    const SEGMENT: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(SEGMENT).background_preallocation(false);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    for _ in 0..9000 {
        wal.append(&[3u8; 1000]).unwrap();
    }
    wal.close().unwrap();
    let path = damage::segment_path(dir.path(), 1);
    let used = Reader::open(dir.path()).unwrap().inspection().segments[0].bytes_used;
    if data_end(&path) >= SEGMENT {
        eprintln!("skipped: this file system does not report preallocated, never-written space as a hole");
        return;
    }
    for round in 0..3 {
        let probe = probe_fs::ProbeFs::new();
        let (wal, report) = Wal::open_with(dir.path(), opts.clone(), Arc::new(probe.clone())).unwrap();
        let read = probe.bytes_read();
        assert!(report.is_clean(), "{report:?}");
        assert!(read < used + SEGMENT / 4, "open {round} read {read} bytes of a segment of {SEGMENT} holding {used}");
        // Reading the log caches some zeros after its records (read-ahead).
        assert_eq!(wal.range(..).unwrap().count(), 9000);
        wal.close().unwrap();
    }
}

//! The page-cache hints the engine gives its files keep their promises
//! (`WalFile::start_writeback` and `WalFile::release_zeros`, `src/io.rs`):
//! writeback is asked for whole pages that hold their final bytes already,
//! which no later write changes; zeros are released only where every byte
//! is zero. Hints change nothing on disk, so the crash models need not see
//! them; this suite checks what they are given.

mod common;

use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::recording_fs::{Hint, PassThroughFs, SyncPolicy};
use seawall::io::{FileSystem, StdFs, WalFile};
use seawall::{Lsn, Options, Wal};

/// One hint, with the bytes its range held when it was given.
#[derive(Debug)]
struct Seen {
    path: PathBuf,
    hint: Hint,
    from: u64,
    bytes: Vec<u8>,
}

/// Real syncs; every hint is kept with the bytes it covered.
#[derive(Clone, Debug, Default)]
struct Watch(Arc<Mutex<Vec<Seen>>>);

impl SyncPolicy for Watch {
    fn sync_data(&self, file: &dyn WalFile) -> io::Result<()> {
        file.sync_data()
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.sync_dir(path)
    }
    fn hint(&self, path: &Path, _file: &dyn WalFile, hint: Hint, from: u64, to: u64) {
        assert!(from < to, "{hint:?} of an empty range at {from} of {}", path.display());
        let mut bytes = vec![0u8; (to - from) as usize];
        std::fs::File::open(path)
            .and_then(|f| f.read_exact_at(&mut bytes, from))
            .unwrap_or_else(|e| panic!("{hint:?} of {from}..{to} of {}: {e}", path.display()));
        self.0.lock().unwrap().push(Seen { path: path.to_path_buf(), hint, from, bytes });
    }
}

/// Record `i`'s payload: sizes from 1 byte to about 3 KiB, so that writes
/// end anywhere in a page.
fn payload(i: u64) -> Vec<u8> {
    let len = (i.wrapping_mul(2_654_435_761) % 3000 + 1) as usize;
    (0..len).map(|k| (i as usize + k) as u8 | 1).collect()
}

#[test]
fn hints_cover_final_bytes_and_zeros_only() {
    let dir = tempfile::tempdir().unwrap();
    let watch = Watch::default();
    let fs: Arc<dyn FileSystem> = Arc::new(PassThroughFs(watch.clone()));
    // A small write buffer: many writes, ending anywhere in a page, and a
    // rotation. The second segment ends up less than a quarter full, so the
    // reopen's walk stops at its zeros before its last window.
    let opts = Options::default().segment_size(2 << 20).write_buffer_size(4096);
    let (wal, _) = Wal::open_with(dir.path(), opts.clone(), fs.clone()).unwrap();
    for i in 1..=1500u64 {
        let lsn = wal.append(&payload(i)).unwrap();
        if i % 400 == 0 {
            wal.sync(lsn).unwrap();
        }
    }
    wal.close().unwrap();
    // Reading every file caches the zeros of the active segment's unwritten
    // end, which then count as data: reopening walks them, finds them zero
    // and releases them.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::read(e.unwrap().path()).unwrap();
    }
    let (wal, report) = Wal::open_with(dir.path(), opts, fs).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let all: Vec<_> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap().into_payload()).collect();
    assert_eq!(all.len(), 1500);
    assert!(all.iter().zip(1..).all(|(p, i)| p.as_ref() == payload(i).as_slice()), "every record reads back");
    wal.close().unwrap();

    let seen = watch.0.lock().unwrap();
    let count = |h| seen.iter().filter(|s| s.hint == h).count();
    assert!(count(Hint::Writeback) > 10, "appends asked for writeback: {}", count(Hint::Writeback));
    assert!(count(Hint::ReleaseZeros) > 0, "the reopen released the zeros it checked");
    for s in seen.iter() {
        let end = s.from + s.bytes.len() as u64;
        match s.hint {
            Hint::Writeback => {
                assert!(
                    s.from.is_multiple_of(4096) && end.is_multiple_of(4096),
                    "writeback of {}..{end}: whole pages",
                    s.from
                );
                // Nothing written later changed them: no partial page, no
                // byte not yet written (it read as zero then).
                let now = std::fs::read(&s.path).unwrap();
                assert!(
                    now[s.from as usize..end as usize] == s.bytes[..],
                    "writeback of {}..{end} of {} before its final bytes",
                    s.from,
                    s.path.display()
                );
            }
            Hint::ReleaseZeros => {
                assert!(s.bytes.iter().all(|&b| b == 0), "released {}..{end}, which is not all zero", s.from);
            }
        }
    }
}

//! A pass-through `FileSystem` that lets a test observe and hold the log's
//! I/O: it counts the bytes every `read_at` returns (so a test can tell one
//! record's read from a scan, without timing anything), and can hold every
//! `fdatasync` at a gate until the test opens it (so a test can gather
//! waiters behind one flush it knows is in progress), and can make a range
//! of one file unreadable (`EIO`, a latent sector error).
#![allow(dead_code)]

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use seawall::io::{FileSystem, StdFs, WalFile};

/// Syncs wait here while the gate is shut.
#[derive(Debug, Default)]
struct Gate {
    /// (shut, syncs waiting at the gate)
    state: Mutex<(bool, usize)>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct Shared {
    bytes_read: AtomicU64,
    gate: Gate,
    /// A file and the range of it whose reads fail with `EIO`, for files
    /// opened after it was set.
    unreadable: Mutex<Option<(PathBuf, Range<u64>)>>,
    /// A file whose syncs alone wait at the gate while it is shut (every
    /// file's when `None`).
    held: Mutex<Option<PathBuf>>,
}

/// `EIO` on Linux.
pub const EIO: i32 = 5;

/// The real file system, observed. Clones share their counters and gate.
#[derive(Clone, Debug, Default)]
pub struct ProbeFs(Arc<Shared>);

impl ProbeFs {
    pub fn new() -> ProbeFs {
        ProbeFs::default()
    }

    /// Bytes returned by every `read_at` of every file so far.
    pub fn bytes_read(&self) -> u64 {
        self.0.bytes_read.load(Ordering::SeqCst)
    }

    /// From now on every `fdatasync` waits until [`ProbeFs::open_gate`].
    pub fn shut_gate(&self) {
        self.0.gate.state.lock().unwrap().0 = true;
    }

    /// From now on every `fdatasync` of the file at `path` (and of no other)
    /// waits until [`ProbeFs::open_gate`].
    pub fn shut_gate_for(&self, path: &Path) {
        *self.0.held.lock().unwrap() = Some(path.to_path_buf());
        self.shut_gate();
    }

    /// Lets every held and future `fdatasync` through.
    pub fn open_gate(&self) {
        *self.0.held.lock().unwrap() = None;
        self.0.gate.state.lock().unwrap().0 = false;
        self.0.gate.cv.notify_all();
    }

    /// Returns once `n` syncs wait at the gate. It ends when the log reaches
    /// the gate; a test calling it runs under a watchdog in case it never does.
    pub fn wait_for_held_syncs(&self, n: usize) {
        let g = &self.0.gate;
        let mut s = g.state.lock().unwrap();
        while s.1 < n {
            s = g.cv.wait(s).unwrap();
        }
    }

    /// Reads of `range` of the file at `path`, opened from now on, fail
    /// with `EIO`.
    pub fn make_unreadable(&self, path: &Path, range: Range<u64>) {
        *self.0.unreadable.lock().unwrap() = Some((path.to_path_buf(), range));
    }

    fn wrap(&self, path: &Path, file: Box<dyn WalFile>) -> Box<dyn WalFile> {
        let unreadable = self.0.unreadable.lock().unwrap().clone().filter(|(p, _)| p == path).map(|(_, r)| r);
        Box::new(ProbeFile { fs: self.clone(), file, unreadable, path: path.to_path_buf() })
    }

    /// Whether syncs of the file at `path` wait at a shut gate.
    fn holds(&self, path: &Path) -> bool {
        self.0.held.lock().unwrap().as_ref().is_none_or(|p| p == path)
    }
}

impl FileSystem for ProbeFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        StdFs.create(path).map(|f| self.wrap(path, f))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        StdFs.open(path).map(|f| self.wrap(path, f))
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        StdFs.open_read(path).map(|f| self.wrap(path, f))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        StdFs.create_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.sync_dir(path)
    }
}

#[derive(Debug)]
struct ProbeFile {
    fs: ProbeFs,
    file: Box<dyn WalFile>,
    unreadable: Option<Range<u64>>,
    path: PathBuf,
}

impl WalFile for ProbeFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        let g = &self.fs.0.gate;
        let mut s = g.state.lock().unwrap();
        if s.0 && self.fs.holds(&self.path) {
            s.1 += 1;
            g.cv.notify_all();
            while s.0 {
                s = g.cv.wait(s).unwrap();
            }
            s.1 -= 1;
        }
        drop(s);
        self.file.sync_data()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if self.unreadable.as_ref().is_some_and(|r| offset < r.end && r.start < offset + buf.len() as u64) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        let n = self.file.read_at(buf, offset)?;
        self.fs.0.bytes_read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn data_end(&self, len: u64) -> u64 {
        self.file.data_end(len)
    }
    fn data_regions(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        self.file.data_regions(from, to)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        self.file.allocate(len)
    }
}

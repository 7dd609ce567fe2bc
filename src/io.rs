//! The seam through which every file-system effect of the engine passes.
//!
//! The engine reads, writes, syncs, creates, renames and removes files only
//! through [`FileSystem`] and [`WalFile`], so that tests can record every
//! operation, cut the sequence at any point to build crash states, and
//! inject `EIO` (a failed sync, a latent sector error), `ENOSPC` or short
//! writes. Reads use `pread`, never a memory map: a latent sector error then
//! surfaces as an `EIO` the caller can report, not as a `SIGBUS` that kills
//! the process.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Directory-level effects. Every method states the one system call it stands for.
pub trait FileSystem: Send + Sync + Debug {
    /// Creates the file at `path`, which must not exist (`open(O_CREAT|O_EXCL)`),
    /// for reading and writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens the existing file at `path` for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens the existing file at `path` for reading only (writes fail). Must
    /// not block, whatever the file is.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Atomically renames `from` to `to` (`rename(2)`); not durable until
    /// [`FileSystem::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path` (`unlink(2)`); not durable until
    /// [`FileSystem::sync_dir`].
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Creates `path` and its missing parents (`mkdir -p`).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals in directory `path` durable
    /// (`fsync` of the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// Effects on one open file.
// `len` is the length of a file that always exists; an `is_empty` would add
// nothing a caller needs.
#[allow(clippy::len_without_is_empty)]
pub trait WalFile: Send + Sync + Debug {
    /// Writes a prefix of `buf` at `offset` (`pwrite(2)`) and returns how many
    /// bytes it wrote; a short count is not an error. Not durable until
    /// [`WalFile::sync_data`].
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// Makes every write to this file durable (`fdatasync(2)`). After an error
    /// the state of unsynced writes is unknown: they may be lost even if a
    /// later call succeeds.
    fn sync_data(&self) -> io::Result<()>;
    /// Reads into a prefix of `buf` from `offset` (`pread(2)`) and returns how
    /// many bytes it read; 0 at the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// The file's length in bytes (`fstat(2)`).
    fn len(&self) -> io::Result<u64>;
    /// An offset past which the first `len` bytes of the file hold no data
    /// (preallocated space never written reads as zeros). The default, `len`,
    /// is always correct; a file system that knows its holes may answer less,
    /// so a search for non-zero bytes need not read up to a whole segment of
    /// zeros.
    fn data_end(&self, len: u64) -> u64 {
        len
    }
    /// The ranges within `from..to` that may hold data (the rest reads as
    /// zeros). The default, the whole range, is always correct.
    fn data_regions(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        vec![(from, to)]
    }
    /// A hint that bytes `from..to`, found to hold only zeros, need not stay
    /// in the page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`): pages cached
    /// over a preallocated, never-written range make [`WalFile::data_end`]
    /// count it as data, and every later open would read it again. Never
    /// changes the file's bytes (the kernel drops clean pages only); the
    /// default does nothing.
    fn release_zeros(&self, from: u64, to: u64) {
        let _ = (from, to);
    }
    /// A hint to start writing bytes `from..to` back to the disk now,
    /// without waiting for it (`posix_fadvise(POSIX_FADV_DONTNEED)`, which
    /// starts writeback of dirty pages and leaves pages under writeback
    /// cached), so that a later sync finds less to write. Changes no byte
    /// and makes nothing durable; the default does nothing.
    fn start_writeback(&self, from: u64, to: u64) {
        let _ = (from, to);
    }
    /// Sets the file's length (`ftruncate(2)`), growing it with zeros.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Allocates disk space for the first `len` bytes (`fallocate(2)`, mode 0),
    /// growing the file to at least `len` bytes of zeros.
    fn allocate(&self, len: u64) -> io::Result<()>;
}

/// Writes all of `buf` at `offset`, retrying short writes.
pub(crate) fn write_all_at(file: &dyn WalFile, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write_at(buf, offset) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0 bytes")),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes at `offset`, retrying short reads; a read
/// past the end of the file fails with `UnexpectedEof`.
pub(crate) fn read_exact_at(file: &dyn WalFile, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file")),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

#[derive(Debug)]
struct StdFile(File);

impl FileSystem for StdFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let f = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that a FIFO named like a segment cannot hang an
        // open; callers check the file type as well.
        let f = OpenOptions::new().read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

impl StdFile {
    /// `posix_fadvise(POSIX_FADV_DONTNEED)` over `from..to`: starts writeback
    /// of the dirty pages there and drops the clean ones from the page cache.
    /// Both hints use it; whether the kernel takes it changes no byte.
    fn dont_need(&self, from: u64, to: u64) {
        if let Some(len) = std::num::NonZeroU64::new(to.saturating_sub(from)) {
            let _ = rustix::fs::fadvise(&self.0, from, Some(len), rustix::fs::Advice::DontNeed);
        }
    }
}

impl WalFile for StdFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.0.write_at(buf, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    /// The end of the last data region by `SEEK_DATA`/`SEEK_HOLE`: ext4 and
    /// XFS report preallocated, never-written extents as holes (unless the
    /// page cache holds data for them).
    fn data_end(&self, len: u64) -> u64 {
        use rustix::fs::{seek, SeekFrom};
        let (mut pos, mut end) = (0u64, 0u64);
        while pos < len {
            match seek(&self.0, SeekFrom::Data(pos)) {
                Ok(data) => match seek(&self.0, SeekFrom::Hole(data)) {
                    Ok(hole) if hole > data => (pos, end) = (hole, hole),
                    _ => return len,
                },
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => return len,
            }
        }
        end.min(len)
    }

    fn data_regions(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        use rustix::fs::{seek, SeekFrom};
        let mut out = Vec::new();
        let mut pos = from;
        while pos < to {
            match seek(&self.0, SeekFrom::Data(pos)) {
                Ok(data) if data >= to => break,
                Ok(data) => match seek(&self.0, SeekFrom::Hole(data)) {
                    Ok(hole) if hole > data => {
                        out.push((data, hole.min(to)));
                        pos = hole;
                    }
                    _ => return vec![(from, to)],
                },
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => return vec![(from, to)],
            }
        }
        out
    }

    fn release_zeros(&self, from: u64, to: u64) {
        self.dont_need(from, to);
    }

    fn start_writeback(&self, from: u64, to: u64) {
        self.dont_need(from, to);
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        match rustix::fs::fallocate(&self.0, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => Ok(()),
            // File systems without fallocate still get a file of the right size.
            Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::NOSYS) => {
                if self.0.metadata()?.len() < len {
                    self.0.set_len(len)?;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

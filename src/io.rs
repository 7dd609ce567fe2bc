//! The seam through which every file-system effect of the engine passes.
//!
//! The engine writes, syncs, creates, renames and removes files only through
//! [`FileSystem`] and [`WalFile`], so that tests can record every operation,
//! cut the sequence at any point to build crash states, and inject `EIO`,
//! `ENOSPC` or short writes. Reads do not pass through the seam: segments are
//! read with `mmap` straight from the real files, which is also what recovery
//! does after a real crash.

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
pub trait WalFile: Send + Sync + Debug {
    /// Writes a prefix of `buf` at `offset` (`pwrite(2)`) and returns how many
    /// bytes it wrote; a short count is not an error. Not durable until
    /// [`WalFile::sync_data`].
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// Makes every write to this file durable (`fdatasync(2)`). After an error
    /// the state of unsynced writes is unknown: they may be lost even if a
    /// later call succeeds.
    fn sync_data(&self) -> io::Result<()>;
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

impl WalFile for StdFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.0.write_at(buf, offset)
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

//! A read-only file in memory, for unit tests of code that reads segment
//! files through the I/O seam.

use std::io;

use crate::io::WalFile;

/// The bytes of a file; reads that reach `bad` or past it fail, as over an
/// unreadable sector (`u64::MAX`: none do).
#[derive(Debug)]
pub(crate) struct MemFile {
    pub bytes: Vec<u8>,
    pub bad: u64,
}

impl MemFile {
    /// A file of `bytes` that reads without error.
    pub fn new(bytes: Vec<u8>) -> MemFile {
        MemFile { bytes, bad: u64::MAX }
    }
}

impl WalFile for MemFile {
    fn write_at(&self, _: &[u8], _: u64) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn sync_data(&self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset.saturating_add(buf.len() as u64) > self.bad {
            return Err(io::Error::other("unreadable sector"));
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

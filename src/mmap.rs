//! Read-only memory maps of segment files: the crate's only `unsafe` code.

use std::fs::File;
use std::io;
use std::path::Path;

use bytes::Bytes;

/// Maps the file at `path` read-only and returns its bytes. The mapping lives
/// as long as any `Bytes` sliced from it, so payloads handed out by readers
/// point into the page cache without a copy.
pub(crate) fn map_file(path: &Path) -> io::Result<Bytes> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        // mmap(2) rejects empty mappings.
        return Ok(Bytes::new());
    }
    // SAFETY: the mapping is read-only. seawall never shrinks a segment file
    // (it only removes whole files, which keeps existing mappings valid), so
    // no page of the mapping can disappear while it is in use. Another program
    // shrinking the file would raise SIGBUS; FORMAT.md's media assumptions
    // state that segment files are written by seawall alone.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Bytes::from_owner(map))
}

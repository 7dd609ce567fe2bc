//! Reading a segment file a block at a time for recovery: the walk goes
//! through one reused buffer, and only the bytes from where it stops to the
//! end of the data are held at once.
//!
//! Reading a whole segment into one freshly allocated buffer cost more than
//! validating it (page faults on every page of the buffer, and a copy into
//! cold memory). Here the walk runs on windows of `BLOCK` bytes; a window
//! ends inside a record, so the walk stops there for want of bytes and
//! resumes, at the end of the last whole unit it accepted, in the next
//! window. Each byte is validated once, but for a record or batch that
//! straddles a window's end, whose first part is read again.
//!
//! The judgement is the same as on the whole segment (`judge.rs`): the walk
//! keeps in memory all it needs of what lies before the window (offsets,
//! checksums, metadata), and the window handed to the judge holds every
//! byte from the stop to the end of the data, which is what the evidence is
//! gathered from. The one exception, a parity repair (its window may reach
//! back before the stop), is judged on the whole segment, read anew.

use std::path::Path;

use crate::error::{CorruptionReason, Result};
use crate::format::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::io::{read_exact_at, WalFile};
use crate::judge::{judge, Judged, Limit};
use crate::recovery::io_err;
use crate::scan::{nonzero_len, Stop, Walker, Window};

/// Bytes a window holds at first: the records it holds are validated while
/// still in the CPU's caches. Grows (doubling) for a unit larger than this.
const BLOCK: usize = 256 << 10;

/// The end of the bytes of a segment of length `len` that may hold data
/// (never less than the header, if the file is that long).
pub(crate) fn data_end(file: &dyn WalFile, len: u64) -> u64 {
    file.data_end(len).max((SEGMENT_HEADER_LEN as u64).min(len))
}

/// Reads a segment's bytes from its start up to where it holds data, all
/// at once (for the rare scans that need them all).
pub(crate) fn read_data(file: &dyn WalFile, path: &Path, len: u64) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; data_end(file, len) as usize];
    read_exact_at(file, &mut buf, 0).map_err(io_err("read", path))?;
    Ok(buf)
}

/// Fills `buf` with the `to - base` bytes at `base`, reusing its memory.
fn fill(file: &dyn WalFile, path: &Path, buf: &mut Vec<u8>, base: usize, to: usize) -> Result<()> {
    // Only growth is zeroed; every byte is then overwritten by the read.
    buf.resize(to - base, 0);
    read_exact_at(file, buf, base as u64).map_err(io_err("read", path))
}

/// A judged segment and the dead bytes of its cuts that are not all zero.
pub(crate) struct FileJudged {
    pub judged: Judged,
    pub dead: Vec<(u64, u64)>,
}

/// Walks and judges the segment in `file` (of length `len`) with `walker`
/// and `limit`, as [`judge`] does on its whole bytes.
pub(crate) fn judge_file(
    file: &dyn WalFile,
    path: &Path,
    len: u64,
    walker: Walker,
    limit: Option<Limit>,
) -> Result<FileJudged> {
    judge_in_blocks(file, path, len, walker, limit, BLOCK)
}

/// [`judge_file`] with windows of `block` bytes at first (tests use small
/// ones, so that small segments span many windows).
fn judge_in_blocks(
    file: &dyn WalFile,
    path: &Path,
    len: u64,
    walker: Walker,
    limit: Option<Limit>,
    block: usize,
) -> Result<FileJudged> {
    assert!(block > 0);
    let full = data_end(file, len) as usize;
    // Where the window handed to the judge ends: `full`, or less once the
    // bytes from the stop to `full` are known to be zero.
    let mut end = full;
    let fresh = walker.clone();
    let mut walker = walker;
    let mut buf = Vec::new();
    let (mut base, mut block) = (0usize, block);
    // Invariant: `base <= walker.end`, and everything before `base` the walk
    // accepted. Ends: each turn either reaches `end`, or moves `base` on, or
    // doubles `block`.
    loop {
        let to = base.saturating_add(block).min(end);
        fill(file, path, &mut buf, base, to)?;
        if to == end {
            break;
        }
        match walker.run(Window { base, bytes: &buf }) {
            Stop::Sealed => break,
            // Out of bytes: resume after the last whole unit, or, if not one
            // fits, in a larger window.
            Stop::Bad(CorruptionReason::BadLength) if walker.end > base => base = walker.end,
            Stop::Bad(CorruptionReason::BadLength) => block = block.saturating_mul(2),
            // A stop that is not for want of bytes: the judge needs every
            // byte from it to the end of the data. When they are all zero
            // (the clean end of a log in a segment not yet full), what it
            // finds there is known: a zero header at the stop and nothing
            // after; a header's worth of them stands for them all.
            Stop::Bad(_) => {
                base = walker.end;
                if !nonzero_in(file, path, &mut buf, base, end)? {
                    // Cached, these zeros would be read again at every open.
                    file.release_zeros(base as u64, end as u64);
                    end = end.min(base + RECORD_HEADER_LEN);
                }
                block = end - base;
            }
        }
    }
    let judged = match judge(base, &mut buf, walker, limit) {
        Some(j) => j,
        None => {
            base = 0;
            fill(file, path, &mut buf, 0, full)?;
            judge(0, &mut buf, fresh, limit).expect("a whole segment is always judged")
        }
    };
    let mut dead = Vec::new();
    for &(a, b) in &judged.walker.dead {
        let b = b.min(full);
        if a <= b && any_nonzero(file, path, Window { base, bytes: &buf }, a, b)? {
            dead.push((a as u64, b as u64));
        }
    }
    Ok(FileJudged { judged, dead })
}

/// Whether bytes `from..to` of the file hold a non-zero byte: those in
/// `win` as it holds them (rebuilt pages included), the others read from
/// the file.
fn any_nonzero(file: &dyn WalFile, path: &Path, win: Window, from: usize, to: usize) -> Result<bool> {
    let (lo, hi) = (from.clamp(win.base, win.end()), to.clamp(win.base, win.end()));
    if nonzero_len(&win.bytes[lo - win.base..hi - win.base]) > 0 {
        return Ok(true);
    }
    Ok(nonzero_in_file(file, path, from, to.min(win.base))? || nonzero_in_file(file, path, from.max(win.end()), to)?)
}

/// Whether bytes `from..to` of the file hold a non-zero byte, read a block
/// at a time.
pub(crate) fn nonzero_in_file(file: &dyn WalFile, path: &Path, from: usize, to: usize) -> Result<bool> {
    nonzero_in(file, path, &mut Vec::new(), from, to)
}

/// [`nonzero_in_file`] reading through `buf` (whose bytes it overwrites).
fn nonzero_in(file: &dyn WalFile, path: &Path, buf: &mut Vec<u8>, from: usize, to: usize) -> Result<bool> {
    let mut at = from;
    while at < to {
        let next = at.saturating_add(BLOCK).min(to);
        fill(file, path, buf, at, next)?;
        if nonzero_len(buf) > 0 {
            return Ok(true);
        }
        at = next;
    }
    Ok(false)
}

#[cfg(test)]
mod tests;

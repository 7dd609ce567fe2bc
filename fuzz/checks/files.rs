//! Log directories as bytes: snapshots, restoring them elsewhere, and the
//! damage the checks apply (bit flips, zeroed, garbage or swapped 512-byte
//! sectors, truncation, stale segment headers), including media damage to
//! durable bytes and the frontier where it may cost records.

use std::ops::Range;
use std::path::Path;

use seawall::format::{
    LOCK_FILE, PARITY_END_OFF, PARITY_PAGE, PARITY_PAYLOAD_LEN, PARITY_RECORD_LEN, PARITY_START_OFF, SEGMENT_HEADER_LEN,
};
use seawall::raw::{decode_record, HeaderState};
use seawall::{RecordKind, SegmentHeader, SegmentId};

use super::input::Input;

pub(crate) const SECTOR: usize = 512;

/// The files of a log directory (the lock file aside), by name.
pub(crate) type Snapshot = Vec<(String, Vec<u8>)>;

pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    let mut files: Snapshot = std::fs::read_dir(dir)
        .expect("read the log directory")
        .map(|e| e.expect("directory entry"))
        .filter(|e| e.file_name() != LOCK_FILE)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read a log file")))
        .collect();
    files.sort();
    files
}

pub(crate) fn restore(files: &Snapshot, dir: &Path) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write a log file");
    }
}

pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Where damage may land: anywhere, or only in file `file` from byte `from` on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Region {
    Anywhere,
    After { file: usize, from: usize },
}

/// Applies up to `max` mutations described by `input` to `files`.
pub(crate) fn mutate(input: &mut Input, files: &mut Snapshot, region: Region, max: u8) {
    if files.is_empty() {
        return;
    }
    let count = input.byte() % (max + 1);
    for _ in 0..count {
        let (file, from) = match region {
            Region::Anywhere => (input.below(files.len() as u64) as usize, 0),
            Region::After { file, from } => (file, from),
        };
        let len = files[file].1.len();
        if len <= from {
            return;
        }
        let at = from + input.below((len - from) as u64) as usize;
        let bytes = &mut files[file].1;
        match input.byte() % 7 {
            0 => bytes[at] ^= 1 << (input.byte() % 8),
            1 => {
                let s = sector(at, from, len);
                bytes[s.clone()].fill(0);
            }
            2 => {
                let s = sector(at, from, len);
                let fill = input.bytes(s.len());
                bytes[s.start..s.start + fill.len()].copy_from_slice(fill);
            }
            3 => bytes.truncate(at),
            4 => {
                let other = from + input.below((len - from) as u64) as usize;
                let (a, b) = (sector(at, from, len), sector(other, from, len));
                let n = a.len().min(b.len());
                if a.start != b.start && a.start.abs_diff(b.start) >= n {
                    let tmp = bytes[a.start..a.start + n].to_vec();
                    bytes.copy_within(b.start..b.start + n, a.start);
                    bytes[b.start..b.start + n].copy_from_slice(&tmp);
                }
            }
            5 => {
                // A header that is valid but says something else: another
                // first LSN (superseding or leaving a gap), chain seed or salt.
                if matches!(region, Region::Anywhere) {
                    rewrite_header(input, &mut files[file]);
                }
            }
            _ => {
                // A stale header: another (older) segment's header copied
                // over this one. Only where any byte may be damaged.
                if matches!(region, Region::Anywhere) && files.len() > 1 {
                    let src = input.below(files.len() as u64) as usize;
                    let head: Vec<u8> = files[src].1.iter().take(SEGMENT_HEADER_LEN).copied().collect();
                    let dst = &mut files[file].1;
                    let n = head.len().min(dst.len());
                    dst[..n].copy_from_slice(&head[..n]);
                }
            }
        }
    }
}

/// The 512-byte sector holding `at`, clipped to `from..len`.
fn sector(at: usize, from: usize, len: usize) -> std::ops::Range<usize> {
    let start = (at / SECTOR * SECTOR).max(from);
    start..((at / SECTOR + 1) * SECTOR).min(len)
}

fn rewrite_header(input: &mut Input, (name, bytes): &mut (String, Vec<u8>)) {
    let Some(id) = SegmentId::from_file_name(name) else { return };
    let HeaderState::Valid(mut h) = SegmentHeader::decode(bytes, id) else { return };
    match input.byte() % 3 {
        0 => h.first_lsn = (h.first_lsn as i64 + i64::from(input.byte() as i8)).max(1) as u64,
        1 => h.prev_crc ^= 1 << (input.byte() % 32),
        _ => h.salt = input.u64(),
    }
    bytes[..SEGMENT_HEADER_LEN].copy_from_slice(&h.encode());
}

/// Media damage to durable bytes, up to `max` times: a flipped bit, or a
/// 512-byte sector zeroed or filled with input bytes, anywhere in a segment
/// file (headers included). Returns what each damage touched: (file index,
/// byte range). Unlike [`mutate`], it never cuts a file short or moves a
/// header: a drive garbles sectors, it does not shorten files.
pub(crate) fn media_damage(input: &mut Input, files: &mut Snapshot, max: u8) -> Vec<(usize, Range<usize>)> {
    let segments: Vec<usize> = (0..files.len())
        .filter(|&i| SegmentId::from_file_name(&files[i].0).is_some() && !files[i].1.is_empty())
        .collect();
    let mut touched = Vec::new();
    if segments.is_empty() {
        return touched;
    }
    for _ in 0..1 + input.below(u64::from(max)) {
        let file = segments[input.below(segments.len() as u64) as usize];
        let bytes = &mut files[file].1;
        let len = bytes.len();
        let at = match input.byte() % 4 {
            // A header, the written data, or anywhere (zero tail included).
            0 => input.below(len.min(SEGMENT_HEADER_LEN) as u64) as usize,
            1 | 2 => input.below(data_end(bytes).max(1) as u64) as usize,
            _ => input.below(len as u64) as usize,
        };
        let s = sector(at, 0, len);
        match input.byte() % 3 {
            0 => {
                bytes[at] ^= 1 << (input.byte() % 8);
                touched.push((file, at..at + 1));
                continue;
            }
            1 => bytes[s.clone()].fill(0),
            _ => {
                let fill = input.bytes(s.len());
                bytes[s.start..s.start + fill.len()].copy_from_slice(fill);
                bytes[s.start + fill.len()..s.end].fill(0x5a);
            }
        }
        touched.push((file, s));
    }
    touched
}

/// Offset just past the last non-zero byte.
pub(crate) fn data_end(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)
}

/// The frontier of a log: the last 4 KiB before the zero tail of the last
/// segment file holding data, as (file index, byte range). Damage there may
/// leave the log shorter: it can hold records a sync acknowledged that
/// nothing written later vouches for. (The crash explorer's media-damage
/// phase, `tests/common/media.rs`, draws the same line.)
pub(crate) fn frontier(files: &Snapshot) -> Option<(usize, Range<usize>)> {
    let file = (0..files.len())
        .rev()
        .find(|&i| SegmentId::from_file_name(&files[i].0).is_some() && data_end(&files[i].1) > 0)?;
    let end = data_end(&files[file].1);
    Some((file, end.saturating_sub(4096)..end))
}

/// Whether `touched` may cost records at the end of the log (FORMAT.md
/// §6.2): it lies in the frontier of `files` (undamaged), or it defeats the
/// parity of the last window (more than one of its pages, or one page and
/// the parity record itself). One damage never defeats a parity, so the
/// crash explorer, which damages one place at a time, needs only the first.
pub(crate) fn touches_frontier(files: &Snapshot, touched: &[(usize, Range<usize>)]) -> bool {
    let overlaps =
        |f: usize, r: &Range<usize>| touched.iter().any(|(t, d)| *t == f && d.start < r.end && r.start < d.end);
    if frontier(files).is_some_and(|(f, r)| overlaps(f, &r)) {
        return true;
    }
    let Some((f, window, parity)) = last_parity(files) else { return false };
    let mut pages: Vec<usize> = touched
        .iter()
        .filter(|(t, d)| *t == f && d.start < window.end && window.start < d.end)
        .flat_map(|(_, d)| d.start.max(window.start) / PARITY_PAGE..=(d.end.min(window.end) - 1) / PARITY_PAGE)
        .collect();
    pages.sort_unstable();
    pages.dedup();
    pages.len() >= 2 || (!pages.is_empty() && overlaps(f, &parity))
}

/// The last window of the log and its parity record, if the last segment
/// file holding data ends with one (a sync that acknowledged more than
/// `FRONTIER` bytes): (file index, window, parity record).
fn last_parity(files: &Snapshot) -> Option<(usize, Range<usize>, Range<usize>)> {
    let (file, _) = frontier(files)?;
    let bytes = &files[file].1;
    let id = SegmentId::from_file_name(&files[file].0)?;
    let HeaderState::Valid(h) = SegmentHeader::decode(bytes, id) else { return None };
    let end = data_end(bytes);
    // The parity record starts on a page boundary and is the last record
    // written (its last bytes may be zeros, or lie on the next page).
    let last_page = end.checked_sub(1)? / PARITY_PAGE * PARITY_PAGE;
    let (at, rec) = [Some(last_page), last_page.checked_sub(PARITY_PAGE)].into_iter().flatten().find_map(|at| {
        let rec = decode_record(bytes, at, h.salt).ok()?;
        let last = rec.kind == RecordKind::Parity && rec.payload_len == PARITY_PAYLOAD_LEN;
        (last && at + PARITY_RECORD_LEN as usize >= end).then_some((at, rec))
    })?;
    let field = |o: usize| {
        let b = &bytes[rec.payload_start + o..rec.payload_start + o + 4];
        u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize
    };
    let (start, stop) = (field(PARITY_START_OFF), field(PARITY_END_OFF));
    (start < stop && stop == at).then(|| (file, start..stop, at..at + PARITY_RECORD_LEN as usize))
}

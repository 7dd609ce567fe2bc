//! Crash states: what the disk may hold after a power loss at one point.
//!
//! The crash model (from the durable images and the operations pending since
//! the last sync of each file and of the directory):
//! - every prefix of the pending operations, in the order they were made;
//! - each pending operation kept or lost independently (all combinations when
//!   few, a seeded sample otherwise);
//! - each pending write torn at 512-byte and 4 KiB sector granularity: a
//!   prefix or a subset of its sectors lands, and the last sector reached holds
//!   the old bytes, zeros or random bytes, only within the written range (the
//!   media assumption of FORMAT.md); a torn write that extends the file may
//!   also leave the file extended with zeros;
//! - directory entries created, renamed or removed since the last directory
//!   sync reverted (they are pending operations like the rest).

use super::recording_fs::{DiskModel, Fate, FileOp, Image, Pending};
use super::Rng;

/// Sector sizes a write may be torn at.
pub const SECTORS: [u64; 2] = [512, 4096];

/// How thoroughly to enumerate.
#[derive(Clone, Copy, Debug)]
pub struct Depth {
    /// Enumerate every combination and every sector split (small workloads).
    pub exhaustive: bool,
}

/// How the last sector reached by a torn write ends up.
#[derive(Clone, Copy, Debug)]
enum Last {
    Old,
    Zero,
    Random(u64),
}

/// The pieces of a write of `data` at `off` that land when it is torn at
/// sector size `g`: sectors `landed` land whole; sector `last` (if any) gets
/// `how`; the write range bounds everything.
fn torn_pieces(off: u64, data: &[u8], g: u64, landed: &dyn Fn(u64) -> bool, last: Option<(u64, Last)>) -> Vec<FileOp> {
    let end = off + data.len() as u64;
    let first_sector = off / g;
    let n = (end - 1) / g - first_sector + 1;
    let mut pieces = Vec::new();
    for i in 0..n {
        let lo = ((first_sector + i) * g).max(off);
        let hi = ((first_sector + i + 1) * g).min(end);
        let bytes: Option<Vec<u8>> = if landed(i) {
            Some(data[(lo - off) as usize..(hi - off) as usize].to_vec())
        } else {
            match last {
                Some((s, Last::Zero)) if s == i => Some(vec![0; (hi - lo) as usize]),
                Some((s, Last::Random(seed))) if s == i => {
                    let mut r = Rng::new(seed);
                    Some((lo..hi).map(|_| r.next() as u8).collect())
                }
                _ => None,
            }
        };
        if let Some(b) = bytes {
            pieces.push(FileOp::Write { off: lo, data: std::sync::Arc::new(b) });
        }
    }
    pieces
}

/// Sector counts to split a write of `n` sectors at: all of them when few
/// (up to 16 when exhaustive, which covers every 4 KiB split of a 64 KiB
/// segment), else the edges, the middle and a seeded sample.
fn splits(n: u64, depth: Depth, rng: &mut Rng) -> Vec<u64> {
    let all = if depth.exhaustive { 16 } else { 8 };
    if n <= all {
        return (0..n).collect();
    }
    let samples = if depth.exhaustive { 12 } else { 2 };
    let mut v = vec![0, 1, n / 2, n - 1];
    v.extend((0..samples).map(|_| rng.below(n)));
    v.sort_unstable();
    v.dedup();
    v
}

/// The torn variants of one pending write.
fn tears(off: u64, data: &[u8], file_len: u64, depth: Depth, rng: &mut Rng) -> Vec<Vec<FileOp>> {
    let mut out = Vec::new();
    if data.is_empty() {
        return out;
    }
    let end = off + data.len() as u64;
    for g in SECTORS {
        let n = (end - 1) / g - off / g + 1;
        for j in splits(n, depth, rng) {
            for last in [Last::Old, Last::Zero, Last::Random(rng.next())] {
                let mut p = torn_pieces(off, data, g, &|i| i < j, Some((j, last)));
                if matches!(last, Last::Old) && end > file_len {
                    // The size reached the disk, the data did not.
                    let mut extended = p.clone();
                    extended.insert(0, FileOp::Allocate(end));
                    out.push(extended);
                }
                if !p.is_empty() || j == 0 {
                    out.push(std::mem::take(&mut p));
                }
            }
        }
        let subsets = if depth.exhaustive { 4 } else { 2 };
        for _ in 0..subsets.min(1 << n.min(16)) {
            let mask = rng.next();
            let last = Some((rng.below(n), Last::Random(rng.next())));
            out.push(torn_pieces(off, data, g, &|i| mask >> (i % 64) & 1 == 1, last));
        }
    }
    out
}

/// Live length of each file just before pending operation `upto`.
fn len_before(model: &DiskModel, ino: usize, upto: usize) -> u64 {
    let mut buf_len = model.durable[ino].len() as u64;
    for p in &model.pending[..upto] {
        if let Pending::File(i, op) = p {
            if *i == ino {
                buf_len = match op {
                    FileOp::Write { off, data } => buf_len.max(off + data.len() as u64),
                    FileOp::SetLen(l) => *l,
                    FileOp::Allocate(l) => buf_len.max(*l),
                };
            }
        }
    }
    buf_len
}

/// Calls `out` with every crash state of `model` (duplicates included; the
/// caller deduplicates).
pub fn crash_states(model: &DiskModel, depth: Depth, rng: &mut Rng, out: &mut dyn FnMut(Image)) {
    let n = model.pending.len();
    // Every prefix, in the order the operations were made.
    for j in 0..=n {
        out(model.image_with(|i, _| if i < j { Fate::Keep } else { Fate::Drop }));
    }
    if n == 0 {
        return;
    }
    // Each operation kept or lost independently.
    let all = if depth.exhaustive { 10 } else { 6 };
    if n <= all {
        for mask in 0u64..1 << n {
            out(model.image_with(|i, _| if mask >> i & 1 == 1 { Fate::Keep } else { Fate::Drop }));
        }
    } else {
        for _ in 0..if depth.exhaustive { 64 } else { 16 } {
            let mask = rng.next();
            out(model.image_with(|i, _| if mask >> (i % 64) & 1 == 1 { Fate::Keep } else { Fate::Drop }));
        }
    }
    // Torn writes: the most recent writes in full detail, older ones sampled.
    let writes: Vec<usize> =
        (0..n).filter(|&i| matches!(model.pending[i], Pending::File(_, FileOp::Write { .. }))).collect();
    let detailed = if depth.exhaustive { writes.len() } else { 3 };
    for (w_idx, &i) in writes.iter().enumerate() {
        let Pending::File(ino, FileOp::Write { off, data }) = &model.pending[i] else { unreachable!() };
        if writes.len() - w_idx > detailed && rng.below(3) != 0 {
            continue;
        }
        let file_len = len_before(model, *ino, i);
        for pieces in tears(*off, data, file_len, depth, rng) {
            // Earlier operations landed, later ones did not ...
            out(model.image_with(|k, _| match k.cmp(&i) {
                std::cmp::Ordering::Less => Fate::Keep,
                std::cmp::Ordering::Equal => Fate::Pieces(pieces.clone()),
                std::cmp::Ordering::Greater => Fate::Drop,
            }));
        }
        // ... or, written back out of order, later ones landed too.
        let mut t = tears(*off, data, file_len, Depth { exhaustive: false }, rng);
        let pick = rng.below(t.len() as u64) as usize;
        let pieces = t.swap_remove(pick);
        out(model.image_with(|k, _| if k == i { Fate::Pieces(pieces.clone()) } else { Fate::Keep }));
    }
    // A mixture: every operation kept, lost or (writes) torn at random.
    for _ in 0..if depth.exhaustive { 8 } else { 3 } {
        let seed = rng.next();
        out(model.image_with(|k, p| {
            let mut r = Rng::new(seed ^ (k as u64).wrapping_mul(0x9e37_79b9));
            match (r.below(3), p) {
                (0, _) => Fate::Drop,
                (1, Pending::File(ino, FileOp::Write { off, data })) => {
                    let mut t = tears(*off, data, len_before(model, *ino, k), Depth { exhaustive: false }, &mut r);
                    let pick = r.below(t.len() as u64) as usize;
                    Fate::Pieces(t.swap_remove(pick))
                }
                _ => Fate::Keep,
            }
        }));
    }
}

/// Length of `bytes` without its trailing zeros (a preallocated segment is
/// mostly zeros: they are skipped a word at a time).
pub fn data_len(bytes: &[u8]) -> usize {
    let mut end = bytes.len() / 8 * 8;
    if bytes[end..].iter().any(|&b| b != 0) {
        end = bytes.len();
    } else {
        while end >= 8 && bytes[end - 8..end] == [0; 8] {
            end -= 8;
        }
    }
    bytes[..end].iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)
}

/// A 128-bit fingerprint of an image, for counting distinct crash states.
pub fn fingerprint(image: &Image) -> u128 {
    let (mut a, mut b) = (0x243f_6a88_85a3_08d3u64, 0x1319_8a2e_0370_7344u64);
    let mut mix = |w: u64| {
        a = (a ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        b = (b ^ w).wrapping_mul(0xc2b2_ae3d_27d4_eb4f).rotate_left(31);
    };
    for (name, bytes) in image {
        name.bytes().for_each(|c| mix(u64::from(c)));
        mix(bytes.len() as u64 | 1 << 63);
        // The length is in: the zeros that end most files need no hashing.
        let mut chunks = bytes[..data_len(bytes)].chunks_exact(8);
        for c in &mut chunks {
            mix(u64::from_le_bytes(c.try_into().unwrap()));
        }
        chunks.remainder().iter().for_each(|&c| mix(u64::from(c) | 1 << 62));
    }
    (u128::from(a) << 64) | u128::from(b)
}

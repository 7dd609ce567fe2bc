//! Media damage to durable images, for the media-damage phase of the crash
//! explorer: what one damage is (a flipped bit, or a 512-byte sector zeroed
//! or filled with random bytes, anywhere in a segment file, headers
//! included), where it lands, and the frontier inside which a damaged log
//! may come back shorter.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use seawall::SegmentId;

use super::crash::data_len;
use super::damage;
use super::recording_fs::Image;
use super::Rng;

/// Sector size of the damage model: the unit a drive loses or garbles.
pub const SECTOR: u64 = 512;

/// How far before the end of the data the frontier starts: the window of
/// at most 4 KiB that a sync may have acknowledged without anything written
/// after it vouching for it (see the design note on claims and parity).
pub const FRONTIER: u64 = 4096;

/// One damage to one segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    Flip { file: String, offset: u64, bit: u8 },
    ZeroSector { file: String, offset: u64, len: u64 },
    RandomSector { file: String, offset: u64, len: u64, seed: u64 },
}

impl Damage {
    pub fn file(&self) -> &str {
        match self {
            Damage::Flip { file, .. } | Damage::ZeroSector { file, .. } | Damage::RandomSector { file, .. } => file,
        }
    }

    /// The bytes of [`Damage::file`] it changes (or may change).
    pub fn range(&self) -> Range<u64> {
        match *self {
            Damage::Flip { offset, .. } => offset..offset + 1,
            Damage::ZeroSector { offset, len, .. } | Damage::RandomSector { offset, len, .. } => offset..offset + len,
        }
    }

    /// Damages the file in `dir` with the shared helpers.
    pub fn apply(&self, dir: &Path) {
        let path = dir.join(self.file());
        match *self {
            Damage::Flip { offset, bit, .. } => damage::flip_bit(&path, offset, bit),
            Damage::ZeroSector { offset, len, .. } => damage::zero_range(&path, offset, len as usize),
            Damage::RandomSector { offset, len, seed, .. } => {
                let mut r = Rng::new(seed);
                damage::write_bytes(&path, offset, &(0..len).map(|_| r.next() as u8).collect::<Vec<_>>());
            }
        }
    }

    /// Whether it touches the frontier of `image` (see [`frontier`]).
    pub fn in_frontier(&self, image: &Image) -> bool {
        frontier(image).is_some_and(|(file, f)| {
            let r = self.range();
            file == self.file() && r.start < f.end && f.start < r.end
        })
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Flip { file, offset, bit } => write!(f, "bit {bit} of byte {offset} of {file} flipped"),
            Damage::ZeroSector { file, offset, len } => write!(f, "bytes {offset}..{} of {file} zeroed", offset + len),
            Damage::RandomSector { file, offset, len, seed } => {
                write!(f, "bytes {offset}..{} of {file} filled with random bytes (seed {seed:#x})", offset + len)
            }
        }
    }
}

/// Offset just past the last non-zero byte.
fn data_end(bytes: &[u8]) -> u64 {
    data_len(bytes) as u64
}

/// The segment files of `image` that hold any byte (damage lands in them).
fn segment_files(image: &Image) -> Vec<(&String, &Vec<u8>)> {
    image.iter().filter(|(name, bytes)| SegmentId::from_file_name(name).is_some() && !bytes.is_empty()).collect()
}

/// Whether `image` has a segment file to damage.
pub fn damageable(image: &Image) -> bool {
    !segment_files(image).is_empty()
}

/// The frontier of a log image: the last [`FRONTIER`] bytes before the
/// zero tail of the last segment file that holds data. (A blank spare made
/// ahead of need holds none: the frontier is still the end of the data.)
pub fn frontier(image: &Image) -> Option<(&str, Range<u64>)> {
    let (name, bytes) =
        image.iter().rfind(|(name, bytes)| SegmentId::from_file_name(name).is_some() && data_end(bytes) > 0)?;
    let end = data_end(bytes);
    Some((name.as_str(), end.saturating_sub(FRONTIER)..end))
}

/// A random damage to a segment file of `image` (`None` if it has none):
/// a quarter in the header, half in the written data, a quarter anywhere in
/// the file (the zero tail included).
pub fn random_damage(image: &Image, rng: &mut Rng) -> Option<Damage> {
    let files = segment_files(image);
    if files.is_empty() {
        return None;
    }
    let (name, bytes) = files[rng.below(files.len() as u64) as usize];
    let (len, end) = (bytes.len() as u64, data_end(bytes));
    let at = match rng.below(4) {
        0 => rng.below(len.min(seawall::format::SEGMENT_HEADER_LEN as u64)),
        1 | 2 if end > 0 => rng.below(end),
        _ => rng.below(len),
    };
    let file = name.clone();
    let sector = at / SECTOR * SECTOR;
    let sector_len = SECTOR.min(len - sector);
    // Zeroing a sector of zeros would change nothing: it gets random bytes.
    let zeros = bytes[sector as usize..(sector + sector_len) as usize].iter().all(|&b| b == 0);
    Some(match rng.below(3) {
        0 => Damage::Flip { file, offset: at, bit: rng.below(8) as u8 },
        1 if !zeros => Damage::ZeroSector { file, offset: sector, len: sector_len },
        _ => Damage::RandomSector { file, offset: sector, len: sector_len, seed: rng.next() },
    })
}

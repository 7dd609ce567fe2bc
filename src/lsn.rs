//! Newtypes for the numbers that must never be mixed: log sequence numbers and segment ids.

use std::fmt;

/// A log sequence number: the position of a record in the log.
///
/// LSNs start at 1 and are contiguous: the n-th record ever appended has LSN n
/// (after [`crate::Wal::truncate_after`], numbering continues from the cut).
/// [`Lsn::ZERO`] stands for "no record" (for example the durable LSN of an
/// empty log).
///
/// LSNs do arithmetic with record counts, and ranges of them select records:
///
/// ```
/// use seawall::Lsn;
/// let a = Lsn::new(10);
/// assert_eq!(a + 5, Lsn::new(15));
/// assert_eq!(Lsn::new(15) - a, 5);
/// assert_eq!(a - 1, Lsn::new(9));
/// assert!((a..a + 3).contains(&Lsn::new(12)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(u64);

impl Lsn {
    /// The LSN before the first record: "nothing".
    pub const ZERO: Lsn = Lsn(0);

    /// Wraps a raw sequence number.
    pub const fn new(n: u64) -> Lsn {
        Lsn(n)
    }

    /// The raw sequence number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The LSN after this one.
    ///
    /// ```
    /// assert_eq!(seawall::Lsn::new(7).next(), seawall::Lsn::new(8));
    /// ```
    pub const fn next(self) -> Lsn {
        Lsn(self.0 + 1)
    }
}

impl std::ops::Add<u64> for Lsn {
    type Output = Lsn;
    /// `lsn + n`: the LSN `n` records later.
    fn add(self, n: u64) -> Lsn {
        Lsn(self.0 + n)
    }
}

impl std::ops::AddAssign<u64> for Lsn {
    fn add_assign(&mut self, n: u64) {
        self.0 += n;
    }
}

impl std::ops::Sub<u64> for Lsn {
    type Output = Lsn;
    /// `lsn - n`: the LSN `n` records earlier.
    fn sub(self, n: u64) -> Lsn {
        Lsn(self.0 - n)
    }
}

impl std::ops::Sub<Lsn> for Lsn {
    type Output = u64;
    /// `a - b`: how many records lie from `b` (included) to `a` (excluded).
    fn sub(self, other: Lsn) -> u64 {
        self.0 - other.0
    }
}

impl From<u64> for Lsn {
    fn from(n: u64) -> Lsn {
        Lsn(n)
    }
}

impl From<Lsn> for u64 {
    fn from(lsn: Lsn) -> u64 {
        lsn.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Delegate so width and alignment flags apply.
        fmt::Display::fmt(&self.0, f)
    }
}

/// The id of a segment file; ids increase in log order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(u64);

impl SegmentId {
    /// Wraps a raw segment id.
    pub const fn new(n: u64) -> SegmentId {
        SegmentId(n)
    }

    /// The raw segment id.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id after this one.
    pub const fn next(self) -> SegmentId {
        SegmentId(self.0 + 1)
    }

    /// The file name of this segment inside a log directory.
    ///
    /// ```
    /// assert_eq!(seawall::SegmentId::new(26).file_name(), "000000000000001a.wal");
    /// ```
    pub fn file_name(self) -> String {
        format!("{:0width$x}{}", self.0, crate::format::SEGMENT_SUFFIX, width = crate::format::SEGMENT_NAME_DIGITS)
    }

    /// Parses a segment file name; `None` for any other name.
    ///
    /// ```
    /// use seawall::SegmentId;
    /// assert_eq!(SegmentId::from_file_name("000000000000001a.wal"), Some(SegmentId::new(26)));
    /// assert_eq!(SegmentId::from_file_name("000000000000001A.wal"), None, "lower-case hex only");
    /// assert_eq!(SegmentId::from_file_name("1a.wal"), None, "exactly 16 digits");
    /// ```
    pub fn from_file_name(name: &str) -> Option<SegmentId> {
        let hex = name.strip_suffix(crate::format::SEGMENT_SUFFIX)?;
        if hex.len() != crate::format::SEGMENT_NAME_DIGITS
            || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(SegmentId)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.file_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_like_ids() {
        let ids = [1u64, 2, 15, 16, 255, 4096, u64::MAX];
        let names: Vec<String> = ids.iter().map(|&i| SegmentId(i).file_name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for (&i, n) in ids.iter().zip(&names) {
            assert_eq!(SegmentId::from_file_name(n), Some(SegmentId(i)));
        }
    }

    #[test]
    fn display_honours_width() {
        assert_eq!(format!("{:>4}|{:<3}|", Lsn::new(7), Lsn::new(8)), "   7|8  |");
        assert_eq!(format!("{:>22}", SegmentId::new(1)).len(), 22);
    }

    #[test]
    fn foreign_names_are_not_segments() {
        for n in [
            "LOCK",
            "0000000000000001.wal.quarantine",
            "000000000000001.wal",
            "000000000000000G.wal",
            "00000000000000A1.wal",
        ] {
            assert_eq!(SegmentId::from_file_name(n), None, "{n}");
        }
    }
}

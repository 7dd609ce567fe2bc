//! Options for opening a log, built by chaining on `Options::default()`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format;

/// What recovery does with damage it finds when a log is opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Refuse any damage, even a torn tail: open fails with
    /// [`Error::TornTail`] or [`Error::Corruption`] and modifies nothing.
    /// Open reads and validates every segment in full.
    Strict,
    /// The default. A torn tail (the normal result of a crash) is cut off and
    /// its bytes cleared (records in them that still validate are copied to a
    /// quarantine file first); damage that records written later prove was
    /// durable is media corruption, and open fails with
    /// [`Error::Corruption`], modifying nothing. Sealed segments are trusted
    /// through the index and trailer written when they were sealed, so open
    /// reads only the newest segment; every record is still validated when it
    /// is read, and [`crate::Reader::verify`] reads everything.
    #[default]
    TruncateTornTail,
    /// Read and validate every segment, cut the log at the first bad record,
    /// wherever it is, and move every byte cut off into quarantine files in
    /// the log directory (`seawall dump FILE` reads them). What salvage gives
    /// up: the log continues from the cut, so new appends reuse the LSNs of
    /// the quarantined records; copy out what you need from the quarantine
    /// files before appending.
    Salvage,
}

/// Settings for [`crate::Wal::open`]. Every setter documents its default and range.
///
/// ```
/// use seawall::{Options, RecoveryMode};
/// let opts = Options::default()
///     .segment_size(64 * 1024)
///     .max_record_size(16 * 1024)
///     .recovery_mode(RecoveryMode::Strict);
/// assert_eq!(opts.get_segment_size(), 64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) segment_size: u64,
    pub(crate) preallocate: bool,
    pub(crate) background_preallocation: bool,
    max_record_size: Option<u64>,
    pub(crate) write_buffer_size: u64,
    pub(crate) group_commit_delay: Duration,
    pub(crate) recovery_mode: RecoveryMode,
    pub(crate) read_block_size: u64,
    pub(crate) read_ahead: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segment_size: 64 * 1024 * 1024,
            preallocate: true,
            background_preallocation: true,
            max_record_size: None,
            write_buffer_size: 1024 * 1024,
            group_commit_delay: Duration::from_micros(100),
            recovery_mode: RecoveryMode::TruncateTornTail,
            read_block_size: DEFAULT_READ_BLOCK_SIZE,
            read_ahead: true,
        }
    }
}

/// Default of [`Options::read_block_size`]: 256 KiB.
pub const DEFAULT_READ_BLOCK_SIZE: u64 = 256 << 10;

/// Upper bound of [`Options::group_commit_delay`].
pub const MAX_GROUP_COMMIT_DELAY: Duration = Duration::from_millis(10);

impl Options {
    /// Size of each segment file in bytes. Default 64 MiB; valid range
    /// 64 KiB ..= 4 GiB. A segment is sealed when the next record does not fit.
    ///
    /// ```
    /// let opts = seawall::Options::default().segment_size(16 << 20);
    /// assert_eq!(opts.get_segment_size(), 16 << 20);
    /// assert!(seawall::Options::default().segment_size(1024).validate().is_err());
    /// ```
    pub fn segment_size(mut self, bytes: u64) -> Options {
        self.segment_size = bytes;
        self
    }

    /// Whether segment files get their full size allocated on disk (with
    /// `fallocate`) when created, so that a sync after writing does not also
    /// have to persist the file's growth. Default `true`.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let opts = seawall::Options::default().segment_size(1 << 20).preallocate(false);
    /// let (wal, _) = seawall::Wal::open(dir.path(), opts)?;
    /// wal.append_durable(b"x")?;
    /// let segment = std::fs::read_dir(dir.path())?.flatten().find(|e| e.path().extension().is_some_and(|x| x == "wal"));
    /// assert!(segment.unwrap().metadata()?.len() < 1 << 20, "the file grows with its records");
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn preallocate(mut self, yes: bool) -> Options {
        self.preallocate = yes;
        self
    }

    /// Whether the next segment is created by a background thread ahead of
    /// need (default `true`). With `false` the writer creates it when it
    /// rotates, which makes the order of file-system operations deterministic
    /// (used by the crash tests) at the cost of a slower rotation.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let opts = seawall::Options::default().segment_size(64 << 10).background_preallocation(false);
    /// let (wal, _) = seawall::Wal::open(dir.path(), opts)?;
    /// wal.append_durable(b"x")?;
    /// // No spare segment is made ahead of need: one segment file.
    /// let segments = std::fs::read_dir(dir.path())?.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "wal"));
    /// assert_eq!(segments.count(), 1);
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn background_preallocation(mut self, yes: bool) -> Options {
        self.background_preallocation = yes;
        self
    }

    /// Largest payload of one record, and of all records of one atomic batch
    /// together, in bytes. Default 8 MiB or `segment_size - 96`, whichever is
    /// smaller; valid range 1 ..= `segment_size - 96` (a segment header and
    /// one record header).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default().max_record_size(16))?;
    /// assert!(matches!(wal.append(&[0; 17]), Err(seawall::Error::RecordTooLarge { .. })));
    /// assert!(wal.append(&[0; 16]).is_ok());
    /// # wal.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_record_size(mut self, bytes: u64) -> Options {
        self.max_record_size = Some(bytes);
        self
    }

    /// Bytes of appended records buffered in memory before an `append` writes
    /// them to the file itself (without syncing). Default 1 MiB; valid range
    /// 4 KiB ..= 1 GiB. One write never carries more than this plus one record.
    /// The default is about a core's level-2 cache: staged records are still
    /// cached when the flush checksums them and copies them into the file,
    /// which makes buffered appends faster than with a bigger buffer.
    ///
    /// ```
    /// let opts = seawall::Options::default().write_buffer_size(64 << 10);
    /// assert!(opts.validate().is_ok());
    /// assert!(seawall::Options::default().write_buffer_size(100).validate().is_err());
    /// ```
    pub fn write_buffer_size(mut self, bytes: u64) -> Options {
        self.write_buffer_size = bytes;
        self
    }

    /// Longest time the leader of a group commit waits for company before it
    /// syncs. It waits only while other writers were part of the previous
    /// group, only until as many have arrived, and never longer than half the
    /// previous flush took; a lone writer never waits.
    /// Default 100 µs; valid range 0 ..= 10 ms (0 disables the wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(seawall::Options::default().group_commit_delay(Duration::ZERO).validate().is_ok());
    /// assert!(seawall::Options::default().group_commit_delay(Duration::from_secs(1)).validate().is_err());
    /// ```
    pub fn group_commit_delay(mut self, delay: Duration) -> Options {
        self.group_commit_delay = delay;
        self
    }

    /// Bytes an iterator reads at once (a record larger than this is read
    /// whole). Default 256 KiB; valid range 4 KiB ..= 64 MiB. A scan holds
    /// one block, up to five with [`Options::read_ahead`] (the one it
    /// checks, three read ahead, one being read), plus any block a payload
    /// it yielded still slices.
    ///
    /// ```
    /// assert!(seawall::Options::default().read_block_size(64 << 10).validate().is_ok());
    /// assert!(seawall::Options::default().read_block_size(100).validate().is_err());
    /// ```
    pub fn read_block_size(mut self, bytes: u64) -> Options {
        self.read_block_size = bytes;
        self
    }

    /// Whether an iterator that has read two blocks in a row, each
    /// continuing the one before in the same segment, starts a helper
    /// thread that reads its next blocks while it checks the current one
    /// (default `true`). The helper only copies bytes: every record is
    /// still validated by the iterator, errors are reported as without it,
    /// and it ends with the iterator. Short ranges and `read` never start
    /// one, and at most 16 run at once in a process (an iterator past that
    /// reads alone). With `false`, an iterator reads on the caller's thread
    /// alone.
    ///
    /// ```
    /// let opts = seawall::Options::default().read_ahead(false);
    /// assert!(!opts.get_read_ahead());
    /// ```
    pub fn read_ahead(mut self, yes: bool) -> Options {
        self.read_ahead = yes;
        self
    }

    /// Whether iterators read ahead ([`Options::read_ahead`]).
    ///
    /// ```
    /// assert!(seawall::Options::default().get_read_ahead());
    /// ```
    pub fn get_read_ahead(&self) -> bool {
        self.read_ahead
    }

    /// What recovery does with damage. Default [`RecoveryMode::TruncateTornTail`].
    ///
    /// ```
    /// use seawall::{Options, RecoveryMode};
    /// let opts = Options::default().recovery_mode(RecoveryMode::Strict);
    /// assert_eq!(opts.get_recovery_mode(), RecoveryMode::Strict);
    /// ```
    pub fn recovery_mode(mut self, mode: RecoveryMode) -> Options {
        self.recovery_mode = mode;
        self
    }

    /// The configured segment size.
    ///
    /// ```
    /// assert_eq!(seawall::Options::default().get_segment_size(), 64 << 20);
    /// ```
    pub fn get_segment_size(&self) -> u64 {
        self.segment_size
    }

    /// The maximum record size in force.
    ///
    /// ```
    /// use seawall::Options;
    /// assert_eq!(Options::default().get_max_record_size(), 8 << 20);
    /// // Never more than fits in one segment after its header and one record header.
    /// assert_eq!(Options::default().segment_size(64 << 10).get_max_record_size(), (64 << 10) - 96);
    /// ```
    pub fn get_max_record_size(&self) -> u64 {
        self.max_record_size.unwrap_or_else(|| (8 << 20).min(self.largest_record()))
    }

    fn largest_record(&self) -> u64 {
        self.segment_size
            .saturating_sub((format::SEGMENT_HEADER_LEN + format::RECORD_HEADER_LEN) as u64)
            .min(u32::MAX as u64)
    }

    /// The configured recovery mode.
    ///
    /// ```
    /// assert_eq!(seawall::Options::default().get_recovery_mode(), seawall::RecoveryMode::TruncateTornTail);
    /// ```
    pub fn get_recovery_mode(&self) -> RecoveryMode {
        self.recovery_mode
    }

    /// Checks every value against its documented range.
    ///
    /// ```
    /// use seawall::Options;
    /// assert!(Options::default().validate().is_ok());
    /// let err = Options::default().segment_size(5 << 40).validate().unwrap_err();
    /// assert!(err.to_string().contains("segment_size"), "{err}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        check("segment_size", self.segment_size, format::MIN_SEGMENT_SIZE, format::MAX_SEGMENT_SIZE)?;
        check("max_record_size", self.get_max_record_size(), 1, self.largest_record())?;
        check("write_buffer_size", self.write_buffer_size, 4096, 1 << 30)?;
        check("read_block_size", self.read_block_size, 4096, 64 << 20)?;
        let delay = self.group_commit_delay.as_micros().min(u64::MAX as u128) as u64;
        check("group_commit_delay_us", delay, 0, MAX_GROUP_COMMIT_DELAY.as_micros() as u64)?;
        Ok(())
    }
}

fn check(option: &'static str, value: u64, min: u64, max: u64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidOption { option, value, min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Options::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let cases = [
            Options::default().segment_size(1024),
            Options::default().segment_size((1 << 32) + 1),
            Options::default().segment_size(64 * 1024).max_record_size(64 * 1024),
            Options::default().max_record_size(0),
            Options::default().write_buffer_size(10),
            Options::default().read_block_size(4095),
            Options::default().read_block_size((64 << 20) + 1),
            Options::default().group_commit_delay(Duration::from_secs(1)),
        ];
        for o in cases {
            assert!(matches!(o.validate(), Err(Error::InvalidOption { .. })), "{o:?}");
        }
    }

    #[test]
    fn smallest_segment_accepts_largest_record() {
        Options::default().segment_size(64 * 1024).max_record_size(64 * 1024 - 96).validate().unwrap();
    }
}

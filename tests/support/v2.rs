//! The parts of the v2 API that tests written ahead of it need, in one place.
//!
//! They name the real items (`Error::Truncated`, `Error::BadFile`,
//! `format::MAX_SEGMENT_ID`) behind small helpers the tests share.
#![allow(dead_code)]

use seawall::{Error, Lsn};

/// Whether the v2 API is compiled in (always, now).
pub const ENABLED: bool = true;

/// Appended to failure messages that hinge on a v2 error variant.
pub const HINT: &str = "";

/// Largest segment id a log may use: files named above it are refused.
pub const MAX_SEGMENT_ID: u64 = seawall::format::MAX_SEGMENT_ID;

/// The LSN of an `Error::Truncated`: the record a call waited for, or an
/// iterator was about to yield, was cut from the log meanwhile.
pub fn truncated(e: &Error) -> Option<Lsn> {
    match e {
        Error::Truncated { lsn } => Some(*lsn),
        _ => None,
    }
}

/// Why v2 refuses an odd file in a log directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFile {
    /// Not a regular file (a FIFO, a directory, a device).
    NotRegular,
    /// A segment id above [`MAX_SEGMENT_ID`].
    IdOutOfRange,
}

/// The reason of an `Error::BadFile` naming a file called `name`.
pub fn bad_file(e: &Error, name: &str) -> Option<BadFile> {
    use seawall::BadFileReason;
    match e {
        Error::BadFile { path, reason } if path.file_name().is_some_and(|n| n == name) => match reason {
            BadFileReason::NotRegular => Some(BadFile::NotRegular),
            BadFileReason::IdOutOfRange => Some(BadFile::IdOutOfRange),
            _ => None,
        },
        _ => None,
    }
}

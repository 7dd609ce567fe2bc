//! The parts of the v2 API that tests written ahead of it need, in one place.
//!
//! Built with `RUSTFLAGS="--cfg seawall_v2"`, these name the real items
//! (`Error::Truncated`, `Error::BadFile`, `format::MAX_SEGMENT_ID`). Without
//! the cfg they compile against today's API and recognise none of the new
//! errors, so a test that expects one fails until the cfg is switched on,
//! and says so in its message ([`HINT`]).
#![allow(dead_code)]

use seawall::{Error, Lsn};

/// Whether the v2 API is compiled in.
pub const ENABLED: bool = cfg!(seawall_v2);

/// Appended to failure messages that hinge on a v2 error variant.
pub const HINT: &str = if ENABLED {
    ""
} else {
    " (built without --cfg seawall_v2: Error::Truncated and Error::BadFile are not recognised)"
};

/// Largest segment id a log may use: v2 refuses files named above it.
#[cfg(seawall_v2)]
pub const MAX_SEGMENT_ID: u64 = seawall::format::MAX_SEGMENT_ID;
/// Largest segment id a log may use: v2 refuses files named above it.
#[cfg(not(seawall_v2))]
pub const MAX_SEGMENT_ID: u64 = 1 << 62;

/// The LSN of an `Error::Truncated`: the record a call waited for, or an
/// iterator was about to yield, was cut from the log meanwhile.
#[cfg(seawall_v2)]
pub fn truncated(e: &Error) -> Option<Lsn> {
    match e {
        Error::Truncated { lsn } => Some(*lsn),
        _ => None,
    }
}

/// The LSN of an `Error::Truncated` (never, before v2).
#[cfg(not(seawall_v2))]
pub fn truncated(_e: &Error) -> Option<Lsn> {
    None
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
#[cfg(seawall_v2)]
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

/// The reason of an `Error::BadFile` (never, before v2).
#[cfg(not(seawall_v2))]
pub fn bad_file(_e: &Error, _name: &str) -> Option<BadFile> {
    None
}

//! # seawall
//!
//! A crash-safe write-ahead log for databases, queues and consensus systems.
//!
//! - **Durable when acknowledged.** A record whose [`Wal::sync`] or
//!   [`Wal::append_durable`] returned `Ok` survives any crash, bit-exact.
//! - **Never garbage.** Every record carries two CRC-32 checksums salted per
//!   segment and names its predecessor's checksum, so torn, stale or
//!   truncated-away bytes never validate. Recovery returns a gap-free prefix
//!   of what was appended; atomic batches come back whole or not at all.
//! - **Group commit.** Concurrent writers share one `fdatasync`; a lone writer
//!   never waits for company.
//! - **Honest recovery.** A torn tail is cut and cleared; damage to records
//!   that had been durable is reported as [`Error::Corruption`] and nothing
//!   is modified, unless [`RecoveryMode::Salvage`] is asked for, which moves
//!   the cut bytes into quarantine files.
//!
//! ```
//! use seawall::{Lsn, Options, Wal};
//! # fn main() -> Result<(), seawall::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let (wal, _report) = Wal::open(dir.path(), Options::default())?;
//! let lsn = wal.append_durable(b"hello")?;
//! assert_eq!(lsn, Lsn::new(1));
//! for rec in wal.iter_from(Lsn::new(1))? {
//!     assert_eq!(rec?.payload().as_ref(), b"hello");
//! }
//! # Ok(()) }
//! ```
//!
//! The byte-level format, the recovery decision table and the media
//! assumptions are specified in [FORMAT.md](https://github.com/seawall-rs/seawall/blob/main/format-spec/FORMAT.md).

#![deny(missing_docs)]

mod buffer;
mod decide;
mod durable;
mod error;
pub mod format;
mod group_commit;
mod inspect;
pub mod io;
mod judge;
mod lsn;
mod meta;
mod metadata;
mod open;
mod options;
mod parity;
mod read;
mod reader;
mod record;
mod recovery;
mod repair;
mod scan;
mod seal;
mod segment;
mod segments;
mod state;
mod stats;
mod truncate;
mod wal;
mod writer;

pub use bytes::Bytes;
pub use durable::Durable;
pub use error::{BadFileReason, CorruptionReason, Error, NotALogReason, Result};
pub use inspect::{Inspection, SegmentInfo, SegmentState, TailState};
pub use lsn::{Lsn, SegmentId};
pub use options::{Options, RecoveryMode, MAX_GROUP_COMMIT_DELAY};
pub use read::{Iter, Record};
pub use reader::Reader;
pub use record::RecordKind;
pub use repair::{RecoveryAction, RecoveryReport, RemovalReason};
pub use segment::SegmentHeader;
pub use stats::Stats;
pub use wal::Wal;

/// Low-level access to the on-disk encoding, for tools, fuzzers and tests.
pub mod raw {
    pub use crate::record::{decode_record, encode_record, RawError, RawRecord};
    pub use crate::segment::HeaderState;
}

/// Compiles the README's examples as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

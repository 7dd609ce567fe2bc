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
//! The [`guide`] covers the protocols users get wrong: checkpointing a
//! database (snapshot, then purge) and seawall as a Raft log (metadata,
//! conflict truncation, snapshot install).
//!
//! The byte-level format, the recovery decision table and the media
//! assumptions are specified in [FORMAT.md](https://github.com/seawall-rs/seawall/blob/main/format-spec/FORMAT.md).

#![deny(missing_docs)]

mod ahead;
mod blocks;
mod buffer;
mod decide;
mod durable;
mod error;
pub mod forensic;
pub mod format;
mod group_commit;
pub mod guide;
mod inspect;
pub mod io;
mod judge;
mod lsn;
#[cfg(test)]
mod mem_file;
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
mod sealer;
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
pub use options::{Options, RecoveryMode, DEFAULT_READ_BLOCK_SIZE, MAX_GROUP_COMMIT_DELAY};
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

    use crate::format::TRAILER_LEN;
    use crate::SegmentId;

    /// Encodes a meta record's payload (FORMAT.md §3.4): `snapshot` replaces
    /// every entry, `purge_point` sets the log's first LSN (0: unchanged),
    /// `cut` is a cut marker's `(cut_lsn, cut_crc, dead_start)`, and the
    /// entries are written in the order given.
    ///
    /// ```
    /// let p = seawall::raw::encode_meta(true, 1, None, &[(b"k", b"v")]);
    /// assert_eq!(p.len(), seawall::format::META_FIXED_LEN + 6 + 2);
    /// ```
    pub fn encode_meta(
        snapshot: bool,
        purge_point: u64,
        cut: Option<(u64, u32, u32)>,
        entries: &[(&[u8], &[u8])],
    ) -> Vec<u8> {
        crate::meta::MetaRecord {
            snapshot,
            first_lsn: (purge_point != 0).then_some(purge_point),
            cut: cut.map(|(lsn, crc, dead_start)| crate::meta::CutInfo { lsn, crc, dead_start }),
            entries: entries
                .iter()
                .map(|(k, v)| (bytes::Bytes::copy_from_slice(k), bytes::Bytes::copy_from_slice(v)))
                .collect(),
        }
        .encode()
    }

    /// Encodes a seal (index) record's payload (FORMAT.md §3.5): the record
    /// offsets of LSNs `first_lsn ..`, in LSN order.
    ///
    /// ```
    /// let a = seawall::raw::encode_seal_index(10, &[64, 104, 144]);
    /// let b = seawall::raw::encode_seal_index(10, &[64, 104]);
    /// assert_eq!(a.len() - b.len(), 4, "four bytes per record");
    /// ```
    pub fn encode_seal_index(first_lsn: u64, offsets: &[u32]) -> Vec<u8> {
        crate::seal::encode_index(first_lsn, offsets)
    }

    /// Encodes the trailer of sealed segment `id` (FORMAT.md §3.6).
    ///
    /// ```
    /// use seawall::SegmentId;
    /// let t = seawall::raw::encode_trailer(SegmentId::new(2), 7, 10, 20, 0xabcd, 4096, 0x1234);
    /// assert_eq!(t.len(), seawall::format::TRAILER_LEN);
    /// assert_ne!(t, seawall::raw::encode_trailer(SegmentId::new(2), 7, 10, 21, 0xabcd, 4096, 0x1234));
    /// ```
    pub fn encode_trailer(
        id: SegmentId,
        salt: u64,
        first_lsn: u64,
        last_lsn: u64,
        last_crc: u32,
        index_off: u32,
        index_crc: u32,
    ) -> [u8; TRAILER_LEN] {
        crate::seal::Trailer { id, salt, first_lsn, last_lsn, last_crc, index_off, index_crc }.encode()
    }

    /// Encodes a parity record's payload (FORMAT.md §3.7) for the window
    /// `start..end` of `segment` (a segment file from its first byte): the
    /// XOR of the window's 4 KiB pages, aligned to the file.
    ///
    /// ```
    /// // Two pages: the parity page is their XOR.
    /// let mut seg = vec![0u8; 8192];
    /// seg[10] = 0b1100;
    /// seg[4096 + 10] = 0b1010;
    /// let p = seawall::raw::encode_parity(&seg, 0, 8192);
    /// assert_eq!(p[p.len() - 4096 + 10], 0b0110);
    /// ```
    pub fn encode_parity(segment: &[u8], start: u64, end: u64) -> Vec<u8> {
        let mut acc = crate::parity::ParityAcc::new(start);
        acc.add(start, &segment[start as usize..end as usize]);
        crate::parity::encode(start, end, &acc.page())
    }
}

/// Compiles the README's examples as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

//! The segment header: encode and decode. Pure: no I/O.

use crate::error::CorruptionReason;
use crate::format::*;
use crate::SegmentId;

/// The decoded header of a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version that wrote the segment.
    pub version: u32,
    /// Segment id (equal to the id in the file name).
    pub id: SegmentId,
    /// LSN of the first record the segment holds. Every record of earlier
    /// segments with this LSN or a later one is superseded by this segment.
    pub first_lsn: u64,
    /// Random salt mixed into the checksum of every record in this segment.
    pub salt: u64,
    /// Checksum of record `first_lsn - 1` (0 when there is none).
    pub prev_crc: u32,
    /// This segment starts a new log (`Wal::reset`): every segment with a
    /// smaller id is no longer part of the log.
    pub reset: bool,
    /// This segment holds recovery's copy of records nothing proved durable;
    /// it counts only once the copy is complete.
    pub copy: bool,
    /// A rotation wrote this header before the previous segment's seal
    /// completed. Without it, every earlier segment was durable in full.
    pub ahead: bool,
    /// Bytes of the previous segment durable when this header was written
    /// (0: no claim).
    pub prev_synced: u32,
}

/// What the first bytes of a segment file hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderState {
    /// A valid header of this format version.
    Valid(SegmentHeader),
    /// All header bytes are zero (or the file is shorter than a header and
    /// all zero): a segment created ahead of need and never used.
    Blank,
    /// A header of another format version; its checksum is valid.
    OtherVersion(u32),
    /// Damaged or foreign bytes.
    Invalid(CorruptionReason),
}

impl SegmentHeader {
    /// A header of this format version.
    ///
    /// ```
    /// use seawall::raw::HeaderState;
    /// use seawall::{SegmentHeader, SegmentId};
    /// let h = SegmentHeader::new(SegmentId::new(3), 100, 0x5a17, 0, false);
    /// let bytes = h.encode();
    /// assert!(matches!(SegmentHeader::decode(&bytes, SegmentId::new(3)), HeaderState::Valid(d) if d == h));
    /// // Under another file name the header is not valid: it names segment 3.
    /// assert!(matches!(SegmentHeader::decode(&bytes, SegmentId::new(4)), HeaderState::Invalid(_)));
    /// assert!(matches!(SegmentHeader::decode(&[0; 64], SegmentId::new(3)), HeaderState::Blank));
    /// ```
    pub fn new(id: SegmentId, first_lsn: u64, salt: u64, prev_crc: u32, reset: bool) -> SegmentHeader {
        SegmentHeader {
            version: FORMAT_VERSION,
            id,
            first_lsn,
            salt,
            prev_crc,
            reset,
            copy: false,
            ahead: false,
            prev_synced: 0,
        }
    }

    /// Encodes the header into its `SEGMENT_HEADER_LEN` bytes.
    ///
    /// ```
    /// let h = seawall::SegmentHeader::new(seawall::SegmentId::new(1), 1, 7, 0, false);
    /// let bytes = h.encode();
    /// assert_eq!(&bytes[..8], &seawall::format::SEGMENT_MAGIC);
    /// ```
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[SEG_MAGIC_OFF..SEG_MAGIC_OFF + 8].copy_from_slice(&SEGMENT_MAGIC);
        b[SEG_VERSION_OFF..SEG_VERSION_OFF + 4].copy_from_slice(&self.version.to_le_bytes());
        let flags = if self.reset { SEG_FLAG_RESET } else { 0 }
            | if self.copy { SEG_FLAG_COPY } else { 0 }
            | if self.ahead { SEG_FLAG_AHEAD } else { 0 };
        b[SEG_FLAGS_OFF..SEG_FLAGS_OFF + 4].copy_from_slice(&flags.to_le_bytes());
        b[SEG_ID_OFF..SEG_ID_OFF + 8].copy_from_slice(&self.id.get().to_le_bytes());
        b[SEG_FIRST_LSN_OFF..SEG_FIRST_LSN_OFF + 8].copy_from_slice(&self.first_lsn.to_le_bytes());
        b[SEG_SALT_OFF..SEG_SALT_OFF + 8].copy_from_slice(&self.salt.to_le_bytes());
        b[SEG_PREV_CRC_OFF..SEG_PREV_CRC_OFF + 4].copy_from_slice(&self.prev_crc.to_le_bytes());
        b[SEG_PREV_SYNCED_OFF..SEG_PREV_SYNCED_OFF + 4].copy_from_slice(&self.prev_synced.to_le_bytes());
        let crc = crc32fast::hash(&b[..SEG_CRC_OFF]);
        b[SEG_CRC_OFF..SEG_CRC_OFF + 4].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the header at the start of `bytes` (a whole file or its
    /// prefix) of the segment named `expected`. Never panics.
    ///
    /// ```
    /// use seawall::raw::HeaderState;
    /// use seawall::{SegmentHeader, SegmentId};
    /// let mut bytes = SegmentHeader::new(SegmentId::new(1), 1, 7, 0, false).encode();
    /// bytes[20] ^= 1; // one flipped bit
    /// assert!(matches!(SegmentHeader::decode(&bytes, SegmentId::new(1)), HeaderState::Invalid(_)));
    /// assert!(matches!(SegmentHeader::decode(&bytes[..10], SegmentId::new(1)), HeaderState::Invalid(_)));
    /// ```
    pub fn decode(bytes: &[u8], expected: SegmentId) -> HeaderState {
        let Some(b) = bytes.get(..SEGMENT_HEADER_LEN) else {
            return if bytes.iter().all(|&x| x == 0) {
                HeaderState::Blank
            } else {
                HeaderState::Invalid(CorruptionReason::ShortHeader)
            };
        };
        if b.iter().all(|&x| x == 0) {
            return HeaderState::Blank;
        }
        if b[SEG_MAGIC_OFF..SEG_MAGIC_OFF + 8] != SEGMENT_MAGIC {
            return HeaderState::Invalid(CorruptionReason::BadMagic);
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        if u32_at(SEG_CRC_OFF) != crc32fast::hash(&b[..SEG_CRC_OFF]) {
            return HeaderState::Invalid(CorruptionReason::BadHeaderChecksum);
        }
        let version = u32_at(SEG_VERSION_OFF);
        if version != FORMAT_VERSION {
            return HeaderState::OtherVersion(version);
        }
        let flags = u32_at(SEG_FLAGS_OFF);
        if flags & !SEG_FLAGS_KNOWN != 0 || b[SEG_RESERVED_OFF..SEG_CRC_OFF].iter().any(|&x| x != 0) {
            return HeaderState::Invalid(CorruptionReason::BadHeaderFields);
        }
        let id = SegmentId::new(u64_at(SEG_ID_OFF));
        let first_lsn = u64_at(SEG_FIRST_LSN_OFF);
        if id != expected {
            return HeaderState::Invalid(CorruptionReason::SegmentIdMismatch);
        }
        if first_lsn == 0 || first_lsn > MAX_LSN {
            return HeaderState::Invalid(CorruptionReason::BadHeaderFields);
        }
        HeaderState::Valid(SegmentHeader {
            version,
            id,
            first_lsn,
            salt: u64_at(SEG_SALT_OFF),
            prev_crc: u32_at(SEG_PREV_CRC_OFF),
            reset: flags & SEG_FLAG_RESET != 0,
            copy: flags & SEG_FLAG_COPY != 0,
            ahead: flags & SEG_FLAG_AHEAD != 0,
            prev_synced: u32_at(SEG_PREV_SYNCED_OFF),
        })
    }
}

/// A fresh random salt for a new segment. Not cryptographic: it only has to
/// differ between uses of the same bytes.
pub(crate) fn random_salt(id: SegmentId) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(id.get());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SegmentHeader {
        SegmentHeader {
            version: FORMAT_VERSION,
            id: SegmentId::new(3),
            first_lsn: 17,
            salt: 99,
            prev_crc: 5,
            reset: false,
            copy: false,
            ahead: false,
            prev_synced: 0,
        }
    }

    #[test]
    fn round_trip() {
        let h = header();
        assert_eq!(SegmentHeader::decode(&h.encode(), SegmentId::new(3)), HeaderState::Valid(h));
    }

    #[test]
    fn wrong_magic() {
        let mut b = header().encode();
        b[0] = b'X';
        assert_eq!(SegmentHeader::decode(&b, SegmentId::new(3)), HeaderState::Invalid(CorruptionReason::BadMagic));
    }

    #[test]
    fn reset_flag_round_trips() {
        let h = SegmentHeader { reset: true, copy: true, ahead: true, prev_synced: 4096, ..header() };
        assert_eq!(SegmentHeader::decode(&h.encode(), SegmentId::new(3)), HeaderState::Valid(h));
    }

    #[test]
    fn wrong_version_is_reported_as_such() {
        let mut h = header();
        h.version = 1;
        assert_eq!(SegmentHeader::decode(&h.encode(), SegmentId::new(3)), HeaderState::OtherVersion(1));
    }

    #[test]
    fn truncated_segment_header() {
        let b = header().encode();
        assert_eq!(
            SegmentHeader::decode(&b[..30], SegmentId::new(3)),
            HeaderState::Invalid(CorruptionReason::ShortHeader)
        );
        assert_eq!(SegmentHeader::decode(&[0u8; 10], SegmentId::new(3)), HeaderState::Blank);
    }

    #[test]
    fn first_lsn_beyond_the_lsn_space_is_invalid() {
        let mut h = header();
        h.first_lsn = MAX_LSN + 1;
        let state = SegmentHeader::decode(&h.encode(), SegmentId::new(3));
        assert_eq!(state, HeaderState::Invalid(CorruptionReason::BadHeaderFields));
        h.first_lsn = MAX_LSN;
        assert_eq!(SegmentHeader::decode(&h.encode(), SegmentId::new(3)), HeaderState::Valid(h));
    }

    #[test]
    fn misplaced_segment() {
        assert_eq!(
            SegmentHeader::decode(&header().encode(), SegmentId::new(4)),
            HeaderState::Invalid(CorruptionReason::SegmentIdMismatch)
        );
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let b = header().encode();
        for bit in 0..SEGMENT_HEADER_LEN * 8 {
            let mut bad = b;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(SegmentHeader::decode(&bad, SegmentId::new(3)), HeaderState::Valid(_)), "bit {bit}");
        }
    }

    #[test]
    fn salts_differ() {
        assert_ne!(random_salt(SegmentId::new(1)), random_salt(SegmentId::new(1)));
    }
}

//! A sealed segment's index record and trailer. Pure: encode and decode.
//!
//! When a segment is full, the writer appends an index record (the offset of
//! every LSN's record) and writes a trailer into the last bytes of the file
//! that locates the index and states the segment's LSN range and last
//! checksum. Both are synced before the next segment's header is written.
//! Open trusts a sealed segment through its trailer, so it costs two small
//! reads, not a scan; every record is still validated when it is read, and
//! `verify` still reads every byte.

use crate::format::*;
use crate::SegmentId;

/// A decoded trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub id: SegmentId,
    pub salt: u64,
    pub first_lsn: u64,
    /// Last LSN of the segment (`first_lsn - 1` if it holds none).
    pub last_lsn: u64,
    pub last_crc: u32,
    /// Offset of the index record.
    pub index_off: u32,
    /// Record checksum of the index record.
    pub index_crc: u32,
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

impl Trailer {
    /// Encodes the trailer's `TRAILER_LEN` bytes.
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut b = [0u8; TRAILER_LEN];
        b[TRL_MAGIC_OFF..TRL_MAGIC_OFF + 8].copy_from_slice(&TRAILER_MAGIC);
        b[TRL_ID_OFF..TRL_ID_OFF + 8].copy_from_slice(&self.id.get().to_le_bytes());
        b[TRL_SALT_OFF..TRL_SALT_OFF + 8].copy_from_slice(&self.salt.to_le_bytes());
        b[TRL_FIRST_LSN_OFF..TRL_FIRST_LSN_OFF + 8].copy_from_slice(&self.first_lsn.to_le_bytes());
        b[TRL_LAST_LSN_OFF..TRL_LAST_LSN_OFF + 8].copy_from_slice(&self.last_lsn.to_le_bytes());
        b[TRL_LAST_CRC_OFF..TRL_LAST_CRC_OFF + 4].copy_from_slice(&self.last_crc.to_le_bytes());
        b[TRL_INDEX_OFF_OFF..TRL_INDEX_OFF_OFF + 4].copy_from_slice(&self.index_off.to_le_bytes());
        b[TRL_INDEX_CRC_OFF..TRL_INDEX_CRC_OFF + 4].copy_from_slice(&self.index_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..TRL_CRC_OFF]);
        b[TRL_CRC_OFF..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the last `TRAILER_LEN` bytes of a segment file named `id`
    /// whose header has `salt` and `first_lsn`. `None` unless every field
    /// checks out. Never panics.
    pub fn decode(b: &[u8], id: SegmentId, salt: u64, first_lsn: u64) -> Option<Trailer> {
        let b = b.get(..TRAILER_LEN)?;
        if b[..8] != TRAILER_MAGIC || u32_at(b, TRL_CRC_OFF) != crc32fast::hash(&b[..TRL_CRC_OFF]) {
            return None;
        }
        if b[TRL_RESERVED_OFF..TRL_CRC_OFF].iter().any(|&x| x != 0) {
            return None;
        }
        let t = Trailer {
            id: SegmentId::new(u64_at(b, TRL_ID_OFF)),
            salt: u64_at(b, TRL_SALT_OFF),
            first_lsn: u64_at(b, TRL_FIRST_LSN_OFF),
            last_lsn: u64_at(b, TRL_LAST_LSN_OFF),
            last_crc: u32_at(b, TRL_LAST_CRC_OFF),
            index_off: u32_at(b, TRL_INDEX_OFF_OFF),
            index_crc: u32_at(b, TRL_INDEX_CRC_OFF),
        };
        let consistent = t.id == id
            && t.salt == salt
            && t.first_lsn == first_lsn
            && t.last_lsn.checked_add(1).is_some_and(|n| n >= first_lsn)
            && t.last_lsn <= MAX_LSN
            && t.index_off as usize >= SEGMENT_HEADER_LEN;
        consistent.then_some(t)
    }

    /// Number of records the segment holds.
    pub fn count(&self) -> u64 {
        self.last_lsn + 1 - self.first_lsn
    }
}

/// Encodes an index payload: the record offsets of LSNs `first_lsn ..`.
pub(crate) fn encode_index(first_lsn: u64, offsets: &[u32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(SEAL_FIXED_LEN + 4 * offsets.len());
    b.extend_from_slice(&first_lsn.to_le_bytes());
    b.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    for o in offsets {
        b.extend_from_slice(&o.to_le_bytes());
    }
    b
}

/// Decodes an index payload into `(first_lsn, offsets)`. Never panics.
pub(crate) fn decode_index(p: &[u8]) -> Option<(u64, Vec<u32>)> {
    let fixed = p.get(..SEAL_FIXED_LEN)?;
    let count = u32_at(fixed, SEAL_COUNT_OFF) as usize;
    if u32_at(fixed, SEAL_RESERVED_OFF) != 0 || p.len() != SEAL_FIXED_LEN + 4 * count {
        return None;
    }
    let offsets = p[SEAL_FIXED_LEN..].chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect();
    Some((u64_at(fixed, SEAL_FIRST_LSN_OFF), offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer() -> Trailer {
        Trailer {
            id: SegmentId::new(4),
            salt: 77,
            first_lsn: 10,
            last_lsn: 19,
            last_crc: 5,
            index_off: 4000,
            index_crc: 6,
        }
    }

    #[test]
    fn trailer_round_trip_and_consistency() {
        let t = trailer();
        let b = t.encode();
        assert_eq!(Trailer::decode(&b, t.id, 77, 10), Some(t));
        assert_eq!(Trailer::decode(&b, SegmentId::new(5), 77, 10), None, "another segment's trailer");
        assert_eq!(Trailer::decode(&b, t.id, 78, 10), None, "an older use of the file");
        assert_eq!(Trailer::decode(&b, t.id, 77, 11), None);
        assert_eq!(t.count(), 10);
    }

    #[test]
    fn every_trailer_bit_flip_is_detected() {
        let b = trailer().encode();
        for bit in 0..TRAILER_LEN * 8 {
            let mut bad = b;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Trailer::decode(&bad, SegmentId::new(4), 77, 10), None, "bit {bit}");
        }
    }

    #[test]
    fn index_round_trip() {
        let p = encode_index(10, &[64, 200, 4096]);
        assert_eq!(p.len() as u64 + RECORD_HEADER_LEN as u64, seal_size(3) - 4);
        assert_eq!(decode_index(&p), Some((10, vec![64, 200, 4096])));
        assert_eq!(decode_index(&p[..p.len() - 1]), None);
    }
}

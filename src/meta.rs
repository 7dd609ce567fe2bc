//! The payload of a meta record: metadata entries, the purge point and cut
//! markers. Pure: encode and decode, no I/O.
//!
//! Metadata lives in the log itself, so that `set_meta` shares the group
//! commit with records and a value is durable exactly when the records
//! appended before it are. Every segment starts with a snapshot of all
//! entries, so removing older segments never loses one, and every cut or
//! reset writes a snapshot too.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::format::*;

/// A cut marker's description of the cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CutInfo {
    /// The log continues after this LSN.
    pub lsn: u64,
    /// Checksum of record `lsn` (the chain the next record links to).
    pub crc: u32,
    /// Offset in the segment where the bytes the cut removed begin; they end
    /// where the marker itself begins.
    pub dead_start: u32,
}

/// A decoded meta record payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MetaRecord {
    /// The entries replace every entry (rather than update some).
    pub snapshot: bool,
    /// The log's first LSN from here on, if this record sets it.
    pub first_lsn: Option<u64>,
    /// Set on a cut marker.
    pub cut: Option<CutInfo>,
    /// Keys and values, in key order.
    pub entries: Vec<(Bytes, Bytes)>,
}

/// Bytes one entry occupies in a payload.
pub(crate) fn entry_size(key: &[u8], value: &[u8]) -> u64 {
    (META_ENTRY_HEADER_LEN + key.len() + value.len()) as u64
}

/// Bytes all of `metas` occupy as entries (what the metadata limit counts).
pub(crate) fn entries_size(metas: &BTreeMap<Bytes, Bytes>) -> u64 {
    metas.iter().map(|(k, v)| entry_size(k, v)).sum()
}

impl MetaRecord {
    /// A snapshot of `metas` with purge point `first_lsn`.
    pub fn snapshot(metas: &BTreeMap<Bytes, Bytes>, first_lsn: u64) -> MetaRecord {
        MetaRecord {
            snapshot: true,
            first_lsn: Some(first_lsn),
            cut: None,
            entries: metas.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; META_FIXED_LEN];
        let mut flags = 0;
        if self.snapshot {
            flags |= META_FLAG_SNAPSHOT;
        }
        if self.cut.is_some() {
            flags |= META_FLAG_CUT;
        }
        b[META_FLAGS_OFF..META_FLAGS_OFF + 4].copy_from_slice(&flags.to_le_bytes());
        b[META_COUNT_OFF..META_COUNT_OFF + 4].copy_from_slice(&(self.entries.len() as u32).to_le_bytes());
        b[META_FIRST_LSN_OFF..META_FIRST_LSN_OFF + 8].copy_from_slice(&self.first_lsn.unwrap_or(0).to_le_bytes());
        if let Some(c) = self.cut {
            b[META_CUT_LSN_OFF..META_CUT_LSN_OFF + 8].copy_from_slice(&c.lsn.to_le_bytes());
            b[META_CUT_CRC_OFF..META_CUT_CRC_OFF + 4].copy_from_slice(&c.crc.to_le_bytes());
            b[META_DEAD_START_OFF..META_DEAD_START_OFF + 4].copy_from_slice(&c.dead_start.to_le_bytes());
        }
        for (k, v) in &self.entries {
            b.extend_from_slice(&(k.len() as u16).to_le_bytes());
            b.extend_from_slice(&(v.len() as u32).to_le_bytes());
            b.extend_from_slice(k);
            b.extend_from_slice(v);
        }
        b
    }

    /// Decodes a payload; `None` if it is malformed (which a record whose
    /// checksums validate never is, unless it was forged). Never panics.
    pub fn decode(p: &[u8]) -> Option<MetaRecord> {
        let fixed = p.get(..META_FIXED_LEN)?;
        let u32_at = |o: usize| u32::from_le_bytes(fixed[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(fixed[o..o + 8].try_into().expect("8 bytes"));
        let flags = u32_at(META_FLAGS_OFF);
        if flags & !META_FLAGS_KNOWN != 0 {
            return None;
        }
        let first = u64_at(META_FIRST_LSN_OFF);
        if first > MAX_LSN {
            return None;
        }
        let cut = if flags & META_FLAG_CUT != 0 {
            let lsn = u64_at(META_CUT_LSN_OFF);
            if lsn > MAX_LSN {
                return None;
            }
            Some(CutInfo { lsn, crc: u32_at(META_CUT_CRC_OFF), dead_start: u32_at(META_DEAD_START_OFF) })
        } else {
            None
        };
        let count = u32_at(META_COUNT_OFF) as usize;
        let mut entries = Vec::with_capacity(count.min(p.len() / META_ENTRY_HEADER_LEN));
        let mut at = META_FIXED_LEN;
        for _ in 0..count {
            let h = p.get(at..at + META_ENTRY_HEADER_LEN)?;
            let klen = u16::from_le_bytes([h[0], h[1]]) as usize;
            let vlen = u32::from_le_bytes(h[2..6].try_into().expect("4 bytes")) as usize;
            at += META_ENTRY_HEADER_LEN;
            let key = p.get(at..at.checked_add(klen)?)?;
            at += klen;
            let value = p.get(at..at.checked_add(vlen)?)?;
            at += vlen;
            entries.push((Bytes::copy_from_slice(key), Bytes::copy_from_slice(value)));
        }
        if at != p.len() {
            return None;
        }
        Some(MetaRecord {
            snapshot: flags & META_FLAG_SNAPSHOT != 0,
            first_lsn: (first != 0).then_some(first),
            cut,
            entries,
        })
    }

    /// Applies this record to the metadata `metas` and the purge point `first`.
    pub fn apply(&self, metas: &mut BTreeMap<Bytes, Bytes>, first: &mut u64) {
        if self.snapshot {
            metas.clear();
        }
        for (k, v) in &self.entries {
            metas.insert(k.clone(), v.clone());
        }
        if let Some(f) = self.first_lsn {
            *first = f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = MetaRecord {
            snapshot: true,
            first_lsn: Some(9),
            cut: Some(CutInfo { lsn: 7, crc: 0xabcd, dead_start: 4096 }),
            entries: vec![
                (Bytes::from_static(b"vote"), Bytes::from_static(b"3")),
                (Bytes::from_static(b"x"), Bytes::new()),
            ],
        };
        assert_eq!(MetaRecord::decode(&m.encode()), Some(m));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let m =
            MetaRecord { entries: vec![(Bytes::from_static(b"k"), Bytes::from_static(b"v"))], ..Default::default() };
        let b = m.encode();
        for cut in 0..b.len() {
            assert_eq!(MetaRecord::decode(&b[..cut]), None, "prefix of {cut} bytes");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(MetaRecord::decode(&longer), None);
        let mut flags = b;
        flags[0] = 0x80;
        assert_eq!(MetaRecord::decode(&flags), None);
    }

    #[test]
    fn apply_updates_or_replaces() {
        let mut metas = BTreeMap::new();
        let mut first = 1;
        let k = |s: &'static str| Bytes::from_static(s.as_bytes());
        MetaRecord { entries: vec![(k("a"), k("1")), (k("b"), k("2"))], ..Default::default() }
            .apply(&mut metas, &mut first);
        MetaRecord { entries: vec![(k("a"), k("3"))], first_lsn: Some(5), ..Default::default() }
            .apply(&mut metas, &mut first);
        assert_eq!((metas.get(&k("a")), metas.len(), first), (Some(&k("3")), 2, 5));
        MetaRecord { snapshot: true, entries: vec![(k("c"), k("4"))], ..Default::default() }
            .apply(&mut metas, &mut first);
        assert_eq!(metas.keys().collect::<Vec<_>>(), [&k("c")]);
    }
}

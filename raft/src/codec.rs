//! Byte encodings of what seawall-raft stores: log entries as record payloads, and votes and log ids as metadata values.
//!
//! Every stored value is one version byte followed by the value in
//! [postcard](https://docs.rs/postcard)'s wire format:
//!
//! ```text
//! +---------+---------------------------------------------+
//! | version | postcard(value)                             |
//! | 1 byte  | varint integers, length-prefixed sequences  |
//! +---------+---------------------------------------------+
//! ```
//!
//! One payload is not a value: the empty payload is a *filler*, the record
//! at an index the log skipped (see `log_store`), which reads report absent.
//! No value can be mistaken for it, since every value has its version byte.
//!
//! Pure functions on byte slices; no I/O. The version byte lets a later
//! layout coexist with records written by this one: a decoder that meets a
//! version it does not know reports [`CodecError::UnknownVersion`] instead of
//! guessing. A value must fill its bytes exactly; trailing bytes are an error,
//! so a payload glued to garbage is never taken for a valid entry.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::types::{Entry, LogId};

/// The version byte of every value this build writes.
pub const FORMAT_VERSION: u8 = 1;

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// There were no bytes at all: not even the version byte.
    #[error("empty value: no version byte")]
    Empty,
    /// The version byte names a layout this build does not read.
    #[error("value has format version {found}; this build reads version {FORMAT_VERSION}")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// The bytes after the version byte are not a valid value.
    #[error("malformed value: {source}")]
    Malformed {
        /// What postcard reported.
        #[from]
        source: postcard::Error,
    },
    /// A valid value was followed by more bytes.
    #[error("{count} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// An entry decoded fine but carries another index than the place it was read from.
    #[error("entry at index {expected} says it is entry {found}")]
    IndexMismatch {
        /// The index the entry was read at.
        expected: u64,
        /// The index inside the entry.
        found: u64,
    },
}

/// Encodes any serializable value: the version byte, then postcard.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Encoding into a Vec fails only for types serde cannot describe to a
    // non-self-describing format (maps of unknown length from iterators,
    // `serialize_any` tricks); none of the types stored here is one.
    postcard::to_extend(value, vec![FORMAT_VERSION]).expect("stored types always encode")
}

/// Decodes a value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion { found: version });
    }
    let (value, rest) = postcard::take_from_bytes(body)?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes { count: rest.len() });
    }
    Ok(value)
}

/// Encodes a log entry as a record payload.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    encode(entry)
}

/// Decodes the record payload read at raft log `index`, checking that the
/// entry it holds is the entry of that index.
pub fn decode_entry_at(bytes: &[u8], index: u64) -> Result<Entry, CodecError> {
    let entry: Entry = decode(bytes)?;
    if entry.log_id.index != index {
        return Err(CodecError::IndexMismatch { expected: index, found: entry.log_id.index });
    }
    Ok(entry)
}

/// The payload of a filler: a record at an index that holds no entry.
pub const FILLER: &[u8] = &[];

/// Decodes the record payload read at raft log `index`: the entry it holds
/// (checked as [`decode_entry_at`] does), or `None` for a [`FILLER`].
pub fn decode_slot(bytes: &[u8], index: u64) -> Result<Option<Entry>, CodecError> {
    if bytes == FILLER {
        return Ok(None);
    }
    decode_entry_at(bytes, index).map(Some)
}

/// Encodes an optional log id (the committed or last purged log id).
pub fn encode_log_id(log_id: &Option<LogId>) -> Vec<u8> {
    encode(log_id)
}

/// Decodes what [`encode_log_id`] wrote.
pub fn decode_log_id(bytes: &[u8]) -> Result<Option<LogId>, CodecError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::{CommittedLeaderId, EntryPayload, Membership};

    use super::*;
    use crate::types::{Node, Request, Vote};

    fn log_id(term: u64, node: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, node), index)
    }

    fn normal(index: u64, key: &str, value: &str) -> Entry {
        Entry {
            log_id: log_id(3, 2, index),
            payload: EntryPayload::Normal(Request::Set { key: key.into(), value: value.into() }),
        }
    }

    fn membership(index: u64) -> Entry {
        let nodes: BTreeMap<u64, Node> =
            (1..=3).map(|id| (id, Node { addr: format!("127.0.0.1:{}", 7000 + id) })).collect();
        let voters: BTreeSet<u64> = nodes.keys().copied().collect();
        Entry { log_id: log_id(1, 1, index), payload: EntryPayload::Membership(Membership::new(vec![voters], nodes)) }
    }

    #[test]
    fn every_kind_of_entry_round_trips() {
        let entries =
            [Entry { log_id: log_id(0, 0, 0), payload: EntryPayload::Blank }, membership(1), normal(2, "k", "v")];
        for entry in entries {
            let bytes = encode_entry(&entry);
            assert_eq!(bytes[0], FORMAT_VERSION);
            let back = decode_entry_at(&bytes, entry.log_id.index).unwrap();
            assert_eq!(back, entry);
        }
    }

    #[test]
    fn votes_and_log_ids_round_trip() {
        let mut committed_vote = Vote::new(7, 3);
        committed_vote.commit();
        for vote in [Vote::default(), Vote::new(7, 3), committed_vote] {
            assert_eq!(decode::<Vote>(&encode(&vote)).unwrap(), vote);
        }
        for id in [None, Some(log_id(0, 0, 0)), Some(log_id(u64::MAX, u64::MAX, u64::MAX))] {
            assert_eq!(decode_log_id(&encode_log_id(&id)).unwrap(), id);
        }
    }

    /// The bytes of an entry are an on-disk format: this pins them, so a
    /// change in postcard or in openraft's serde layout fails here rather
    /// than silently making old logs unreadable.
    #[test]
    fn entry_bytes_are_stable() {
        let bytes = encode_entry(&normal(5, "ab", "c"));
        // version 1; log id: leader term 3 and node 2, index 5; payload
        // variant 1 (Normal); request variant 0 (Set); "ab"; "c".
        assert_eq!(bytes, [1, 3, 2, 5, 1, 0, 2, b'a', b'b', 1, b'c']);
        let blank = encode_entry(&Entry { log_id: log_id(1, 1, 300), payload: EntryPayload::Blank });
        // index 300 is the varint 0xac 0x02; payload variant 0 (Blank).
        assert_eq!(blank, [1, 1, 1, 0xac, 0x02, 0]);
    }

    #[test]
    fn empty_bytes_are_rejected() {
        assert!(matches!(decode_entry_at(&[], 0), Err(CodecError::Empty)));
    }

    #[test]
    fn filler_is_no_entry_and_no_entry_is_a_filler() {
        assert_eq!(decode_slot(FILLER, 7).unwrap(), None);
        let entry = normal(7, "", "");
        let bytes = encode_entry(&entry);
        assert_ne!(bytes, FILLER);
        assert_eq!(decode_slot(&bytes, 7).unwrap(), Some(entry));
    }

    #[test]
    fn unknown_version_is_rejected() {
        let mut bytes = encode_entry(&normal(1, "k", "v"));
        bytes[0] = 2;
        assert!(matches!(decode_entry_at(&bytes, 1), Err(CodecError::UnknownVersion { found: 2 })));
    }

    #[test]
    fn truncated_entry_is_rejected() {
        let bytes = encode_entry(&normal(1, "key", "value"));
        for cut in 1..bytes.len() {
            assert!(
                matches!(decode_entry_at(&bytes[..cut], 1), Err(CodecError::Malformed { .. })),
                "an entry cut to {cut} bytes decoded"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode_entry(&normal(1, "k", "v"));
        bytes.push(0);
        assert!(matches!(decode_entry_at(&bytes, 1), Err(CodecError::TrailingBytes { count: 1 })));
    }

    #[test]
    fn entry_at_another_index_is_rejected() {
        let bytes = encode_entry(&normal(4, "k", "v"));
        assert!(matches!(decode_entry_at(&bytes, 5), Err(CodecError::IndexMismatch { expected: 5, found: 4 })));
    }
}

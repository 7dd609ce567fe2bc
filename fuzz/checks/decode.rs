//! `decode_record`: arbitrary bytes, or a header forged with valid checksums,
//! or a valid record with bits flipped, must decode without panicking, and a
//! record that decodes must re-encode to the same bytes.

use seawall::format::{record_size, MAX_LSN, RECORD_HEADER_LEN, REC_HEADER_CRC_OFF, REC_LSN_OFF, SEGMENT_HEADER_LEN};
use seawall::raw::{decode_record as decode, encode_record, RawError};
use seawall::RecordKind;

use super::input::Input;

/// Runs one case. The first byte picks how the record bytes are made.
pub fn decode_record(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte() % 3;
    let salt = input.u64();
    // Records sit after a segment header; claims may reach back to it.
    let off = SEGMENT_HEADER_LEN + usize::from(input.byte() % 48) * 8;
    let mut bytes = vec![0u8; off];
    match mode {
        0 => bytes.extend_from_slice(input.rest()),
        1 => forge(&mut input, salt, &mut bytes),
        _ => flip(&mut input, salt, &mut bytes),
    }
    check(&bytes, off, salt);
}

/// Decodes `bytes[off..]` and checks what a successful decode promises.
pub(crate) fn check(bytes: &[u8], off: usize, salt: u64) {
    let Ok(r) = decode(bytes, off, salt) else { return };
    let end = r.payload_start + r.payload_len;
    assert_eq!(r.payload_start, off + RECORD_HEADER_LEN, "payload follows the header");
    assert!(end <= bytes.len(), "payload lies within the input");
    assert_eq!(r.next - off, record_size(r.payload_len as u64) as usize, "next record offset");
    assert!(r.lsn != 0 || !r.kind.takes_lsn(), "LSN 0 is never valid for a caller's record");
    if let Some(s) = r.synced_off {
        assert!(s as usize >= SEGMENT_HEADER_LEN && s as usize <= off, "a record cannot claim bytes after itself");
    }
    // The checksums cover the header and payload; the padding after the
    // payload is not covered (FORMAT.md 3.2), so it is not compared.
    let synced = r.synced_off.unwrap_or(0);
    let again = encode_record(salt, r.lsn, r.kind, r.prev_crc, synced, off as u64, &bytes[r.payload_start..end]);
    assert_eq!(&again[..end - off], &bytes[off..end], "decoded record {r:?} does not re-encode to the same bytes");
    let mut placed = vec![0u8; off];
    placed.extend_from_slice(&again);
    assert_eq!(decode(&placed, off, salt).map(|d| d.crc), Ok(r.crc), "re-encoded record decodes the same");
}

/// A header with arbitrary field values and correct checksums, so decoding
/// gets past both checksums to the field checks.
fn forge(input: &mut Input, salt: u64, out: &mut Vec<u8>) {
    let mut header = [0u8; RECORD_HEADER_LEN];
    for b in &mut header[REC_LSN_OFF..] {
        *b = input.byte();
    }
    let payload = input.rest();
    // Keep the stated length within reach of the payload most of the time.
    let len_off = REC_LSN_OFF + 8;
    if header[len_off + 3] & 0x80 == 0 {
        let len = u32::from_le_bytes(header[len_off..len_off + 4].try_into().unwrap()) as usize % (payload.len() + 1);
        header[len_off..len_off + 4].copy_from_slice(&(len as u32).to_le_bytes());
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&header[REC_LSN_OFF..]);
    header[REC_HEADER_CRC_OFF..REC_HEADER_CRC_OFF + 4].copy_from_slice(&h.finalize().to_le_bytes());
    let len = u32::from_le_bytes(header[len_off..len_off + 4].try_into().unwrap()) as usize;
    let covered = &payload[..len.min(payload.len())];
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&header[REC_HEADER_CRC_OFF..]);
    h.update(covered);
    header[..4].copy_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// A valid record, then a few bit flips; a flip inside the covered bytes must
/// be caught.
fn flip(input: &mut Input, salt: u64, out: &mut Vec<u8>) {
    let lsn = 1 + input.u64() % MAX_LSN;
    let at = out.len() as u64;
    let synced = match input.byte() % 3 {
        0 => 0,
        1 => at as u32,
        _ => (SEGMENT_HEADER_LEN as u64 + input.u64() % (at + 1 - SEGMENT_HEADER_LEN as u64)) as u32,
    };
    let kind = [RecordKind::Full, RecordKind::BatchFirst, RecordKind::BatchMiddle, RecordKind::BatchLast]
        [usize::from(input.byte() % 4)];
    let prev_crc = input.u32();
    let flips: Vec<u16> = (0..input.byte() % 4).map(|_| input.u16()).collect();
    let payload = input.rest();
    let start = out.len();
    let rec = encode_record(salt, lsn, kind, prev_crc, synced, at, payload);
    out.extend_from_slice(&rec);
    let d = decode(out, start, salt).expect("a freshly encoded record decodes");
    assert_eq!((d.lsn, d.kind, d.prev_crc, d.payload_len), (lsn, kind, prev_crc, payload.len()));
    assert_eq!(d.synced_off, (synced != 0).then_some(synced));
    for f in flips {
        let bit = usize::from(f) % (rec.len() * 8);
        out[start + bit / 8] ^= 1 << (bit % 8);
    }
    // CRC-32 detects every error of one to three bits in a message of this
    // length, and the record checksum covers every byte up to the padding.
    let covered = RECORD_HEADER_LEN + payload.len();
    let changed: u32 = out[start..start + covered].iter().zip(&rec[..covered]).map(|(a, b)| (a ^ b).count_ones()).sum();
    if (1..=3).contains(&changed) && covered <= 4096 {
        assert!(
            matches!(
                decode(out, start, salt),
                Err(RawError::HeaderChecksum | RawError::Checksum | RawError::BadFields | RawError::BadLength)
            ),
            "a flipped bit went unnoticed"
        );
    }
}

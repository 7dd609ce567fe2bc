//! Parity of an acknowledged window. Pure: accumulate, encode, reconstruct.
//!
//! Why: when a sync acknowledges records, nothing written after them yet
//! says that they were durable, so damage to them cannot be told from a
//! torn write by evidence alone (a power loss may lose any page of an
//! unsynced write). Rather than pay a second `fdatasync`, the writer appends
//! the XOR of every 4 KiB page of the unclaimed window to the same write.
//! Recovery uses it to rebuild one damaged page of such a window; only a
//! window of at most [`FRONTIER`] bytes at the very end of the log goes
//! without, and its damage stays indistinguishable from a torn write.
//!
//! Pages are aligned to the segment file: page `p` covers file offsets
//! `p * 4096 .. (p + 1) * 4096`, and only the bytes of the window
//! `start..end` count (bytes outside it count as zero).

use crate::format::*;

/// A running XOR of the 4 KiB pages of the bytes written since `start`.
#[derive(Clone)]
pub(crate) struct ParityAcc {
    acc: Box<[u64; PARITY_PAGE / 8]>,
    /// Offset of the window's first byte.
    pub start: u64,
}

impl std::fmt::Debug for ParityAcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParityAcc").field("start", &self.start).finish()
    }
}

impl ParityAcc {
    /// An empty window starting at `start`.
    pub fn new(start: u64) -> ParityAcc {
        ParityAcc { acc: Box::new([0; PARITY_PAGE / 8]), start }
    }

    /// Restarts the window at `start`.
    pub fn reset(&mut self, start: u64) {
        self.acc.fill(0);
        self.start = start;
    }

    /// Adds `data`, written at file offset `off`, to the parity.
    pub fn add(&mut self, off: u64, data: &[u8]) {
        xor_into(&mut self.acc, off, data);
    }

    /// The parity page as bytes.
    pub fn page(&self) -> Vec<u8> {
        self.acc.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// XORs `data`, which lies at file offset `off`, into the page accumulator.
/// Every byte of a write passes through here, so it works a page's run of
/// bytes at a time: the aligned words of a run then go through one loop the
/// compiler vectorises.
fn xor_into(acc: &mut [u64; PARITY_PAGE / 8], off: u64, mut data: &[u8]) {
    let mut pos = (off % PARITY_PAGE as u64) as usize;
    while !data.is_empty() {
        let (run, rest) = data.split_at(data.len().min(PARITY_PAGE - pos));
        xor_run(acc, pos, run);
        (data, pos) = (rest, 0);
    }
}

/// XORs `run` into the accumulator at page position `pos`. The run lies
/// within one page: `pos + run.len() <= PARITY_PAGE`.
fn xor_run(acc: &mut [u64; PARITY_PAGE / 8], mut pos: usize, mut run: &[u8]) {
    debug_assert!(pos + run.len() <= PARITY_PAGE, "a run stays within its page");
    // Bytes up to the next 8-byte boundary of the page.
    while !pos.is_multiple_of(8) && !run.is_empty() {
        xor_byte(acc, pos, run[0]);
        run = &run[1..];
        pos += 1;
    }
    let words = run.chunks_exact(8);
    let tail = words.remainder();
    let n = run.len() / 8;
    for (a, w) in acc[pos / 8..pos / 8 + n].iter_mut().zip(words) {
        *a ^= u64::from_le_bytes(w.try_into().expect("8 bytes"));
    }
    pos += 8 * n;
    for (i, &b) in tail.iter().enumerate() {
        xor_byte(acc, pos + i, b);
    }
}

fn xor_byte(acc: &mut [u64; PARITY_PAGE / 8], pos: usize, b: u8) {
    acc[pos / 8] ^= u64::from(b) << (8 * (pos % 8));
}

/// Encodes a parity payload for the window `start..end`.
pub(crate) fn encode(start: u64, end: u64, page: &[u8]) -> Vec<u8> {
    debug_assert_eq!(page.len(), PARITY_PAGE);
    let mut b = Vec::with_capacity(PARITY_PAYLOAD_LEN);
    b.extend_from_slice(&(start as u32).to_le_bytes());
    b.extend_from_slice(&(end as u32).to_le_bytes());
    b.extend_from_slice(page);
    b
}

/// Decodes a parity payload into `(start, end, page)`. Never panics.
pub(crate) fn decode(p: &[u8]) -> Option<(u64, u64, &[u8])> {
    if p.len() != PARITY_PAYLOAD_LEN {
        return None;
    }
    let start = u64::from(u32::from_le_bytes(p[0..4].try_into().expect("4 bytes")));
    let end = u64::from(u32::from_le_bytes(p[4..8].try_into().expect("4 bytes")));
    (start <= end).then_some((start, end, &p[PARITY_DATA_OFF..]))
}

/// The syndrome of window `start..end` of `bytes` under parity `page`: the
/// XOR of the parity with every page of the window as it is now. Zero when
/// the window is intact; when exactly one page is damaged, that page's
/// damage (XOR it in to rebuild the page).
pub(crate) fn syndrome(bytes: &[u8], start: u64, end: u64, page: &[u8]) -> Option<Vec<u8>> {
    if start > end || end as usize > bytes.len() {
        return None;
    }
    let mut acc = [0u64; PARITY_PAGE / 8];
    xor_into(&mut acc, 0, page);
    xor_into(&mut acc, start, &bytes[start as usize..end as usize]);
    Some(acc.iter().flat_map(|w| w.to_le_bytes()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn the_syndrome_rebuilds_any_one_damaged_page() {
        let (start, end) = (1000u64, 1000 + 3 * 4096 + 700);
        let mut file = vec![0xeeu8; end as usize + 100];
        let data = window((end - start) as usize, 9);
        file[start as usize..end as usize].copy_from_slice(&data);
        let mut acc = ParityAcc::new(start);
        // Written in uneven pieces, as flushes do.
        for (a, b) in [(start, start + 13), (start + 13, start + 5000), (start + 5000, end)] {
            acc.add(a, &file[a as usize..b as usize]);
        }
        let page = acc.page();
        for damaged in [start, start + 3095, start + 3096, start + 9000, end - 1] {
            let mut bad = file.clone();
            let pg = damaged / 4096 * 4096;
            for b in &mut bad[pg.max(start) as usize..(pg + 4096).min(end) as usize] {
                *b ^= 0x5a;
            }
            let s = syndrome(&bad, start, end, &page).unwrap();
            let (lo, hi) = (pg.max(start), (pg + 4096).min(end));
            for i in lo..hi {
                bad[i as usize] ^= s[(i % 4096) as usize];
            }
            assert_eq!(bad, file, "page holding {damaged}");
        }
        assert!(syndrome(&file, start, end, &page).unwrap().iter().all(|&b| b == 0), "an intact window");
    }

    #[test]
    fn payload_round_trip() {
        let page = window(PARITY_PAGE, 1);
        let p = encode(64, 9000, &page);
        assert_eq!(decode(&p), Some((64, 9000, &page[..])));
        assert_eq!(decode(&p[1..]), None);
    }

    #[test]
    fn pieces_at_any_offset_match_a_bytewise_xor() {
        let data = window(3 * PARITY_PAGE + 77, 5);
        for (off, cut) in [(0u64, 0usize), (1, 9), (4095, 4097), (4100, 13), (12_345, 8191), (7, 3 * PARITY_PAGE)] {
            let mut expect = [0u8; PARITY_PAGE];
            for (i, &b) in data.iter().enumerate() {
                expect[((off + i as u64) % PARITY_PAGE as u64) as usize] ^= b;
            }
            let mut acc = ParityAcc::new(off);
            let cut = cut.min(data.len());
            acc.add(off, &data[..cut]);
            acc.add(off + cut as u64, &data[cut..]);
            assert_eq!(acc.page(), expect, "offset {off}, cut at {cut}");
        }
    }
}

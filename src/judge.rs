//! Judging one segment: walk it, and at every stop look the evidence up in
//! the decision table until the table says where the segment ends and why.
//! Pure apart from its input bytes, which it may patch in memory with pages
//! rebuilt from parity (the caller writes them back when it repairs).

use crate::decide::{decide, Inputs, Verdict};
use crate::error::CorruptionReason;
use crate::record::decode_record;
use crate::scan::{probe, Evidence, Stop, Walker, Window};

/// A page rebuilt from parity: the bytes to write at `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rebuilt {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// What a segment that a later one follows is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limit {
    /// The last LSN it must hold: its successor's `first_lsn - 1`.
    pub last_lsn: u64,
    /// It was durable in full: it has a valid trailer, or a later segment
    /// proves it (FORMAT.md W2).
    pub sealed_durable: bool,
    /// The successor's header states the segment was durable up to here
    /// (0: no claim): a stop before it is damage to durable bytes.
    pub durable_to: u64,
}

/// How a judged segment ends.
#[derive(Clone, Debug)]
pub(crate) struct Judged {
    pub walker: Walker,
    /// The table row that ended the walk, and its verdict.
    pub rule: &'static str,
    pub why: &'static str,
    pub verdict: Verdict,
    /// What lies past the end (for torn tails and corruption).
    pub evidence: Evidence,
    /// Pages rebuilt from parity on the way (already patched into the bytes).
    pub rebuilt: Vec<Rebuilt>,
}

/// Walks `bytes` (the segment's bytes from file offset `base` up to where it
/// holds data) with `walker`, which has accepted what lies before `base`,
/// and judges every stop. With `limit` (a later segment starts at
/// `limit.last_lsn + 1`), the walk still goes to the end of the segment,
/// since a cut marker after superseded records may rewind it, and only then
/// is the segment held to the limit: complete if it reached it (whatever
/// follows was superseded); else, if its trailer proves it was durable in
/// full, short of records that had been durable; else judged like the end
/// of the log (its seal never completed).
///
/// `None` when judging needs bytes before `base`: a parity record may
/// rebuild a page, and its window may reach back before `base`. The caller
/// then judges the whole segment (`base` 0), which never returns `None`.
pub(crate) fn judge(base: usize, bytes: &mut [u8], mut walker: Walker, limit: Option<Limit>) -> Option<Judged> {
    debug_assert!(walker.end >= base, "the window holds the walk's end");
    let mut rebuilt: Vec<Rebuilt> = Vec::new();
    // Each parity record rebuilds at most one page: a second stop inside the
    // same window means more than one page was damaged.
    let mut used_parity: Vec<usize> = Vec::new();
    loop {
        let stop = walker.run(Window { base, bytes });
        let sealed = stop == Stop::Sealed;
        let mut ev = Evidence::default();
        let mut repair = None;
        // Past its limit a segment's bytes were superseded: no repair there.
        let beyond_limit = limit.is_some_and(|l| walker.lsn >= l.last_lsn);
        if !sealed {
            ev = probe(Window { base, bytes }, &walker);
            if ev.cut_at.is_none() && !beyond_limit {
                if base > 0 && ev.parity_at.iter().any(|p| !used_parity.contains(p)) {
                    return None;
                }
                repair = ev
                    .parity_at
                    .iter()
                    .filter(|p| !used_parity.contains(p))
                    .find_map(|&p| try_rebuild(bytes, &walker, p).map(|r| (p, r)));
            }
        }
        let mut inputs = Inputs {
            sealed_durable: false,
            reached_limit: sealed,
            cut_ahead: ev.cut_at.is_some(),
            repairable: repair.is_some(),
            claimed: ev.claimed,
            tail_zero: ev.tail_zero(walker.end),
        };
        let mut row = decide(inputs);
        match row.verdict {
            Verdict::SkipCut => {
                walker.jump_to_cut(Window { base, bytes }, ev.cut_at.expect("cut-marker row"));
                continue;
            }
            Verdict::Repair => {
                let (p, r) = repair.expect("parity-repair row");
                // Only a whole segment is repaired (see above).
                debug_assert_eq!(base, 0);
                bytes[r.offset as usize..r.offset as usize + r.bytes.len()].copy_from_slice(&r.bytes);
                used_parity.push(p);
                rebuilt.push(r);
                continue;
            }
            _ => {}
        }
        if let Some(limit) = limit {
            // The segment's end, held to its successor.
            let reached = walker.lsn >= limit.last_lsn;
            if reached {
                walker.cap(limit.last_lsn);
            }
            let sealed_durable = limit.sealed_durable;
            let claimed = inputs.claimed || (walker.end as u64) < limit.durable_to;
            inputs = Inputs {
                sealed_durable,
                reached_limit: reached,
                cut_ahead: false,
                repairable: false,
                claimed,
                tail_zero: inputs.tail_zero,
            };
            row = decide(inputs);
        }
        let verdict = match (row.verdict, stop) {
            // Where the walk stopped says more than the verdict's reason
            // when the trailer proves records are missing.
            (Verdict::Corruption(CorruptionReason::MissingRecords), Stop::Bad(r)) if !ev.tail_zero(walker.end) => {
                Verdict::Corruption(r)
            }
            (v, _) => v,
        };
        return Some(Judged { walker, rule: row.name, why: row.why, verdict, evidence: ev, rebuilt });
    }
}

/// Rebuilds the damaged page from the parity record at `at`, and returns it
/// if the walk then gets past the stop. The damaged page is one the failing
/// record occupies: the page of its header when the header's checksum
/// fails, else any page of the record; each candidate is rebuilt from the
/// window's syndrome and tried.
fn try_rebuild(bytes: &[u8], walker: &Walker, at: usize) -> Option<Rebuilt> {
    let r = decode_record(bytes, at, walker.salt()).ok()?;
    let (start, end, page) = crate::parity::decode(&bytes[r.payload_start..r.payload_start + r.payload_len])?;
    let syndrome = crate::parity::syndrome(bytes, start, end, page)?;
    if syndrome.iter().all(|&b| b == 0) {
        return None;
    }
    // The damage lies in the record the walk failed on (which may sit inside
    // a batch, after `walker.end`).
    let stop = walker.failed_at.max(walker.end) as u64;
    let failed = stop as usize;
    let header_ok = decode_record(bytes, failed, walker.salt()).is_ok()
        || crate::record::header_valid(bytes, failed, walker.salt());
    let extent = if header_ok {
        let len_at = failed + crate::format::REC_LEN_OFF;
        let len = bytes.get(len_at..len_at + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
        crate::format::record_size(u64::from(len))
    } else {
        crate::format::RECORD_HEADER_LEN as u64
    };
    let pg = crate::format::PARITY_PAGE as u64;
    let last = (stop + extent).min(end).max(stop + 1);
    let mut p = stop / pg * pg;
    while p < last {
        // Only the bytes from the stop on are replaced: those before it
        // belong to records already accepted.
        let (lo, hi) = (p.max(stop).max(start), (p + pg).min(end));
        if lo < hi {
            let data: Vec<u8> = (lo..hi).map(|i| bytes[i as usize] ^ syndrome[(i % pg) as usize]).collect();
            let mut patched = bytes.to_vec();
            patched[lo as usize..hi as usize].copy_from_slice(&data);
            let mut w = walker.clone();
            w.run(Window::whole(&patched));
            if w.end > walker.end {
                return Some(Rebuilt { offset: lo, bytes: data });
            }
        }
        p += pg;
    }
    None
}

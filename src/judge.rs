//! Judging one segment: walk it, and at every stop look the evidence up in
//! the decision table until the table says where the segment ends and why.
//! Pure apart from its input bytes, which it may patch in memory with pages
//! rebuilt from parity (the caller writes them back when it repairs).

use crate::decide::{decide, Inputs, Verdict};
use crate::error::CorruptionReason;
use crate::record::decode_record;
use crate::scan::{probe, Evidence, Stop, Walker};

/// A page rebuilt from parity: the bytes to write at `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rebuilt {
    pub offset: u64,
    pub bytes: Vec<u8>,
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

/// Walks `bytes` (a whole segment, or its first bytes up to where it holds
/// data) with `walker` and judges every stop. With `limit` (a later segment
/// starts at `limit + 1`), the walk still goes to the end of the segment,
/// since a cut marker after superseded records may rewind it, and only then
/// is the segment held to the limit: complete if it reached it (whatever
/// follows was superseded), else short of records that had been durable.
pub(crate) fn judge(bytes: &mut [u8], mut walker: Walker, limit: Option<u64>) -> Judged {
    let mut rebuilt: Vec<Rebuilt> = Vec::new();
    // Each parity record rebuilds at most one page: a second stop inside the
    // same window means more than one page was damaged.
    let mut used_parity: Vec<usize> = Vec::new();
    loop {
        let stop = walker.run(bytes);
        let sealed = stop == Stop::Sealed;
        let mut ev = Evidence::default();
        let mut repair = None;
        if !sealed {
            ev = probe(bytes, &walker);
            if ev.cut_at.is_none() {
                repair = ev
                    .parity_at
                    .iter()
                    .filter(|p| !used_parity.contains(p))
                    .find_map(|&p| try_rebuild(bytes, &walker, p).map(|r| (p, r)));
            }
        }
        let mut inputs = Inputs {
            has_successor: false,
            reached_limit: sealed,
            cut_ahead: ev.cut_at.is_some(),
            repairable: repair.is_some(),
            claimed: ev.claimed,
            tail_zero: ev.tail_zero(walker.end),
        };
        let mut row = decide(inputs);
        match row.verdict {
            Verdict::SkipCut => {
                walker.jump_to_cut(bytes, ev.cut_at.expect("cut-marker row"));
                continue;
            }
            Verdict::Repair => {
                let (p, r) = repair.expect("parity-repair row");
                bytes[r.offset as usize..r.offset as usize + r.bytes.len()].copy_from_slice(&r.bytes);
                used_parity.push(p);
                rebuilt.push(r);
                continue;
            }
            _ => {}
        }
        if let Some(limit) = limit {
            // The segment's end, held to its successor.
            let reached = walker.lsn >= limit;
            if reached {
                walker.cap(bytes, limit);
            }
            inputs =
                Inputs { has_successor: true, reached_limit: reached, cut_ahead: false, repairable: false, ..inputs };
            row = decide(inputs);
        }
        let verdict = match (row.verdict, stop) {
            // Where the walk stopped says more than the verdict's reason
            // when the successor proves records are missing.
            (Verdict::Corruption(CorruptionReason::MissingRecords), Stop::Bad(r)) if !ev.tail_zero(walker.end) => {
                Verdict::Corruption(r)
            }
            (v, _) => v,
        };
        return Judged { walker, rule: row.name, why: row.why, verdict, evidence: ev, rebuilt };
    }
}

/// Rebuilds the page holding the stop from the parity record at `at`, and
/// returns it if the walk then gets past the stop.
fn try_rebuild(bytes: &[u8], walker: &Walker, at: usize) -> Option<Rebuilt> {
    let r = decode_record(bytes, at, walker.salt()).ok()?;
    let (start, end, page) = crate::parity::decode(&bytes[r.payload_start..r.payload_start + r.payload_len])?;
    let (offset, data) = crate::parity::rebuild(bytes, start, end, page, walker.end as u64)?;
    // Only the bytes from the stop on are replaced: those before it belong to
    // records already accepted, and if another page of the window is damaged
    // too, the rebuilt page is wrong exactly where that page is, which the
    // records' checksums after the stop then catch.
    let from = (walker.end as u64).max(offset);
    let data = data[(from - offset) as usize..].to_vec();
    let offset = from;
    let mut patched = bytes.to_vec();
    patched[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
    let mut w = walker.clone();
    w.run(&patched);
    // Progress: the walk accepted at least one more record past the stop.
    (w.end > walker.end).then_some(Rebuilt { offset, bytes: data })
}
#[cfg(test)]
mod dbg_tests {
    #[test]
    fn dbg_failstate() {
        let Ok(path) = std::env::var("DBG_SEG") else { return };
        let id: u64 = std::env::var("DBG_ID").unwrap().parse().unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        let h = match crate::segment::SegmentHeader::decode(&bytes, crate::SegmentId::new(id)) {
            crate::raw::HeaderState::Valid(h) => h,
            s => panic!("{s:?}"),
        };
        eprintln!("header {h:?}");
        let w = crate::scan::Walker::new(h.salt, h.first_lsn, h.prev_crc);
        let j = super::judge(&mut bytes, w, None);
        eprintln!(
            "rule {} verdict {:?} end {} lsn {} offsets {:?} cuts {:?} dead {:?} meta {:?}",
            j.rule,
            j.verdict,
            j.walker.end,
            j.walker.lsn,
            j.walker.offsets,
            j.walker.cuts,
            j.walker.dead,
            j.walker.meta
        );
        let (recs, _) = crate::scan::valid_records(&bytes, 64, h.salt);
        for (o, r) in recs {
            eprintln!("  {o}: lsn {} kind {:?} len {} synced {:?}", r.lsn, r.kind, r.payload_len, r.synced_off);
        }
    }
}

//! The recovery decision table: what the point where a segment's walk stops means.
//!
//! Recovery walks each segment until a record fails validation (or the LSN at
//! which the next segment starts is reached) and then gathers evidence about
//! what lies beyond. This table turns that evidence into exactly one verdict.
//! FORMAT.md ("Recovery decision table") states the same rows, and a test
//! feeds every combination of inputs and checks that exactly one row matches.
//!
//! Why the evidence works:
//! - **Trailer.** The writer writes a full segment's trailer only once
//!   everything before it is durable (FORMAT.md W2), so a segment with a
//!   valid trailer that stops short of its successor's first LSN lost
//!   records that were durable. The next segment may be started before that
//!   seal completes, so a successor alone proves nothing: a segment without
//!   its trailer is judged like the end of the log.
//! - **Cut markers.** `truncate_after` first makes a marker durable at the end
//!   of the log, then clears the bytes it cut. A stop inside those bytes,
//!   with the marker after it, is the cut, not damage.
//! - **Parity.** A sync that acknowledges an unclaimed window larger than the
//!   frontier appends the XOR of its pages; one damaged page of the window is
//!   rebuilt from it, whether a crash or the media damaged it.
//! - **Claims.** Every record states `synced_off`: the bytes of its segment
//!   the writer knew durable when it wrote the record (sealed by the single
//!   flusher at write time). A valid record after the stop that claims the
//!   stop's offset proves the damaged bytes had been durable: corruption.
//!   Without such a claim, the damage lies in the last unsynced writes, which
//!   a power loss may leave in any state: a torn tail.
//!
//! What stays ambiguous: an acknowledged window of at most
//! [`crate::format::FRONTIER`] bytes at the very end of the log, with nothing
//! written after it (see FORMAT.md §6.2).

use crate::error::CorruptionReason;

/// The evidence about one stopping point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Inputs {
    /// A later segment follows and the segment's valid trailer proves it was
    /// durable in full.
    pub sealed_durable: bool,
    /// The walk reached the LSN just before the successor's first LSN.
    pub reached_limit: bool,
    /// A valid cut marker after the stop explains it.
    pub cut_ahead: bool,
    /// A parity record after the stop covers it, and rebuilding the damaged
    /// page lets the walk go on.
    pub repairable: bool,
    /// A valid record after the stop claims the stop was durable.
    pub claimed: bool,
    /// Every byte after the stopping point is zero.
    pub tail_zero: bool,
}

/// What recovery does at the stopping point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A sealed segment, complete up to its successor: go on.
    Complete,
    /// The bytes were removed by a cut: resume after the marker.
    SkipCut,
    /// Rebuild the damaged page from parity and resume.
    Repair,
    /// The log ends here cleanly; nothing to repair.
    CleanEnd,
    /// A torn write at the end of the log: cut and clear it.
    TornTail,
    /// Damage to data that was durable: refuse (or salvage).
    Corruption(CorruptionReason),
}

/// One row of the table: a pattern over the inputs (`None` = any value).
pub(crate) struct Row {
    pub name: &'static str,
    pub sealed_durable: Option<bool>,
    pub reached_limit: Option<bool>,
    pub cut_ahead: Option<bool>,
    pub repairable: Option<bool>,
    pub claimed: Option<bool>,
    pub tail_zero: Option<bool>,
    pub verdict: Verdict,
    pub why: &'static str,
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const ANY: Option<bool> = None;

/// The table. Rows are disjoint and together cover every input.
#[rustfmt::skip]
pub(crate) const TABLE: [Row; 7] = [
    Row { name: "sealed-complete", sealed_durable: ANY, reached_limit: T, cut_ahead: ANY, repairable: ANY, claimed: ANY, tail_zero: ANY,
          verdict: Verdict::Complete,
          why: "the segment holds every record before its successor's first LSN; bytes past that were superseded" },
    Row { name: "cut-marker", sealed_durable: ANY, reached_limit: F, cut_ahead: T, repairable: ANY, claimed: ANY, tail_zero: ANY,
          verdict: Verdict::SkipCut,
          why: "truncate_after made a marker durable after these bytes before clearing them: they were cut, not damaged" },
    Row { name: "parity-repair", sealed_durable: ANY, reached_limit: F, cut_ahead: F, repairable: T, claimed: ANY, tail_zero: ANY,
          verdict: Verdict::Repair,
          why: "a parity record written with the acknowledging sync covers the damaged page and rebuilds it" },
    Row { name: "sealed-short", sealed_durable: T, reached_limit: F, cut_ahead: F, repairable: F, claimed: ANY, tail_zero: ANY,
          verdict: Verdict::Corruption(CorruptionReason::MissingRecords),
          why: "a segment's trailer is written once the rest of it is durable, so missing records had been durable" },
    Row { name: "damage-to-durable", sealed_durable: F, reached_limit: F, cut_ahead: F, repairable: F, claimed: T, tail_zero: ANY,
          verdict: Verdict::Corruption(CorruptionReason::DamageToSyncedRecords),
          why: "a later record states the damaged bytes were durable when it was written: media corruption" },
    Row { name: "clean-end", sealed_durable: F, reached_limit: F, cut_ahead: F, repairable: F, claimed: F, tail_zero: T,
          verdict: Verdict::CleanEnd,
          why: "only unwritten (zero) space follows the last record" },
    Row { name: "torn-tail", sealed_durable: F, reached_limit: F, cut_ahead: F, repairable: F, claimed: F, tail_zero: F,
          verdict: Verdict::TornTail,
          why: "nothing after the stop claims it was durable: the last unsynced writes were cut or scrambled by a crash" },
];

impl Row {
    pub(crate) fn matches(&self, i: Inputs) -> bool {
        let m = |p: Option<bool>, v: bool| p.is_none_or(|p| p == v);
        m(self.sealed_durable, i.sealed_durable)
            && m(self.reached_limit, i.reached_limit)
            && m(self.cut_ahead, i.cut_ahead)
            && m(self.repairable, i.repairable)
            && m(self.claimed, i.claimed)
            && m(self.tail_zero, i.tail_zero)
    }
}

/// Looks the inputs up in [`TABLE`].
pub(crate) fn decide(i: Inputs) -> &'static Row {
    TABLE.iter().find(|r| r.matches(i)).expect("the decision table covers every input")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_inputs() -> impl Iterator<Item = Inputs> {
        (0u8..64).map(|b| Inputs {
            sealed_durable: b & 1 != 0,
            reached_limit: b & 2 != 0,
            cut_ahead: b & 4 != 0,
            repairable: b & 8 != 0,
            claimed: b & 16 != 0,
            tail_zero: b & 32 != 0,
        })
    }

    #[test]
    fn every_input_matches_exactly_one_row() {
        for i in all_inputs() {
            let n = TABLE.iter().filter(|r| r.matches(i)).count();
            assert_eq!(n, 1, "{i:?} matches {n} rows");
        }
    }

    #[test]
    fn format_spec_lists_every_row_in_order() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/format-spec/FORMAT.md")).unwrap();
        let mut at = spec.find("## 6. Recovery decision table").expect("section 6");
        for (i, row) in TABLE.iter().enumerate() {
            let line = format!("| {} | {} |", i + 1, row.name);
            at +=
                spec[at..].find(&line).unwrap_or_else(|| panic!("FORMAT.md lacks row `{line}` (or in another order)"));
        }
    }

    #[test]
    fn every_row_is_reachable() {
        for r in &TABLE {
            assert!(all_inputs().any(|i| r.matches(i)), "row {} is dead", r.name);
        }
    }

    #[test]
    fn verdicts_of_named_cases() {
        let base = Inputs {
            sealed_durable: false,
            reached_limit: false,
            cut_ahead: false,
            repairable: false,
            claimed: false,
            tail_zero: true,
        };
        assert_eq!(decide(base).verdict, Verdict::CleanEnd);
        assert_eq!(decide(Inputs { tail_zero: false, ..base }).verdict, Verdict::TornTail);
        assert_eq!(
            decide(Inputs { tail_zero: false, claimed: true, ..base }).verdict,
            Verdict::Corruption(CorruptionReason::DamageToSyncedRecords)
        );
        assert_eq!(decide(Inputs { claimed: true, repairable: true, ..base }).verdict, Verdict::Repair);
        assert_eq!(decide(Inputs { claimed: true, cut_ahead: true, ..base }).verdict, Verdict::SkipCut);
        let sealed = Inputs { sealed_durable: true, ..base };
        assert_eq!(decide(Inputs { reached_limit: true, ..sealed }).verdict, Verdict::Complete);
        assert_eq!(decide(sealed).verdict, Verdict::Corruption(CorruptionReason::MissingRecords));
        assert_eq!(decide(Inputs { cut_ahead: true, ..sealed }).verdict, Verdict::SkipCut);
    }
}

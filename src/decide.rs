//! The recovery decision table: what the end of a segment's valid records means.
//!
//! Recovery walks each segment until a record fails validation (or the LSN at
//! which the next segment starts is reached) and then gathers evidence about
//! what lies beyond. This table turns that evidence into exactly one verdict.
//! FORMAT.md ("Recovery decision table") states the same rows, and a test
//! feeds every combination of inputs and checks that exactly one row matches.
//!
//! Why the evidence works:
//! - The writer syncs a segment completely before it writes the header of the
//!   next one, so a segment that stops short of its successor's first LSN lost
//!   records that were durable: corruption.
//! - Every record names `synced_lsn`, the LSN up to which the log was durable
//!   when the record was *written* (sealed by the single flusher at write
//!   time). All records written since the last completed sync are the only
//!   bytes a crash may leave torn, in any order and with holes. A later valid
//!   record whose `synced_lsn` covers the damaged LSN proves the damaged record
//!   had been durable: corruption. Otherwise the damage lies inside the
//!   unsynced window and is a torn write.
//!
//! What it cannot tell apart: damage to records of the last sync window (or
//! the last records of the log) is indistinguishable from a torn write, so it
//! is truncated as one; damage that also destroys every later record looks
//! like a torn tail too.

use crate::error::CorruptionReason;

/// The evidence about one stopping point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Inputs {
    /// A later segment with a valid header exists.
    pub has_successor: bool,
    /// The walk reached the LSN just before the successor's first LSN.
    pub reached_limit: bool,
    /// Every byte after the stopping point is zero.
    pub tail_zero: bool,
    /// Valid records with later LSNs lie after the stopping point.
    pub later_valid: bool,
    /// One of them states that the damaged record was already durable.
    pub later_synced: bool,
}

/// What recovery does at the stopping point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A sealed segment, complete up to its successor: go on.
    Complete,
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
    pub has_successor: Option<bool>,
    pub reached_limit: Option<bool>,
    pub tail_zero: Option<bool>,
    pub later_valid: Option<bool>,
    pub later_synced: Option<bool>,
    pub verdict: Verdict,
    pub why: &'static str,
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const ANY: Option<bool> = None;

/// The table. Rows are disjoint and together cover every input.
#[rustfmt::skip]
pub(crate) const TABLE: [Row; 6] = [
    Row { name: "sealed-complete", has_successor: T, reached_limit: T, tail_zero: ANY, later_valid: ANY, later_synced: ANY,
          verdict: Verdict::Complete,
          why: "the segment holds every record before its successor's first LSN; bytes past that were superseded" },
    Row { name: "sealed-short", has_successor: T, reached_limit: F, tail_zero: ANY, later_valid: ANY, later_synced: ANY,
          verdict: Verdict::Corruption(CorruptionReason::MissingRecords),
          why: "a segment is synced in full before its successor is started, so missing records had been durable" },
    Row { name: "clean-end", has_successor: F, reached_limit: ANY, tail_zero: T, later_valid: F, later_synced: ANY,
          verdict: Verdict::CleanEnd,
          why: "only unwritten (zero) space follows the last record" },
    Row { name: "torn-write", has_successor: F, reached_limit: ANY, tail_zero: F, later_valid: F, later_synced: ANY,
          verdict: Verdict::TornTail,
          why: "partial or stale bytes and no valid record after them: the last write was cut by a crash" },
    Row { name: "torn-unsynced-window", has_successor: F, reached_limit: ANY, tail_zero: ANY, later_valid: T, later_synced: F,
          verdict: Verdict::TornTail,
          why: "later records were written while the damaged one was not yet durable; writeback may land them out of order" },
    Row { name: "damage-to-synced-record", has_successor: F, reached_limit: ANY, tail_zero: ANY, later_valid: T, later_synced: T,
          verdict: Verdict::Corruption(CorruptionReason::DamageToSyncedRecords),
          why: "a later record states the damaged one was durable when it was written: media corruption" },
];

impl Row {
    pub(crate) fn matches(&self, i: Inputs) -> bool {
        let m = |p: Option<bool>, v: bool| p.is_none_or(|p| p == v);
        m(self.has_successor, i.has_successor)
            && m(self.reached_limit, i.reached_limit)
            && m(self.tail_zero, i.tail_zero)
            && m(self.later_valid, i.later_valid)
            && m(self.later_synced, i.later_synced)
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
        (0u8..32).map(|b| Inputs {
            has_successor: b & 1 != 0,
            reached_limit: b & 2 != 0,
            tail_zero: b & 4 != 0,
            later_valid: b & 8 != 0,
            later_synced: b & 16 != 0,
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
            has_successor: false,
            reached_limit: false,
            tail_zero: true,
            later_valid: false,
            later_synced: false,
        };
        assert_eq!(decide(base).verdict, Verdict::CleanEnd);
        assert_eq!(decide(Inputs { tail_zero: false, ..base }).verdict, Verdict::TornTail);
        assert_eq!(decide(Inputs { tail_zero: false, later_valid: true, ..base }).verdict, Verdict::TornTail);
        assert_eq!(
            decide(Inputs { tail_zero: false, later_valid: true, later_synced: true, ..base }).verdict,
            Verdict::Corruption(CorruptionReason::DamageToSyncedRecords)
        );
        let sealed = Inputs { has_successor: true, ..base };
        assert_eq!(decide(Inputs { reached_limit: true, ..sealed }).verdict, Verdict::Complete);
        assert_eq!(decide(sealed).verdict, Verdict::Corruption(CorruptionReason::MissingRecords));
    }
}

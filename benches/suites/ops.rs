//! The ops suite: what the log-store operations cost against their nearest
//! existing operation, on one log. Durable operations are `fdatasync`-bound,
//! so each ratio is of median latencies over many calls; none has a goal.

use seawall::Wal;

use crate::common::{self, ops, ours, Metric, Report, Sample, Scale};

/// Records in the log the truncations work on, and records each one cuts.
const LOG_RECORDS: u64 = 10_000;
const CUT: u64 = 100;

/// Adds the two samples of a pair, the operation's row with its cost ratio.
fn add_pair(report: &mut Report, (op, base): (Sample, Sample), op_name: &str, base_name: &str, what: &str) {
    report.add(base_name, base, Metric::P50, &[]);
    report.add(op_name, op, Metric::P50, &[base_name]);
    report.info(what, report.ratio(op_name, base_name, Metric::P50), "x");
}

pub fn ops(scale: &Scale, report: &mut Report) {
    let d = common::scratch("ops");
    let (wal, _) = Wal::open(d.path(), ours::options(scale.segment_size)).expect("open");
    let n = scale.ops_iters;
    eprintln!("ops: {n} calls of each operation and of its baseline");
    add_pair(
        report,
        ops::set_meta_vs_append(&wal, n),
        "seawall set_meta, 64 B",
        "seawall append_durable, 64 B",
        "ops: set_meta / append_durable of the same bytes: median latency",
    );
    add_pair(
        report,
        ops::on_durable_vs_append(&wal, n),
        "seawall append + on_durable until the callback",
        "seawall append_durable, 128 B",
        "ops: append + on_durable callback / append_durable: median latency",
    );
    ops::append_synced(&wal, LOG_RECORDS);
    add_pair(
        report,
        ops::truncate_after_vs_before(&wal, n, CUT),
        "seawall truncate_after, last 100 records",
        "seawall truncate_before, first 100 records",
        "ops: truncate_after / truncate_before of as many records: median latency",
    );
    add_pair(
        report,
        ops::reset_vs_truncate_before(&wal, n, CUT),
        "seawall reset",
        "seawall truncate_before(last)",
        "ops: reset / truncate_before(last LSN): median latency",
    );
    wal.close().expect("close");
}

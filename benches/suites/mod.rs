//! The top-level suites of `cargo bench`: each runs its workloads against
//! their baselines, adds rows to the report and checks its targets.

pub mod open;
pub mod ops;
pub mod read;
pub mod write;

use std::collections::BTreeMap;

use crate::common::{median, reopen, Report, Sample, Scale};

/// Runs of each configuration, interleaved, so that a burst of noise hits
/// baseline and contender alike; the median run of each is reported.
#[derive(Default)]
pub struct Runs(BTreeMap<String, Vec<Sample>>);

impl Runs {
    /// Adds a run of `name`.
    pub fn push(&mut self, name: String, s: Sample) {
        eprintln!("  {name}: {:.0} ops/s", s.ops_per_sec());
        self.0.entry(name).or_default().push(s);
    }

    /// The median run of `name`, if it ran.
    pub fn take(&mut self, name: &str) -> Option<Sample> {
        self.0.remove(name).map(median)
    }
}

/// A comma-separated list from the environment, or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map_or_else(|| default.to_vec(), |v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
}

/// `16B`, `1KiB`, ...
pub fn size_name(size: usize) -> String {
    if size >= 1024 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

/// Logs that take long to build, kept across the rounds of one process and
/// removed when it drops (at the end of the bench, or on a panic).
#[derive(Debug, Default)]
pub struct Fixtures {
    /// The open workload's logs, smallest first.
    pub open_logs: Vec<reopen::SegmentLog>,
    /// The log of 1 KiB records the read suite fills, for the random reads
    /// of the same round.
    pub read_log: Option<tempfile::TempDir>,
}

/// One round: every suite `wants` selects (by name), into a fresh report.
/// The bench runs it at full size, the smoke test at tiny sizes.
pub fn round(scale: &Scale, fx: &mut Fixtures, wants: &dyn Fn(&str) -> bool) -> Report {
    let mut report = Report::default();
    if wants("durable") {
        write::durable(scale, &mut report);
    }
    if wants("buffered") {
        write::buffered(scale, &mut report);
    }
    if wants("bulk") {
        write::bulk(scale, &mut report);
    }
    if wants("read") {
        read::replay(scale, &mut report, fx);
    }
    if wants("random_read") {
        read::random_read(scale, &mut report, fx);
    }
    // The replay log is the random reads' only: free its disk space before
    // the open suite builds its logs.
    fx.read_log = None;
    if wants("open") {
        open::open(scale, &mut report, fx);
    }
    if wants("ops") {
        ops::ops(scale, &mut report);
    }
    report
}

//! The summary table: every sample with its absolute figures and its ratio
//! to the baselines it is compared with, then the targets.

use std::fmt::Write as _;

use super::{fmt_dur, Sample};

/// What a ratio compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Operations (records) per second.
    Ops,
    /// Payload bytes per second.
    Bytes,
}

impl Metric {
    fn of(self, s: &Sample) -> f64 {
        match self {
            Metric::Ops => s.ops_per_sec(),
            Metric::Bytes => s.mb_per_sec(),
        }
    }
}

/// One line of the table.
#[derive(Debug)]
pub struct Row {
    /// Unique name, e.g. `seawall durable 16w 128B`.
    pub name: String,
    /// The measurement.
    pub sample: Sample,
    /// `(baseline name, ratio)` for each baseline compared with.
    pub ratios: Vec<(String, f64)>,
}

/// One of the targets and how the run fared.
#[derive(Debug)]
pub struct Target {
    /// What is measured, e.g. `1 writer durable 128 B vs raw`.
    pub what: String,
    /// The measured value.
    pub measured: f64,
    /// The goal: the measured value must be at least this (or, when
    /// `at_most`, at most this).
    pub goal: f64,
    /// Whether the goal is an upper bound.
    pub at_most: bool,
    /// Unit for printing (`x` for ratios).
    pub unit: &'static str,
}

impl Target {
    /// Whether the run met the target.
    pub fn met(&self) -> bool {
        if self.at_most {
            self.measured <= self.goal
        } else {
            self.measured >= self.goal
        }
    }
}

/// Collects rows as workloads finish and prints them at the end.
#[derive(Debug, Default)]
pub struct Report {
    /// The rows, in the order added.
    pub rows: Vec<Row>,
    /// The targets checked.
    pub targets: Vec<Target>,
}

impl Report {
    /// The sample named `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Sample> {
        self.rows.iter().find(|r| r.name == name).map(|r| &r.sample)
    }

    /// The ratio `name / base` under `metric`, if both ran.
    pub fn ratio(&self, name: &str, base: &str, metric: Metric) -> Option<f64> {
        Some(metric.of(self.get(name)?) / metric.of(self.get(base)?))
    }

    /// Adds a sample, with its ratio to each of `bases` that already ran,
    /// and prints a one-line progress note.
    pub fn add(&mut self, name: impl Into<String>, sample: Sample, metric: Metric, bases: &[&str]) {
        let name = name.into();
        let ratios = bases
            .iter()
            .filter_map(|b| self.get(b).map(|s| (b.to_string(), metric.of(&sample) / metric.of(s))))
            .collect();
        let row = Row { name, sample, ratios };
        eprintln!("{}", line(&row));
        self.rows.push(row);
    }

    /// Records a target for a measured value (skipped if the value is missing).
    pub fn target(&mut self, what: &str, measured: Option<f64>, goal: f64, at_most: bool, unit: &'static str) {
        if let Some(measured) = measured {
            self.targets.push(Target { what: what.into(), measured, goal, at_most, unit });
        }
    }

    /// The table of results, as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("| workload | ops/s | MB/s | p50 | p99 | records/fsync | peak heap | ratio |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
        for r in &self.rows {
            let s = &r.sample;
            let pct = |q| s.percentile(q).map_or("-".into(), fmt_dur);
            let rpf = s.records_per_fsync().map_or("-".into(), |v| format!("{v:.1}"));
            let heap = s.heap_peak.map_or("-".into(), fmt_bytes);
            let ratios: Vec<String> = r.ratios.iter().map(|(b, v)| format!("{v:.2}x {b}")).collect();
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.1} | {} | {} | {} | {} | {} |",
                r.name,
                s.ops_per_sec(),
                s.mb_per_sec(),
                pct(0.5),
                pct(0.99),
                rpf,
                heap,
                if ratios.is_empty() { "-".into() } else { ratios.join(", ") }
            );
        }
        out
    }

    /// The targets, as Markdown.
    pub fn targets_table(&self) -> String {
        let mut out = String::from("| target | goal | measured | met |\n|---|---:|---:|---|\n");
        for t in &self.targets {
            let cmp = if t.at_most { "<=" } else { ">=" };
            let _ = writeln!(
                out,
                "| {} | {cmp} {}{} | {}{} | {} |",
                t.what,
                fmt_num(t.goal),
                t.unit,
                fmt_num(t.measured),
                t.unit,
                if t.met() { "yes" } else { "no" }
            );
        }
        out
    }
}

fn line(r: &Row) -> String {
    let s = &r.sample;
    let mut l = format!("{:<36} {:>12.0} ops/s {:>9.1} MB/s", r.name, s.ops_per_sec(), s.mb_per_sec());
    if let (Some(p50), Some(p99)) = (s.percentile(0.5), s.percentile(0.99)) {
        let _ = write!(l, "  p50 {} p99 {}", fmt_dur(p50), fmt_dur(p99));
    }
    if let Some(v) = s.records_per_fsync() {
        let _ = write!(l, "  {v:.1} rec/fsync");
    }
    if let Some(h) = s.heap_peak {
        let _ = write!(l, "  heap {}", fmt_bytes(h));
    }
    for (b, v) in &r.ratios {
        let _ = write!(l, "  {v:.2}x {b}");
    }
    l
}

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Formats a byte count in KiB or MiB.
pub fn fmt_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

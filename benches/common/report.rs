//! The summary table: every sample with its absolute figures and its ratio
//! to the baselines it is compared with, then the targets, and the
//! spread of each target over several rounds of the whole bench.

use std::fmt::Write as _;

use super::{fmt_dur, Sample};

/// What a ratio compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Operations (records) per second.
    Ops,
    /// Payload bytes per second.
    Bytes,
    /// Median latency, in seconds: a ratio under it is a cost (lower is
    /// better), unlike the two rates above.
    P50,
    /// 99th-percentile latency, in seconds (a cost, like [`Metric::P50`]).
    P99,
}

impl Metric {
    fn of(self, s: &Sample) -> f64 {
        let secs = |q| s.percentile(q).map_or(f64::NAN, |d| d.as_secs_f64());
        match self {
            Metric::Ops => s.ops_per_sec(),
            Metric::Bytes => s.mb_per_sec(),
            Metric::P50 => secs(0.5),
            Metric::P99 => secs(0.99),
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
    /// `at_most`, at most this). `None` for a row reported for information.
    pub goal: Option<f64>,
    /// Whether the goal is an upper bound.
    pub at_most: bool,
    /// Unit for printing (`x` for ratios).
    pub unit: &'static str,
}

impl Target {
    /// Whether the run met the target (`None` for an informational row).
    pub fn met(&self) -> Option<bool> {
        let goal = self.goal?;
        Some(if self.at_most { self.measured <= goal } else { self.measured >= goal })
    }

    fn goal_text(&self) -> String {
        let cmp = if self.at_most { "<=" } else { ">=" };
        self.goal.map_or("-".into(), |g| format!("{cmp} {}{}", fmt_num(g), self.unit))
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

    /// The ratio `name / base` under `metric`, if both ran (and, for a
    /// latency metric, both measured latencies).
    pub fn ratio(&self, name: &str, base: &str, metric: Metric) -> Option<f64> {
        Some(metric.of(self.get(name)?) / metric.of(self.get(base)?)).filter(|r| r.is_finite())
    }

    /// Adds a sample, with its ratio to each of `bases` that already ran,
    /// and prints a one-line progress note.
    pub fn add(&mut self, name: impl Into<String>, sample: Sample, metric: Metric, bases: &[&str]) {
        let name = name.into();
        let ratios = bases
            .iter()
            .filter_map(|b| self.get(b).map(|s| (b.to_string(), metric.of(&sample) / metric.of(s))))
            .filter(|(_, r)| r.is_finite())
            .collect();
        let row = Row { name, sample, ratios };
        eprintln!("{}", line(&row));
        self.rows.push(row);
    }

    /// Records a target for a measured value (skipped if the value is missing).
    pub fn target(&mut self, what: &str, measured: Option<f64>, goal: f64, at_most: bool, unit: &'static str) {
        if let Some(measured) = measured {
            self.targets.push(Target { what: what.into(), measured, goal: Some(goal), at_most, unit });
        }
    }

    /// Records a measured value with no goal, for information (skipped if
    /// the value is missing).
    pub fn info(&mut self, what: &str, measured: Option<f64>, unit: &'static str) {
        if let Some(measured) = measured {
            self.targets.push(Target { what: what.into(), measured, goal: None, at_most: false, unit });
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
            let met = t.met().map_or("-", |m| if m { "yes" } else { "no" });
            let _ = writeln!(out, "| {} | {} | {}{} | {met} |", t.what, t.goal_text(), fmt_num(t.measured), t.unit);
        }
        out
    }
}

/// One target over several rounds: its median, its range, and in how many
/// rounds it was met.
#[derive(Debug)]
pub struct Spread {
    /// What is measured.
    pub what: String,
    /// The goal, as printed (`-` for an informational row).
    pub goal: String,
    /// Unit for printing.
    pub unit: &'static str,
    /// The measured values, one per round that measured it, sorted.
    pub values: Vec<f64>,
    /// Rounds that met the goal (`None` without a goal).
    pub met: Option<usize>,
}

impl Spread {
    /// The median value (the lower middle one of an even count).
    pub fn median(&self) -> f64 {
        self.values[(self.values.len() - 1) / 2]
    }
}

/// Every target of `rounds`, in the order first measured, with its values
/// across the rounds.
pub fn spreads(rounds: &[Report]) -> Vec<Spread> {
    let mut out: Vec<Spread> = Vec::new();
    for t in rounds.iter().flat_map(|r| &r.targets) {
        let i = match out.iter().position(|s| s.what == t.what) {
            Some(i) => i,
            None => {
                let met = t.goal.map(|_| 0);
                out.push(Spread { what: t.what.clone(), goal: t.goal_text(), unit: t.unit, values: vec![], met });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.values.push(t.measured);
        if let (Some(n), Some(true)) = (&mut s.met, t.met()) {
            *n += 1;
        }
    }
    for s in &mut out {
        s.values.sort_by(f64::total_cmp);
    }
    out
}

/// The targets over several rounds, as Markdown: median, range (min–max)
/// and the rounds that met each goal.
pub fn spread_table(rounds: &[Report]) -> String {
    let mut out = String::from("| target | goal | median | spread (min–max) | met |\n|---|---:|---:|---:|---|\n");
    for s in spreads(rounds) {
        let (lo, hi) = (s.values[0], s.values[s.values.len() - 1]);
        let met = s.met.map_or("-".into(), |n| format!("{n} of {}", s.values.len()));
        let _ = writeln!(
            out,
            "| {} | {} | {}{u} | {}–{}{u} | {met} |",
            s.what,
            s.goal,
            fmt_num(s.median()),
            fmt_num(lo),
            fmt_num(hi),
            u = s.unit
        );
    }
    out
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
    } else if v >= 0.1 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Formats a byte count in KiB, MiB or GiB.
pub fn fmt_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

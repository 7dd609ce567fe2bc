//! Criterion groups, one per target of the performance issue: in each, the
//! seawall workload and its baseline side by side, sized to take seconds,
//! then the ratio of the two printed.
//!
//! The ratio is printed twice: from criterion's mean estimates (read back
//! from `<target>/criterion/<group>/<function>/new/estimates.json`, when
//! this run wrote them), and from every iteration this process timed,
//! warm-up included. The two agree within noise; when they do not, the
//! estimate is the one to trust, as criterion discards nothing but sees
//! only its samples.

mod read;
mod write;

use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};

use crate::common::Scale;
use crate::suites::Fixtures;

/// A group of benchmarks on wall-clock time.
pub type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// The signature of every group: it runs its functions and returns the
/// ratio lines it printed.
type GroupFn = fn(&mut Criterion, &Scale, &mut Fixtures) -> Vec<String>;

/// Runs every group `wants` selects (by group name); returns the ratio
/// lines they printed.
pub fn run(c: &mut Criterion, scale: &Scale, fx: &mut Fixtures, wants: &dyn Fn(&str) -> bool) -> Vec<String> {
    let groups: [(&str, GroupFn); 7] = [
        ("replay", read::replay),
        ("open", read::open),
        ("random_read", read::random_read),
        ("bulk", write::bulk),
        ("group_commit", write::group_commit),
        ("buffered", write::buffered),
        ("new_ops", write::new_ops),
    ];
    groups.into_iter().filter(|(name, _)| wants(name)).flat_map(|(_, f)| f(c, scale, fx)).collect()
}

/// A group with few samples of equal size ("flat": the routines are slow or
/// bound by `fdatasync`) over `scale.criterion_time` of measured time, a
/// third of it to warm up.
pub fn group<'a>(c: &'a mut Criterion, name: &str, scale: &Scale) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(scale.criterion_time / 3)
        .measurement_time(scale.criterion_time)
        .sampling_mode(SamplingMode::Flat);
    g
}

/// Iterations and time of one benchmark function, as this process timed
/// them (every call of its routine, warm-up included).
#[derive(Debug, Default)]
pub struct Tally {
    iters: Cell<u64>,
    time: Cell<Duration>,
}

impl Tally {
    fn per_iter(&self) -> Option<f64> {
        let n = self.iters.get();
        (n > 0).then(|| self.time.get().as_secs_f64() / n as f64)
    }
}

/// Benchmarks `routine` (which runs `iters` iterations and returns the time
/// they took) as `id`, counting into `tally`.
pub fn bench(g: &mut Group<'_>, id: &str, tally: &Tally, mut routine: impl FnMut(u64) -> Duration) {
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let t = routine(iters);
            tally.iters.set(tally.iters.get() + iters);
            tally.time.set(tally.time.get() + t);
            t
        })
    });
}

/// Scales the time of a run of `done` iterations to `asked` (a run over
/// several writers rounds its count up to a multiple of them).
pub fn scaled(t: Duration, asked: u64, done: u64) -> Duration {
    t.mul_f64(asked as f64 / done.max(1) as f64)
}

/// How a ratio reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A rate: the baseline's time per iteration over seawall's (higher is better).
    Rate,
    /// A cost: seawall's time per iteration over the baseline's (lower is better).
    Cost,
}

/// One ratio of a group: seawall's function, its baseline's, and the goal.
pub struct Pair<'a> {
    /// The group.
    pub group: &'a str,
    /// Seawall's function and tally.
    pub ours: (&'a str, &'a Tally),
    /// The baseline's.
    pub base: (&'a str, &'a Tally),
    /// How the ratio reads.
    pub kind: Kind,
    /// The goal, for the printout (e.g. `>= 0.8x`), or a note.
    pub goal: &'a str,
}

/// Where criterion keeps its results: as criterion decides it, from
/// `CRITERION_HOME`, `CARGO_TARGET_DIR`, or the target directory this bench
/// was built in.
fn criterion_home() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return h.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or_else(|| PathBuf::from("target"), PathBuf::from).join("criterion")
}

/// Criterion's mean estimate for `group/id` in seconds per iteration, if
/// this run (since `since`) wrote it.
fn estimate(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_home().join(group).join(id).join("new").join("estimates.json");
    let fresh = std::fs::metadata(&path).and_then(|m| m.modified()).is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    Some(v["mean"]["point_estimate"].as_f64()? * 1e-9)
}

impl Pair<'_> {
    fn ratio(&self, ours: f64, base: f64) -> f64 {
        match self.kind {
            Kind::Rate => base / ours,
            Kind::Cost => ours / base,
        }
    }

    /// Prints the ratio and returns the line printed, if both functions ran.
    pub fn print(&self, since: SystemTime) -> Option<String> {
        let (o, b) = (self.ours.1.per_iter()?, self.base.1.per_iter()?);
        let word = if self.kind == Kind::Rate { "rate" } else { "time" };
        let mut line = format!("{}: {} / {} ({word}) = ", self.group, self.ours.0, self.base.0);
        match (estimate(self.group, self.ours.0, since), estimate(self.group, self.base.0, since)) {
            (Some(eo), Some(eb)) => line += &format!("{:.2}x from criterion's mean estimates, ", self.ratio(eo, eb)),
            _ => line += "(no fresh criterion estimates) ",
        }
        line += &format!("{:.2}x over every timed iteration; goal {}", self.ratio(o, b), self.goal);
        let line = format!("ratio {line}");
        println!("{line}");
        Some(line)
    }
}

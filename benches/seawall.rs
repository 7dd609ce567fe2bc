//! `cargo bench`: seawall against raw baselines and okaywal, every figure a
//! ratio to a baseline run in the same process (absolute times drift on a
//! shared machine).
//!
//! Runs seven suites (`durable`, `buffered`, `bulk`, `read` (replay),
//! `random_read`, `open`, `ops`), prints a Markdown table of results and one
//! of the performance targets, then runs one criterion group per target
//! (`replay`, `open`, `random_read`, `bulk`, `group_commit`, `buffered`,
//! `new_ops`), each printing the ratio of seawall to its baseline. A
//! positional argument filters suites and groups by name (`cargo bench
//! --bench seawall -- durable`).
//!
//! Environment: `SEAWALL_BENCH_ROUNDS` (runs of every suite in a row, each
//! with its own tables, then the spread of each target across them; default
//! 1; 0 runs the criterion groups alone), `SEAWALL_BENCH_SCALE` (factor on every size), `SEAWALL_BENCH_REPEAT`
//! (runs per durable, buffered, bulk or replay configuration within a round,
//! median kept; default 3), `SEAWALL_BENCH_BULK_MIB`, `SEAWALL_BENCH_READ_MIB`,
//! `SEAWALL_BENCH_OPEN_GIB` (largest log reopened, default 8),
//! `SEAWALL_BENCH_SEGMENT_MIB`, `SEAWALL_BENCH_DIR` (where logs are written),
//! `SEAWALL_BENCH_WRITERS` and `SEAWALL_BENCH_SIZES` (durable configurations,
//! e.g. `1,8,64` and `128`), `SEAWALL_BENCH_CRITERION=0` (skip criterion),
//! `SEAWALL_BENCH_CRITERION_SECS` (measured time per criterion function,
//! default 1). The criterion groups use the suites' sizes; the ratio lines
//! they print are listed again at the end.

mod common;
mod groups;
mod suites;

use common::report::spread_table;
use common::Scale;
use criterion::Criterion;
use suites::Fixtures;

#[global_allocator]
static ALLOC: common::alloc::Counting = common::alloc::Counting;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |suite: &str| filter.as_deref().is_none_or(|f| suite.contains(f) || f.contains(suite));
    let scale = Scale::from_env();
    let rounds = std::env::var("SEAWALL_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(1usize);
    eprintln!("scale: {scale:?}, {rounds} round(s)");
    // Logs that take long to build live here until the end of the process.
    let mut fx = Fixtures::default();
    let mut reports = Vec::new();
    for r in 1..=rounds {
        eprintln!("round {r} of {rounds}");
        let report = suites::round(&scale, &mut fx, &wants);
        println!("\n## Results, round {r} of {rounds}\n\n{}", report.table());
        println!("## Targets, round {r} of {rounds}\n\n{}", report.targets_table());
        reports.push(report);
    }
    if rounds > 0 {
        println!("## Targets over {rounds} round(s): median and spread\n\n{}", spread_table(&reports));
    }
    if std::env::var("SEAWALL_BENCH_CRITERION").as_deref() != Ok("0") {
        let mut c = Criterion::default().configure_from_args();
        let lines = groups::run(&mut c, &scale, &mut fx, &wants);
        c.final_summary();
        println!("\n## Criterion groups: ratios\n");
        for l in lines {
            println!("- {l}");
        }
    }
}

//! Shared benchmark harness: the workloads (seawall, raw baselines, okaywal),
//! the measurements criterion cannot give (percentiles, records per fsync,
//! peak heap), and the summary table of ratios against baselines run in the
//! same process.
//!
//! `benches/seawall.rs` runs every workload at full size; `tests/bench_smoke.rs`
//! runs the same functions at tiny sizes and checks what they wrote, so the
//! harness itself is tested by `cargo test`.
#![allow(dead_code)] // each user calls a subset

pub mod alloc;
pub mod lookup;
pub mod ops;
pub mod ours;
pub mod peer;
pub mod raw;
pub mod reopen;
pub mod report;

use std::path::PathBuf;
use std::time::Duration;

pub use report::{Metric, Report};

/// What one run of a workload measured.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Records (or, for raw reads and writes, calls) completed in the timed phase.
    pub ops: u64,
    /// Payload bytes moved in the timed phase.
    pub bytes: u64,
    /// Wall-clock time of the timed phase.
    pub elapsed: Duration,
    /// Per-operation latencies, sorted (empty when not measured).
    pub latencies: Vec<Duration>,
    /// Records and `fdatasync` calls over the whole run, when known.
    pub per_fsync: Option<(u64, u64)>,
    /// Peak heap above the starting point during the timed phase, when measured.
    pub heap_peak: Option<u64>,
    /// Time of each full batch of [`BATCH`] operations of one thread, in
    /// order (empty when not measured): a stall, such as a segment rotation
    /// that makes appenders wait, shows as a slow batch.
    pub batches: Vec<Duration>,
}

/// Operations per timed batch (see [`Sample::batches`]).
pub const BATCH: usize = 1 << 16;

impl Sample {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Payload megabytes (10^6) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile latency (nearest rank on the sorted vector).
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        Some(self.latencies[rank - 1])
    }

    /// Records per `fdatasync`.
    pub fn records_per_fsync(&self) -> Option<f64> {
        self.per_fsync.map(|(r, f)| r as f64 / f.max(1) as f64)
    }

    /// The slowest batch over the median batch (see [`Sample::batches`]).
    pub fn batch_spread(&self) -> Option<f64> {
        let mut b = self.batches.clone();
        b.sort_unstable();
        let (median, worst) = (*b.get((b.len().checked_sub(1)?) / 2)?, *b.last()?);
        Some(worst.as_secs_f64() / median.as_secs_f64().max(1e-9))
    }

    /// One sample of several runs of one workload (say, chunks interleaved
    /// with a baseline's): their counts and times added, latencies pooled.
    pub fn merge(parts: Vec<Sample>) -> Sample {
        let mut m = Sample::default();
        let mut lats = Vec::new();
        for p in parts {
            m.ops += p.ops;
            m.bytes += p.bytes;
            m.elapsed += p.elapsed;
            lats.push(p.latencies);
        }
        m.with_latencies(lats)
    }

    /// Sorts latencies gathered per thread.
    pub fn with_latencies(mut self, per_thread: Vec<Vec<Duration>>) -> Sample {
        self.latencies = per_thread.into_iter().flatten().collect();
        self.latencies.sort_unstable();
        self
    }
}

/// Of several runs of one workload, the one with the median throughput:
/// robust against a neighbour's burst of I/O hitting a single run.
pub fn median(mut runs: Vec<Sample>) -> Sample {
    assert!(!runs.is_empty(), "at least one run");
    runs.sort_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
    runs.swap_remove(runs.len() / 2)
}

/// Sizes of the workloads. [`Scale::from_env`] gives the `cargo bench`
/// defaults, scaled by environment variables; [`Scale::smoke`] the tiny sizes
/// of the smoke test.
#[derive(Clone, Debug)]
pub struct Scale {
    /// Timed durable appends per configuration (all writers together).
    pub durable_ops: usize,
    /// Runs of each durable configuration (interleaved; the median is kept).
    pub repeat: usize,
    /// Most records per buffered-append configuration.
    pub buffered_records: usize,
    /// Most payload bytes per buffered-append configuration.
    pub buffered_bytes: u64,
    /// Payload bytes of the bulk workload.
    pub bulk_bytes: u64,
    /// Payload bytes of the log that is opened and read.
    pub read_bytes: u64,
    /// Segment size for seawall logs.
    pub segment_size: u64,
    /// Payload bytes of the largest log the open workload reopens.
    pub open_bytes: u64,
    /// Payload bytes of its mid-size log.
    pub open_mid_bytes: u64,
    /// Opens of each log (interleaved; the median is reported).
    pub open_reps: usize,
    /// Random `read`s (and as many `pread`s).
    pub random_reads: usize,
    /// Ranges of 64 records read (and as many sets of `pread`s).
    pub ranges: usize,
    /// Calls of each new operation and of its baseline.
    pub ops_iters: usize,
    /// Measured time of each criterion function (its warm-up is a third).
    pub criterion_time: Duration,
}

fn env_f64(name: &str) -> Option<f64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

impl Scale {
    /// Defaults, scaled by `SEAWALL_BENCH_SCALE` (a factor on every count,
    /// default 1), `SEAWALL_BENCH_REPEAT` (default 3), `SEAWALL_BENCH_BULK_MIB`
    /// (default 256), `SEAWALL_BENCH_READ_MIB` (default 1024),
    /// `SEAWALL_BENCH_BUFFERED_MIB` (default 128) and
    /// `SEAWALL_BENCH_SEGMENT_MIB` (seawall's segment size, default 64),
    /// `SEAWALL_BENCH_OPEN_GIB` (the largest log reopened, default 8; the
    /// mid-size one is 1 GiB, scaled too), and `SEAWALL_BENCH_CRITERION_SECS`
    /// (measured time of each criterion function, default 1). The criterion
    /// groups read and write logs of the suites' sizes.
    pub fn from_env() -> Scale {
        let f = env_f64("SEAWALL_BENCH_SCALE").unwrap_or(1.0).max(0.001);
        let mib = |name, default: f64| (env_f64(name).unwrap_or(default) * f * 1048576.0) as u64;
        let count = |n: f64, min: usize| ((n * f) as usize).max(min);
        Scale {
            durable_ops: ((2000.0 * f) as usize).max(64),
            repeat: env_f64("SEAWALL_BENCH_REPEAT").map_or(3, |r| r.max(1.0) as usize),
            buffered_records: ((1_000_000.0 * f) as usize).max(1000),
            buffered_bytes: mib("SEAWALL_BENCH_BUFFERED_MIB", 128.0),
            bulk_bytes: mib("SEAWALL_BENCH_BULK_MIB", 256.0),
            read_bytes: mib("SEAWALL_BENCH_READ_MIB", 1024.0),
            segment_size: env_f64("SEAWALL_BENCH_SEGMENT_MIB").map_or(64 << 20, |m| (m * 1048576.0) as u64),
            open_bytes: mib("SEAWALL_BENCH_OPEN_GIB", 8.0) << 10,
            open_mid_bytes: (f * (1u64 << 30) as f64) as u64,
            open_reps: 7,
            random_reads: count(100_000.0, 1000),
            ranges: count(5000.0, 100),
            ops_iters: count(200.0, 20),
            criterion_time: Duration::from_secs_f64(env_f64("SEAWALL_BENCH_CRITERION_SECS").unwrap_or(1.0).max(0.01)),
        }
    }

    /// Segments of the logs the open workload reopens: one, a mid size and
    /// the largest, each at least one more than the one before.
    pub fn open_segments(&self) -> Vec<usize> {
        let segs = |bytes: u64| (bytes / self.segment_size) as usize;
        let big = segs(self.open_bytes).max(3);
        let mid = segs(self.open_mid_bytes).clamp(2, big - 1);
        vec![1, mid, big]
    }

    /// Tiny sizes that exercise every code path (several segments included).
    pub fn smoke() -> Scale {
        Scale {
            durable_ops: 128,
            repeat: 1,
            buffered_records: 2000,
            buffered_bytes: 1 << 20,
            bulk_bytes: 1 << 20,
            read_bytes: 1 << 20,
            segment_size: 256 << 10,
            open_bytes: 5 << 18,
            open_mid_bytes: 3 << 18,
            open_reps: 2,
            random_reads: 500,
            ranges: 20,
            ops_iters: 5,
            criterion_time: Duration::from_millis(20),
        }
    }
}

/// Where benchmark logs live: `SEAWALL_BENCH_DIR`, or cargo's scratch
/// directory for this package (on the disk being measured, unlike a tmpfs
/// `/tmp`).
pub fn scratch_root() -> PathBuf {
    std::env::var_os("SEAWALL_BENCH_DIR").map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
}

/// A fresh, empty directory that is removed when dropped.
pub fn scratch(name: &str) -> tempfile::TempDir {
    let root = scratch_root();
    std::fs::create_dir_all(&root).expect("create the scratch root");
    tempfile::Builder::new().prefix(name).tempdir_in(root).expect("create a scratch directory")
}

/// The payload of record `i` of writer `w`: its identity in the first 12
/// bytes (so a test can check every record landed exactly once), then a
/// filler byte.
pub fn payload(w: usize, i: usize, size: usize) -> Vec<u8> {
    let mut p = vec![w as u8 ^ 0x5a; size];
    let id = ((w as u64) << 40 | i as u64).to_le_bytes();
    let n = size.min(8);
    p[..n].copy_from_slice(&id[..n]);
    p
}

/// Decodes what [`payload`] put in a record of at least 8 bytes: `(writer, index)`.
pub fn payload_id(p: &[u8]) -> (usize, usize) {
    let id = u64::from_le_bytes(p[..8].try_into().expect("8 bytes"));
    ((id >> 40) as usize, (id & ((1 << 40) - 1)) as usize)
}

/// Splits `total` operations over `writers` (at least one each).
pub fn per_writer(total: usize, writers: usize) -> usize {
    total.div_ceil(writers).max(1)
}

/// Formats a duration in µs or ms.
pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

//! `seawall bench`: concurrent writers against a real directory, then a raw
//! `pwrite` + `fdatasync` baseline on a preallocated file for comparison.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seawall::{Options, Wal};

use crate::common::{self, human_bytes, say, Exit, Failure, Progress};

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the log: absent or empty (default: a temporary directory, removed afterwards).
    dir: Option<PathBuf>,
    /// Concurrent writer threads.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    writers: u32,
    /// Payload size of each record, in bytes.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=(8 << 20)))]
    record_size: u64,
    /// Records to append in total.
    #[arg(long, default_value_t = 20_000, conflicts_with = "duration")]
    records: u64,
    /// Append for this many seconds instead of a fixed number of records.
    #[arg(long)]
    duration: Option<f64>,
    /// Buffered appends (`append`) instead of durable ones (`append_durable`).
    #[arg(long)]
    no_sync: bool,
    /// Do not preallocate segment files: every sync then also persists the
    /// file's growth (compare with a default run to see what preallocation buys).
    #[arg(long)]
    no_preallocate: bool,
    /// Operations of the raw baseline (default: as many as the benchmark did, at most 2000).
    #[arg(long)]
    baseline_ops: Option<u64>,
}

/// When the writers stop.
#[derive(Clone, Copy)]
enum Until {
    Records(u64),
    Deadline(Instant),
}

struct Outcome {
    records: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    let until = match args.duration {
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
            Until::Deadline(Instant::now() + Duration::from_secs_f64(s))
        }
        Some(s) => return Err(Failure::bad_args(format!("--duration {s} must lie in (0, 86400] seconds"))),
        None => Until::Records(args.records),
    };
    let temp;
    let dir: &Path = match &args.dir {
        Some(d) => {
            common::check_fresh_dir(d, "bench")?;
            d
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("seawall-bench")
                .tempdir()
                .map_err(|e| Failure::failed(format!("creating a temporary directory: {e}")))?;
            temp.path()
        }
    };
    let mode = if args.no_sync { "buffered appends (append)" } else { "durable appends (append_durable)" };
    let amount = match until {
        Until::Records(n) => format!("{n} records"),
        Until::Deadline(_) => format!("{} s", args.duration.unwrap_or_default()),
    };
    let place = if args.dir.is_some() { dir.display().to_string() } else { "a temporary directory".into() };
    let writers = if args.writers == 1 { "1 writer".to_string() } else { format!("{} writers", args.writers) };
    say!("seawall bench: {writers}, {amount} of {} bytes, {mode}, in {place}", args.record_size)?;

    let (wal, _) = Wal::open(dir, Options::default().preallocate(!args.no_preallocate))?;
    let outcome = drive(&wal, &args, until)?;
    let stats = wal.stats();
    wal.close()?;
    report(&args, &outcome, &stats)?;

    if args.no_sync {
        say!("baseline: skipped (--no-sync measures no fsyncs)")?;
        return Ok(Exit::Ok);
    }
    let ops = args.baseline_ops.unwrap_or(outcome.records.min(2000)).max(1);
    let base = baseline(dir, args.record_size, ops)?;
    let base_rate = base.records as f64 / base.elapsed.as_secs_f64();
    let rate = outcome.records as f64 / outcome.elapsed.as_secs_f64();
    say!("baseline: raw pwrite + fdatasync of one record at a time, 1 writer, preallocated file")?;
    say!("  operations   {} in {:.2} s: {:.0} ops/s", base.records, base.elapsed.as_secs_f64(), base_rate)?;
    say!("  latency      {}", latencies(&base.latency))?;
    say!("  ratio        seawall durable appends / raw fdatasyncs = {:.2}x", rate / base_rate)?;
    Ok(Exit::Ok)
}

fn progress(until: Until) -> ProgressBar {
    let (len, template) = match until {
        Until::Records(n) => (n, "appending [{bar:30}] {human_pos}/{human_len} (eta {eta})"),
        Until::Deadline(d) => {
            let ms = d.saturating_duration_since(Instant::now()).as_millis() as u64;
            (ms, "appending [{bar:30}] {elapsed} ({msg} records)")
        }
    };
    // indicatif draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs the writers until `until`; returns what they did and their latencies.
fn drive(wal: &Wal, args: &Args, until: Until) -> Result<Outcome, Failure> {
    let payload = vec![0xA5u8; args.record_size as usize];
    let claimed = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let bar = progress(until);
    let start = Instant::now();
    let end_ms = match until {
        Until::Deadline(d) => d.saturating_duration_since(start).as_millis() as u64,
        Until::Records(_) => 0,
    };
    let results: Vec<Result<Histogram<u64>, Failure>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.writers)
            .map(|_| {
                s.spawn(|| {
                    let mut h = histogram();
                    loop {
                        match until {
                            Until::Records(n) if claimed.fetch_add(1, Ordering::Relaxed) >= n => break,
                            Until::Deadline(d) if Instant::now() >= d => break,
                            _ => {}
                        }
                        let t = Instant::now();
                        if args.no_sync {
                            wal.append(&payload)?;
                        } else {
                            wal.append_durable(&payload)?;
                        }
                        let _ = h.record(t.elapsed().as_nanos().max(1) as u64);
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        match until {
                            Until::Records(_) => bar.set_position(n),
                            Until::Deadline(_) => {
                                bar.set_position((start.elapsed().as_millis() as u64).min(end_ms));
                                bar.set_message(n.to_string());
                            }
                        }
                    }
                    Ok::<_, seawall::Error>(h)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r.map_err(Failure::from),
                Err(_) => Err(Failure::failed("a writer thread panicked")),
            })
            .collect()
    });
    if args.no_sync {
        wal.sync(wal.last_lsn())?;
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let mut latency = histogram();
    for r in results {
        latency.add(r?).map_err(|e| Failure::failed(format!("merging latencies: {e}")))?;
    }
    Ok(Outcome { records: done.load(Ordering::Relaxed), elapsed, latency })
}

fn histogram() -> Histogram<u64> {
    // 1 ns to 10 minutes, 3 significant digits; values above are clamped.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

fn ms(nanos: u64) -> String {
    format!("{:.3} ms", nanos as f64 / 1e6)
}

fn latencies(h: &Histogram<u64>) -> String {
    format!(
        "p50 {}  p99 {}  p99.9 {}  max {}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

fn report(args: &Args, o: &Outcome, stats: &seawall::Stats) -> Result<(), Failure> {
    let secs = o.elapsed.as_secs_f64();
    let bytes = o.records * args.record_size;
    say!("  records      {} in {secs:.2} s", o.records)?;
    say!(
        "  throughput   {:.0} ops/s, {}/s of payload",
        o.records as f64 / secs,
        human_bytes((bytes as f64 / secs) as u64)
    )?;
    say!("  latency      {}", latencies(&o.latency))?;
    let per = if stats.fsyncs > 0 { format!("{:.2}", stats.appends as f64 / stats.fsyncs as f64) } else { "-".into() };
    say!(
        "  fsyncs       {} for {} records: {per} records per fsync (largest group commit: {})",
        stats.fsyncs,
        stats.appends,
        stats.max_group
    )?;
    Ok(())
}

/// One writer doing `pwrite` + `fdatasync` of one record-sized block at a
/// time into a preallocated file: the cost of durability without a log.
fn baseline(dir: &Path, record_size: u64, ops: u64) -> Result<Outcome, Failure> {
    let path = dir.join("baseline.dat");
    let io = |e: std::io::Error| Failure::failed(format!("baseline file {}: {e}", path.display()));
    let block = seawall::format::record_size(record_size);
    let file: File = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path).map_err(io)?;
    if rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, block * ops).is_err() {
        file.set_len(block * ops).map_err(io)?; // a file system without fallocate
    }
    file.sync_all().map_err(io)?;
    let data = vec![0x5Au8; block as usize];
    let mut latency = histogram();
    let mut progress = Progress::new(ops, "baseline");
    let start = Instant::now();
    for i in 0..ops {
        let t = Instant::now();
        file.write_all_at(&data, i * block).map_err(io)?;
        file.sync_data().map_err(io)?;
        let _ = latency.record(t.elapsed().as_nanos().max(1) as u64);
        progress.inc(1);
    }
    let elapsed = start.elapsed();
    progress.finish();
    drop(file);
    std::fs::remove_file(&path).map_err(io)?;
    Ok(Outcome { records: ops, elapsed, latency })
}

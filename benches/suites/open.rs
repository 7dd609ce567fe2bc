//! The open suite: reopening clean logs of 1 segment to the largest size,
//! warm, must cost O(segments + tail), not O(bytes); and the verifying scan,
//! which reads everything, against a raw read of the same files.

use crate::common::report::fmt_bytes;
use crate::common::{ours, raw, reopen, Metric, Report, Scale};
use crate::suites::Fixtures;

/// Goal for the median open + close of the largest log, in milliseconds.
const OPEN_MS: f64 = 50.0;

/// Builds the logs once per process (kept in `fx` for later rounds), warms
/// them, and times `Wal::open` + `close` of each, interleaved.
pub fn open(scale: &Scale, report: &mut Report, fx: &mut Fixtures) {
    let opts = ours::options(scale.segment_size);
    if fx.open_logs.is_empty() {
        let record = reopen::record_size(scale.segment_size);
        let cap = reopen::capacity(&opts, record);
        eprintln!("open: a full segment holds {} records of {record} bytes ({} in the first)", cap.1, cap.0);
        for n in scale.open_segments() {
            let t0 = std::time::Instant::now();
            let log = reopen::build(&opts, n, record, cap);
            eprintln!("open: built {n} segments, {} in {:.1?}", fmt_bytes(log.bytes()), t0.elapsed());
            fx.open_logs.push(log);
        }
    }
    for log in &fx.open_logs {
        raw::sequential_read(&log.files); // warm the page cache
    }
    let logs: Vec<&reopen::SegmentLog> = fx.open_logs.iter().collect();
    eprintln!("open: {} opens of each log", scale.open_reps);
    let samples = reopen::open_times(&logs, &opts, scale.open_reps);
    let name = |log: &reopen::SegmentLog| {
        format!("seawall open + close, {} segments ({})", log.segments, fmt_bytes(log.bytes()))
    };
    let small = name(logs[0]);
    for (log, s) in logs.iter().zip(samples) {
        let bases: &[&str] = if log.segments == 1 { &[] } else { &[&small] };
        report.add(name(log), s, Metric::P50, bases);
    }
    let big = *logs.last().expect("logs");
    let big_ms = report.get(&name(big)).and_then(|s| s.percentile(0.5)).map(|d| d.as_secs_f64() * 1e3);
    let what = format!("open: {} segments, warm: median open + close", big.segments);
    report.target(&what, big_ms, OPEN_MS, true, " ms");
    let what = format!("open: {} segments / 1 segment: median open + close", big.segments);
    report.target(&what, report.ratio(&name(big), &small, Metric::P50), 2.0, true, "x");
    eprintln!("open: verifying {}", fmt_bytes(big.bytes()));
    let raw_name = format!("raw sequential read, {} segments", big.segments);
    report.add(&raw_name, raw::sequential_read(&big.files), Metric::Bytes, &[]);
    let verify = format!("seawall Reader::verify, {} segments", big.segments);
    report.add(&verify, reopen::verify(big), Metric::Bytes, &[&raw_name]);
    let what = format!("(context) verify {} segments: seawall / raw sequential read", big.segments);
    report.info(&what, report.ratio(&verify, &raw_name, Metric::Bytes), "x");
}

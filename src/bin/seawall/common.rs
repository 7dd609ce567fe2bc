//! What the commands share: exit statuses, error mapping, opening a log
//! read-only, the writer check, aligned tables and delayed progress bars.

/// `println!` for command output, returning a `Result<(), Failure>` instead
/// of panicking when stdout fails: a closed pipe then ends the command
/// quietly (see `Failure::from`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::common::Failure::from)
    }};
}
pub(crate) use say;

use std::fmt::Display;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seawall::{Bytes, Error, Reader, RemovalReason, SegmentState, TailState};

/// The documented exit statuses (see `EXIT_CODES` in the binary's root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    TornTail = 1,
    Corruption = 2,
    NotALog = 3,
    Locked = 4,
    BadArgs = 5,
    Failed = 6,
}

impl Exit {
    /// The status as one word, for JSON output (`"status"`).
    pub fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::TornTail => "torn",
            Exit::Corruption => "corrupt",
            Exit::NotALog => "unreadable",
            Exit::Locked => "locked",
            Exit::BadArgs => "bad-arguments",
            Exit::Failed => "failed",
        }
    }
}

/// A command that could not do its work: one line for stderr and a status.
///
/// A failure with status `Exit::Ok` is a reader that stopped reading (a
/// closed pipe, as in `seawall dump DIR | head`): the command ends quietly.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Display) -> Failure {
        Failure { exit, message: message.to_string() }
    }

    pub fn bad_args(message: impl Display) -> Failure {
        Failure::new(Exit::BadArgs, message)
    }

    pub fn failed(message: impl Display) -> Failure {
        Failure::new(Exit::Failed, message)
    }

    /// Stdout was closed by its reader: stop, print nothing, exit 0.
    pub fn output_closed() -> Failure {
        Failure::new(Exit::Ok, "output closed")
    }

    pub fn is_output_closed(&self) -> bool {
        self.exit == Exit::Ok
    }
}

/// The exit status a library error maps to.
pub fn exit_of(e: &Error) -> Exit {
    match e {
        Error::TornTail { .. } => Exit::TornTail,
        Error::Corruption { .. } => Exit::Corruption,
        Error::NotALog { .. } | Error::UnsupportedVersion { .. } | Error::Io { .. } | Error::BadFile { .. } => {
            Exit::NotALog
        }
        Error::Locked { .. } => Exit::Locked,
        Error::LsnOutOfRange { .. } | Error::InvalidOption { .. } | Error::InsideBatch { .. } => Exit::BadArgs,
        _ => Exit::Failed,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(exit_of(&e), e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        // Only output can fail this way (a closed pipe, a full disk). Rust
        // ignores SIGPIPE, so a reader that stops early shows up here as
        // EPIPE: that is the reader's choice, not a failure.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::output_closed();
        }
        Failure::failed(format!("writing output: {e}"))
    }
}

/// Opens `dir` with the read-only `Reader` (no lock, no change), with a
/// spinner on a terminal if the scan takes longer than a second.
pub fn open_reader(dir: &Path) -> Result<Reader, Failure> {
    with_spinner("scanning segments", || Reader::open(dir)).map_err(Failure::from)
}

/// Opens `dir` with [`Reader::verify`]: every record of every segment is
/// checked, sealed ones included (which [`open_reader`] trusts through
/// their trailers).
pub fn verify_reader(dir: &Path) -> Result<Reader, Failure> {
    with_spinner("checking every record", || Reader::verify(dir)).map_err(Failure::from)
}

/// Checks that `dir` is absent or empty: commands that write a fresh log
/// (`bench`, `demo`) must never touch an existing one.
pub fn check_fresh_dir(dir: &Path, command: &str) -> Result<(), Failure> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::bad_args(format!("{} is not empty; {command} writes a fresh log", dir.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::new(Exit::NotALog, format!("{}: {e}", dir.display()))),
    }
}

/// Whether a process holds the log's lock, i.e. has it open for writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// No process holds the lock.
    None,
    /// A process holds it: records at the tail may still be in flight.
    Active,
    /// The lock table could not be consulted.
    Unknown,
}

impl Writer {
    pub fn as_str(self) -> &'static str {
        match self {
            Writer::None => "none",
            Writer::Active => "active",
            Writer::Unknown => "unknown",
        }
    }

    /// A sentence for human output.
    pub fn note(self) -> &'static str {
        match self {
            Writer::None => "no process has the log open",
            Writer::Active => "a process has the log open: records at the tail may still be in flight",
            Writer::Unknown => "if a process has the log open, records at the tail may still be in flight",
        }
    }
}

/// Looks for a lock on `DIR/LOCK` in the kernel's lock table (`/proc/locks`)
/// instead of trying to take it: even a brief `try_lock` would make a
/// database that opens the log at that instant fail with `Locked`.
pub fn writer_state(dir: &Path) -> Writer {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(dir.join(seawall::format::LOCK_FILE)) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Writer::None,
        Err(_) => return Writer::Unknown,
    };
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return Writer::Unknown;
    };
    // Linux encodes dev_t as major (bits 8..20 and 32..) and minor (bits 0..8 and 20..32).
    let dev = meta.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let wanted = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let held = table.lines().any(|line| line.split_whitespace().any(|field| field == wanted));
    if held {
        Writer::Active
    } else {
        Writer::None
    }
}

/// A segment's state as one word (plus the reason for a corrupt one).
pub fn state_name(s: SegmentState) -> String {
    match s {
        SegmentState::Sealed => "sealed".into(),
        SegmentState::Active => "active".into(),
        SegmentState::Unused => "unused".into(),
        SegmentState::TornHeader => "torn-header".into(),
        SegmentState::Superseded => "superseded".into(),
        SegmentState::Corrupt(r) => format!("corrupt ({r})"),
        SegmentState::AfterCorruption => "after-corruption".into(),
        SegmentState::AfterTornSeal => "after-torn-seal".into(),
        _ => s.to_string(),
    }
}

/// Why recovery removes a segment, in words.
pub fn removal_reason(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::Superseded => "superseded by a later segment (a truncate_after cut)",
        RemovalReason::Unused => "unused: created ahead of need, never written",
        RemovalReason::TornHeader => "its header was torn before any record was written",
        _ => "no longer part of the log",
    }
}

/// One human sentence for the tail's state.
pub fn tail_sentence(tail: &TailState) -> String {
    match tail {
        TailState::Clean => "clean: only unwritten space follows the last record".into(),
        TailState::Torn { segment, offset, bytes, last_lsn } => format!(
            "torn: segment {segment} at offset {offset}: {bytes} bytes after LSN {last_lsn}; a normal open drops them"
        ),
        TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => format!(
            "corrupt: segment {segment} at offset {offset} (LSN {lsn}): {reason}; \
             {valid_records_after} valid records follow; a normal open refuses"
        ),
    }
}

/// The tail as a JSON object with stable field names.
pub fn tail_json(tail: &TailState) -> serde_json::Value {
    use serde_json::json;
    match tail {
        TailState::Clean => json!({ "state": "clean" }),
        TailState::Torn { segment, offset, bytes, last_lsn } => json!({
            "state": "torn", "segment": segment.file_name(), "offset": offset, "bytes": bytes,
            "last_lsn": last_lsn.get(),
        }),
        TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => json!({
            "state": "corrupt", "segment": segment.file_name(), "offset": offset, "lsn": lsn.get(),
            "reason": reason.to_string(), "valid_records_after": valid_records_after,
        }),
    }
}

/// Metadata entries as `key = value` lines, each side as text (escaped) when
/// it is UTF-8, else as `0x` and hex.
pub fn meta_lines(metas: &std::collections::BTreeMap<Bytes, Bytes>) -> Vec<String> {
    let shown = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => format!("\"{}\"", s.escape_debug()),
        Err(_) => b.iter().fold("0x".to_string(), |acc, x| acc + &format!("{x:02x}")),
    };
    metas.iter().map(|(k, v)| format!("{} = {}", shown(k), shown(v))).collect()
}

/// Metadata entries as a JSON array of objects, each side as UTF-8 or
/// base64 (`key_encoding`, `value_encoding` say which), in key order.
pub fn meta_json(metas: &std::collections::BTreeMap<Bytes, Bytes>) -> serde_json::Value {
    use base64::Engine;
    let encode = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => ("utf8", s.to_string()),
        Err(_) => ("base64", base64::engine::general_purpose::STANDARD.encode(b)),
    };
    metas
        .iter()
        .map(|(k, v)| {
            let ((ke, k), (ve, v)) = (encode(k), encode(v));
            serde_json::json!({ "key": k, "key_encoding": ke, "value": v, "value_encoding": ve })
        })
        .collect()
}

/// Prints rows as a table: columns padded to their widest cell; columns
/// whose index is in `right` are right-aligned (numbers).
pub fn table(out: &mut impl std::io::Write, rows: &[Vec<String>], right: &[usize]) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let w = widths[c];
            let last = c + 1 == row.len();
            if right.contains(&c) {
                line.push_str(&format!("{cell:>w$}"));
            } else if last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}"));
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `n` and a noun, plural when `n != 1` (`1 segment file`, `2 segment files`).
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Bytes as a short human figure (`1.5 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// How long work runs before a progress bar or spinner appears: one second,
/// or `SEAWALL_PROGRESS_DELAY_MS` milliseconds. The variable exists so that
/// tests can draw bars on work that takes milliseconds; it never makes a
/// bar appear where one would not (stderr not a terminal, or records being
/// printed to the same terminal).
fn show_after() -> Duration {
    let ms = std::env::var("SEAWALL_PROGRESS_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    Duration::from_millis(ms)
}

/// Whether stdout is the terminal that stderr draws on. Records printed
/// there while a bar is redrawn below them would get the bar's text inside
/// their lines, so a command that prints as it goes shows no bar then: the
/// scrolling records are progress enough.
fn stdout_shares_the_terminal() -> bool {
    let (out, err) = (std::io::stdout(), std::io::stderr());
    if !out.is_terminal() || !err.is_terminal() {
        return false;
    }
    match (rustix::fs::fstat(&out), rustix::fs::fstat(&err)) {
        (Ok(a), Ok(b)) => a.st_rdev == b.st_rdev,
        _ => true, // cannot tell: assume the common case
    }
}

/// A progress bar on stderr that stays hidden unless stderr is a terminal
/// and the work has already taken longer than a second.
pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    delay: Duration,
    pending: bool,
}

impl Progress {
    /// A bar for work that prints nothing to stdout until it is done.
    pub fn new(len: u64, what: &str) -> Progress {
        Progress::build(len, what, std::io::stderr().is_terminal())
    }

    /// A bar for work that prints to stdout as it goes (`dump`): never drawn
    /// when stdout is the same terminal (see `stdout_shares_the_terminal`).
    pub fn beside_output(len: u64, what: &str) -> Progress {
        Progress::build(len, what, std::io::stderr().is_terminal() && !stdout_shares_the_terminal())
    }

    fn build(len: u64, what: &str, drawable: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} (eta {eta})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        Progress { bar, start: Instant::now(), delay: show_after(), pending: drawable }
    }

    /// Advances by `n` and shows the bar once the work has run long enough.
    pub fn inc(&mut self, n: u64) {
        self.bar.inc(n);
        if self.pending && self.start.elapsed() >= self.delay {
            self.pending = false;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// Runs `work` on this thread; a helper thread shows a spinner on a
/// terminal if the work is still running after a second. Nothing is printed
/// to stdout meanwhile, and the spinner is cleared before this returns.
pub fn with_spinner<T>(what: &str, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let delay = show_after();
    let (done, wait) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            if wait.recv_timeout(delay) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::new_spinner();
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            let _ = wait.recv();
            bar.finish_and_clear();
        });
        let out = work();
        drop(done);
        out
    })
}

//! Counters of the work a log has done, for tests, benchmarks and operators.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, updated with relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub appends: AtomicU64,
    pub writes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub bytes_written: AtomicU64,
    pub group_commits: AtomicU64,
    pub max_group: AtomicU64,
    pub blocks_read_ahead: AtomicU64,
}

/// A snapshot of a log's counters since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records appended.
    pub appends: u64,
    /// `write` calls to segment files.
    pub writes: u64,
    /// `fdatasync` calls on segment files (data syncs; directory syncs and
    /// syncs of freshly created segments are not counted).
    pub fsyncs: u64,
    /// Bytes written to segment files, headers and padding included.
    pub bytes_written: u64,
    /// Flushes that made records durable for at least one waiting `sync`.
    pub group_commits: u64,
    /// Most `sync` callers served by one flush.
    pub max_group: u64,
    /// Blocks the log's iterators took from a read-ahead thread
    /// ([`crate::Options::read_ahead`]).
    pub blocks_read_ahead: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            appends: l(&self.appends),
            writes: l(&self.writes),
            fsyncs: l(&self.fsyncs),
            bytes_written: l(&self.bytes_written),
            group_commits: l(&self.group_commits),
            max_group: l(&self.max_group),
            blocks_read_ahead: l(&self.blocks_read_ahead),
        }
    }
}

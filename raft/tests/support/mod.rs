//! Shared helpers of the tests: entries whose bytes derive from their log
//! id, a plain model of what the log store must hold, a check of a store
//! against it, seeded choices, and node processes (`cluster`).

#![allow(dead_code)] // each test file uses its own subset

pub mod cluster;

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, SystemTime};

use openraft::storage::RaftLogStorage;
use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader};
use seawall_raft::log_store::SeawallLogStore;
use seawall_raft::types::{Entry, LogId, Request, Vote};

/// The log id of `index` written in `term` (by node 1).
pub fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// SplitMix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How long one store test may take before it is declared hung: generous,
/// for a loaded two-core machine; it never decides a result, it only ends a
/// hang (a callback seawall never delivers, a read that never returns).
pub const WATCHDOG: Duration = Duration::from_secs(300);

/// Runs `f` on its own thread and returns what it returns; panics with
/// `what` if it has not finished within [`WATCHDOG`] (the thread is left
/// behind), and passes on its panic if it panics.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => v,
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {WATCHDOG:?}"),
    }
}

/// The seed of a run's choices: `SEAWALL_SEED` (hex) replays a run; by
/// default, the clock.
pub fn seed() -> u64 {
    match std::env::var("SEAWALL_SEED") {
        Ok(v) => u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("SEAWALL_SEED is hex"),
        Err(_) => SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64),
    }
}

/// Seeded choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0) % n.max(1)
    }
}

/// The entry at `index` written in `term`: a `Set` whose value (10 to 300
/// bytes) derives from both, so any entry read back can be checked.
pub fn entry(term: u64, index: u64) -> Entry {
    Entry { log_id: log_id(term, index), payload: EntryPayload::Normal(request(term, index)) }
}

fn request(term: u64, index: u64) -> Request {
    let h = mix(term.wrapping_mul(0x1_0000_0001) ^ index);
    let len = 10 + (h % 291) as usize;
    let value: String = (0..len).map(|k| char::from(b'a' + (mix(h ^ k as u64) % 26) as u8)).collect();
    Request::Set { key: format!("k{index}"), value }
}

/// Entries `first..first + count` of `term`.
pub fn entries(term: u64, first: u64, count: u64) -> Vec<Entry> {
    (first..first + count).map(|i| entry(term, i)).collect()
}

/// Panics unless `e` is exactly the entry `entry(term, index)` for its own log id.
pub fn assert_genuine(e: &Entry) {
    assert_eq!(e, &entry(e.log_id.leader_id.term, e.log_id.index), "entry {} holds other bytes", e.log_id);
}

/// What a log store must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub purged: Option<LogId>,
    /// Index -> term of every entry after the purge point.
    pub log: BTreeMap<u64, u64>,
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
}

impl Model {
    pub fn append(&mut self, es: &[Entry]) {
        for e in es {
            self.log.insert(e.log_id.index, e.log_id.leader_id.term);
        }
    }

    pub fn truncate(&mut self, index: u64) {
        self.log.split_off(&index);
    }

    pub fn purge(&mut self, id: LogId) {
        if self.purged >= Some(id) {
            return;
        }
        self.purged = Some(id);
        self.log = self.log.split_off(&(id.index + 1));
    }

    pub fn last_log_id(&self) -> Option<LogId> {
        self.log.iter().next_back().map(|(&i, &t)| log_id(t, i)).or(self.purged)
    }

    /// The index the next entry must have.
    pub fn next_index(&self) -> u64 {
        self.last_log_id().map_or(0, |l| l.index + 1)
    }

    pub fn log_id_at(&self, index: u64) -> LogId {
        log_id(self.log[&index], index)
    }
}

/// Reads everything a store holds into a model, checking that the entries
/// are gap-free and genuine and that the log state agrees with them.
pub async fn read_model(store: &mut SeawallLogStore) -> Model {
    let state = store.get_log_state().await.expect("get_log_state");
    let all = store.try_get_log_entries(0..).await.expect("read the log");
    let mut m = Model {
        purged: state.last_purged_log_id,
        vote: store.read_vote().await.expect("read_vote"),
        committed: store.read_committed().await.expect("read_committed"),
        ..Model::default()
    };
    for w in all.windows(2) {
        assert_eq!(w[0].log_id.index + 1, w[1].log_id.index, "a hole in the log after {}", w[0].log_id);
    }
    if let (Some(first), Some(p)) = (all.first(), m.purged) {
        assert_eq!(first.log_id.index, p.index + 1, "the log does not start right after the purge point");
    }
    for e in &all {
        assert_genuine(e);
    }
    m.append(&all);
    assert_eq!(state.last_log_id, m.last_log_id(), "get_log_state disagrees with the entries");
    m
}

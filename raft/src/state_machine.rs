//! The example's key-value state machine, with snapshots persisted as one file beside the log.
//!
//! Applying entries only changes memory. What survives a restart is the last
//! snapshot: every snapshot this node builds or installs is written to
//! `<dir>/snapshot` (temporary file, `fsync`, rename, directory `fsync`)
//! before the call that made it returns. That order is what makes log
//! purging safe: openraft purges only entries that a snapshot it has been
//! told about covers, so after a crash the state machine restarts from a
//! snapshot at or past the purge point and the log holds everything after it.
//! (This is openraft's "persistent snapshot" mode; with `save_committed`,
//! openraft re-applies the committed entries after the snapshot on startup.)

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::types::{Entry, LogId, Node, NodeId, Request, Response, StorageError, TypeConfig};

const SNAPSHOT_FILE: &str = "snapshot";
const SNAPSHOT_TMP: &str = "snapshot.tmp";

/// What the state machine holds: the data and how far it got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvState {
    /// The last entry applied.
    pub last_applied: Option<LogId>,
    /// The last membership applied.
    pub last_membership: StoredMembership<NodeId, Node>,
    /// The keys and values.
    pub kv: BTreeMap<String, String>,
}

/// A snapshot as kept in memory and in the snapshot file: its metadata and
/// its data (an encoded [`KvState`], which is also what travels to followers).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Shared {
    state: KvState,
    current: Option<StoredSnapshot>,
    /// Snapshots built by this process, to tell two builds at one log id apart.
    builds: u64,
}

/// A read handle on a state machine's data, for serving clients.
#[derive(Clone, Debug)]
pub struct KvReader {
    shared: Arc<Mutex<Shared>>,
}

impl KvReader {
    /// The value of `key`, as applied on this node (which may lag the leader).
    pub fn get(&self, key: &str) -> Option<String> {
        lock(&self.shared).state.kv.get(key).cloned()
    }

    /// A copy of everything applied on this node.
    pub fn state(&self) -> KvState {
        lock(&self.shared).state.clone()
    }
}

/// The key-value state machine. Its snapshot builder shares its state.
#[derive(Debug)]
pub struct KvStateMachine {
    dir: PathBuf,
    shared: Arc<Mutex<Shared>>,
    /// Serializes snapshot persistence (build and install): held across the
    /// file writes so that the file and `Shared::current` change together.
    persist: Arc<Mutex<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl KvStateMachine {
    /// Opens the state machine kept in `dir` (created if missing), starting
    /// from the snapshot found there, if any.
    pub fn open(dir: impl AsRef<Path>) -> Result<KvStateMachine, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let mut shared = Shared::default();
        match fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                let stored: StoredSnapshot =
                    codec::decode(&bytes).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
                shared.state = codec::decode(&stored.data).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
                shared.current = Some(stored);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageIOError::read_snapshot(None, &e).into()),
        }
        Ok(KvStateMachine { dir, shared: Arc::new(Mutex::new(shared)), persist: Arc::new(Mutex::new(())) })
    }

    /// A read handle for clients.
    pub fn reader(&self) -> KvReader {
        KvReader { shared: self.shared.clone() }
    }

    /// Makes `snap` the current snapshot and, if `install`, the state, after
    /// writing it durably. Runs file I/O on a blocking thread.
    async fn persist(&self, snap: StoredSnapshot, install: Option<KvState>) -> Result<(), StorageError> {
        persist_snapshot(self.dir.clone(), self.shared.clone(), self.persist.clone(), snap, install).await
    }
}

async fn persist_snapshot(
    dir: PathBuf,
    shared: Arc<Mutex<Shared>>,
    persist: Arc<Mutex<()>>,
    snap: StoredSnapshot,
    install: Option<KvState>,
) -> Result<(), StorageError> {
    let signature = snap.meta.signature();
    let sig = signature.clone();
    let res = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        // Held across the file writes (see `KvStateMachine::persist`).
        let _persisting = lock(&persist);
        if install.is_none() {
            // A build must not replace a newer snapshot installed meanwhile.
            let current = lock(&shared).current.as_ref().map(|c| c.meta.last_log_id);
            if current.is_some_and(|c| c > snap.meta.last_log_id) {
                return Ok(());
            }
        }
        write_durably(&dir, &codec::encode(&snap))?;
        let mut sh = lock(&shared);
        if let Some(state) = install {
            sh.state = state;
        }
        sh.current = Some(snap);
        Ok(())
    })
    .await
    .map_err(|e| StorageIOError::write_snapshot(Some(sig.clone()), &e))?;
    res.map_err(|e| StorageIOError::write_snapshot(Some(signature), &e).into())
}

/// Replaces `<dir>/snapshot` atomically and durably.
fn write_durably(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(SNAPSHOT_FILE))?;
    File::open(dir)?.sync_all()
}

fn apply_one(state: &mut KvState, entry: Entry) -> Response {
    state.last_applied = Some(entry.log_id);
    match entry.payload {
        EntryPayload::Blank => Response::default(),
        EntryPayload::Normal(Request::Set { key, value }) => Response { previous: state.kv.insert(key, value) },
        EntryPayload::Membership(m) => {
            state.last_membership = StoredMembership::new(Some(entry.log_id), m);
            Response::default()
        }
    }
}

impl RaftStateMachine<TypeConfig> for KvStateMachine {
    type SnapshotBuilder = KvSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership<NodeId, Node>), StorageError> {
        let sh = lock(&self.shared);
        Ok((sh.state.last_applied, sh.state.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut sh = lock(&self.shared);
        Ok(entries.into_iter().map(|e| apply_one(&mut sh.state, e)).collect())
    }

    async fn get_snapshot_builder(&mut self) -> KvSnapshotBuilder {
        KvSnapshotBuilder { dir: self.dir.clone(), shared: self.shared.clone(), persist: self.persist.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mut state: KvState =
            codec::decode(&data).map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        // The metadata is what openraft acts on; keep the state consistent with it.
        state.last_applied = meta.last_log_id;
        state.last_membership = meta.last_membership.clone();
        self.persist(StoredSnapshot { meta: meta.clone(), data }, Some(state)).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let sh = lock(&self.shared);
        Ok(sh
            .current
            .as_ref()
            .map(|s| Snapshot { meta: s.meta.clone(), snapshot: Box::new(Cursor::new(s.data.clone())) }))
    }
}

/// Builds snapshots of a [`KvStateMachine`] and persists them.
#[derive(Debug)]
pub struct KvSnapshotBuilder {
    dir: PathBuf,
    shared: Arc<Mutex<Shared>>,
    persist: Arc<Mutex<()>>,
}

impl RaftSnapshotBuilder<TypeConfig> for KvSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (state, build) = {
            let mut sh = lock(&self.shared);
            sh.builds += 1;
            (sh.state.clone(), sh.builds)
        };
        let snapshot_id = match state.last_applied {
            Some(id) => format!("{}-{}-{build}", id.leader_id, id.index),
            None => format!("none-{build}"),
        };
        let meta = SnapshotMeta {
            last_log_id: state.last_applied,
            last_membership: state.last_membership.clone(),
            snapshot_id,
        };
        let data = codec::encode(&state);
        let stored = StoredSnapshot { meta: meta.clone(), data: data.clone() };
        persist_snapshot(self.dir.clone(), self.shared.clone(), self.persist.clone(), stored, None).await?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

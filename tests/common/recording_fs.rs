//! A `FileSystem` that passes every operation through to a real directory and
//! records it, plus the disk model that replays the record: per file the
//! durable image and the operations pending since its last sync, and the
//! directory entries pending since the last directory sync.
//!
//! The same seam injects faults (`fault.rs` decides which operation fails and
//! how), so the fault suite can restore a file's last synced image after a
//! failed `fdatasync`, as Linux does when it drops the dirty pages.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use seawall::io::{FileSystem, StdFs, WalFile};

use super::fault::{Fault, FaultPlan, OpKind};

/// Index of a file (an inode) in the model; names map to it.
pub type Ino = usize;

/// One recorded effect on the log directory.
#[derive(Clone, Debug)]
pub enum Op {
    Create {
        name: String,
        ino: Ino,
    },
    Rename {
        from: String,
        to: String,
    },
    Remove {
        name: String,
    },
    SyncDir,
    Write {
        ino: Ino,
        off: u64,
        data: Arc<Vec<u8>>,
    },
    SetLen {
        ino: Ino,
        len: u64,
    },
    Allocate {
        ino: Ino,
        len: u64,
    },
    SyncData {
        ino: Ino,
    },
    /// `fdatasync` failed: like Linux, the file's dirty data is dropped.
    SyncFailed {
        ino: Ino,
    },
}

/// An operation not yet durable.
#[derive(Clone, Debug)]
pub enum Pending {
    Dir(DirOp),
    File(Ino, FileOp),
}

#[derive(Clone, Debug)]
pub enum DirOp {
    Create { name: String, ino: Ino },
    Rename { from: String, to: String },
    Remove { name: String },
}

#[derive(Clone, Debug)]
pub enum FileOp {
    Write { off: u64, data: Arc<Vec<u8>> },
    SetLen(u64),
    Allocate(u64),
}

impl FileOp {
    pub fn apply(&self, buf: &mut Vec<u8>) {
        match self {
            FileOp::Write { off, data } => {
                let (off, end) = (*off as usize, *off as usize + data.len());
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                buf[off..end].copy_from_slice(data);
            }
            FileOp::SetLen(len) => buf.resize(*len as usize, 0),
            FileOp::Allocate(len) => {
                if buf.len() < *len as usize {
                    buf.resize(*len as usize, 0);
                }
            }
        }
    }
}

impl DirOp {
    pub fn apply(&self, dir: &mut BTreeMap<String, Ino>) {
        match self {
            DirOp::Create { name, ino } => {
                dir.insert(name.clone(), *ino);
            }
            DirOp::Rename { from, to } => {
                if let Some(ino) = dir.remove(from) {
                    dir.insert(to.clone(), ino);
                }
            }
            DirOp::Remove { name } => {
                dir.remove(name);
            }
        }
    }
}

/// The files of a log directory by name: a crash state, or a base image.
pub type Image = BTreeMap<String, Vec<u8>>;

/// What survives a crash: durable images plus the operations still pending.
#[derive(Clone, Debug, Default)]
pub struct DiskModel {
    pub durable: Vec<Vec<u8>>,
    pub dir: BTreeMap<String, Ino>,
    pub pending: Vec<Pending>,
}

impl DiskModel {
    /// A model whose files are `base`, all durable.
    pub fn from_image(base: &Image) -> DiskModel {
        let mut m = DiskModel::default();
        for (name, bytes) in base {
            m.dir.insert(name.clone(), m.durable.len());
            m.durable.push(bytes.clone());
        }
        m
    }

    /// Applies one recorded operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Create { name, ino } => {
                if self.durable.len() <= *ino {
                    self.durable.resize(ino + 1, Vec::new());
                }
                self.pending.push(Pending::Dir(DirOp::Create { name: name.clone(), ino: *ino }));
            }
            Op::Rename { from, to } => {
                self.pending.push(Pending::Dir(DirOp::Rename { from: from.clone(), to: to.clone() }))
            }
            Op::Remove { name } => self.pending.push(Pending::Dir(DirOp::Remove { name: name.clone() })),
            Op::SyncDir => {
                let mut dir = std::mem::take(&mut self.dir);
                self.pending.retain(|p| match p {
                    Pending::Dir(d) => {
                        d.apply(&mut dir);
                        false
                    }
                    Pending::File(..) => true,
                });
                self.dir = dir;
            }
            Op::Write { ino, off, data } => {
                self.pending.push(Pending::File(*ino, FileOp::Write { off: *off, data: data.clone() }))
            }
            Op::SetLen { ino, len } => self.pending.push(Pending::File(*ino, FileOp::SetLen(*len))),
            Op::Allocate { ino, len } => self.pending.push(Pending::File(*ino, FileOp::Allocate(*len))),
            Op::SyncData { ino } => {
                let durable = &mut self.durable[*ino];
                self.pending.retain(|p| match p {
                    Pending::File(i, f) if i == ino => {
                        f.apply(durable);
                        false
                    }
                    _ => true,
                });
            }
            Op::SyncFailed { ino } => self.pending.retain(|p| !matches!(p, Pending::File(i, _) if i == ino)),
        }
    }

    /// The directory with every pending entry change applied.
    pub fn live_dir(&self) -> BTreeMap<String, Ino> {
        let mut dir = self.dir.clone();
        for p in &self.pending {
            if let Pending::Dir(d) = p {
                d.apply(&mut dir);
            }
        }
        dir
    }

    /// The files as they are with every pending operation applied (what a
    /// process that did not crash sees, minus data dropped by failed syncs).
    pub fn live_image(&self) -> Image {
        self.image_with(|_, _| Fate::Keep)
    }

    /// The files with only durable state: every pending operation lost.
    pub fn durable_image(&self) -> Image {
        self.image_with(|_, _| Fate::Drop)
    }

    /// Builds an image from the durable state and, for each pending operation
    /// (by index), what `fate` says lands of it.
    pub fn image_with(&self, mut fate: impl FnMut(usize, &Pending) -> Fate) -> Image {
        let mut dir = self.dir.clone();
        let mut files: HashMap<Ino, Vec<u8>> = HashMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            let f = fate(i, p);
            match (p, f) {
                (_, Fate::Drop) => {}
                (Pending::Dir(d), _) => d.apply(&mut dir),
                (Pending::File(ino, op), f) => {
                    let buf = files.entry(*ino).or_insert_with(|| self.durable[*ino].clone());
                    match f {
                        Fate::Keep => op.apply(buf),
                        Fate::Pieces(pieces) => pieces.iter().for_each(|p| p.apply(buf)),
                        Fate::Drop => unreachable!(),
                    }
                }
            }
        }
        dir.into_iter()
            .map(|(name, ino)| {
                let bytes = files.remove(&ino).unwrap_or_else(|| self.durable[ino].clone());
                (name, bytes)
            })
            .collect()
    }
}

/// What of one pending operation lands in a crash state.
#[derive(Clone, Debug)]
pub enum Fate {
    Keep,
    Drop,
    /// A torn write: these pieces land instead of the whole write.
    Pieces(Vec<FileOp>),
}

/// Writes `image` into `dir` (which is emptied first).
pub fn materialize(image: &Image, dir: &Path) {
    if dir.exists() {
        for entry in std::fs::read_dir(dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
    } else {
        std::fs::create_dir_all(dir).unwrap();
    }
    for (name, bytes) in image {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A seam call on a directory other than a file operation: creating the
/// log directory, or syncing a directory (the log's own syncs are also
/// recorded as [`Op::SyncDir`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirCall {
    /// `create_dir_all(path)`, and the directories it made (outermost first).
    MkDirAll {
        path: PathBuf,
        created: Vec<PathBuf>,
    },
    SyncDir(PathBuf),
}

struct Recorder {
    ops: Vec<Op>,
    dir_calls: Vec<DirCall>,
    names: HashMap<String, Ino>,
    /// Live length of each file.
    lens: HashMap<Ino, u64>,
    next_ino: Ino,
    /// Seam calls made so far (failed ones included): the fault index.
    calls: usize,
    plan: Option<FaultPlan>,
    /// Kind of every seam call, and whether it needed free space.
    trace: Vec<(OpKind, bool)>,
    /// Faults injected so far.
    injected: Vec<(usize, OpKind, Fault)>,
}

struct Shared {
    dir: PathBuf,
    rec: Mutex<Recorder>,
}

/// The recording (and fault-injecting) file system. Clones share one record.
#[derive(Clone)]
pub struct RecordingFs(Arc<Shared>);

impl fmt::Debug for RecordingFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingFs").field("dir", &self.0.dir).finish()
    }
}

fn name_in(dir: &Path, path: &Path) -> String {
    assert_eq!(path.parent(), Some(dir), "the engine only touches files in its directory");
    path.file_name().unwrap().to_string_lossy().into_owned()
}

impl RecordingFs {
    /// Records operations on `dir`, whose present files are the model's
    /// durable base (given as `base`, in the order of their inode numbers).
    pub fn new(dir: &Path, base: &Image, plan: Option<FaultPlan>) -> RecordingFs {
        let names: HashMap<String, Ino> = base.keys().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let lens = base.values().enumerate().map(|(i, b)| (i, b.len() as u64)).collect();
        let rec = Recorder {
            ops: Vec::new(),
            dir_calls: Vec::new(),
            next_ino: names.len(),
            names,
            lens,
            calls: 0,
            trace: Vec::new(),
            plan,
            injected: Vec::new(),
        };
        RecordingFs(Arc::new(Shared { dir: dir.to_path_buf(), rec: Mutex::new(rec) }))
    }

    /// Records operations on `dir`, which holds `model`'s live image (a
    /// process that crashed and left unsynced data in the page cache): the
    /// recorded operations continue `model`.
    pub fn continuing(dir: &Path, model: &DiskModel) -> RecordingFs {
        let names: HashMap<String, Ino> = model.live_dir().into_iter().collect();
        let lens = model.live_image().into_iter().map(|(n, b)| (names[&n], b.len() as u64)).collect();
        let rec = Recorder {
            ops: Vec::new(),
            dir_calls: Vec::new(),
            names,
            lens,
            next_ino: model.durable.len(),
            calls: 0,
            trace: Vec::new(),
            plan: None,
            injected: Vec::new(),
        };
        RecordingFs(Arc::new(Shared { dir: dir.to_path_buf(), rec: Mutex::new(rec) }))
    }

    fn rec(&self) -> MutexGuard<'_, Recorder> {
        self.0.rec.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The operations recorded so far.
    pub fn ops(&self) -> Vec<Op> {
        self.rec().ops.clone()
    }

    /// Directory creations and syncs, in order.
    pub fn dir_calls(&self) -> Vec<DirCall> {
        self.rec().dir_calls.clone()
    }

    /// Number of operations recorded so far (the crash-point clock).
    pub fn op_count(&self) -> usize {
        self.rec().ops.len()
    }

    /// Seam calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        self.rec().calls
    }

    /// Every seam call made, in order, with whether it needed free space
    /// (a fault-free run's trace is what the fault suite loops over).
    pub fn trace(&self) -> Vec<(OpKind, bool)> {
        self.rec().trace.clone()
    }

    /// The faults injected so far: (call index, call kind, fault).
    pub fn injected(&self) -> Vec<(usize, OpKind, Fault)> {
        self.rec().injected.clone()
    }

    /// Counts a seam call and returns the fault to inject into it, if any.
    /// `grows` says whether the call needs free space.
    fn enter(&self, kind: OpKind, grows: bool) -> Option<Fault> {
        let mut r = self.rec();
        let index = r.calls;
        r.calls += 1;
        r.trace.push((kind, grows));
        let fault = r.plan.as_mut().and_then(|p| p.fault_for(index, kind, grows));
        if let Some(f) = fault {
            r.injected.push((index, kind, f));
        }
        fault
    }

    fn record(&self, op: Op) {
        self.rec().ops.push(op);
    }
}

impl FileSystem for RecordingFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let name = name_in(&self.0.dir, path);
        if let Some(f) = self.enter(OpKind::Create, true) {
            return Err(f.error());
        }
        let file = StdFs.create(path)?;
        let mut r = self.rec();
        let ino = r.next_ino;
        r.next_ino += 1;
        r.names.insert(name.clone(), ino);
        r.ops.push(Op::Create { name, ino });
        drop(r);
        Ok(Box::new(RecFile { fs: self.clone(), ino, file }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let name = name_in(&self.0.dir, path);
        if let Some(f) = self.enter(OpKind::Open, false) {
            return Err(f.error());
        }
        let file = StdFs.open(path)?;
        let ino = *self.rec().names.get(&name).expect("opened files were created or are in the base image");
        Ok(Box::new(RecFile { fs: self.clone(), ino, file }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        // Reads change nothing: they are neither recorded nor fault points.
        StdFs.open_read(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (f_name, t_name) = (name_in(&self.0.dir, from), name_in(&self.0.dir, to));
        if let Some(f) = self.enter(OpKind::Rename, false) {
            return Err(f.error());
        }
        StdFs.rename(from, to)?;
        let mut r = self.rec();
        if let Some(ino) = r.names.remove(&f_name) {
            r.names.insert(t_name.clone(), ino);
        }
        r.ops.push(Op::Rename { from: f_name, to: t_name });
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let name = name_in(&self.0.dir, path);
        if let Some(f) = self.enter(OpKind::Remove, false) {
            return Err(f.error());
        }
        StdFs.remove(path)?;
        let mut r = self.rec();
        r.names.remove(&name);
        r.ops.push(Op::Remove { name });
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        if let Some(f) = self.enter(OpKind::MkDir, false) {
            return Err(f.error());
        }
        // The model's directory always exists; what is recorded is which
        // directories the call made, whose entries live in their parents.
        let created: Vec<PathBuf> = path.ancestors().take_while(|d| !d.exists()).map(Path::to_path_buf).collect();
        StdFs.create_dir_all(path)?;
        let created = created.into_iter().rev().collect();
        self.rec().dir_calls.push(DirCall::MkDirAll { path: path.to_path_buf(), created });
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        if let Some(f) = self.enter(OpKind::SyncDir, false) {
            return Err(f.error());
        }
        StdFs.sync_dir(path)?;
        let mut r = self.rec();
        r.dir_calls.push(DirCall::SyncDir(path.to_path_buf()));
        // Only a sync of the log directory makes its entries durable; a
        // parent's sync (of the log directory's own entry) is not one.
        if path == self.0.dir {
            r.ops.push(Op::SyncDir);
        }
        Ok(())
    }
}

/// A file of a [`RecordingFs`].
struct RecFile {
    fs: RecordingFs,
    ino: Ino,
    file: Box<dyn WalFile>,
}

impl fmt::Debug for RecFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecFile").field("ino", &self.ino).finish()
    }
}

impl RecFile {
    /// The live length of the file (what a write past it grows).
    fn live_len(&self) -> u64 {
        self.fs.rec().lens.get(&self.ino).copied().unwrap_or(0)
    }

    fn grew_to(&self, len: u64) {
        let mut r = self.fs.rec();
        let l = r.lens.entry(self.ino).or_insert(0);
        *l = (*l).max(len);
    }
}

impl WalFile for RecFile {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let grows = offset + buf.len() as u64 > self.live_len();
        let mut buf = buf;
        match self.fs.enter(OpKind::Write, grows) {
            Some(Fault::Short) => buf = &buf[..buf.len().div_ceil(2)],
            Some(f) => return Err(f.error()),
            None => {}
        }
        let n = self.file.write_at(buf, offset)?;
        self.grew_to(offset + n as u64);
        self.fs.record(Op::Write { ino: self.ino, off: offset, data: Arc::new(buf[..n].to_vec()) });
        Ok(n)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn sync_data(&self) -> io::Result<()> {
        if let Some(f) = self.fs.enter(OpKind::SyncData, false) {
            self.fs.record(Op::SyncFailed { ino: self.ino });
            return Err(f.error());
        }
        self.file.sync_data()?;
        self.fs.record(Op::SyncData { ino: self.ino });
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let grows = len > self.live_len();
        if let Some(f) = self.fs.enter(OpKind::SetLen, grows) {
            return Err(f.error());
        }
        self.file.set_len(len)?;
        self.fs.rec().lens.insert(self.ino, len);
        self.fs.record(Op::SetLen { ino: self.ino, len });
        Ok(())
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        let grows = len > self.live_len();
        if let Some(f) = self.fs.enter(OpKind::Allocate, grows) {
            return Err(f.error());
        }
        self.file.allocate(len)?;
        self.grew_to(len);
        self.fs.record(Op::Allocate { ino: self.ino, len });
        Ok(())
    }
}

/// A page-cache hint the engine gives a file (see [`WalFile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// `WalFile::start_writeback`.
    Writeback,
    /// `WalFile::release_zeros`.
    ReleaseZeros,
}

/// What a [`PassThroughFs`] does in place of the real syncs.
pub trait SyncPolicy: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// Stands for `fdatasync` of `file`.
    fn sync_data(&self, file: &dyn WalFile) -> io::Result<()>;
    /// Stands for the sync of directory `path`.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Sees hint `hint` for bytes `from..to` of `file` (at `path`) before it
    /// goes to the real file.
    fn hint(&self, path: &Path, file: &dyn WalFile, hint: Hint, from: u64, to: u64) {
        let _ = (path, file, hint, from, to);
    }
}

/// The real file system, with syncs replaced by `P`.
#[derive(Debug, Clone, Default)]
pub struct PassThroughFs<P>(pub P);

/// A real file whose syncs go to the policy (unless it was opened to read
/// only: those sync for real, as they always did), and whose hints the
/// policy sees.
#[derive(Debug)]
struct PassThroughFile<P> {
    file: Box<dyn WalFile>,
    policy: P,
    path: PathBuf,
    read_only: bool,
}

impl<P: SyncPolicy> PassThroughFs<P> {
    fn wrap(&self, file: Box<dyn WalFile>, path: &Path, read_only: bool) -> Box<dyn WalFile> {
        Box::new(PassThroughFile { file, policy: self.0.clone(), path: path.to_path_buf(), read_only })
    }
}

impl<P: SyncPolicy> FileSystem for PassThroughFs<P> {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(self.wrap(StdFs.create(path)?, path, false))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(self.wrap(StdFs.open(path)?, path, false))
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(self.wrap(StdFs.open_read(path)?, path, true))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        StdFs.create_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.0.sync_dir(path)
    }
}

impl<P: SyncPolicy> WalFile for PassThroughFile<P> {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn data_end(&self, len: u64) -> u64 {
        self.file.data_end(len)
    }
    fn data_regions(&self, from: u64, to: u64) -> Vec<(u64, u64)> {
        self.file.data_regions(from, to)
    }
    fn release_zeros(&self, from: u64, to: u64) {
        self.policy.hint(&self.path, self.file.as_ref(), Hint::ReleaseZeros, from, to);
        self.file.release_zeros(from, to)
    }
    fn start_writeback(&self, from: u64, to: u64) {
        self.policy.hint(&self.path, self.file.as_ref(), Hint::Writeback, from, to);
        self.file.start_writeback(from, to)
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.read_only {
            self.file.sync_data()
        } else {
            self.policy.sync_data(self.file.as_ref())
        }
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        self.file.allocate(len)
    }
}

/// Skips every sync: recovery on a materialised crash state runs the real
/// code, and skipping the (meaningless) syncs of a scratch directory keeps
/// the explorer fast.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSync;

impl SyncPolicy for NoSync {
    fn sync_data(&self, _file: &dyn WalFile) -> io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

//! Guards the log directory against crafted or odd contents: segment ids at
//! the end of the id space are refused (no panic, no wrap-around), a FIFO
//! named like a segment is refused without blocking anyone who looks at the
//! log, a refused open leaves no lock file behind, and creating a log
//! directory makes its entry durable.

#[path = "support/spawn_turn.rs"]
mod spawn_turn;

mod common;
#[path = "support/v2.rs"]
mod v2;
#[path = "support/watchdog.rs"]
mod watchdog;

use common::damage;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::recording_fs::{DirCall, Image, RecordingFs};
use common::scratch_dir;
use damage::{dir_contents, segment_path, small_opts};
use seawall::raw::HeaderState;
use seawall::{Error, Lsn, NotALogReason, Reader, SegmentHeader, SegmentId, Wal};

/// A closed log of three records in one segment.
fn three_records(dir: &Path) {
    let (wal, _) = Wal::open(dir, small_opts()).unwrap();
    for lsn in 1..=3 {
        wal.append(&damage::payload(lsn, 7)).unwrap();
    }
    wal.close().unwrap();
}

/// Every file of `dir` but the lock file.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut f = dir_contents(dir);
    f.remove(seawall::format::LOCK_FILE);
    f
}

/// `Wal::open` and `Reader::open` of `dir` must refuse it, naming `name` as
/// a segment id out of range, without a panic and without changing a file.
fn assert_refused_id(dir: &Path, name: &str) {
    let before = files(dir);
    let opened = std::panic::catch_unwind(|| Wal::open(dir, small_opts()).map(|(w, _)| w.last_lsn()));
    match opened {
        Err(_) => panic!("Wal::open panicked on a directory holding {name}"),
        Ok(Ok(last)) => panic!("Wal::open accepted a directory holding {name} (last LSN {last})"),
        Ok(Err(e)) => assert!(
            !v2::ENABLED || v2::bad_file(&e, name) == Some(v2::BadFile::IdOutOfRange),
            "Wal::open refused {name} with {e:?}, not BadFile(IdOutOfRange)"
        ),
    }
    assert!(files(dir) == before, "the refused open changed the directory");
    match Reader::open(dir) {
        Ok(r) => panic!("Reader::open accepted a directory holding {name} (tail {:?})", r.inspection().tail),
        Err(e) => assert!(!v2::ENABLED || v2::bad_file(&e, name).is_some(), "Reader::open refused {name} with {e:?}"),
    }
}

/// Rewrites the header of segment `from` for segment id `to` and renames
/// the file accordingly: a log that reached that id.
fn move_segment(dir: &Path, from: u64, to: u64) -> String {
    let path = segment_path(dir, from);
    let mut bytes = std::fs::read(&path).unwrap();
    let HeaderState::Valid(mut h) = SegmentHeader::decode(&bytes, SegmentId::new(from)) else { panic!("valid header") };
    h.id = SegmentId::new(to);
    bytes[..h.encode().len()].copy_from_slice(&h.encode());
    std::fs::remove_file(&path).unwrap();
    let name = SegmentId::new(to).file_name();
    std::fs::write(dir.join(&name), bytes).unwrap();
    name
}

/// Regression: a log whose active segment has id `u64::MAX` opened, and
/// its next rotation would name segment `u64::MAX + 1`: a panic in debug
/// builds, segment 0 in release builds, which sorts first and which the next
/// recovery removes as superseded, with the records written to it.
#[test]
fn segment_id_at_the_end_of_the_id_space_is_refused() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-odd-");
    three_records(tmp.path());
    let name = move_segment(tmp.path(), 1, u64::MAX);
    assert_refused_id(tmp.path(), &name);
}

/// The same for the first id past the largest one a log may use.
#[test]
fn segment_id_past_the_largest_is_refused() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-odd-");
    three_records(tmp.path());
    let name = move_segment(tmp.path(), 1, v2::MAX_SEGMENT_ID + 1);
    assert_refused_id(tmp.path(), &name);
}

/// A blank file named like a spare segment past the id space is refused
/// too, not removed as an unused spare.
#[test]
fn blank_file_named_past_the_id_space_is_refused_not_removed() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-odd-");
    three_records(tmp.path());
    let name = SegmentId::new(u64::MAX).file_name();
    std::fs::write(tmp.path().join(&name), vec![0u8; 64 * 1024]).unwrap();
    assert_refused_id(tmp.path(), &name);
}

/// Regression: `mkfifo DIR/0000000000000002.wal` made `Wal::open`,
/// `Reader::open` and `seawall verify`, `inspect` and `repair` block forever
/// in `open(2)` of the FIFO. Each must refuse it with a clear error (the
/// tool with exit status 3), and none may hang: they run at once, under a
/// deadline after which the FIFO is released and the test fails naming
/// every call that hung.
#[test]
fn fifo_named_like_a_segment_is_refused_without_blocking() {
    let _turn = spawn_turn::spawning();
    let tmp = scratch_dir("seawall-odd-");
    let dir = tmp.path().to_path_buf();
    three_records(&dir);
    let name = SegmentId::new(2).file_name();
    let fifo = dir.join(&name);
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from(0o644), 0).unwrap();
    let children: Arc<Mutex<Vec<u32>>> = Arc::default();
    type Call = watchdog::Call<Result<(), String>>;
    let library = |name: &'static str, f: fn(&Path) -> Result<(), Error>| -> (&'static str, Call) {
        let (dir, fifo_name) = (dir.clone(), SegmentId::new(2).file_name());
        (
            name,
            Box::new(move || match f(&dir) {
                Ok(()) => Err(format!("{name} accepted a directory holding a FIFO")),
                Err(e) if !v2::ENABLED || v2::bad_file(&e, &fifo_name) == Some(v2::BadFile::NotRegular) => Ok(()),
                Err(e) => Err(format!("{name} refused the FIFO with {e:?}, not BadFile(NotRegular)")),
            }),
        )
    };
    let mut calls: Vec<(&'static str, Call)> = vec![
        library("Wal::open", |d| Wal::open(d, small_opts()).map(drop)),
        library("Reader::open", |d| Reader::open(d).map(drop)),
    ];
    #[cfg(feature = "cli")]
    for (label, command) in [("seawall verify", "verify"), ("seawall inspect", "inspect"), ("seawall repair", "repair")]
    {
        let (dir, children) = (dir.clone(), children.clone());
        calls.push((label, Box::new(move || cli_refuses(command, &dir, &children))));
    }
    let results = watchdog::all_within(Duration::from_secs(60), calls);
    // Release whatever still blocks on the FIFO: a writer end, opened
    // without blocking and closed at once, lets a blocked open return.
    drop(rustix::fs::open(&fifo, rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NONBLOCK, rustix::fs::Mode::empty()));
    for pid in children.lock().unwrap().iter() {
        let _ = std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    let mut failures = Vec::new();
    for (label, result) in results {
        match result {
            None => failures.push(format!("{label} did not return within 60 s: it blocks on the FIFO")),
            Some(Err(e)) => failures.push(e),
            Some(Ok(())) => {}
        }
    }
    assert!(failures.is_empty(), "{}{}", failures.join("\n"), v2::HINT);
}

/// Runs `seawall <command> dir`, recording the child's pid in `children`
/// (so a hung child can be killed); it must exit with status 3 and one
/// clear line on stderr.
#[cfg(feature = "cli")]
fn cli_refuses(command: &str, dir: &Path, children: &Mutex<Vec<u32>>) -> Result<(), String> {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_seawall"))
        .arg(command)
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn seawall {command}: {e}"))?;
    children.lock().unwrap().push(child.id());
    let out = child.wait_with_output().map_err(|e| format!("seawall {command}: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(3) if err.lines().count() == 1 && err.starts_with("seawall: ") => Ok(()),
        code => Err(format!("seawall {command} exited with {code:?} (expected 3 and one line on stderr): {err:?}")),
    }
}

/// Regression: an open refused because the directory holds other files
/// (`NotALog`) still created the `LOCK` file in it.
#[test]
fn refused_open_of_a_foreign_directory_leaves_no_lock_file() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-odd-");
    std::fs::write(tmp.path().join("notes.txt"), b"someone else's data").unwrap();
    match Wal::open(tmp.path(), small_opts()) {
        Err(Error::NotALog { reason: NotALogReason::ForeignFiles, .. }) => {}
        other => panic!("open of a foreign directory: {:?}", other.map(|(w, _)| w.last_lsn())),
    }
    let names: Vec<String> = dir_contents(tmp.path()).into_keys().collect();
    assert_eq!(names, ["notes.txt"], "the refused open left files behind");
}

/// Regression: `Wal::open` created the log directory (and any missing
/// parents) but never synced their parents, so after a power loss the log
/// directory, with every acknowledged record in it, could be gone. Each
/// directory `create_dir_all` makes must have its parent synced before
/// `open` returns.
#[test]
fn creating_a_log_directory_syncs_the_parent_of_every_directory_it_made() {
    let _turn = spawn_turn::holding_logs();
    let tmp = scratch_dir("seawall-odd-");
    let dir = tmp.path().join("data").join("wal");
    let fs = RecordingFs::new(&dir, &Image::new(), None);
    let (wal, _) = Wal::open_with(&dir, small_opts(), Arc::new(fs.clone())).unwrap();
    assert_eq!(wal.append_durable(b"durable").unwrap(), Lsn::new(1));
    let calls = fs.dir_calls();
    let (at, created) = calls
        .iter()
        .enumerate()
        .find_map(|(i, c)| match c {
            DirCall::MkDirAll { created, .. } => Some((i, created.clone())),
            _ => None,
        })
        .expect("open creates the directory through the seam");
    assert_eq!(created, [tmp.path().join("data"), dir.clone()], "the directories open had to make");
    let synced: Vec<&PathBuf> = calls[at..]
        .iter()
        .filter_map(|c| match c {
            DirCall::SyncDir(p) => Some(p),
            _ => None,
        })
        .collect();
    for made in &created {
        let parent = made.parent().unwrap();
        assert!(
            synced.iter().any(|p| p.as_path() == parent),
            "{} was created but its parent {} never synced (directory syncs after the creation: {synced:?})",
            made.display(),
            parent.display()
        );
    }
}

//! Raw baselines: what the disk and a plain implementation give, with no log
//! format at all. Every seawall figure is reported as a ratio to one of these,
//! run in the same process.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{payload, per_writer, Sample};

/// A file of `len` bytes allocated with `fallocate` (as seawall preallocates
/// its segments), its allocation and directory entry durable.
pub fn preallocated(dir: &Path, name: &str, len: u64) -> File {
    let path = dir.join(name);
    let f = OpenOptions::new().read(true).write(true).create_new(true).open(&path).expect("create");
    rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, len).expect("fallocate");
    f.sync_all().expect("fsync");
    File::open(dir).and_then(|d| d.sync_all()).expect("fsync dir");
    f
}

/// One writer: `pwrite` of one record and `fdatasync`, `ops` times, on
/// preallocated space (after `warmup` untimed rounds).
pub fn pwrite_fdatasync(dir: &Path, size: usize, ops: usize, warmup: usize) -> Sample {
    let total = ((ops + warmup) * size) as u64 + 4096;
    let f = preallocated(dir, "raw", total);
    let rec = payload(0, 0, size);
    let mut off = 0u64;
    let one = |off: &mut u64| {
        f.write_all_at(&rec, *off).expect("pwrite");
        f.sync_data().expect("fdatasync");
        *off += size as u64;
    };
    for _ in 0..warmup {
        one(&mut off);
    }
    let mut lat = Vec::with_capacity(ops);
    let t0 = Instant::now();
    for _ in 0..ops {
        let t = Instant::now();
        one(&mut off);
        lat.push(t.elapsed());
    }
    let elapsed = t0.elapsed();
    Sample {
        ops: ops as u64,
        bytes: (ops * size) as u64,
        elapsed,
        per_fsync: Some((ops as u64, ops as u64)),
        ..Sample::default()
    }
    .with_latencies(vec![lat])
}

/// The textbook group commit: a mutex over a buffer, a condvar, and whoever
/// finds no flush running becomes the leader, writes the buffer with one
/// `pwrite`, syncs, and wakes everyone.
pub struct NaiveGroupCommit {
    state: Mutex<NaiveState>,
    flushed: Condvar,
    file: File,
    /// Flushes wrap around to offset 0 past this many bytes, so a long
    /// criterion run stays inside the preallocated space.
    capacity: u64,
}

struct NaiveState {
    buf: Vec<u8>,
    /// Records appended / durable.
    appended: u64,
    durable: u64,
    /// File offset of the next flush.
    offset: u64,
    flushing: bool,
    fsyncs: u64,
}

impl NaiveGroupCommit {
    /// Group commit into `file`, preallocated by the caller to `capacity` bytes.
    pub fn new(file: File, capacity: u64) -> NaiveGroupCommit {
        let st = NaiveState { buf: Vec::new(), appended: 0, durable: 0, offset: 0, flushing: false, fsyncs: 0 };
        NaiveGroupCommit { state: Mutex::new(st), flushed: Condvar::new(), file, capacity }
    }

    /// Appends `rec` and returns once it is durable.
    pub fn commit(&self, rec: &[u8]) {
        let mut st = self.state.lock().unwrap();
        st.buf.extend_from_slice(rec);
        st.appended += 1;
        let mine = st.appended;
        while st.durable < mine {
            if st.flushing {
                st = self.flushed.wait(st).unwrap();
                continue;
            }
            st.flushing = true;
            let buf = std::mem::take(&mut st.buf);
            if st.offset + buf.len() as u64 > self.capacity {
                st.offset = 0;
            }
            let (upto, off) = (st.appended, st.offset);
            st.offset += buf.len() as u64;
            drop(st);
            self.file.write_all_at(&buf, off).expect("pwrite");
            self.file.sync_data().expect("fdatasync");
            st = self.state.lock().unwrap();
            st.durable = upto;
            st.flushing = false;
            st.fsyncs += 1;
            self.flushed.notify_all();
        }
    }

    /// `fdatasync` calls so far.
    pub fn fsyncs(&self) -> u64 {
        self.state.lock().unwrap().fsyncs
    }
}

/// Runs `op(writer, index)` on `writers` threads, `warmup` untimed then `ops`
/// timed times each, and returns the timed phase's wall-clock time and each
/// thread's latencies.
pub fn run_writers<F>(writers: usize, ops: usize, warmup: usize, op: F) -> (Duration, Vec<Vec<Duration>>)
where
    F: Fn(usize, usize) + Sync,
{
    let barrier = Barrier::new(writers + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    for i in 0..warmup {
                        op(w, i);
                    }
                    barrier.wait();
                    let mut lat = Vec::with_capacity(ops);
                    for i in warmup..warmup + ops {
                        let t = Instant::now();
                        op(w, i);
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        barrier.wait();
        let t0 = Instant::now();
        let lats = handles.into_iter().map(|h| h.join().expect("writer thread")).collect();
        (t0.elapsed(), lats)
    })
}

/// `writers` threads committing `total` records of `size` bytes through
/// [`NaiveGroupCommit`] on preallocated space.
pub fn naive_group_commit(dir: &Path, writers: usize, size: usize, total: usize, warmup: usize) -> Sample {
    let per = per_writer(total, writers);
    let len = ((per + warmup) * writers * size) as u64 + 4096;
    let gc = NaiveGroupCommit::new(preallocated(dir, "naive", len), len);
    let payloads: Vec<Vec<u8>> = (0..writers).map(|w| payload(w, 0, size)).collect();
    let (elapsed, lats) = run_writers(writers, per, warmup, |w, _| gc.commit(&payloads[w]));
    let all = ((per + warmup) * writers) as u64;
    Sample {
        ops: (per * writers) as u64,
        bytes: (per * writers * size) as u64,
        elapsed,
        per_fsync: Some((all, gc.fsyncs())),
        ..Sample::default()
    }
    .with_latencies(lats)
}

/// Sequential 1 MiB `pwrite`s of `total` bytes into preallocated space, then
/// one `fdatasync`: the disk's write bandwidth.
pub fn sequential_write(dir: &Path, total: u64) -> Sample {
    const BLOCK: usize = 1 << 20;
    let f = preallocated(dir, "seq", total.max(1));
    let buf = vec![0xa5u8; BLOCK];
    let t0 = Instant::now();
    let mut off = 0u64;
    let mut calls = 0;
    while off < total {
        let n = (total - off).min(BLOCK as u64) as usize;
        f.write_all_at(&buf[..n], off).expect("pwrite");
        off += n as u64;
        calls += 1;
    }
    f.sync_data().expect("fdatasync");
    Sample { ops: calls, bytes: total, elapsed: t0.elapsed(), per_fsync: Some((calls, 1)), ..Sample::default() }
}

/// The raw counterpart of buffered appends: `threads` threads each copy
/// `records` length-prefixed records into one mutex-guarded `Vec`, which is
/// written out with `pwrite` whenever it passes 4 MiB, then one `fdatasync`.
/// Timed like seawall's buffered appends: the append phase only.
pub fn buffered_copy(dir: &Path, threads: usize, size: usize, records: usize) -> Sample {
    const FLUSH_AT: usize = 4 << 20;
    let f = preallocated(dir, "buffered", ((size + 8) * records) as u64 + FLUSH_AT as u64);
    let state = Mutex::new((Vec::<u8>::with_capacity(FLUSH_AT + size + 8), 0u64));
    let per = per_writer(records, threads);
    let write_out = |buf: &mut Vec<u8>, off: &mut u64| {
        f.write_all_at(buf, *off).expect("pwrite");
        *off += buf.len() as u64;
        buf.clear();
    };
    let payloads: Vec<Vec<u8>> = (0..threads).map(|t| payload(t, 0, size)).collect();
    let (elapsed, _) = run_writers(threads, 1, 0, |t, _| {
        for _ in 0..per {
            let mut st = state.lock().unwrap();
            let (buf, off) = &mut *st;
            buf.extend_from_slice(&(size as u64).to_le_bytes());
            buf.extend_from_slice(&payloads[t]);
            if buf.len() >= FLUSH_AT {
                write_out(buf, off);
            }
        }
    });
    let mut st = state.lock().unwrap();
    let (buf, off) = &mut *st;
    write_out(buf, off);
    f.sync_data().expect("fdatasync");
    let n = (per * threads) as u64;
    Sample { ops: n, bytes: n * size as u64, elapsed, ..Sample::default() }
}

/// Reads the first `len` bytes of each file with 1 MiB `read`s: the raw cost
/// of reading the same bytes a log reader reads.
pub fn sequential_read(files: &[(PathBuf, u64)]) -> Sample {
    let mut buf = vec![0u8; 1 << 20];
    let mut calls = 0;
    let mut sum = 0u64;
    let t0 = Instant::now();
    for (path, len) in files {
        let mut f = File::open(path).expect("open").take(*len);
        loop {
            let n = f.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            // Touch the bytes, as a reader must: one load per cache line.
            sum = buf[..n].iter().step_by(64).fold(sum, |a, &b| a.wrapping_add(b as u64));
            calls += 1;
        }
    }
    std::hint::black_box(sum);
    let bytes = files.iter().map(|f| f.1).sum();
    Sample { ops: calls, bytes, elapsed: t0.elapsed(), ..Sample::default() }
}

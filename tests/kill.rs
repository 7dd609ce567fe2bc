//! Process kills: a child process appends durably from 16 threads and is
//! killed with SIGKILL at random moments. After every kill the log must hold
//! every acknowledged record, bit-exact and at its LSN, as a gap-free prefix
//! of what was appended with atomic batches whole; then the next child
//! carries on from the recovered tail in the same directory.
//!
//! The child is this test binary, re-run as `--exact child_writer` with
//! `SEAWALL_KILL_CHILD=<dir>:<seed>`; without that variable `child_writer`
//! returns at once. The child reports on stdout (one locked, flushed line per
//! event) each unit it appended once `append_durable`/`sync` returned, and the
//! parent decides from those lines when to kill: no sleeps. A payload names
//! its writer thread, that thread's operation number and its place in the
//! batch, and every byte of it derives from those and the cycle's seed, so
//! the parent checks any record it finds, acknowledged or not.
//!
//! `SEAWALL_SEED=<n>` replays a run's decisions (kill points, payloads, cuts,
//! checkpoints); where in the child's work a kill lands is up to the
//! scheduler. `SEAWALL_CRASH_SCALE=<k>` runs k times the 400 cycles.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use seawall::{Lsn, Options, Reader, TailState, Wal};

const CHILD_ENV: &str = "SEAWALL_KILL_CHILD";
const THREADS: u64 = 16;
/// A child that is never killed stops after this many units per thread.
const MAX_OPS: u64 = 2_000;
/// A child that says nothing for this long is stuck: kill it and fail.
const STALL: Duration = Duration::from_secs(120);

fn options() -> Options {
    Options::default().segment_size(64 * 1024)
}

// ---------------------------------------------------------------------------
// Deterministic randomness and payloads.
// ---------------------------------------------------------------------------

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix(seed), |h, &p| mix(h ^ p))
}

/// Records in unit `k` of thread `t`: mostly one, sometimes a batch of 2-4.
fn unit_len(seed: u64, t: u64, k: u64) -> u64 {
    let h = hash(seed, &[1, t, k]);
    if h.is_multiple_of(8) {
        2 + (h >> 8) % 3
    } else {
        1
    }
}

const PAYLOAD_HEADER: usize = 8;

/// Record `i` of unit `k` of thread `t`: `[t, i, n, 0, k as u32 LE]` then
/// bytes derived from all of it; mostly under 200 bytes, one in sixteen up to
/// 6000, so 64 KiB segments rotate every few dozen units.
fn payload(seed: u64, t: u64, k: u64, i: u64) -> Vec<u8> {
    let n = unit_len(seed, t, k);
    let h = hash(seed, &[2, t, k, i]);
    let len = if h.is_multiple_of(16) { 1000 + (h >> 8) % 5000 } else { (h >> 8) % 200 } as usize;
    let mut p = vec![t as u8, i as u8, n as u8, 0];
    p.extend_from_slice(&(k as u32).to_le_bytes());
    let mut rng = Rng(h);
    while p.len() < PAYLOAD_HEADER + len {
        p.extend_from_slice(&rng.next().to_le_bytes());
    }
    p.truncate(PAYLOAD_HEADER + len);
    p
}

/// Which unit a payload claims to be from, if it is exactly what that unit
/// wrote under `seed`.
fn identify(seed: u64, p: &[u8]) -> Option<(u64, u64, u64)> {
    let h = p.get(..PAYLOAD_HEADER)?;
    let (t, i, k) = (u64::from(h[0]), u64::from(h[1]), u64::from(u32::from_le_bytes(h[4..8].try_into().ok()?)));
    (t < THREADS && i < unit_len(seed, t, k) && payload(seed, t, k, i) == p).then_some((t, k, i))
}

// ---------------------------------------------------------------------------
// The child.
// ---------------------------------------------------------------------------

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes()).and_then(|()| out.flush()).expect("the parent reads stdout");
}

/// The writer. Does nothing unless started by `kill_nine_cycles`.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (dir, seed) = spec.rsplit_once(':').expect("dir:seed");
    let seed: u64 = seed.parse().expect("seed");
    say("@open");
    let (wal, report) = Wal::open(dir, options()).expect("child opens the log");
    say(&format!("@ready {} {}", report.first_lsn, report.last_lsn));
    let mut rng = Rng(hash(seed, &[3]));
    let (first, last) = (wal.first_lsn().get(), wal.last_lsn().get());
    if rng.below(4) == 0 && last >= first {
        // Cut a few records off the end (at a batch boundary), as a
        // consensus log does when its leader changes.
        let mut to = last - rng.below(20.min(last - first + 1));
        while to >= first {
            let rec = wal.iter_from(Lsn::new(to)).expect("iter").next().expect("record").expect("read");
            if rec.kind().ends_unit() {
                break;
            }
            to -= 1;
        }
        say(&format!("@cutting {to}"));
        wal.truncate_after(Lsn::new(to)).expect("truncate_after");
        say(&format!("@cut {to}"));
    }
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let wal = &wal;
            s.spawn(move || write_units(wal, seed, t));
        }
    });
}

fn write_units(wal: &Wal, seed: u64, t: u64) {
    for k in 0..MAX_OPS {
        let ps: Vec<Vec<u8>> = (0..unit_len(seed, t, k)).map(|i| payload(seed, t, k, i)).collect();
        let (first, last) = if ps.len() == 1 {
            let lsn = wal.append_durable(&ps[0]).expect("append_durable");
            (lsn, lsn)
        } else {
            let r = wal.append_batch(ps.iter().map(|p| p.as_slice())).expect("append_batch");
            wal.sync(*r.end()).expect("sync");
            (*r.start(), *r.end())
        };
        say(&format!("@ack {t} {k} {first} {last}"));
        if hash(seed, &[4, t, k]).is_multiple_of(64) {
            // A checkpoint a little behind the durable tail.
            let to = wal.durable_lsn().get().saturating_sub(64);
            if to > wal.first_lsn().get() {
                say(&format!("@checkpoint {to}"));
                wal.truncate_before(Lsn::new(to)).expect("truncate_before");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The parent.
// ---------------------------------------------------------------------------

/// What a child said before it died.
#[derive(Default, Debug)]
struct Heard {
    opening: bool,
    ready: Option<(u64, u64)>,
    cutting: Option<u64>,
    cut: Option<u64>,
    checkpoint: Option<u64>,
    /// `(thread, unit, first lsn, last lsn)` of every acknowledged unit.
    acks: Vec<(u64, u64, u64, u64)>,
}

impl Heard {
    fn take(&mut self, line: &str) {
        let Some(at) = line.find('@') else { return };
        let mut words = line[at..].split_whitespace();
        let word = words.next().unwrap_or_default();
        let nums: Vec<u64> = words.map(|w| w.parse().expect("a number")).collect();
        match (word, nums.as_slice()) {
            ("@open", []) => self.opening = true,
            ("@ready", &[f, l]) => self.ready = Some((f, l)),
            ("@cutting", &[c]) => self.cutting = Some(c),
            ("@cut", &[c]) => self.cut = Some(c),
            ("@checkpoint", &[c]) => self.checkpoint = Some(self.checkpoint.unwrap_or(0).max(c)),
            ("@ack", &[t, k, f, l]) => self.acks.push((t, k, f, l)),
            _ => panic!("unexpected line from the child: {line:?}"),
        }
    }
}

/// When to kill a child.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// As soon as it says it is opening the log (often during recovery).
    Opening,
    /// Once it has opened the log.
    Ready,
    /// After this many acknowledgements.
    Acks(usize),
}

fn lines_of(child: &mut Child) -> Receiver<String> {
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let mut line = Vec::new();
        // A line cut short by the kill (no newline) is dropped: the parent
        // then checks less, never more, than the child acknowledged.
        match out.read_until(b'\n', &mut line) {
            Ok(_) if line.ends_with(b"\n") => {
                if tx.send(String::from_utf8_lossy(&line).into_owned()).is_err() {
                    return;
                }
            }
            _ => return,
        }
    });
    rx
}

/// Runs one child until `kill_at`, kills it, and returns what it said.
fn run_child(dir: &Path, seed: u64, kill_at: KillAt) -> (Heard, bool) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["child_writer", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_ENV, format!("{}:{seed}", dir.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let rx = lines_of(&mut child);
    let mut heard = Heard::default();
    let mut killed = false;
    loop {
        let due = match kill_at {
            KillAt::Opening => heard.opening,
            KillAt::Ready => heard.ready.is_some(),
            KillAt::Acks(n) => heard.acks.len() >= n,
        };
        if due && !killed {
            child.kill().expect("SIGKILL the child");
            killed = true;
        }
        match rx.recv_timeout(STALL) {
            Ok(line) => heard.take(&line),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the child made no progress for {STALL:?}: deadlock? heard {heard:?}");
            }
        }
    }
    let status = child.wait().expect("wait for the child");
    let stderr = stderr.join().expect("stderr reader");
    assert!(killed || status.success(), "the child failed ({status}):\n{stderr}");
    (heard, killed)
}

/// Who wrote which LSNs: `eras[i] = (first lsn, seed)` of a child's records.
#[derive(Debug)]
struct Model {
    first: u64,
    last: u64,
    eras: Vec<(u64, u64)>,
}

impl Model {
    fn seed_of(&self, lsn: u64) -> Option<u64> {
        self.eras.iter().rev().find(|e| e.0 <= lsn).map(|e| e.1)
    }
}

#[derive(Default)]
struct Totals {
    acks: u64,
    records: u64,
    opened: u64,
    torn: u64,
}

/// Checks the log after a child died and updates the model. With `open`,
/// also recovers it with `Wal::open` and checks that again.
fn verify(dir: &Path, m: &mut Model, seed: u64, heard: &Heard, open: bool, totals: &mut Totals) {
    if let Some(ready) = heard.ready {
        assert_eq!(ready, (m.first, m.last), "the child's open disagrees with the last verification");
    }
    let reader = Reader::open(dir).expect("Reader::open after a kill");
    let insp = reader.inspection();
    let (first, last) = (insp.first_lsn.get(), insp.last_lsn.get());
    assert!(!matches!(insp.tail, TailState::Corrupt { .. }), "a kill left corruption: {:?}", insp.tail);
    // Checkpoints drop every record before their LSN, nothing else does.
    assert!(first >= m.first, "records before {} came back", m.first);
    assert!(first <= m.first.max(heard.checkpoint.unwrap_or(0)), "records from {} lost without a checkpoint", m.first);
    // A cut lowers the floor of what must survive; an unconfirmed one may or
    // may not have happened.
    let start = match (heard.cut, heard.cutting) {
        (Some(c), _) => {
            assert!(last >= c, "records up to the cut at {c} were durable, the log ends at {last}");
            c + 1
        }
        (None, Some(c)) if last == c && c < m.last => c + 1,
        _ => {
            assert!(last >= m.last, "records up to {} were recovered before, now only to {last}", m.last);
            m.last + 1
        }
    };
    m.eras.retain(|e| e.0 < start);
    m.eras.push((start, seed));
    let acked = heard.acks.iter().map(|a| a.3).max().unwrap_or(0);
    assert!(last >= acked, "acknowledged LSN {acked} lost: the log ends at {last}");

    // Every record is what some child wrote at that LSN; this child's
    // records form whole units, in order per thread.
    let mut units: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    let mut partial = std::collections::HashSet::new();
    let mut sums = Vec::new();
    for rec in reader.iter_from(insp.first_lsn).expect("iterate") {
        let rec = rec.expect("a recovered record reads back");
        let lsn = rec.lsn().get();
        let era_seed = m.seed_of(lsn).expect("an era covers every LSN");
        let Some((t, k, i)) = identify(era_seed, rec.payload()) else {
            panic!("record {lsn} is not what any writer appended at that LSN ({} bytes)", rec.payload().len())
        };
        if lsn >= start {
            let unit = units.entry((t, k)).or_default();
            if unit.is_empty() && i > 0 && lsn - i < first {
                // The purge point of a checkpoint fell inside this batch: the
                // log starts exactly there, after the batch's first records.
                partial.insert((t, k));
                unit.extend((lsn - i..lsn).map(|_| 0));
            }
            assert_eq!(unit.len() as u64, i, "record {lsn}: unit ({t}, {k}) out of order");
            assert!(unit.last().is_none_or(|&p| p == 0 || p + 1 == lsn), "unit ({t}, {k}) is not contiguous");
            unit.push(lsn);
        }
        sums.push((lsn, crc32fast::hash(rec.payload())));
    }
    assert_eq!(sums.len() as u64, last + 1 - first, "the log has gaps");
    for (&(t, k), lsns) in &units {
        assert_eq!(lsns.len() as u64, unit_len(seed, t, k), "unit ({t}, {k}) came back partly");
        if partial.contains(&(t, k)) {
            continue;
        }
        // A unit is acknowledged before its thread starts the next, so the
        // next one back means this one is too (unless a checkpoint dropped it).
        match units.get(&(t, k.wrapping_sub(1))) {
            Some(prev) => assert!(prev[0] < lsns[0], "thread {t}: units {} and {k} out of order", k - 1),
            None => assert!(k == 0 || first > start, "thread {t}: unit {k} back, {} lost", k - 1),
        }
    }
    for &(t, k, f, l) in heard.acks.iter().filter(|a| a.2 >= first) {
        assert_eq!(
            units.get(&(t, k)).map(|u| (u[0], u[u.len() - 1])),
            Some((f, l)),
            "acknowledged unit ({t}, {k}) lost"
        );
    }
    totals.acks += heard.acks.len() as u64;
    totals.records += sums.len() as u64;
    totals.torn += u64::from(matches!(insp.tail, TailState::Torn { .. }));

    if open {
        let (wal, report) = Wal::open(dir, options()).expect("Wal::open after a kill");
        assert_eq!((report.first_lsn.get(), report.last_lsn.get()), (first, last), "open and Reader disagree");
        assert_eq!(report.tail, insp.tail, "open and Reader saw different tails");
        assert_eq!((wal.last_lsn().get(), wal.durable_lsn().get()), (last, last));
        let again: Vec<(u64, u32)> = wal
            .iter_from(Lsn::new(first))
            .expect("iterate")
            .map(|r| r.map(|r| (r.lsn().get(), crc32fast::hash(r.payload()))).expect("read"))
            .collect();
        // Records recovery copied carry new checksums (another salt): compare payloads.
        assert!(again == sums, "open returns other records than Reader");
        wal.close().expect("close");
        let reader = Reader::open(dir).expect("reopen");
        assert!(reader.inspection().is_clean(), "recovery is not idempotent: {:?}", reader.inspection().tail);
        assert_eq!((reader.first_lsn().get(), reader.last_lsn().get()), (first, last));
        totals.opened += 1;
    }
    m.first = first;
    m.last = last;
    m.eras.retain(|e| e.0 <= last || e.0 == start);
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let n = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(n.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

#[test]
fn kill_nine_cycles() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let seed = env_u64("SEAWALL_SEED").unwrap_or_else(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
        mix(t.as_nanos() as u64 ^ u64::from(std::process::id()))
    });
    let cycles = 400 * env_u64("SEAWALL_CRASH_SCALE").unwrap_or(1).max(1);
    println!("kill -9: seed {seed} (replay with SEAWALL_SEED={seed})");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = Model { first: 1, last: 0, eras: Vec::new() };
    let mut rng = Rng(seed);
    let mut totals = Totals::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let kill_at = match rng.below(16) {
            0 => KillAt::Opening,
            1 => KillAt::Ready,
            _ => KillAt::Acks(1 + rng.below(300) as usize),
        };
        let child_seed = hash(seed, &[5, cycle]);
        let open = rng.below(2) == 0 || cycle + 1 == cycles;
        let (heard, _) = run_child(dir.path(), child_seed, kill_at);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verify(dir.path(), &mut m, child_seed, &heard, open, &mut totals)
        }));
        if let Err(e) = result {
            eprintln!("kill -9 cycle {cycle} ({kill_at:?}) failed; replay with SEAWALL_SEED={seed}");
            std::panic::resume_unwind(e);
        }
    }
    println!(
        "kill -9: {cycles} kill/recover cycles, {} acknowledged units verified, {} records checked, \
         {} torn tails seen, {} recoveries by the parent, {:.1} s (seed {seed})",
        totals.acks,
        totals.records,
        totals.torn,
        totals.opened,
        started.elapsed().as_secs_f64()
    );
}

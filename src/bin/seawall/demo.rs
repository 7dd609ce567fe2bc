//! `seawall demo`: the mission in one command. A child process appends
//! durably from many threads and prints every acknowledged LSN; the parent
//! kills it with SIGKILL mid-flight, tears the tail the way a power loss
//! could, reopens the log and proves that every acknowledged record came back.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use seawall::format::record_size;
use seawall::{Lsn, Options, Reader, RecoveryAction, SegmentState, Wal};

use crate::common::{self, say, tail_sentence, Exit, Failure};

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo's log: absent or empty (default: a temporary
    /// directory, removed afterwards). The log is left there to inspect.
    dir: Option<PathBuf>,
    /// Writer threads in the child process.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=64))]
    writers: u32,
    /// Acknowledgements to wait for before killing the child.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    acks: u64,
    /// Seed of the payloads (default: taken from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    dir: PathBuf,
    #[arg(long)]
    seed: u64,
    #[arg(long)]
    writers: u32,
    #[arg(long)]
    max_records: u64,
}

fn options() -> Options {
    // Small segments, so that even a short run rotates a few times.
    Options::default().segment_size(256 * 1024)
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a cheap, well-spread hash of the seed and LSN.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The payload of record `lsn`: readable text whose length and filler depend
/// on the seed and the LSN, so every record read back can be checked.
fn payload(seed: u64, lsn: u64) -> Vec<u8> {
    let h = mix(seed ^ lsn.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let mut p = format!("demo record {lsn} seed {seed:016x} ");
    let filler = 16 + (h % 112) as usize;
    let mut x = h;
    while p.len() < 32 + filler {
        x = mix(x);
        p.push_str(&format!("{x:016x}"));
    }
    p.truncate(32 + filler);
    p.into_bytes()
}

/// The hidden child: `writers` threads append durably and print each
/// acknowledged LSN on its own flushed line, until killed.
pub fn child(a: ChildArgs) -> Result<Exit, Failure> {
    let (wal, _) = Wal::open(&a.dir, options())?;
    // Appends are serialised only so that each payload can be derived from
    // the LSN it will get; the syncs, which are what group commit shares,
    // run concurrently outside the lock.
    let staging = Mutex::new(());
    let stdout = std::io::stdout();
    let results: Vec<Result<(), Failure>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..a.writers)
            .map(|_| {
                s.spawn(|| -> Result<(), Failure> {
                    loop {
                        let lsn = {
                            let _g = staging.lock().unwrap_or_else(|e| e.into_inner());
                            let want = wal.last_lsn().get() + 1;
                            if want > a.max_records {
                                return Ok(());
                            }
                            let got = wal.append(&payload(a.seed, want))?;
                            if got.get() != want {
                                return Err(Failure::failed(format!("append returned LSN {got}, expected {want}")));
                            }
                            got
                        };
                        wal.sync(lsn)?;
                        let mut out = stdout.lock();
                        writeln!(out, "{lsn}")?;
                        out.flush()?;
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(Failure::failed("a writer panicked")))).collect()
    });
    results.into_iter().collect::<Result<Vec<()>, Failure>>()?;
    wal.close()?;
    Ok(Exit::Ok)
}

/// What the parent saw of the child.
struct Acks {
    set: BTreeSet<u64>,
    at_kill: u64,
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    let temp;
    let (dir, shown): (&Path, String) = match &args.dir {
        Some(d) => {
            common::check_fresh_dir(d, "demo")?;
            (d, d.display().to_string())
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("seawall-demo")
                .tempdir()
                .map_err(|e| Failure::failed(format!("creating a temporary directory: {e}")))?;
            (temp.path(), "a temporary directory (removed afterwards)".into())
        }
    };
    let seed = args.seed.unwrap_or_else(clock_seed);
    say!("seawall demo: crash a writer mid-flight, tear its last write, recover, check every acknowledged record")?;
    say!("log: {shown}, seed {seed:#x}")?;
    say!()?;
    say!("1. a child process opens the log and starts {} threads calling append_durable;", args.writers)?;
    say!("   it prints each LSN the moment append_durable returns it (payloads derive from LSN and seed)")?;
    let acks = run_child(dir, &args, seed)?;
    let max_acked = acks.set.last().copied().unwrap_or(0);
    say!(
        "2. after {} acknowledgements the parent sent SIGKILL; {} acknowledgements in all, highest LSN {max_acked}",
        acks.at_kill,
        acks.set.len()
    )?;
    let reader = Reader::open(dir)?;
    let on_disk = reader.last_lsn().get();
    match on_disk.saturating_sub(max_acked) {
        0 => say!("   the disk holds {on_disk} valid records, all of them acknowledged")?,
        n => say!("   the disk holds {on_disk} valid records: {n} past the highest acknowledged LSN were in flight")?,
    }
    let torn = tear(dir, &reader, max_acked, seed)?;
    drop(reader);
    say!("3. tore the tail the way a power loss could: {torn}")?;
    let (wal, report) = Wal::open(dir, options())?;
    say!("4. reopened the log with Wal::open (default recovery, torn tails are cut):")?;
    say!("   found: {}", tail_sentence(&report.tail))?;
    for a in &report.actions {
        say!("   did:   {}", describe(a))?;
    }
    say!("   the log holds LSN {}..={}; {} bytes dropped", report.first_lsn, report.last_lsn, report.bytes_dropped())?;
    let proof = prove(&wal, &acks.set, max_acked, seed);
    wal.close()?;
    say!("5. proof:")?;
    match proof {
        Ok(lines) => {
            for l in lines {
                say!("   {l}")?;
            }
            let after = Reader::open(dir)?;
            if !after.inspection().is_clean() {
                return Err(Failure::failed(format!(
                    "FAIL: after recovery: {}",
                    tail_sentence(&after.inspection().tail)
                )));
            }
            say!("   a fresh read-only scan finds the log clean")?;
            say!()?;
            say!("PASS: every acknowledged record survived the crash and the torn write")?;
            if args.dir.is_some() {
                say!("look around: seawall inspect {shown}; seawall dump {shown} --limit 5")?;
            }
            Ok(Exit::Ok)
        }
        Err(why) => Err(Failure::failed(format!("FAIL: {why}"))),
    }
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    mix(t.as_nanos() as u64 ^ u64::from(std::process::id()))
}

/// Starts the child, reads acknowledgements, kills it after `args.acks`,
/// and reads the acknowledgements still in the pipe.
fn run_child(dir: &Path, args: &Args, seed: u64) -> Result<Acks, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::failed(format!("finding this program: {e}")))?;
    let mut child = Command::new(exe)
        .arg("demo-child")
        .arg(dir)
        .args(["--seed", &seed.to_string(), "--writers", &args.writers.to_string()])
        .args(["--max-records", &(args.acks.saturating_mul(100)).to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::failed(format!("starting the writer process: {e}")))?;
    let Some(out) = child.stdout.take() else {
        return Err(Failure::failed("the writer process has no output pipe"));
    };
    let mut acks = Acks { set: BTreeSet::new(), at_kill: 0 };
    for line in BufReader::new(out).lines() {
        let line = line.map_err(|e| Failure::failed(format!("reading the writer's output: {e}")))?;
        let lsn: u64 =
            line.trim().parse().map_err(|_| Failure::failed(format!("unexpected line from the writer: {line:?}")))?;
        acks.set.insert(lsn);
        if acks.at_kill == 0 && acks.set.len() as u64 >= args.acks {
            acks.at_kill = acks.set.len() as u64;
            // `Child::kill` sends SIGKILL: no destructor, no final sync.
            child.kill().map_err(|e| Failure::failed(format!("killing the writer: {e}")))?;
        }
    }
    let status = child.wait().map_err(|e| Failure::failed(format!("waiting for the writer: {e}")))?;
    if acks.at_kill == 0 || status.signal() != Some(9) {
        return Err(Failure::failed(format!(
            "the writer process ended on its own ({status}) after {} acknowledgements",
            acks.set.len()
        )));
    }
    Ok(acks)
}

/// Damages the log past every acknowledged record, the way a power loss can:
/// the last record on disk, if it was never acknowledged, keeps only its
/// first half (the rest holds garbage); otherwise a partial record of garbage
/// lands after the end of the valid data. Returns a description.
///
/// Only the last record is torn, and only inside the active segment: a record
/// past the highest printed acknowledgement may still have been durable (its
/// writer was killed between the sync and the print), and so is every record
/// of a segment that has a successor. Damage to a durable record with valid
/// records after it is media corruption, which no crash can cause.
fn tear(dir: &Path, reader: &Reader, max_acked: u64, seed: u64) -> Result<String, Failure> {
    let insp = reader.inspection();
    let Some(active) = insp.segments.iter().find(|s| s.state == SegmentState::Active) else {
        return Ok("nothing: the log has no active segment".into());
    };
    let last = insp.last_lsn;
    if last.get() > max_acked && active.last_lsn == Some(last) {
        let rec =
            reader.iter_from(last)?.next().ok_or_else(|| Failure::failed(format!("record {last} is missing")))??;
        let size = record_size(rec.payload().len() as u64);
        let keep = size / 2 / 8 * 8;
        let (from, to) = (rec.offset() + keep, rec.offset() + size);
        scramble(&dir.join(rec.segment().file_name()), from, to, seed)?;
        return Ok(format!(
            "LSN {last} (never acknowledged) kept its first {keep} bytes; bytes {from}..{to} of segment {} now hold garbage",
            rec.segment()
        ));
    }
    let from = active.bytes_used;
    let to = (from + 40).min(active.file_len);
    if to == from {
        return Ok("nothing: the active segment is full".into());
    }
    scramble(&active.path, from, to, seed)?;
    let why = if last.get() > max_acked {
        "the active segment holds no record"
    } else {
        "every record on disk was acknowledged"
    };
    Ok(format!("{why}, so {} bytes of a partial record landed at offset {from} of segment {}", to - from, active.id))
}

/// XORs bytes `from..to` of `path` with non-zero pseudo-random values, so
/// every byte changes.
fn scramble(path: &Path, from: u64, to: u64, seed: u64) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::failed(format!("tearing {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(io)?;
    let mut buf = vec![0u8; (to - from) as usize];
    f.read_exact_at(&mut buf, from).map_err(io)?;
    let mut x = seed;
    for b in &mut buf {
        x = mix(x);
        *b ^= (x as u8) | 1;
    }
    f.write_all_at(&buf, from).map_err(io)?;
    f.sync_data().map_err(io)
}

fn describe(a: &RecoveryAction) -> String {
    match a {
        RecoveryAction::ClearedTail { segment, offset, bytes } => {
            format!("cleared bytes {offset}..{} of segment {segment} ({bytes} bytes)", offset + bytes)
        }
        RecoveryAction::RemovedSegment { segment, reason } => {
            format!("removed segment {segment} ({})", common::removal_reason(*reason))
        }
        other => other.to_string(),
    }
}

/// Reads the recovered log back and checks the contract. Returns the lines
/// of the proof, or why it fails.
fn prove(wal: &Wal, acked: &BTreeSet<u64>, max_acked: u64, seed: u64) -> Result<Vec<String>, String> {
    let first = wal.first_lsn();
    if first != Lsn::new(1) {
        return Err(format!("the log starts at LSN {first}, not 1"));
    }
    let mut expected = 1u64;
    for rec in wal.iter_from(first).map_err(|e| e.to_string())? {
        let rec = rec.map_err(|e| format!("reading LSN {expected}: {e}"))?;
        if rec.lsn().get() != expected {
            return Err(format!("gap: LSN {} follows {}", rec.lsn(), expected - 1));
        }
        if rec.payload().as_ref() != payload(seed, expected).as_slice() {
            return Err(format!("LSN {expected} came back with the wrong payload"));
        }
        expected += 1;
    }
    let last = expected - 1;
    if last < max_acked {
        let lost = acked.range(last + 1..).count();
        return Err(format!("{lost} acknowledged records are missing: the log ends at LSN {last}"));
    }
    Ok(vec![
        format!(
            "all {} acknowledged LSNs (highest {max_acked}) read back with the payload they were written with",
            acked.len()
        ),
        format!("LSN 1..={last} is gap-free and every payload matches: no garbage, nothing reordered"),
    ]
    .into_iter()
    .chain(
        (last > max_acked).then(|| {
            format!("{} written but never acknowledged survived too", common::count(last - max_acked, "record"))
        }),
    )
    .collect())
}

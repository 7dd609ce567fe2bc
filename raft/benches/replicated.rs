//! Replicated durable writes per second, for 1, 8 and 64 concurrent
//! clients, on three kinds of setup:
//!
//! - **seawall**: one log in this process, one thread per client, each
//!   calling `append_durable` with the bytes of a log entry. What durability
//!   costs on this disk with group commit, and nothing else.
//! - **1 node**: a one-node cluster (one `seawall-raft-node` process) and
//!   clients over TCP. Adds openraft, the state machine, the client protocol
//!   and the store's metadata writes, but no replication.
//! - **3 nodes**: the three-node example cluster, three processes on this
//!   machine. Adds replication: a write is acknowledged once a majority
//!   (the leader and one follower) made it durable.
//!
//! Each client writes a unique key with a 100-byte value and waits for the
//! answer before its next write. Every setup runs for a warm-up, then is
//! measured for `SEAWALL_RAFT_BENCH_SECS` seconds (default 5). Prints a
//! Markdown table. Node directories and the seawall log are in the system's
//! temporary directory.
//!
//! ```sh
//! cargo bench -p seawall-raft --bench replicated
//! ```

// The bench uses the part of the node harness it needs.
#[allow(dead_code)]
#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{CommittedLeaderId, EntryPayload, LogId};
use seawall::{Options, Wal};
use seawall_raft::client::Client;
use seawall_raft::codec::encode_entry;
use seawall_raft::types::{Entry, NodeId, Request};

const CLIENTS: [usize; 3] = [1, 8, 64];
const VALUE_LEN: usize = 100;
const WARM_UP: Duration = Duration::from_secs(1);
/// One client write, retries included: a write this slow fails the bench.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);

fn measure_for() -> Duration {
    let secs = std::env::var("SEAWALL_RAFT_BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    Duration::from_secs(secs)
}

fn key(client: usize, i: u64) -> String {
    format!("c{client:02}-{i:010}")
}

fn value(i: u64) -> String {
    let digits = i.to_string();
    digits.repeat(VALUE_LEN / digits.len() + 1)[..VALUE_LEN].to_string()
}

/// What one run counted inside the measured window.
#[derive(Default)]
struct Counts {
    writes: AtomicU64,
    /// Sum of the writes' latencies, in microseconds.
    latency_us: AtomicU64,
    failed: AtomicU64,
}

/// The measured window, and the end of the run.
struct Window {
    open: AtomicBool,
    stop: AtomicBool,
}

impl Window {
    fn new() -> Arc<Window> {
        Arc::new(Window { open: AtomicBool::new(false), stop: AtomicBool::new(false) })
    }

    fn record(&self, counts: &Counts, started: Instant, ok: bool) {
        if !self.open.load(Ordering::Relaxed) {
            return;
        }
        if ok {
            counts.writes.fetch_add(1, Ordering::Relaxed);
            counts.latency_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        } else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One cell of the table.
struct Cell {
    per_sec: f64,
    mean_latency: Duration,
    failed: u64,
}

/// Warms up, opens the window for the measured time, stops the writers
/// (`join` returns once they stopped) and returns their rate. The sleeps set the length of the phases; nothing
/// waits on another thread's progress by sleeping.
fn run_window(window: &Window, counts: &Counts, join: impl FnOnce()) -> Cell {
    std::thread::sleep(WARM_UP);
    window.open.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(measure_for());
    window.open.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed();
    window.stop.store(true, Ordering::SeqCst);
    join();
    let writes = counts.writes.load(Ordering::SeqCst);
    Cell {
        per_sec: writes as f64 / elapsed.as_secs_f64(),
        mean_latency: Duration::from_micros(counts.latency_us.load(Ordering::SeqCst) / writes.max(1)),
        failed: counts.failed.load(Ordering::SeqCst),
    }
}

/// `clients` threads appending durably to one seawall log.
fn bench_wal(clients: usize) -> Cell {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (wal, _) = Wal::open(dir.path(), Options::default()).expect("open the log");
    let wal = Arc::new(wal);
    let (window, counts) = (Window::new(), Arc::new(Counts::default()));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (wal, window, counts) = (wal.clone(), window.clone(), counts.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                // Ends when the window closes for good.
                while !window.stop.load(Ordering::Relaxed) {
                    let entry = Entry {
                        log_id: LogId::new(CommittedLeaderId::new(1, 1), i),
                        payload: EntryPayload::Normal(Request::Set { key: key(c, i), value: value(i) }),
                    };
                    let started = Instant::now();
                    let ok = wal.append_durable(&encode_entry(&entry)).is_ok();
                    window.record(&counts, started, ok);
                    i += 1;
                }
            })
        })
        .collect();
    run_window(&window, &counts, || threads.into_iter().for_each(|t| t.join().expect("writer thread")))
}

/// `clients` clients of a cluster of `nodes` node processes.
fn bench_cluster(rt: &tokio::runtime::Runtime, nodes: u64, clients: usize) -> Cell {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ids: Vec<NodeId> = (1..=nodes).collect();
    let addrs = cluster::free_addrs(&ids);
    let procs = cluster::start_nodes(&addrs, dir.path());
    rt.block_on(async {
        let mut admin = Client::new(addrs.clone());
        admin.init(1, cluster::members(&addrs)).await.expect("initialize the cluster");
        admin.write("warm", "up", WRITE_DEADLINE).await.expect("a first write");
    });
    let (window, counts) = (Window::new(), Arc::new(Counts::default()));
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (addrs, window, counts) = (addrs.clone(), window.clone(), counts.clone());
            rt.spawn(async move {
                let mut client = Client::new(addrs);
                let mut i = 0;
                // Ends when the window closes for good.
                while !window.stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = client.write(&key(c, i), &value(i), WRITE_DEADLINE).await.is_ok();
                    window.record(&counts, started, ok);
                    i += 1;
                }
            })
        })
        .collect();
    let result = run_window(&window, &counts, || {
        rt.block_on(async {
            for t in tasks {
                t.await.expect("client task");
            }
        })
    });
    drop(procs);
    result
}

fn cell(r: &Cell) -> String {
    let failed = if r.failed > 0 { format!(", {} failed", r.failed) } else { String::new() };
    format!("{:.0} ({:.1} ms{failed})", r.per_sec, r.mean_latency.as_secs_f64() * 1e3)
}

/// Runs a setup with a number of clients.
type Setup<'a> = Box<dyn Fn(usize) -> Cell + 'a>;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setups: [(&str, Setup); 3] = [
        ("seawall `append_durable`, in process", Box::new(bench_wal)),
        ("1-node cluster (no replication)", Box::new(|c| bench_cluster(&rt, 1, c))),
        ("3-node cluster", Box::new(|c| bench_cluster(&rt, 3, c))),
    ];
    let mut rows = Vec::new();
    for (name, run) in &setups {
        let mut cells = Vec::new();
        for c in CLIENTS {
            let cell = cell(&run(c));
            eprintln!("{name}, {c} clients: {cell}");
            cells.push(cell);
        }
        rows.push(format!("| {name} | {} |", cells.join(" | ")));
    }
    let header: Vec<String> = CLIENTS.iter().map(|c| format!("{c} client{}", if *c == 1 { "" } else { "s" })).collect();
    println!(
        "\ndurable writes per second (mean latency), {VALUE_LEN}-byte values, {} s per cell\n",
        measure_for().as_secs()
    );
    println!("| setup | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(CLIENTS.len()));
    for row in rows {
        println!("{row}");
    }
}

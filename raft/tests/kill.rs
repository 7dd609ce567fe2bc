//! Process kills of a three-node cluster: every acknowledged write survives
//! SIGKILLs of any node, the leader included, and every node ends up with
//! all of them.
//!
//! The harness starts three `seawall-raft-node` processes on 127.0.0.1 and
//! a client that writes unique keys without pause. Each cycle waits for a
//! number of new acknowledgements, then sends SIGKILL to one node or two:
//! cycle by cycle, the leader; a seeded random node; the leader and a
//! random follower, a majority; a random node. With one node down it waits
//! until the two survivors acknowledge more writes (after a new election,
//! if the leader died) and restarts the node in the same directory on the
//! same port; with two down, the cluster cannot commit, so it restarts both
//! and waits until writes are acknowledged again. Then it waits until every
//! restarted node has applied what the leader had applied. The majority
//! kills are what makes the test about the log store: a write acknowledged
//! once the leader and one follower had it (the third lagging) survives
//! the kill of those two only if their disks kept it.
//! After the last cycle the writer stops, every node must apply the
//! leader's last entry, and then every node must hold every acknowledged
//! write, with all three states identical.
//!
//! Waiting is event-driven: acknowledgement counts come through a watch
//! channel, and convergence is asked of each node (`AwaitApplied`), which
//! waits on its own Raft metrics. Every wait has a deadline, and the whole
//! test runs under a watchdog, so a hang fails instead of stalling CI.
//!
//! `SEAWALL_RAFT_KILL_CYCLES=<n>` sets the cycles (default 20);
//! `SEAWALL_SEED=<hex>` replays a run's choices of victims.
//!
//! Each node keeps its log in the seawall log store and its state machine
//! in a snapshot file, so a killed node restarts from its own disk: its
//! vote, its log and what it acknowledged to the leader.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_raft::client::Client;
use seawall_raft::types::NodeId;
use support::cluster::{free_addrs, members, start_nodes};
use support::{seed, Rng};
use tokio::sync::watch;

const NODES: [NodeId; 3] = [1, 2, 3];
/// New acknowledgements to wait for before each kill, and after it.
const ACKS_BEFORE_KILL: u64 = 40;
const ACKS_WHILE_DOWN: u64 = 20;
/// The deadline of any single wait: generous, for a loaded two-core machine.
const STEP: Duration = Duration::from_secs(60);
/// The whole test.
const WATCHDOG: Duration = Duration::from_secs(600);
/// One client write, retries included.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

fn cycles() -> u64 {
    std::env::var("SEAWALL_RAFT_KILL_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

/// What the writer saw.
#[derive(Default)]
struct Writes {
    acked: Vec<u64>,
    failed: Vec<u64>,
}

fn key(i: u64) -> String {
    format!("k{i:08}")
}

fn value(seed: u64, i: u64) -> String {
    format!("v{i}-{seed:x}")
}

/// Writes keys 0, 1, 2, ... until `stop`, publishing the acknowledgement count.
async fn writer(
    addrs: BTreeMap<NodeId, String>,
    seed: u64,
    stop: Arc<AtomicBool>,
    writes: Arc<Mutex<Writes>>,
    acks: watch::Sender<u64>,
) {
    let mut client = Client::new(addrs);
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let ok = client.write(&key(i), &value(seed, i), WRITE_DEADLINE).await.is_ok();
        let mut w = writes.lock().unwrap();
        if ok {
            w.acked.push(i);
            acks.send_replace(w.acked.len() as u64);
        } else {
            w.failed.push(i);
        }
        i += 1;
    }
}

async fn wait_acks(rx: &mut watch::Receiver<u64>, at_least: u64, what: &str) {
    let res = tokio::time::timeout(STEP, rx.wait_for(|&n| n >= at_least)).await;
    assert!(matches!(res, Ok(Ok(_))), "{what}: fewer than {at_least} acknowledged writes within {STEP:?}");
}

/// The leader as the nodes see it: asks each live node until one names a leader.
async fn leader(client: &mut Client, live: &[NodeId]) -> Option<NodeId> {
    for &id in live {
        if let Ok(s) = client.status(id).await {
            if s.leader.is_some() {
                return s.leader;
            }
        }
    }
    None
}

/// The leader's last applied index, once a leader answers.
async fn leader_applied(client: &mut Client, live: &[NodeId]) -> (NodeId, u64) {
    let until = tokio::time::Instant::now() + STEP;
    loop {
        // Polls the cluster until an election settles; every poll is an RPC
        // answered at once, and the deadline bounds the loop.
        if let Some(l) = leader(client, live).await {
            if let Ok(s) = client.status(l).await {
                if s.leader == Some(l) {
                    return (l, s.last_applied.unwrap_or(0));
                }
            }
        }
        assert!(tokio::time::Instant::now() < until, "no leader within {STEP:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn acknowledged_writes_survive_kills_of_any_node() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        match tokio::time::timeout(WATCHDOG, run()).await {
            Ok(()) => {}
            Err(_) => panic!("kill test did not finish within {WATCHDOG:?}"),
        }
    });
}

async fn run() {
    let seed = seed();
    let cycles = cycles();
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let addrs = free_addrs(&NODES);
    let mut nodes = start_nodes(&addrs, tmp.path());
    let mut admin = Client::new(addrs.clone());
    admin.init(1, members(&addrs)).await.expect("initialize the cluster");

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Writes::default()));
    let (ack_tx, mut acks) = watch::channel(0u64);
    let writer = tokio::spawn(writer(addrs.clone(), seed, stop.clone(), writes.clone(), ack_tx));

    let (mut leader_kills, mut majority_kills) = (0, 0);
    for cycle in 0..cycles {
        let before = *acks.borrow();
        wait_acks(&mut acks, before + ACKS_BEFORE_KILL, "before a kill").await;
        let (leader, _) = leader_applied(&mut admin, &NODES).await;
        let random = NODES[rng.below(3) as usize];
        let victims: Vec<NodeId> = match cycle % 4 {
            0 => vec![leader],
            // A majority: nothing acknowledged may depend on a node that
            // stayed up, so each write must come back from a killed node's disk.
            2 => {
                let other = NODES.iter().copied().filter(|&n| n != leader).nth(rng.below(2) as usize).unwrap();
                vec![leader, other]
            }
            _ => vec![random],
        };
        leader_kills += u64::from(victims.contains(&leader));
        majority_kills += u64::from(victims.len() > 1);
        for v in &victims {
            nodes.get_mut(v).unwrap().kill();
        }

        let down = *acks.borrow();
        let live: Vec<NodeId> = NODES.iter().copied().filter(|n| !victims.contains(n)).collect();
        if victims.len() == 1 {
            wait_acks(&mut acks, down + ACKS_WHILE_DOWN, "with a node down").await;
        }
        for v in &victims {
            nodes.get_mut(v).unwrap().start();
        }
        if victims.len() > 1 {
            // No quorum while they were down: the cluster writes again once
            // they are back, from what they kept.
            wait_acks(&mut acks, down + ACKS_WHILE_DOWN, "after a majority restarted").await;
        }
        let (_, applied) = leader_applied(&mut admin, if victims.len() == 1 { &live } else { &NODES }).await;
        for &v in &victims {
            let caught_up = admin.await_applied(v, applied, STEP).await;
            assert!(caught_up.is_ok(), "cycle {cycle}: node {v} did not catch up to {applied}: {caught_up:?}");
        }
    }

    stop.store(true, Ordering::Relaxed);
    let finished = tokio::time::timeout(STEP, writer).await;
    assert!(matches!(finished, Ok(Ok(()))), "the writer did not stop: {finished:?}");

    // Convergence: every node applies the leader's last entry.
    let (leader, _) = leader_applied(&mut admin, &NODES).await;
    let last = admin.status(leader).await.expect("leader status").last_log_index.unwrap_or(0);
    for id in NODES {
        let res = admin.await_applied(id, last, STEP).await;
        assert!(res.is_ok(), "node {id} did not apply up to {last}: {res:?}");
    }

    let (acked, failed) = {
        let w = writes.lock().unwrap();
        (w.acked.clone(), w.failed.clone())
    };
    let mut states = Vec::new();
    for id in NODES {
        let state = admin.state(id).await.expect("node state");
        for &i in &acked {
            assert_eq!(
                state.kv.get(&key(i)),
                Some(&value(seed, i)),
                "node {id} lost acknowledged write {i} (seed {seed:#x})"
            );
        }
        states.push(state);
    }
    assert!(states.windows(2).all(|w| w[0].kv == w[1].kv), "nodes disagree on the state (seed {seed:#x})");
    let unacked_present = failed.iter().filter(|&&i| states[0].kv.contains_key(&key(i))).count();
    println!(
        "raft kill test (seed {seed:#x}): {cycles} kill cycles ({leader_kills} of the leader, \
         {majority_kills} of two nodes at once); \
         {} writes acknowledged, {} failed or timed out ({unacked_present} of them applied anyway); \
         every node holds all {} acknowledged writes; {} keys on each node, states identical up to index {last}",
        acked.len(),
        failed.len(),
        acked.len(),
        states[0].kv.len(),
    );
    drop(nodes);
    drop(tmp_keep(tmp));
}

/// Keeps the node directories when `SEAWALL_KEEP` is set, for inspection.
fn tmp_keep(tmp: tempfile::TempDir) -> Option<tempfile::TempDir> {
    if std::env::var_os("SEAWALL_KEEP").is_some() {
        let path: &Path = tmp.path();
        println!("node directories kept in {}", path.display());
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    }
}

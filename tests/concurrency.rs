//! Guards group commit: many threads appending durably at once get unique,
//! gap-free LSNs, every payload reads back, and they share fsyncs.

#[path = "support/damage.rs"]
mod damage;

use std::sync::{Arc, Barrier};

use seawall::{Lsn, Options, Wal};

const THREADS: u64 = 16;
const PER_THREAD: u64 = 200;

fn tagged(thread: u64, i: u64) -> Vec<u8> {
    let mut p = format!("thread {thread} record {i} ").into_bytes();
    p.extend(damage::payload(thread * 1_000_000 + i, 3));
    p
}

#[test]
fn sixteen_threads_append_durably() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().segment_size(256 * 1024);
    let (wal, _) = Wal::open(dir.path(), opts.clone()).unwrap();
    let wal = Arc::new(wal);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (wal, start) = (wal.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                (0..PER_THREAD)
                    .map(|i| {
                        let lsn = wal.append_durable(&tagged(t, i)).unwrap();
                        // Durable means durable: the log says so too.
                        assert!(wal.durable_lsn() >= lsn);
                        (lsn, t, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked: Vec<(Lsn, u64, u64)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    acked.sort();
    let total = THREADS * PER_THREAD;
    assert_eq!(acked.len() as u64, total);
    for (i, (lsn, _, _)) in acked.iter().enumerate() {
        assert_eq!(lsn.get(), i as u64 + 1, "LSNs are unique and gap-free");
    }
    let stats = wal.stats();
    println!(
        "{total} durable appends by {THREADS} threads: {} fsyncs, {} writes, largest group {}",
        stats.fsyncs, stats.writes, stats.max_group
    );
    assert_eq!(stats.appends, total);
    assert!(stats.fsyncs < total, "group commit shares fsyncs ({} fsyncs for {total} appends)", stats.fsyncs);
    assert!(stats.max_group > 1);
    let check = |wal: &Wal| {
        let recs: Vec<_> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len() as u64, total);
        for (rec, (lsn, t, i)) in recs.iter().zip(&acked) {
            assert_eq!(rec.lsn(), *lsn);
            assert_eq!(rec.payload().as_ref(), &tagged(*t, *i)[..]);
        }
    };
    check(&wal);
    Arc::try_unwrap(wal).unwrap().close().unwrap();
    let (wal, report) = Wal::open(dir.path(), opts).unwrap();
    assert!(report.is_clean());
    check(&wal);
}

#[test]
fn concurrent_batches_stay_contiguous() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), Options::default().segment_size(64 * 1024)).unwrap();
    let wal = Arc::new(wal);
    let handles: Vec<_> = (0..4u8)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..100u8 {
                    let parts = [vec![t, i, 0], vec![t, i, 1], vec![t, i, 2]];
                    let r = wal.append_batch(parts.iter().map(|p| &p[..])).unwrap();
                    assert_eq!(r.end().get() - r.start().get(), 2);
                    if i % 10 == 0 {
                        wal.sync(*r.end()).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let recs: Vec<_> = wal.iter_from(Lsn::new(1)).unwrap().map(|r| r.unwrap().payload().to_vec()).collect();
    assert_eq!(recs.len(), 1200);
    for chunk in recs.chunks(3) {
        assert_eq!((chunk[0][0], chunk[0][1]), (chunk[2][0], chunk[2][1]), "a batch is never interleaved");
        assert_eq!([chunk[0][2], chunk[1][2], chunk[2][2]], [0, 1, 2]);
    }
}

#[test]
fn a_lone_writer_pays_one_fsync_per_durable_append() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().background_preallocation(false);
    let (wal, _) = Wal::open(dir.path(), opts).unwrap();
    for i in 0..100u64 {
        wal.append_durable(&i.to_le_bytes()).unwrap();
    }
    let stats = wal.stats();
    assert_eq!((stats.appends, stats.writes, stats.fsyncs, stats.group_commits), (100, 100, 100, 100));
    assert_eq!(stats.max_group, 1, "nobody else was there to share with");
}

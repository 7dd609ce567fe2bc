//! Random reads: `Wal::read` at uniformly random LSNs against a raw `pread`
//! of the same bytes, and short `Wal::range`s against one `pread` per
//! record. The log is one [`super::ours::fill`] wrote: record `lsn` holds
//! `payload(0, lsn - 1, _)`, which both sides check as they read.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use seawall::format::{record_size, RECORD_HEADER_LEN};
use seawall::{Lsn, SegmentId, Wal};

use super::{payload_id, Sample};

/// Records per range of the range workload.
pub const RANGE: u64 = 64;

/// xorshift64*: a seeded generator, so every run reads the same LSNs.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (any value; zero is replaced).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi` (the modulo bias is below 2^-40 for logs under
    /// 2^24 records).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// `n` LSNs drawn uniformly from `first..=last`.
pub fn random_lsns(first: Lsn, last: Lsn, n: usize, seed: u64) -> Vec<Lsn> {
    let mut rng = XorShift::new(seed);
    (0..n).map(|_| Lsn::new(rng.between(first.get(), last.get()))).collect()
}

/// Where the bytes of one record lie, as the public API tells
/// (`Record::segment`, `Record::offset`, and the encoded size of its payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spot {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The segment file holding it.
    pub segment: SegmentId,
    /// Offset of its header in that file.
    pub offset: u64,
    /// Its encoded length, header and padding included.
    pub len: usize,
}

/// The spot of each of `lsns`, found with `Wal::read` (untimed).
pub fn locate(wal: &Wal, lsns: &[Lsn]) -> Vec<Spot> {
    lsns.iter()
        .map(|&lsn| {
            let r = wal.read(lsn).expect("read");
            Spot { lsn, segment: r.segment(), offset: r.offset(), len: record_size(r.payload().len() as u64) as usize }
        })
        .collect()
}

/// The spot of every record of `from..from + RANGE`, in order, found with
/// `Wal::range` (untimed).
pub fn locate_range(wal: &Wal, from: Lsn) -> Vec<Spot> {
    let recs = wal.range(from..from + RANGE).expect("range");
    recs.map(|r| {
        let r = r.expect("record");
        let len = record_size(r.payload().len() as u64) as usize;
        Spot { lsn: r.lsn(), segment: r.segment(), offset: r.offset(), len }
    })
    .collect()
}

/// Read-only handles on the segment files of `dir`, opened once (as the log
/// keeps its own open).
#[derive(Debug, Default)]
pub struct Files(HashMap<SegmentId, File>);

impl Files {
    /// Opens every segment that one of `spots` lies in.
    pub fn open<'a>(dir: &Path, spots: impl IntoIterator<Item = &'a Spot>) -> Files {
        let mut files = HashMap::new();
        for s in spots {
            files.entry(s.segment).or_insert_with(|| File::open(dir.join(s.segment.file_name())).expect("open"));
        }
        Files(files)
    }

    /// Reads the bytes of `spot` into `buf` with one `pread`, and checks that
    /// the payload after the header is record `spot.lsn`'s.
    fn pread(&self, spot: &Spot, buf: &mut [u8]) {
        let buf = &mut buf[..spot.len];
        self.0[&spot.segment].read_exact_at(buf, spot.offset).expect("pread");
        check(&buf[RECORD_HEADER_LEN..], spot.lsn);
    }
}

/// Panics unless `p` starts with the identity of record `lsn` of a filled log.
fn check(p: &[u8], lsn: Lsn) {
    assert_eq!(payload_id(p), (0, lsn.get() as usize - 1), "record {lsn} holds its own payload");
}

/// Times `op` on each of `items`, one latency each.
fn timed<T>(items: &[T], mut op: impl FnMut(&T) -> u64) -> Sample {
    let mut lat = Vec::with_capacity(items.len());
    let mut bytes = 0;
    let t0 = Instant::now();
    for it in items {
        let t = Instant::now();
        bytes += op(it);
        lat.push(t.elapsed());
    }
    let elapsed = t0.elapsed();
    Sample { ops: items.len() as u64, bytes, elapsed, ..Sample::default() }.with_latencies(vec![lat])
}

/// `Wal::read` of each spot's record, each timed; checks every payload.
pub fn seawall_reads(wal: &Wal, spots: &[Spot]) -> Sample {
    timed(spots, |s| {
        let r = wal.read(s.lsn).expect("read");
        check(r.payload(), s.lsn);
        s.len as u64
    })
}

/// One `pread` of each spot's bytes, each timed; checks every payload.
pub fn pread_reads(files: &Files, spots: &[Spot]) -> Sample {
    let mut buf = vec![0u8; spots.iter().map(|s| s.len).max().unwrap_or(0)];
    timed(spots, |s| {
        files.pread(s, &mut buf);
        s.len as u64
    })
}

/// `Wal::range` over each range's records, iterated to the end, each range
/// timed; checks every payload.
pub fn seawall_ranges(wal: &Wal, ranges: &[Vec<Spot>]) -> Sample {
    timed(ranges, |spots| {
        let from = spots[0].lsn;
        let mut n = 0;
        for r in wal.range(from..from + spots.len() as u64).expect("range") {
            let r = r.expect("record");
            check(r.payload(), from + n);
            n += 1;
        }
        assert_eq!(n, spots.len() as u64, "the range yields every record");
        spots.iter().map(|s| s.len as u64).sum()
    })
}

/// One `pread` per record of each range, each range timed; checks every
/// payload.
pub fn pread_ranges(files: &Files, ranges: &[Vec<Spot>]) -> Sample {
    let mut buf = vec![0u8; ranges.iter().flatten().map(|s| s.len).max().unwrap_or(0)];
    timed(ranges, |spots| {
        for s in spots {
            files.pread(s, &mut buf);
        }
        spots.iter().map(|s| s.len as u64).sum()
    })
}

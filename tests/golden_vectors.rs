//! Guards the format contract: the golden segment files in
//! `format-spec/vectors/` are rebuilt byte for byte from the code's encoders
//! (`seawall::raw`), laid out as the writer lays them out, and decoding them
//! yields exactly what each vector's `expected.txt` lists: through
//! `seawall::Reader`, through `Wal::plan_recovery` in every recovery mode,
//! and through `Wal::open` on a copy. A change to any constant in
//! `src/format.rs`, or to how recovery judges these files, breaks this test
//! until FORMAT.md, the version and the vectors are updated together.
//! Run with `SEAWALL_BLESS=1` to rewrite the vectors after a deliberate
//! change. FORMAT.md §10 documents the `expected.txt` format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use seawall::format::*;
use seawall::raw::{encode_meta, encode_parity, encode_record, encode_seal_index, encode_trailer};
use seawall::{
    Lsn, Options, Reader, RecordKind, RecoveryAction, RecoveryMode, SegmentHeader, SegmentId, TailState, Wal,
};

/// A segment file under construction, written the way the writer writes
/// one: records chained and claiming what the last sync made durable,
/// records that take no LSN carrying the LSN and chain of the last one that
/// does.
struct Seg {
    id: u64,
    salt: u64,
    first_lsn: u64,
    bytes: Vec<u8>,
    /// Last LSN written and the checksum of its record (the chain).
    lsn: u64,
    chain: u32,
    /// Offset and checksum of each LSN's record, LSN `first_lsn + i` at `i`.
    recs: Vec<(u32, u32)>,
    /// What the last sync made durable (the claim records make).
    durable: u64,
    /// Start of the bytes no sync covers yet (the parity window).
    window: u64,
}

fn crc_of(rec: &[u8]) -> u32 {
    u32::from_le_bytes(rec[0..4].try_into().unwrap())
}

impl Seg {
    /// A segment whose header is written and synced.
    fn new(id: u64, first_lsn: u64, salt: u64, prev_crc: u32, reset: bool) -> Seg {
        Seg::with_version(id, first_lsn, salt, prev_crc, reset, FORMAT_VERSION)
    }

    fn with_version(id: u64, first_lsn: u64, salt: u64, prev_crc: u32, reset: bool, version: u32) -> Seg {
        Seg::with_header(SegmentHeader {
            version,
            ..SegmentHeader::new(SegmentId::new(id), first_lsn, salt, prev_crc, reset)
        })
    }

    /// The segment a rotation starts after `prev` before `prev` is sealed
    /// (W2): its header says how much of `prev` the last sync made durable.
    fn rotated(prev: &Seg, salt: u64) -> Seg {
        let prev_synced = if prev.durable > SEGMENT_HEADER_LEN as u64 { prev.durable as u32 } else { 0 };
        let id = SegmentId::new(prev.id + 1);
        Seg::with_header(SegmentHeader {
            ahead: true,
            prev_synced,
            ..SegmentHeader::new(id, prev.lsn + 1, salt, prev.chain, false)
        })
    }

    fn with_header(header: SegmentHeader) -> Seg {
        let (id, salt, first_lsn) = (header.id.get(), header.salt, header.first_lsn);
        let start = SEGMENT_HEADER_LEN as u64;
        Seg {
            id,
            salt,
            first_lsn,
            bytes: header.encode().to_vec(),
            lsn: first_lsn - 1,
            chain: header.prev_crc,
            recs: Vec::new(),
            durable: start,
            window: start,
        }
    }

    fn end(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Appends a record; returns its offset.
    fn rec(&mut self, kind: RecordKind, payload: &[u8]) -> u32 {
        let at = self.end();
        let lsn = if kind.takes_lsn() { self.lsn + 1 } else { self.lsn };
        // As the writer: the header alone is never claimed.
        let claim = if self.durable > SEGMENT_HEADER_LEN as u64 { self.durable as u32 } else { SYNCED_NONE };
        let r = encode_record(self.salt, lsn, kind, self.chain, claim, at, payload);
        if kind.takes_lsn() {
            (self.lsn, self.chain) = (lsn, crc_of(&r));
            self.recs.push((at as u32, self.chain));
        }
        self.bytes.extend_from_slice(&r);
        at as u32
    }

    fn full(&mut self, payload: &[u8]) -> u32 {
        self.rec(RecordKind::Full, payload)
    }

    fn batch(&mut self, payloads: &[&[u8]]) {
        for (i, p) in payloads.iter().enumerate() {
            let kind = match i {
                0 => RecordKind::BatchFirst,
                i if i + 1 == payloads.len() => RecordKind::BatchLast,
                _ => RecordKind::BatchMiddle,
            };
            self.rec(kind, p);
        }
    }

    fn meta(&mut self, snapshot: bool, purge: u64, entries: &[(&[u8], &[u8])]) -> u32 {
        self.rec(RecordKind::Meta, &encode_meta(snapshot, purge, None, entries))
    }

    /// A completed sync: everything written is durable.
    fn sync(&mut self) {
        self.durable = self.end();
        self.window = self.end();
    }

    /// Offset and checksum of record `lsn`.
    fn at(&self, lsn: u64) -> (u32, u32) {
        self.recs[(lsn - self.first_lsn) as usize]
    }

    /// `truncate_after(c)` inside this segment: a cut marker (a snapshot of
    /// `entries` with purge point `purge`), synced, then (with `clear`) the
    /// dead bytes zeroed. The log continues after `c`.
    fn cut(&mut self, c: u64, purge: u64, entries: &[(&[u8], &[u8])], clear: bool) {
        let (dead_start, _) = self.at(c + 1);
        let crc = if c >= self.first_lsn { self.at(c).1 } else { unreachable!("the vectors keep a record") };
        let marker = self.rec(RecordKind::Meta, &encode_meta(true, purge, Some((c, crc, dead_start)), entries));
        self.sync();
        if clear {
            self.bytes[dead_start as usize..marker as usize].fill(0);
        }
        self.recs.truncate((c + 1 - self.first_lsn) as usize);
        (self.lsn, self.chain) = (c, crc);
    }

    /// A sync over a window larger than the frontier: padding to a page
    /// boundary and a parity record over the window, then the sync.
    fn sync_with_parity(&mut self) {
        assert!(self.end() - self.window > FRONTIER);
        let page = PARITY_PAGE as u64;
        let mut pad = self.end().next_multiple_of(page) - self.end();
        if pad > 0 && pad < RECORD_HEADER_LEN as u64 {
            pad += page;
        }
        if pad > 0 {
            self.rec(RecordKind::Pad, &vec![0u8; (pad - RECORD_HEADER_LEN as u64) as usize]);
        }
        let parity = encode_parity(&self.bytes, self.window, self.end());
        self.rec(RecordKind::Parity, &parity);
        self.sync();
    }

    /// Seals the segment in a file of `capacity` bytes: its index record,
    /// then the trailer in the file's last bytes.
    fn seal(&mut self, capacity: usize) {
        let offsets: Vec<u32> = self.recs.iter().map(|r| r.0).collect();
        let index_off = self.end() as u32;
        self.rec(RecordKind::Seal, &encode_seal_index(self.first_lsn, &offsets));
        let index_crc = crc_of(&self.bytes[index_off as usize..]);
        let t = encode_trailer(
            SegmentId::new(self.id),
            self.salt,
            self.first_lsn,
            self.lsn,
            self.chain,
            index_off,
            index_crc,
        );
        assert!(self.bytes.len() + TRAILER_LEN <= capacity);
        self.bytes.resize(capacity - TRAILER_LEN, 0);
        self.bytes.extend_from_slice(&t);
        self.sync();
    }

    /// The file: the bytes written, then zeros up to `len` (a short file is
    /// what a segment without preallocation looks like).
    fn file(mut self, len: usize) -> (u64, Vec<u8>) {
        assert!(self.bytes.len() <= len, "segment {} holds {} bytes", self.id, self.bytes.len());
        self.bytes.resize(len, 0);
        (self.id, self.bytes)
    }
}

/// One golden vector: its segment files and which recovery to run on a copy.
struct Vector {
    name: &'static str,
    files: Vec<(u64, Vec<u8>)>,
}

const NO_META: &[(&[u8], &[u8])] = &[];

fn basic() -> Vector {
    let mut s = Seg::new(1, 1, 0x0123_4567_89ab_cdef, 0, false);
    s.meta(true, 1, NO_META);
    s.sync();
    s.full(b"hello");
    s.sync();
    s.full(b"");
    s.batch(&[b"batch-a", b"batch-b", b"batch-c"]);
    s.sync();
    Vector { name: "v3-basic", files: vec![s.file(512)] }
}

fn torn_tail() -> Vector {
    let mut s = Seg::new(1, 1, 0xfeed_face_cafe_beef, 0, false);
    s.meta(true, 1, NO_META);
    s.sync();
    s.full(b"durable");
    s.sync();
    // A batch whose last record never landed, and the first bytes of a
    // record header whose write was cut short.
    s.batch(&[b"half of", b"a batch"]);
    let last = s.bytes.len() - record_size(7) as usize;
    s.bytes.truncate(last);
    s.bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03]);
    Vector { name: "v3-torn-tail", files: vec![s.file(512)] }
}

fn cut(clear: bool) -> Vector {
    let mut s = Seg::new(1, 1, 0x5eed_0001, 0, false);
    let entries: &[(&[u8], &[u8])] = &[(b"term", b"7")];
    s.meta(true, 1, entries);
    s.sync();
    for p in [&b"one"[..], b"two", b"three"] {
        s.full(p);
    }
    s.sync();
    s.cut(1, 1, entries, clear);
    if clear {
        // Appending goes on only once the dead bytes are cleared: without
        // that, the crash came between the marker's sync and the clearing.
        s.full(b"two again");
        s.sync();
    }
    let name = if clear { "v3-cut-cleared" } else { "v3-cut-not-cleared" };
    Vector { name, files: vec![s.file(512)] }
}

fn cross_segment_cut() -> Vector {
    // Segment 1 holds LSNs 1..=3. `truncate_after(2)` started segment 2 at
    // LSN 3, naming record 2's checksum: its header supersedes the old
    // record 3, whose bytes a crash kept from being cleared. Then LSNs 3, 4.
    let mut s1 = Seg::new(1, 1, 11, 0, false);
    s1.meta(true, 1, NO_META);
    s1.sync();
    for p in [b"one", b"two", b"cut"] {
        s1.full(p);
    }
    s1.sync();
    let crc2 = s1.at(2).1;
    let mut s2 = Seg::new(2, 3, 22, crc2, false);
    s2.meta(true, 1, NO_META);
    s2.sync();
    s2.full(b"three");
    s2.full(b"four");
    s2.sync();
    Vector { name: "v3-cross-segment-cut", files: vec![s1.file(512), s2.file(512)] }
}

fn corruption() -> Vector {
    let mut s = Seg::new(1, 1, 0xbad_c0de, 0, false);
    s.meta(true, 1, NO_META);
    s.sync();
    s.full(b"first");
    s.sync();
    let second = s.full(b"second");
    s.sync();
    // Written after record 2 was durable: it claims record 2's bytes.
    s.full(b"third");
    s.sync();
    // Media damage to a byte of record 2's payload.
    s.bytes[second as usize + RECORD_HEADER_LEN] ^= 0x10;
    Vector { name: "v3-corruption", files: vec![s.file(512)] }
}

fn parity_repair() -> Vector {
    let mut s = Seg::new(1, 1, 0x9a41_7700, 0, false);
    s.meta(true, 1, NO_META);
    s.sync();
    // One sync acknowledges five records, more than the frontier.
    let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| (0..900).map(|j| (j as u8).wrapping_mul(7) ^ i).collect()).collect();
    let mut offs = Vec::new();
    for p in &payloads {
        offs.push(s.full(p));
    }
    s.sync_with_parity();
    // Media damage to record 2, in the window's first page.
    s.bytes[offs[1] as usize + RECORD_HEADER_LEN + 100] ^= 0xff;
    let len = s.bytes.len();
    Vector { name: "v3-parity-repair", files: vec![s.file(len)] }
}

fn other_version() -> Vector {
    // A version 1 segment: its header checks out, its version is not ours.
    let mut s = Seg::with_version(1, 1, 0x0123_4567_89ab_cdef, 0, false, 1);
    s.full(b"hello");
    Vector { name: "v3-other-version", files: vec![s.file(256)] }
}

fn metadata() -> Vector {
    let mut s = Seg::new(1, 1, 0x3e7a, 0, false);
    s.meta(true, 1, &[(b"term", b"3"), (b"vote", b"node-1")]);
    s.sync();
    s.full(b"entry 1");
    s.meta(false, 0, &[(b"vote", b"node-2")]);
    s.sync();
    s.full(b"entry 2");
    s.meta(false, 0, &[(b"commit", b""), (b"term", b"4")]);
    s.sync();
    Vector { name: "v3-metadata", files: vec![s.file(512)] }
}

fn reset() -> Vector {
    let mut s1 = Seg::new(1, 1, 0xaaaa, 0, false);
    s1.meta(true, 1, &[(b"node", b"a")]);
    s1.sync();
    s1.full(b"old 1");
    s1.full(b"old 2");
    s1.sync();
    // `reset(100)`: a segment flagged as a new log, its snapshot keeping
    // the metadata, then a record. A crash kept segment 1's removal from
    // becoming durable.
    let mut s2 = Seg::new(2, 100, 0xbbbb, 0, true);
    s2.meta(true, 100, &[(b"node", b"a")]);
    s2.sync();
    s2.full(b"new 100");
    s2.sync();
    Vector { name: "v3-reset", files: vec![s1.file(256), s2.file(256)] }
}

fn purge_point() -> Vector {
    // Segment 1 (LSNs 1, 2) is sealed; segment 2 holds 3..=5, LSNs 3 and 4
    // one batch; `truncate_before(4)` put the purge point inside it.
    let mut s1 = Seg::new(1, 1, 0x1111, 0, false);
    s1.meta(true, 1, NO_META);
    s1.sync();
    s1.full(b"one");
    s1.full(b"two");
    s1.sync();
    // The rotation: its header names what the last sync made durable, and
    // the seal completes behind it.
    let mut s2 = Seg::rotated(&s1, 0x2222);
    s1.seal(512);
    s2.meta(true, 1, NO_META);
    s2.sync();
    s2.batch(&[b"three", b"four"]);
    s2.full(b"five");
    s2.sync();
    s2.meta(false, 4, NO_META);
    s2.sync();
    Vector { name: "v3-purge-point", files: vec![s1.file(512), s2.file(512)] }
}

fn sealed() -> Vector {
    // Segment 1 sealed with its index and trailer; segment 2 continues.
    let mut s1 = Seg::new(1, 1, 0x5ea1, 0, false);
    s1.meta(true, 1, NO_META);
    s1.sync();
    for p in [b"alpha", b"bravo", b"charl"] {
        s1.full(p);
    }
    s1.sync();
    let mut s2 = Seg::rotated(&s1, 0x5ea2);
    s1.seal(512);
    s2.meta(true, 1, NO_META);
    s2.sync();
    s2.full(b"delta");
    s2.sync();
    Vector { name: "v3-sealed", files: vec![s1.file(512), s2.file(256)] }
}

fn torn_seal() -> Vector {
    // Segment 2 was started before segment 1 was durable (W2): a crash tore
    // segment 1's last record before its seal, and left it no trailer.
    // Segment 1 ends the log; segment 2, whose records no sync acknowledged,
    // is moved aside.
    let mut s1 = Seg::new(1, 1, 0x70a1, 0, false);
    s1.meta(true, 1, NO_META);
    s1.sync();
    s1.full(b"alpha");
    s1.full(b"bravo");
    s1.sync();
    let torn = s1.full(b"charl") as usize;
    s1.bytes.truncate(torn + 12);
    s1.bytes.extend_from_slice(&[0x5e, 0xa1, 0x00, 0x7e]);
    let mut s2 = Seg::rotated(&s1, 0x70a2);
    s2.meta(true, 1, NO_META);
    s2.full(b"delta");
    Vector { name: "v3-torn-seal", files: vec![s1.file(512), s2.file(256)] }
}

fn vectors() -> Vec<Vector> {
    vec![
        basic(),
        torn_tail(),
        cut(true),
        cut(false),
        cross_segment_cut(),
        corruption(),
        parity_repair(),
        other_version(),
        metadata(),
        reset(),
        purge_point(),
        sealed(),
        torn_seal(),
    ]
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A payload in hex, or for one longer than 32 bytes its length and CRC-32.
fn payload_field(b: &[u8]) -> String {
    if b.len() <= 32 {
        format!("payload={}", hex(b))
    } else {
        format!("payload_len={} payload_crc32={:08x}", b.len(), crc32fast::hash(b))
    }
}

fn tail_line(t: &TailState) -> String {
    match t {
        TailState::Clean => "clean".to_string(),
        TailState::Torn { segment, offset, bytes, last_lsn } => {
            format!("torn segment={} offset={offset} bytes={bytes} last_lsn={last_lsn}", segment.get())
        }
        TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => format!(
            "corrupt segment={} offset={offset} lsn={lsn} reason={reason:?} valid_records_after={valid_records_after}",
            segment.get()
        ),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn action_line(a: &RecoveryAction) -> String {
    match a {
        RecoveryAction::QuarantinedBytes { segment, offset, bytes, file } => {
            format!("quarantine-bytes segment={} offset={offset} bytes={bytes} file={}", segment.get(), file_name(file))
        }
        RecoveryAction::QuarantinedSegment { segment, file } => {
            format!("quarantine-segment segment={} file={}", segment.get(), file_name(file))
        }
        RecoveryAction::RemovedSegment { segment, reason } => {
            format!("remove segment={} reason={reason:?}", segment.get())
        }
        RecoveryAction::ClearedTail { segment, offset, bytes } => {
            format!("clear segment={} offset={offset} bytes={bytes}", segment.get())
        }
        RecoveryAction::RepairedPage { segment, offset, bytes } => {
            format!("repair segment={} offset={offset} bytes={bytes}", segment.get())
        }
        other => format!("{other:?}"),
    }
}

fn error_line(e: &seawall::Error) -> String {
    match e {
        seawall::Error::Corruption { segment, offset, lsn, reason } => {
            format!("Corruption segment={} offset={offset} lsn={lsn} reason={reason:?}", segment.get())
        }
        seawall::Error::TornTail { segment, offset, bytes, last_lsn } => {
            format!("TornTail segment={} offset={offset} bytes={bytes} last_lsn={last_lsn}", segment.get())
        }
        seawall::Error::UnsupportedVersion { segment, found, supported } => {
            format!("UnsupportedVersion segment={} found={found} supported={supported}", segment.get())
        }
        other => format!("{other:?}"),
    }
}

/// What `Reader` sees in `dir`: segments, records, metadata, tail, range.
fn read_lines(dir: &Path, prefix: &str, out: &mut String) {
    let reader = match Reader::open(dir) {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "{prefix}error {}", error_line(&e)).unwrap();
            return;
        }
    };
    let insp = reader.inspection();
    for s in &insp.segments {
        writeln!(
            out,
            "{prefix}segment id={} state={:?} trusted={} records={} bytes_used={}",
            s.id.get(),
            s.state,
            s.trusted,
            s.records,
            s.bytes_used
        )
        .unwrap();
    }
    if reader.last_lsn() >= reader.first_lsn() {
        for rec in reader.range(..).expect("iterates") {
            let rec = rec.expect("valid record");
            // After an open, records recovery copied carry a random salt, so
            // their checksum is not part of the vector.
            let crc = if prefix.is_empty() { format!(" crc={:08x}", rec.checksum()) } else { String::new() };
            writeln!(
                out,
                "{prefix}record lsn={} kind={:?} segment={} offset={}{crc} {}",
                rec.lsn(),
                rec.kind(),
                rec.segment().get(),
                rec.offset(),
                payload_field(rec.payload())
            )
            .unwrap();
        }
    }
    for (k, v) in reader.metas() {
        writeln!(out, "{prefix}meta {}={}", hex(&k), hex(&v)).unwrap();
    }
    writeln!(out, "{prefix}tail {}", tail_line(&insp.tail)).unwrap();
    writeln!(out, "{prefix}range first={} last={}", reader.first_lsn(), reader.last_lsn()).unwrap();
    writeln!(out, "{prefix}rule {}", insp.rule).unwrap();
}

fn options(mode: RecoveryMode) -> Options {
    Options::default().segment_size(MIN_SEGMENT_SIZE).background_preallocation(false).recovery_mode(mode)
}

const MODES: [RecoveryMode; 3] = [RecoveryMode::Strict, RecoveryMode::TruncateTornTail, RecoveryMode::Salvage];

/// The whole description of a vector directory (see FORMAT.md §10).
fn describe(dir: &Path) -> String {
    let mut out = String::new();
    read_lines(dir, "", &mut out);
    let mut open_mode = None;
    for mode in MODES {
        match Wal::plan_recovery(dir, &options(mode)) {
            Ok(report) => {
                writeln!(out, "plan {mode:?} ok first={} last={}", report.first_lsn, report.last_lsn).unwrap();
                for a in &report.actions {
                    writeln!(out, "plan {mode:?} {}", action_line(a)).unwrap();
                }
                if mode != RecoveryMode::Strict && open_mode.is_none() {
                    open_mode = Some(mode);
                }
            }
            Err(e) => writeln!(out, "plan {mode:?} error {}", error_line(&e)).unwrap(),
        }
    }
    // Recovery for real, on a copy: what the next reader sees.
    if let Some(mode) = open_mode {
        let copy = tempfile::tempdir().unwrap();
        for f in files(dir).iter().filter(|f| f.extension().is_some_and(|e| e == "wal")) {
            std::fs::copy(f, copy.path().join(file_name(f))).unwrap();
        }
        let (wal, _) = Wal::open(copy.path(), options(mode)).expect("open does what the plan said");
        wal.close().unwrap();
        let names: Vec<String> = files(copy.path()).iter().map(|p| file_name(p)).collect();
        writeln!(out, "open {mode:?} files={}", names.join(",")).unwrap();
        read_lines(copy.path(), "open ", &mut out);
    }
    out
}

fn vector_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("format-spec/vectors").join(name)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

fn segment_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .map(|p| (file_name(&p), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn golden_vectors_match_the_encoder_and_decode_as_expected() {
    let bless = std::env::var_os("SEAWALL_BLESS").is_some();
    for v in vectors() {
        let dir = vector_dir(v.name);
        let built: BTreeMap<String, Vec<u8>> =
            v.files.iter().map(|(id, bytes)| (SegmentId::new(*id).file_name(), bytes.clone())).collect();
        if bless {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in &built {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        let golden = segment_files(&dir);
        assert_eq!(golden.keys().collect::<Vec<_>>(), built.keys().collect::<Vec<_>>(), "{}: files", v.name);
        for (name, bytes) in &built {
            assert!(&golden[name] == bytes, "{}: {name} differs from what the encoders write", v.name);
        }
        let got = describe(&dir);
        let expected_path = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        assert_eq!(got, expected, "{}: decoded differently from expected.txt", v.name);
    }
}

#[test]
fn golden_vectors_are_left_unchanged_by_readers_and_plans() {
    // Reading and planning never change a file (recovery runs on copies).
    for v in vectors() {
        let dir = vector_dir(v.name);
        let before = segment_files(&dir);
        let _ = describe(&dir);
        assert_eq!(before, segment_files(&dir), "{}", v.name);
    }
}

#[test]
fn the_vectors_prove_what_they_are_named_for() {
    let read = |name: &str| Reader::open(vector_dir(name)).unwrap();
    let payloads =
        |r: &Reader| -> Vec<Vec<u8>> { r.range(..).unwrap().map(|x| x.unwrap().payload().to_vec()).collect() };
    // A cut marker removes the records after the cut whether or not its dead
    // bytes were cleared; the log continues after it.
    assert_eq!(payloads(&read("v3-cut-cleared")), [&b"one"[..], b"two again"]);
    assert_eq!(payloads(&read("v3-cut-not-cleared")), [&b"one"[..]]);
    // A later segment's first_lsn supersedes the records it overlaps.
    assert_eq!(payloads(&read("v3-cross-segment-cut")), [&b"one"[..], b"two", b"three", b"four"]);
    // Parity rebuilds the damaged page: every record comes back intact.
    assert_eq!(read("v3-parity-repair").last_lsn(), Lsn::new(5));
    // Claimed damage is corruption, not a torn tail.
    assert!(matches!(read("v3-corruption").inspection().tail, TailState::Corrupt { .. }));
    // Another version is refused.
    assert!(matches!(Reader::open(vector_dir("v3-other-version")), Err(seawall::Error::UnsupportedVersion { .. })));
    // The sealed segment is trusted through its trailer.
    assert!(read("v3-sealed").inspection().segments[0].trusted);
    // The purge point falls inside a batch.
    let purged = read("v3-purge-point");
    assert_eq!((purged.first_lsn(), purged.read(Lsn::new(4)).unwrap().kind()), (Lsn::new(4), RecordKind::BatchLast));
    // Metadata: a snapshot, then updates.
    let m = read("v3-metadata").metas();
    assert_eq!(m.get(&b"term"[..]).map(|v| v.to_vec()), Some(b"4".to_vec()));
    assert_eq!(m.get(&b"vote"[..]).map(|v| v.to_vec()), Some(b"node-2".to_vec()));
    // Reset: the old log is gone.
    assert_eq!(read("v3-reset").first_lsn(), Lsn::new(100));
    // A segment without its trailer that stops short ends the log; the
    // segment started before it was durable is dropped, not corruption.
    let torn = read("v3-torn-seal");
    assert_eq!(payloads(&torn), [&b"alpha"[..], b"bravo"]);
    let insp = torn.inspection();
    assert!(matches!(insp.tail, TailState::Torn { .. }), "{:?}", insp.tail);
    assert_eq!(insp.segments[1].state, seawall::SegmentState::AfterTornSeal);
}

//! Guards a log store's metadata (`set_meta`, `meta`, `metas`, and
//! `Reader::meta`/`metas`): a value is durable, with every record appended
//! before it, when `set_meta` returns; the last value set wins; values
//! survive rotation, `truncate_before` removing the segment they were set
//! in, `truncate_after` cutting below where they were set, `reset`, reopen
//! and crashes; a key, value or total over its limit fails with
//! `MetaTooLarge` and changes nothing.
//!
//! A crash is a copy of the directory taken right after the call returns,
//! before the log is closed, then opened.

#[path = "support/damage.rs"]
mod damage;
#[path = "support/log_store.rs"]
mod log_store;

use std::collections::BTreeMap;
use std::path::Path;

use damage::snapshot;
use log_store::{all_records, fill, segment_ids, small_opts};
use seawall::{Bytes, Error, Lsn, Options, Reader, Wal};

fn open(dir: &Path) -> Wal {
    Wal::open(dir, small_opts()).unwrap().0
}

fn metas(pairs: &[(&str, &[u8])]) -> BTreeMap<Bytes, Bytes> {
    pairs.iter().map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), Bytes::copy_from_slice(v))).collect()
}

/// The log in `dir`, the offline reader of it, and a reopen, all show `want`.
fn assert_metas_everywhere(who: &str, dir: &Path, want: &BTreeMap<Bytes, Bytes>) {
    let reader = Reader::open(dir).unwrap();
    assert_eq!(&reader.metas(), want, "{who}: Reader::metas");
    for (k, v) in want {
        assert_eq!(reader.meta(k).as_ref(), Some(v), "{who}: Reader::meta({k:?})");
    }
    assert_eq!(reader.meta(b"never set"), None, "{who}: Reader::meta of an unset key");
    let wal = open(dir);
    assert_eq!(&wal.metas(), want, "{who}: Wal::metas after open");
    for (k, v) in want {
        assert_eq!(wal.meta(k).as_ref(), Some(v), "{who}: Wal::meta({k:?}) after open");
    }
}

/// A crash copy of `dir` taken now shows `want`, in the reader and open.
fn assert_crash_keeps(who: &str, dir: &Path, want: &BTreeMap<Bytes, Bytes>) {
    let crashed = snapshot(dir);
    assert_metas_everywhere(&format!("{who} (crash copy)"), crashed.path(), want);
}

#[test]
fn set_meta_is_durable_with_the_records_before_it_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    let records = fill(&wal, 5, "before");
    assert!(wal.durable_lsn() < Lsn::new(5));
    wal.set_meta(b"vote", b"term 3, node 2").unwrap();
    assert_eq!(wal.durable_lsn(), Lsn::new(5), "set_meta made the records before it durable");
    let crashed = snapshot(dir.path());
    let want = metas(&[("vote", b"term 3, node 2")]);
    assert_eq!(wal.metas(), want);
    assert_metas_everywhere("crash copy", crashed.path(), &want);
    assert_eq!(all_records(&open(crashed.path())), records, "crash copy: the records before set_meta");

    wal.set_meta(b"commit", b"5").unwrap();
    let want = metas(&[("vote", b"term 3, node 2"), ("commit", b"5")]);
    assert_crash_keeps("second key", dir.path(), &want);
}

#[test]
fn the_last_value_set_wins() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    for (i, v) in [&b"one"[..], b"two", b"three"].iter().enumerate() {
        fill(&wal, 3, &format!("round {i}"));
        wal.set_meta(b"k", v).unwrap();
        assert_eq!(wal.meta(b"k").as_deref(), Some(*v));
        assert_crash_keeps(&format!("after set_meta #{i}"), dir.path(), &metas(&[("k", v)]));
    }
    // An empty value is a value, not an absent key.
    wal.set_meta(b"k", b"").unwrap();
    assert_eq!(wal.meta(b"k"), Some(Bytes::new()));
    assert_crash_keeps("empty value", dir.path(), &metas(&[("k", b"")]));
    wal.close().unwrap();
    assert_metas_everywhere("reopened", dir.path(), &metas(&[("k", b"")]));
}

#[test]
fn metadata_survives_rotation_and_truncate_before_removing_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    wal.set_meta(b"set in segment 1", b"a").unwrap();
    fill(&wal, 300, "old");
    wal.set_meta(b"set mid-log", b"b").unwrap();
    fill(&wal, 300, "old");
    let first_seg = wal.read(Lsn::new(1)).unwrap().segment().get();
    let last = wal.last_lsn();
    assert!(wal.read(last).unwrap().segment().get() >= first_seg + 6, "the log rotated several times");
    let want = metas(&[("set in segment 1", b"a"), ("set mid-log", b"b")]);
    assert_crash_keeps("after rotations", dir.path(), &want);

    wal.truncate_before(last - 1).unwrap();
    let ids = segment_ids(dir.path());
    assert!(ids.len() <= 2 && ids[0] > first_seg + 5, "the segments the metadata was set in are removed: {ids:?}");
    assert_eq!(wal.metas(), want);
    assert_crash_keeps("after truncate_before", dir.path(), &want);
    wal.close().unwrap();
    assert_metas_everywhere("reopened", dir.path(), &want);
}

/// Sets metadata after `before` records and `after` more, cuts back to
/// `cut` (below where the metadata was set), and checks it is kept.
fn cut_below_meta(before: u64, after: u64, cut: u64) {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    fill(&wal, before, "old");
    wal.set_meta(b"commit", b"kept").unwrap();
    fill(&wal, after, "old");
    wal.truncate_after(Lsn::new(cut)).unwrap();
    let want = metas(&[("commit", b"kept")]);
    assert_eq!((wal.last_lsn(), wal.metas()), (Lsn::new(cut), want.clone()));
    assert_crash_keeps("after truncate_after", dir.path(), &want);
    // Appending and setting again after the cut: the last value wins.
    fill(&wal, 3, "new");
    wal.set_meta(b"commit", b"after the cut").unwrap();
    let want = metas(&[("commit", b"after the cut")]);
    assert_crash_keeps("set again after the cut", dir.path(), &want);
    wal.close().unwrap();
    assert_metas_everywhere("reopened", dir.path(), &want);
}

#[test]
fn metadata_survives_truncate_after_below_it_in_the_same_segment() {
    cut_below_meta(10, 5, 5);
}

#[test]
fn metadata_survives_truncate_after_below_it_in_an_earlier_segment() {
    cut_below_meta(300, 10, 20);
}

#[test]
fn metadata_survives_truncate_after_of_everything() {
    cut_below_meta(30, 30, 0);
}

#[test]
fn metadata_survives_reset_and_can_be_set_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    fill(&wal, 200, "old");
    wal.set_meta(b"snapshot", b"term 4 index 190").unwrap();
    wal.reset(Lsn::new(191)).unwrap();
    let want = metas(&[("snapshot", b"term 4 index 190")]);
    assert_crash_keeps("after reset", dir.path(), &want);
    wal.set_meta(b"vote", b"node 1").unwrap();
    let want = metas(&[("snapshot", b"term 4 index 190"), ("vote", b"node 1")]);
    assert_crash_keeps("set after reset", dir.path(), &want);
    wal.close().unwrap();
    assert_metas_everywhere("reopened", dir.path(), &want);
}

/// `res` is `MetaTooLarge { size, max }`.
fn assert_too_large(res: Result<(), Error>, size: u64, max: u64) {
    match res {
        Err(Error::MetaTooLarge { size: s, max: m }) => assert_eq!((s, m), (size, max)),
        other => panic!("expected MetaTooLarge {{ size: {size}, max: {max} }}, got {other:?}"),
    }
}

/// Nothing changed since `before`: the metadata, what was written, and
/// what a crash copy holds.
fn assert_unchanged(wal: &Wal, dir: &Path, before: &(BTreeMap<Bytes, Bytes>, seawall::Stats)) {
    assert_eq!(&wal.metas(), &before.0, "a refused set_meta changed the metadata");
    let s = wal.stats();
    assert_eq!((s.writes, s.bytes_written, s.fsyncs), (before.1.writes, before.1.bytes_written, before.1.fsyncs));
    assert_crash_keeps("after refusals", dir, &before.0);
}

#[test]
fn a_key_or_value_over_its_limit_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Options::default()).unwrap().0;
    wal.set_meta(b"k", b"v").unwrap();
    let before = (wal.metas(), wal.stats());
    assert_too_large(wal.set_meta(b"", b"v"), 0, 1024);
    assert_too_large(wal.set_meta(&[b'k'; 1025], b"v"), 1025, 1024);
    assert_too_large(wal.set_meta(b"k", &vec![7; 64 * 1024 + 1]), 64 * 1024 + 1, 64 * 1024);
    assert_unchanged(&wal, dir.path(), &before);
    // At the limits: accepted.
    wal.set_meta(&[b'k'; 1024], b"longest key").unwrap();
    wal.set_meta(b"k", &vec![7; 64 * 1024]).unwrap();
    assert_eq!(wal.meta(b"k").map(|v| v.len()), Some(64 * 1024));
    assert_crash_keeps("values at the limits", dir.path(), &wal.metas());
}

#[test]
fn metadata_over_a_sixteenth_of_the_segment_is_refused_and_changes_nothing() {
    // 64 KiB segments: all entries together (6 bytes each, plus key and
    // value) at most 4,096 bytes.
    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path());
    wal.set_meta(b"a", &[1; 4000]).unwrap(); // 4,007 bytes
    let before = (wal.metas(), wal.stats());
    assert_too_large(wal.set_meta(b"b", &[2; 100]), 4007 + 107, 4096);
    assert_too_large(wal.set_meta(b"a", &[3; 4090]), 4097, 4096);
    assert_unchanged(&wal, dir.path(), &before);
    // Replacing a value counts the new one only: exactly at the limit.
    wal.set_meta(b"a", &[4; 4089]).unwrap();
    assert_crash_keeps("total at the limit", dir.path(), &metas(&[("a", &[4; 4089])]));
    // Room freed by a smaller value can be used.
    wal.set_meta(b"a", &[5; 10]).unwrap();
    wal.set_meta(b"b", &[6; 100]).unwrap();
    let want = metas(&[("a", &[5; 10]), ("b", &[6; 100])]);
    assert_crash_keeps("after shrinking", dir.path(), &want);
    wal.close().unwrap();
    assert_metas_everywhere("reopened", dir.path(), &want);
}

#[test]
fn metadata_over_one_mebibyte_is_refused_and_changes_nothing() {
    // 64 MiB segments: the total is capped at 1 MiB, not 4 MiB.
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Options::default()).unwrap().0;
    let entry = 64 * 1024 + 2 + 6;
    for i in 0..15u8 {
        wal.set_meta(format!("{i:02}").as_bytes(), &vec![i; 64 * 1024]).unwrap();
    }
    let before = (wal.metas(), wal.stats());
    assert_too_large(wal.set_meta(b"15", &vec![15; 64 * 1024]), 16 * entry, 1 << 20);
    assert_unchanged(&wal, dir.path(), &before);
    assert_eq!(wal.metas().len(), 15);
}

/// A log whose last segment holds only its header, as a crash leaves it
/// between the header's sync and its snapshot's (FORMAT.md §7, W2 (c)): the
/// metadata is then what the segment before it ended with. Returns the id
/// of that segment. With `purge_all`, every record of that segment lies
/// below the purge point (it is purged whole, yet holds the metadata).
fn tail_without_snapshot(dir: &Path, purge_all: bool) -> u64 {
    let wal = open(dir);
    fill(&wal, 20, "early");
    if !purge_all {
        wal.truncate_before(Lsn::new(5)).unwrap();
    }
    wal.set_meta(b"vote", b"term 1").unwrap();
    fill(&wal, 20, "middle");
    if purge_all {
        wal.truncate_before(Lsn::new(wal.last_lsn().get() + 1)).unwrap();
    }
    // Synced apart, the update is too small for a parity record (W4): damage
    // to it cannot be rebuilt.
    wal.sync(wal.last_lsn()).unwrap();
    wal.set_meta(b"needle-key", b"needle-value").unwrap();
    let before = segment_ids(dir);
    // A record that does not fit the segment starts the next one.
    while segment_ids(dir).len() == before.len() {
        wal.append_durable(&vec![7u8; 20_000]).unwrap();
    }
    wal.close().unwrap();
    let ids = segment_ids(dir);
    let (meta_seg, tail) = (ids[ids.len() - 2], ids[ids.len() - 1]);
    // Everything after the tail's 64-byte header never reached the disk.
    let path = damage::segment_path(dir, tail);
    let len = std::fs::metadata(&path).unwrap().len();
    damage::zero_range(&path, 64, (len - 64) as usize);
    meta_seg
}

/// Flips a bit inside the bytes `needle` of segment `id`.
fn damage_bytes(dir: &Path, id: u64, needle: &[u8]) {
    let path = damage::segment_path(dir, id);
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the bytes are in the segment");
    damage::flip_bit(&path, at as u64 + 3, 0);
}

/// Open refuses the log as corrupt, and the reader reports corruption too:
/// never a log whose metadata silently lacks the damaged update.
fn assert_metadata_damage_reported(who: &str, dir: &Path) {
    match Wal::open(dir, small_opts()) {
        Err(Error::Corruption { .. }) => {}
        Err(e) => panic!("{who}: open failed with {e}, not as corruption"),
        Ok((wal, _)) => panic!(
            "{who}: open succeeded with metadata {:?} and first LSN {}, after damage to a metadata update",
            wal.metas(),
            wal.first_lsn()
        ),
    }
    let reader = Reader::open(dir).unwrap();
    assert!(!reader.inspection().is_clean(), "{who}: the reader reports the damage");
}

#[test]
fn a_tail_without_its_snapshot_takes_the_metadata_its_predecessor_ended_with() {
    for purge_all in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        tail_without_snapshot(dir.path(), purge_all);
        let wal = open(dir.path());
        assert_eq!(wal.meta(b"needle-key").as_deref(), Some(&b"needle-value"[..]), "purge_all {purge_all}");
        assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"term 1"[..]), "purge_all {purge_all}");
    }
}

#[test]
fn damage_to_the_metadata_a_tail_without_snapshot_relies_on_is_corruption() {
    // The predecessor is sealed, and an open trusts a sealed segment
    // through its trailer; it was read whole for its metadata, though, and
    // the damage that walk stopped at must not leave an older state.
    for purge_all in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let meta_seg = tail_without_snapshot(dir.path(), purge_all);
        damage_bytes(dir.path(), meta_seg, b"needle-value");
        assert_metadata_damage_reported(&format!("purge_all {purge_all}"), dir.path());
    }
}

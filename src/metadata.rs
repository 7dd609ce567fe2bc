//! Metadata in the log: small key-value entries (a consensus vote, a commit
//! index) written atomically with the records and through the same group
//! commit. See `meta.rs` for the on-disk form.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::{meta_limit, MAX_META_KEY, MAX_META_VALUE};
use crate::meta::{entry_size, MetaRecord};
use crate::state::{State, Target};
use crate::wal::Wal;

impl Wal {
    /// Sets metadata `key` to `value` and returns once the value, and every
    /// record appended before it, is durable; concurrent callers share one
    /// `fdatasync` with appenders. The last completed `set_meta` of each key
    /// survives rotation, truncations, `reset`, reopening and crashes.
    /// [`Wal::meta`] sees the new value as soon as the call starts.
    ///
    /// Limits: a key of 1 to 1024 bytes, a value of at most 64 KiB, and all
    /// entries together (each counting its key, its value and 6 bytes) at most
    /// 1 MiB or a sixteenth of the segment size, whichever is smaller;
    /// otherwise [`Error::MetaTooLarge`], and nothing changes.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.set_meta(b"vote", b"term 3, node 2")?;
    /// assert_eq!(wal.meta(b"vote").as_deref(), Some(&b"term 3, node 2"[..]));
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn set_meta(&self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.is_empty() || key.len() > MAX_META_KEY {
            return Err(Error::MetaTooLarge { size: key.len() as u64, max: MAX_META_KEY as u64 });
        }
        if value.len() > MAX_META_VALUE {
            return Err(Error::MetaTooLarge { size: value.len() as u64, max: MAX_META_VALUE as u64 });
        }
        let inner = &self.inner;
        let limit = meta_limit(inner.opts.segment_size);
        let mut st = inner.gc.lock_state();
        st.check_usable()?;
        let (k, v) = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        let old = st.metas.get(&k).map_or(0, |old| entry_size(&k, old));
        let total = st.meta_size - old + entry_size(&k, &v);
        if total > limit {
            return Err(Error::MetaTooLarge { size: total, max: limit });
        }
        st.metas.insert(k.clone(), v.clone());
        st.meta_size = total;
        let pos = st.last_lsn();
        let rec = MetaRecord { entries: vec![(k, v)], ..MetaRecord::default() };
        let sealed = {
            let State { buffer, metas, first_lsn, .. } = &mut *st;
            buffer.stage_meta(pos, &rec, || MetaRecord::snapshot(metas, *first_lsn))
        };
        State::note_sealed(&inner.segments, sealed);
        st.meta_staged += 1;
        let t = Target::durable(pos, st.meta_staged, st.cuts.len());
        inner.gc.wait(st, t).map(drop)
    }

    /// The value of metadata `key`, if set.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// assert_eq!(wal.meta(b"vote"), None);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn meta(&self, key: &[u8]) -> Option<Bytes> {
        self.inner.gc.lock_state().metas.get(key).cloned()
    }

    /// Every metadata entry, in key order.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let (wal, _) = seawall::Wal::open(dir.path(), seawall::Options::default())?;
    /// wal.set_meta(b"a", b"1")?;
    /// wal.set_meta(b"b", b"2")?;
    /// assert_eq!(wal.metas().len(), 2);
    /// # Ok::<(), seawall::Error>(())
    /// ```
    pub fn metas(&self) -> BTreeMap<Bytes, Bytes> {
        self.inner.gc.lock_state().metas.clone()
    }
}

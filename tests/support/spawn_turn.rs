//! Spawning processes from a test binary whose other tests hold logs open.
//!
//! Tests of one binary run on parallel threads of one process, and a process
//! spawned by one of them holds a copy of every descriptor the test process
//! has open, from its fork until its exec: the `LOCK` file of a log another
//! test holds among them. The lock belongs to the open file, so for that
//! moment the other test's log stays locked after it closed it, and its
//! reopen is refused as locked, as a real second process would be. A test
//! that spawns takes [`spawning`]; every other test that opens logs takes
//! [`holding_logs`], so the two never overlap.
#![allow(dead_code)]

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static TURN: RwLock<()> = RwLock::new(());

/// For a test that opens logs: no test spawns a process meanwhile.
pub fn holding_logs() -> RwLockReadGuard<'static, ()> {
    // A test that failed holding the turn has reported its failure; the
    // others still run.
    TURN.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// For a test that spawns processes: it runs alone.
pub fn spawning() -> RwLockWriteGuard<'static, ()> {
    TURN.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

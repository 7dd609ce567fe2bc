//! A counting global allocator, so a benchmark can report peak heap use.
//!
//! A binary opts in with
//! `#[global_allocator] static ALLOC: common::alloc::Counting = common::alloc::Counting;`.
//! Without it, [`installed`] is false and no heap figure is reported.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static CURRENT: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting bytes in use and their peak.
pub struct Counting;

fn grew(by: u64) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters only observe sizes and never affect what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size() as u64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size() as u64, Ordering::Relaxed);
            grew(new_size as u64);
        }
        p
    }
}

/// Whether the counting allocator serves this process (it has counted something).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed) || {
        let probe = Box::new(0u64);
        let seen = CURRENT.load(Ordering::Relaxed) > 0;
        drop(probe);
        INSTALLED.store(seen, Ordering::Relaxed);
        seen
    }
}

/// Starts a peak measurement; returns the baseline to pass to [`peak_since`].
pub fn start() -> u64 {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// Peak heap bytes above `base` since [`start`], or `None` without the counting allocator.
pub fn peak_since(base: u64) -> Option<u64> {
    installed().then(|| PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

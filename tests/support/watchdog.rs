//! Watchdogs: a hang is a failure, not a slow test.
//!
//! [`Watchdog`] guards a whole test: a helper thread waits on a channel with
//! `recv_timeout`, and if the test has not finished by the deadline it
//! writes what every worker was last doing to stderr (directly, past the
//! harness's output capture) and exits the process with a failure status,
//! so CI fails with a message instead of hanging. The deadline is generous:
//! it never decides a result by timing, it only ends a hang.
//!
//! [`all_within`] runs calls that might block forever (an `open` of a FIFO)
//! on helper threads, so that the calling test can fail with a message
//! naming each call that hangs, without taking the other tests down.
#![allow(dead_code)]

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a guarded test may run before it is declared hung.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// What one worker thread is doing: an operation name, its argument and how
/// many operations it has finished.
#[derive(Clone, Copy, Debug, Default)]
struct Doing {
    op: &'static str,
    arg: u64,
    done: u64,
}

/// A worker's slot in the watchdog's report.
#[derive(Clone)]
pub struct Slot(Arc<Mutex<Doing>>);

impl Slot {
    /// Records that the worker starts `op(arg)`.
    pub fn doing(&self, op: &'static str, arg: u64) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.op = op;
        d.arg = arg;
        d.done += 1;
    }
}

/// Guards the test that holds it; dropping it disarms the watchdog.
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    slots: Arc<Mutex<Vec<(String, Slot)>>>,
}

impl Watchdog {
    /// Arms a watchdog for test `name`; `context` (the seed, say) is printed
    /// if it fires.
    pub fn start(name: &str, context: String) -> Watchdog {
        Watchdog::with_deadline(name, context, DEADLINE)
    }

    pub fn with_deadline(name: &str, context: String, deadline: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let slots: Arc<Mutex<Vec<(String, Slot)>>> = Arc::default();
        let (name, report) = (name.to_string(), slots.clone());
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                // `Disconnected` means the guard was dropped: the test finished.
                if rx.recv_timeout(deadline) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                let mut msg = format!(
                    "\nwatchdog: test `{name}` did not finish within {} s: a call hung ({context})\n",
                    deadline.as_secs()
                );
                for (who, slot) in report.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    let d = *slot.0.lock().unwrap_or_else(|e| e.into_inner());
                    msg += &format!("  {who}: in {}({}) after {} operations\n", d.op, d.arg, d.done);
                }
                let _ = std::io::stderr().write_all(msg.as_bytes());
                std::process::exit(101);
            })
            .expect("spawn the watchdog");
        Watchdog { done: Some(tx), thread: Some(thread), slots }
    }

    /// A slot for a worker called `who`, reported if the watchdog fires.
    pub fn slot(&self, who: impl Into<String>) -> Slot {
        let slot = Slot(Arc::default());
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).push((who.into(), slot.clone()));
        slot
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A call that may block forever.
pub type Call<T> = Box<dyn FnOnce() -> T + Send>;

/// Starts every call of `calls` at once, each on its own thread, and waits
/// for them, at most `deadline` in all. Returns each call's name with its
/// result, or `None` for a call that had not returned by then (it hangs; its
/// thread is left behind, and the caller should release it).
pub fn all_within<T: Send + 'static>(
    deadline: Duration,
    calls: Vec<(&'static str, Call<T>)>,
) -> Vec<(&'static str, Option<T>)> {
    let (tx, rx) = mpsc::channel();
    let names: Vec<&'static str> = calls.iter().map(|c| c.0).collect();
    for (i, (_, f)) in calls.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, f()));
        });
    }
    drop(tx);
    let until = std::time::Instant::now() + deadline;
    let mut results: Vec<Option<T>> = names.iter().map(|_| None).collect();
    for _ in 0..names.len() {
        match rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
            Ok((i, v)) => results[i] = Some(v),
            // Timeout: the rest hang. Disconnected: a call panicked.
            Err(_) => break,
        }
    }
    names.into_iter().zip(results).collect()
}

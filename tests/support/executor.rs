//! A tiny hand-written executor: the library depends on no async runtime,
//! so the tests drive its `Durable` futures with nothing but `std`.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};

/// Wakes a thread parked in [`block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` on the calling thread until it is ready, parking in between
/// (a spurious unpark only costs one more poll).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// A task's waker: queues the task's index to be polled again.
struct Requeue {
    task: usize,
    queue: mpsc::Sender<usize>,
}

impl Wake for Requeue {
    fn wake(self: Arc<Self>) {
        // The receiver is gone only once every task finished.
        let _ = self.queue.send(self.task);
    }
}

/// A boxed task for [`run_all`].
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Runs every task to completion on the calling thread, polling a task only
/// when it was woken; returns their outputs in order and how many polls it
/// took. It ends once every task is ready: each pending task has handed its
/// waker to whoever completes it.
pub fn run_all<T>(mut tasks: Vec<Task<T>>) -> (Vec<T>, usize) {
    let (tx, rx) = mpsc::channel();
    let wakers: Vec<Waker> =
        (0..tasks.len()).map(|task| Waker::from(Arc::new(Requeue { task, queue: tx.clone() }))).collect();
    for i in 0..tasks.len() {
        tx.send(i).expect("the queue is ours");
    }
    let mut out: Vec<Option<T>> = tasks.iter().map(|_| None).collect();
    let (mut left, mut polls) = (tasks.len(), 0);
    while left > 0 {
        let i = rx.recv().expect("the queue is ours");
        if out[i].is_some() {
            continue;
        }
        polls += 1;
        if let Poll::Ready(v) = tasks[i].as_mut().poll(&mut Context::from_waker(&wakers[i])) {
            out[i] = Some(v);
            left -= 1;
        }
    }
    (out.into_iter().map(|v| v.expect("every task finished")).collect(), polls)
}

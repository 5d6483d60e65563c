//! A single-threaded deterministic executor: the simulator's scheduler, not product code.
//!
//! Tasks are boxed local futures; a waker only marks its task ready. Which ready task runs next
//! is the caller's (the seeded PRNG's) choice, so one seed is one interleaving. No threads, no
//! real time: everything that waits (locks, timers, the network) waits on the world.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The ids of the tasks whose wakers fired. A `BTreeSet`: iteration order, hence the PRNG's
/// pick, is the same on every run.
#[derive(Default)]
struct ReadySet(Mutex<BTreeSet<usize>>);

impl ReadySet {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct TaskWaker {
    id: usize,
    ready: Arc<ReadySet>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.lock().insert(self.id);
    }
}

#[derive(Default)]
pub struct Executor {
    tasks: Vec<Option<Task>>,
    ready: Arc<ReadySet>,
}

impl Executor {
    /// Adds a task, ready to be polled.
    pub fn spawn(&mut self, future: impl Future<Output = ()> + 'static) -> usize {
        let id = self.tasks.len();
        self.tasks.push(Some(Box::pin(future)));
        self.ready.lock().insert(id);
        id
    }

    /// The ready tasks, in id order.
    pub fn ready(&self) -> Vec<usize> {
        self.ready.lock().iter().copied().collect()
    }

    /// Tasks not finished yet.
    pub fn live(&self) -> usize {
        self.tasks.iter().filter(|t| t.is_some()).count()
    }

    /// Polls task `id` once (it must be ready). Returns true when it finished.
    pub fn poll(&mut self, id: usize) -> bool {
        self.ready.lock().remove(&id);
        let Some(task) = self.tasks[id].as_mut() else {
            return false;
        };
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            ready: Arc::clone(&self.ready),
        }));
        match task.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(()) => {
                self.tasks[id] = None;
                true
            }
            Poll::Pending => false,
        }
    }
}

/// Returns `Pending` once (waking itself), then `Ready`: an await point, so the scheduler may
/// run another task between two storage or lock operations.
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

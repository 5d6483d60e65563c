//! An async mutex for one JavaScript context: the in-context fallback of the cross-context lock
//! and the turn of an issue iterator's `next()`. `futures_util`'s mutex is built for threads
//! (atomics, a slab of waiters: about 1.4 KB of wasm); here one flag and a list of wakers do.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Unlocking wakes every waiter and the first one polled takes the lock (the others wait
/// again), so a waiter dropped while it waits never strands the ones behind it.
#[derive(Debug, Default)]
pub(crate) struct LocalMutex {
    locked: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl LocalMutex {
    /// Waits for the lock; it is held until the returned guard is dropped.
    pub(crate) fn lock_owned(self: Rc<Self>) -> impl Future<Output = LocalGuard> {
        poll_fn(move |cx| {
            if !self.locked.replace(true) {
                return Poll::Ready(LocalGuard(Rc::clone(&self)));
            }
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

/// A held [`LocalMutex`]; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct LocalGuard(Rc<LocalMutex>);

impl Drop for LocalGuard {
    fn drop(&mut self) {
        self.0.locked.set(false);
        let waiters = std::mem::take(&mut *self.0.waiters.borrow_mut());
        for waiter in waiters {
            waiter.wake();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::pin::pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Wake};

    /// A waker that counts its wakes (also used by `flight`'s tests).
    #[derive(Default)]
    pub(crate) struct Counter(Mutex<u32>);

    impl Counter {
        pub(crate) fn count(&self) -> u32 {
            *self.0.lock().unwrap()
        }
    }

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() += 1;
        }
    }

    #[test]
    fn one_holder_at_a_time_and_release_wakes_the_waiter() {
        let mutex = Rc::new(LocalMutex::default());
        let held = Rc::clone(&mutex).lock_owned().now_or_never().expect("free");
        let woken = Arc::new(Counter::default());
        let waker = Waker::from(Arc::clone(&woken));
        let mut cx = Context::from_waker(&waker);
        let mut second = pin!(Rc::clone(&mutex).lock_owned());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert_eq!(woken.count(), 0);
        drop(held);
        assert_eq!(woken.count(), 1);
        let again = second.as_mut().poll(&mut cx);
        assert!(again.is_ready());
        assert!(Rc::clone(&mutex).lock_owned().now_or_never().is_none());
        drop(again);
        assert!(mutex.lock_owned().now_or_never().is_some());
    }

    #[test]
    fn a_dropped_waiter_does_not_strand_the_next_one() {
        let mutex = Rc::new(LocalMutex::default());
        let held = Rc::clone(&mutex).lock_owned().now_or_never().expect("free");
        let (first, second) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let (waker_1, waker_2) = (
            Waker::from(Arc::clone(&first)),
            Waker::from(Arc::clone(&second)),
        );
        {
            let mut gone = pin!(Rc::clone(&mutex).lock_owned());
            assert!(gone
                .as_mut()
                .poll(&mut Context::from_waker(&waker_1))
                .is_pending());
        }
        let mut waiting = pin!(Rc::clone(&mutex).lock_owned());
        assert!(waiting
            .as_mut()
            .poll(&mut Context::from_waker(&waker_2))
            .is_pending());
        drop(held);
        assert_eq!(second.count(), 1);
        assert!(waiting
            .as_mut()
            .poll(&mut Context::from_waker(&waker_2))
            .is_ready());
    }
}

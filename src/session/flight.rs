//! A single-threaded shared future: the refresh in flight that every caller of one context
//! awaits. `futures_util`'s `Shared` does the same for any thread (atomics, a slab of wakers,
//! its notifier: about 2.5 KB of wasm); this one is all the engine needs.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::LocalBoxFuture;

/// A handle on one shared future; clones await the same future and get clones of its output.
/// Whichever handle is polled drives the future, so dropping some handles never stalls the
/// others; dropping them all drops the future.
pub(crate) struct Flight<T>(Rc<State<T>>);

struct State<T> {
    /// `None` once finished.
    future: RefCell<Option<LocalBoxFuture<'static, T>>>,
    output: RefCell<Option<T>>,
    /// The waker the future is polled with: it wakes every handle that is waiting.
    waiters: Arc<Waiters>,
}

#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = std::mem::take(&mut *self.list());
        for waker in wakers {
            waker.wake();
        }
    }
}

impl<T: Clone> Flight<T> {
    pub(crate) fn new(future: LocalBoxFuture<'static, T>) -> Self {
        Flight(Rc::new(State {
            future: RefCell::new(Some(future)),
            output: RefCell::new(None),
            waiters: Arc::default(),
        }))
    }
}

impl<T> Clone for Flight<T> {
    fn clone(&self) -> Self {
        Flight(Rc::clone(&self.0))
    }
}

impl<T: Clone> Future for Flight<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let state = &*self.0;
        if let Some(output) = state.output.borrow().as_ref() {
            return Poll::Ready(output.clone());
        }
        {
            let mut waiters = state.waiters.list();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        // Taken out while it runs: the future may drop or clone handles of this flight.
        let Some(mut future) = state.future.borrow_mut().take() else {
            return Poll::Pending;
        };
        let waker = Waker::from(Arc::clone(&state.waiters));
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(output) => {
                *state.output.borrow_mut() = Some(output.clone());
                drop(future);
                state.waiters.list().retain(|w| !w.will_wake(cx.waker()));
                state.waiters.wake_by_ref();
                Poll::Ready(output)
            }
            Poll::Pending => {
                *state.future.borrow_mut() = Some(future);
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::mutex::tests::Counter;
    use futures_util::FutureExt;
    use std::cell::Cell;

    /// A future that stays pending until `open` is set, counting its polls to completion.
    fn gated(open: Rc<Cell<bool>>, runs: Rc<Cell<u32>>) -> LocalBoxFuture<'static, u32> {
        futures_util::future::poll_fn(move |cx| {
            if open.get() {
                runs.set(runs.get() + 1);
                Poll::Ready(7)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .boxed_local()
    }

    #[test]
    fn every_handle_gets_the_one_output() {
        let open = Rc::new(Cell::new(false));
        let runs = Rc::new(Cell::new(0));
        let flight = Flight::new(gated(open.clone(), runs.clone()));
        let mut a = flight.clone();
        let mut b = flight;
        assert!((&mut a).now_or_never().is_none());
        assert!((&mut b).now_or_never().is_none());
        open.set(true);
        assert_eq!((&mut b).now_or_never(), Some(7));
        assert_eq!((&mut a).now_or_never(), Some(7));
        assert_eq!(runs.get(), 1);
    }

    #[test]
    fn a_dropped_handle_does_not_stall_the_others() {
        let open = Rc::new(Cell::new(false));
        let runs = Rc::new(Cell::new(0));
        let first = Flight::new(gated(open.clone(), runs.clone()));
        let mut second = first.clone();
        {
            let mut first = first;
            assert!((&mut first).now_or_never().is_none());
        }
        open.set(true);
        assert_eq!((&mut second).now_or_never(), Some(7));
        assert_eq!(runs.get(), 1);
    }

    #[test]
    fn the_future_wakes_every_waiting_handle() {
        let open = Rc::new(Cell::new(false));
        let source: Rc<RefCell<Option<Waker>>> = Rc::default();
        let (gate, seen) = (Rc::clone(&open), Rc::clone(&source));
        let future = futures_util::future::poll_fn(move |cx| {
            if gate.get() {
                Poll::Ready(1)
            } else {
                *seen.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let (wake_a, wake_b) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let mut a = Flight::new(future.boxed_local());
        let mut b = a.clone();
        let waker_a = Waker::from(Arc::clone(&wake_a));
        let waker_b = Waker::from(Arc::clone(&wake_b));
        assert!(Pin::new(&mut a)
            .poll(&mut Context::from_waker(&waker_a))
            .is_pending());
        assert!(Pin::new(&mut b)
            .poll(&mut Context::from_waker(&waker_b))
            .is_pending());
        // The source fires the waker the future last saw, whoever polled it.
        let fired = source.borrow_mut().take();
        fired.expect("the future registered a waker").wake();
        assert_eq!((wake_a.count(), wake_b.count()), (1, 1));
        open.set(true);
        assert_eq!(
            Pin::new(&mut a).poll(&mut Context::from_waker(&waker_a)),
            Poll::Ready(1)
        );
        assert_eq!(
            Pin::new(&mut b).poll(&mut Context::from_waker(&waker_b)),
            Poll::Ready(1)
        );
    }
}

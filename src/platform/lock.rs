//! The [`CrossContextLock`] port over Web Locks (`navigator.locks.request`).
//!
//! All pages of an origin and its workers (for an extension: popup, options, tabs and the
//! service worker) share one lock namespace, so an exclusive lock held around the refresh
//! round trip makes exactly one context refresh at a time. The lock is held until the
//! critical future completes (or is dropped): the request callback returns a promise that is
//! only resolved then. A context that dies releases its locks, so nothing stays stuck.
//!
//! Where Web Locks are missing (old browsers, opaque origins) an in-context async mutex per
//! name still single-flights this context's callers.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::global::global_path;
use crate::session::mutex::{LocalGuard, LocalMutex};
use crate::session::ports::CrossContextLock;

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (bound by hand: web-sys only has it behind `web_sys_unstable_apis`).
    type LockManager;
    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &js_sys::Function,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// Which mechanism a [`WebLock`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// `navigator.locks` when this context has it, else the in-context mutex.
    Auto,
    /// Only the in-context mutex (no cross-context exclusion).
    InContext,
}

/// Exclusive named lock across every context of the origin.
#[derive(Debug, Clone, Copy)]
pub struct WebLock {
    mode: LockMode,
}

impl Default for WebLock {
    fn default() -> Self {
        WebLock {
            mode: LockMode::Auto,
        }
    }
}

impl WebLock {
    pub fn new() -> Self {
        WebLock::default()
    }

    /// The in-context fallback only (what runs where Web Locks are missing).
    pub fn in_context() -> Self {
        WebLock {
            mode: LockMode::InContext,
        }
    }

    /// True when locks taken here exclude other contexts too.
    pub fn is_cross_context(&self) -> bool {
        self.mode == LockMode::Auto && lock_manager().is_some()
    }
}

fn lock_manager() -> Option<LockManager> {
    global_path(&["navigator", "locks"]).map(JsCast::unchecked_into)
}

impl CrossContextLock for WebLock {
    async fn run_exclusive<F: Future>(&self, name: &str, critical: F) -> F::Output {
        let _held = self.hold(name).await;
        critical.await
    }
}

/// A held lock of either kind; dropping it releases the lock.
enum Held {
    Web(#[allow(dead_code)] HeldLock),
    Local(#[allow(dead_code)] LocalGuard),
}

impl WebLock {
    /// Waits for the lock `name`. Not generic over the critical future, so one copy of the
    /// acquisition serves every caller of [`CrossContextLock::run_exclusive`].
    async fn hold(&self, name: &str) -> Held {
        if self.mode == LockMode::Auto {
            if let Some(manager) = lock_manager() {
                if let Ok(held) = acquire(&manager, name).await {
                    return Held::Web(held);
                }
                // The request was refused (e.g. SecurityError in an opaque origin): fall
                // back rather than fail the caller's refresh.
            }
        }
        Held::Local(local_mutex(name).lock_owned().await)
    }
}

/// A granted Web Lock; dropping it resolves the promise the lock callback returned, which
/// releases the lock.
struct HeldLock {
    release: js_sys::Function,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// Requests the exclusive lock and waits until it is granted.
async fn acquire(manager: &LockManager, name: &str) -> Result<HeldLock, JsValue> {
    let mut release = None;
    let released = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut grant = None;
    let granted = js_sys::Promise::new(&mut |resolve, _| grant = Some(resolve));
    let (release, grant) = (
        release.expect_throw("Promise executor runs synchronously"),
        grant.expect_throw("Promise executor runs synchronously"),
    );
    // If this future is dropped while waiting, `held` releases the lock as soon as it is
    // granted: the callback then returns an already-resolved promise.
    let held = HeldLock { release };

    let callback = Closure::once_into_js(move |lock: JsValue| {
        let _ = grant.call1(&JsValue::UNDEFINED, &lock);
        released
    });
    let options = js_sys::Object::new();
    js_sys::Reflect::set(
        &options,
        &JsValue::from_str("mode"),
        &JsValue::from_str("exclusive"),
    )?;
    let request = manager.request(name, &options, callback.unchecked_ref())?;
    // `request` settles only after release, so before the grant it can only reject.
    JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(
        &granted, &request,
    )))
    .await?;
    Ok(held)
}

thread_local! {
    /// `(name, mutex)`: a few names per context, and a few bytes of wasm where a hash map is
    /// kilobytes.
    static LOCAL_MUTEXES: RefCell<Vec<(String, Rc<LocalMutex>)>> = const { RefCell::new(Vec::new()) };
}

fn local_mutex(name: &str) -> Rc<LocalMutex> {
    LOCAL_MUTEXES.with(|mutexes| {
        let mut mutexes = mutexes.borrow_mut();
        if let Some((_, mutex)) = mutexes.iter().find(|(n, _)| n == name) {
            return mutex.clone();
        }
        let mutex = Rc::<LocalMutex>::default();
        mutexes.push((name.to_string(), mutex.clone()));
        mutex
    })
}

//! The [`CrossContextLock`] port over Web Locks (`navigator.locks.request`).
//!
//! All pages of an origin and its workers (for an extension: popup, options, tabs and the
//! service worker) share one lock namespace, so an exclusive lock held around the refresh
//! round trip makes exactly one context refresh at a time. The lock is held until the
//! critical future completes (or is dropped): the request callback returns a promise that is
//! only resolved then. A context that dies releases its locks, so nothing stays stuck.
//!
//! Where the store is shared by several contexts, Web Locks are required: a lock that cannot
//! be had is a typed error ([`LockError`]), never a quiet downgrade. [`WebLock::in_context`]
//! is the documented mode for a store no other context reads (memory), or for an embedder
//! who accepts single-context locking where Web Locks are missing (`locks: "context"`).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::global::{describe_js_error, global_path};
use crate::session::ports::{CrossContextLock, LockError};
use futures_util::lock::{Mutex, OwnedMutexGuard};

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
    /// `navigator.locks`; without it, every acquisition is [`LockError::Unavailable`].
    Web,
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
            mode: LockMode::Web,
        }
    }
}

impl WebLock {
    pub fn new() -> Self {
        WebLock::default()
    }

    /// The in-context mutex only: for a store no other context shares.
    pub fn in_context() -> Self {
        WebLock {
            mode: LockMode::InContext,
        }
    }

    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

fn lock_manager() -> Option<LockManager> {
    global_path(&["navigator", "locks"]).map(JsCast::unchecked_into)
}

impl CrossContextLock for WebLock {
    async fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> Result<F::Output, LockError> {
        let _held = self.hold(name).await?;
        Ok(critical.await)
    }
}

/// A held lock of either kind; dropping it releases the lock.
enum Held {
    Web(#[allow(dead_code)] HeldLock),
    Local(#[allow(dead_code)] OwnedMutexGuard<()>),
}

impl WebLock {
    /// Waits for the lock `name`. Not generic over the critical future, so one copy of the
    /// acquisition serves every caller of [`CrossContextLock::run_exclusive`].
    async fn hold(&self, name: &str) -> Result<Held, LockError> {
        if self.mode == LockMode::InContext {
            return Ok(Held::Local(local_mutex(name).lock_owned().await));
        }
        let manager = lock_manager().ok_or_else(|| {
            LockError::Unavailable(
                "Web Locks (navigator.locks) are not available in this context, and the store is shared with other contexts; pass locks: \"context\" to accept locking within this context only".to_string(),
            )
        })?;
        acquire(&manager, name).await.map(Held::Web).map_err(|e| {
            LockError::Refused(format!(
                "the Web Locks request was refused ({})",
                describe_js_error(&e)
            ))
        })
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
///
/// The grant callback is a `Closure` owned by a task that lives until the request settles
/// (released after the grant, or rejected before it), then frees it: no path leaks it, and
/// a waiter dropped before the grant still finds the callback there when the grant comes.
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

    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |lock: JsValue| {
        let _ = grant.call1(&JsValue::UNDEFINED, &lock);
        released.clone()
    });
    let options = js_sys::Object::new();
    js_sys::Reflect::set(
        &options,
        &JsValue::from_str("mode"),
        &JsValue::from_str("exclusive"),
    )?;
    let request = manager.request(name, &options, callback.as_ref().unchecked_ref())?;
    wasm_bindgen_futures::spawn_local({
        let request = request.clone();
        async move {
            let _ = JsFuture::from(request).await;
            drop(callback);
        }
    });
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
    static LOCAL_MUTEXES: RefCell<Vec<(String, Arc<Mutex<()>>)>> = const { RefCell::new(Vec::new()) };
}

fn local_mutex(name: &str) -> Arc<Mutex<()>> {
    LOCAL_MUTEXES.with(|mutexes| {
        let mut mutexes = mutexes.borrow_mut();
        if let Some((_, mutex)) = mutexes.iter().find(|(n, _)| n == name) {
            return mutex.clone();
        }
        let mutex = Arc::new(Mutex::new(()));
        mutexes.push((name.to_string(), mutex.clone()));
        mutex
    })
}

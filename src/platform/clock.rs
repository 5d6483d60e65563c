//! The [`Clock`] port over `Date.now()` and the global `setTimeout` (which, unlike
//! `window.setTimeout`, also exists in a service worker).

use std::future::Future;

use wasm_bindgen_futures::JsFuture;

use super::global::{clamp_timeout, set_timeout};
use crate::session::ports::Clock;

/// Wall-clock time and timers of the current JS context.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserClock;

impl BrowserClock {
    pub fn new() -> Self {
        BrowserClock
    }
}

/// Resolves after `ms` milliseconds (a macrotask, so pending I/O callbacks run first).
pub fn sleep(ms: u64) -> impl Future<Output = ()> {
    let timeout = clamp_timeout(ms);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, timeout);
    });
    async move {
        // The promise only ever resolves.
        let _ = JsFuture::from(promise).await;
    }
}

impl Clock for BrowserClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        sleep(ms)
    }
}

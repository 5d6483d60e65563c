//! Browser implementations of the session ports (wasm only).
//!
//! Everything here is reached through `globalThis`, never `window`, so the same module runs
//! in a web page, an extension page and the MV3 service worker.

mod clock;
mod fetch;
mod global;
mod idb;
pub mod identity;
mod indexed_store;
mod lock;
mod proof_key;
mod storage;

use std::future::Future;

pub use clock::{sleep, BrowserClock};
pub use fetch::{FetchClient, DEFAULT_TIMEOUT_MS};
pub use lock::{LockMode, WebLock};
pub use proof_key::{BrowserProofKey, KeyHome};
pub use storage::{BrowserStore, MemoryStore, StorageKind, Subscription};

use crate::session::ports::{
    Area, ChangeListener, Clock, CrossContextLock, HttpClient, HttpRequest, HttpResponse, KeyError,
    KeyValueStore, LockError, ProofJwk, ProofKey, StoreError, TransportError,
};

/// The five ports bundled for the session engine: fetch, a browser store, Web Locks, the JS
/// clock and the WebCrypto proof key.
#[derive(Debug, Clone)]
pub struct BrowserPlatform {
    pub http: FetchClient,
    pub store: BrowserStore,
    pub lock: WebLock,
    pub clock: BrowserClock,
    pub key: BrowserProofKey,
}

impl BrowserPlatform {
    /// Fetch with the default timeout, Web Locks, the given store and the proof key where that
    /// store's contexts find it (IndexedDB; memory for the `memory` store).
    pub fn new(store: BrowserStore) -> Self {
        let home = if store.is_context_only() {
            KeyHome::Memory
        } else {
            KeyHome::IndexedDb
        };
        BrowserPlatform {
            http: FetchClient::default(),
            store,
            lock: WebLock::new(),
            clock: BrowserClock,
            key: BrowserProofKey::new(home),
        }
    }

    pub fn with_http(mut self, http: FetchClient) -> Self {
        self.http = http;
        self
    }

    pub fn with_lock(mut self, lock: WebLock) -> Self {
        self.lock = lock;
        self
    }
}

impl HttpClient for BrowserPlatform {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        self.http.send(request)
    }
}

impl KeyValueStore for BrowserPlatform {
    fn get(
        &self,
        area: Area,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> {
        self.store.get(area, key)
    }

    fn set(
        &self,
        area: Area,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> {
        self.store.set(area, key, value)
    }

    fn remove(&self, area: Area, key: &str) -> impl Future<Output = Result<(), StoreError>> {
        self.store.remove(area, key)
    }

    fn watch(&self, listener: ChangeListener) {
        self.store.watch(listener)
    }
}

impl CrossContextLock for BrowserPlatform {
    fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> impl Future<Output = Result<F::Output, LockError>> {
        self.lock.run_exclusive(name, critical)
    }
}

impl Clock for BrowserPlatform {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        self.clock.sleep_ms(ms)
    }
}

impl ProofKey for BrowserPlatform {
    fn public_jwk(&self) -> impl Future<Output = Result<ProofJwk, KeyError>> {
        self.key.public_jwk()
    }

    fn sign(&self, input: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeyError>> {
        self.key.sign(input)
    }
}

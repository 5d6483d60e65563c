//! The five ports through which the session engine performs I/O.
//!
//! Everything the engine needs from the outside world goes through these traits, so the
//! same engine runs in a browser (see `platform`) and in native tests (see `tests/support`).
//! The futures are deliberately not `Send`: browser futures never are. The values they carry
//! (requests, responses, their errors) belong to the core: [`crate::core::io`].

use std::future::Future;

pub use crate::core::dpop::ProofJwk;
pub use crate::core::io::{
    Area, HttpRequest, HttpResponse, KeyError, LockError, Method, StoreError, TransportError,
};

/// Sends HTTP requests (fetch in the browser, reqwest in native tests).
pub trait HttpClient {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;
}

/// Told the key that changed (`None`: anything may have changed), see [`KeyValueStore::watch`].
pub type ChangeListener = std::rc::Rc<dyn Fn(Option<&str>)>;

/// Async string key-value storage shared by every context of the extension.
pub trait KeyValueStore {
    fn get(
        &self,
        area: Area,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>>;
    fn set(
        &self,
        area: Area,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;
    fn remove(&self, area: Area, key: &str) -> impl Future<Output = Result<(), StoreError>>;
    /// Calls `listener(Some(key))` after `key` changed in any context sharing the store,
    /// this one included (`None`: anything may have changed), for as long as this store
    /// lives. The engine keeps its in-memory copies of records current with it, so a store
    /// whose changes go unreported would leave other contexts' copies stale.
    fn watch(&self, listener: ChangeListener);
}

/// An exclusive lock shared by every context that shares the store (Web Locks in the
/// browser). `critical` is not polled before the lock is held, and the lock is held until
/// it completes: the whole refresh round trip runs inside. A lock that cannot be had is an
/// error, never a quiet downgrade to a lock that covers fewer contexts than the store.
pub trait CrossContextLock {
    fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> impl Future<Output = Result<F::Output, LockError>>;
}

/// Wall-clock time and sleeping.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()>;
}

/// The installation's proof-of-possession key (RFC 9449): one ECDSA P-256 key pair per
/// extension or origin, shared by every context that shares the store, whose private half
/// cannot be read out (WebCrypto, non-extractable). The broker binds the sign-in and the
/// sealed refresh token to it, so two contexts must never end up with different keys.
pub trait ProofKey {
    /// The public key, creating the pair on first use.
    fn public_jwk(&self) -> impl Future<Output = Result<ProofJwk, KeyError>>;
    /// ECDSA P-256 / SHA-256 over `input`, as `r || s` (64 bytes).
    fn sign(&self, input: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeyError>>;
}

//! The four ports through which the session engine performs I/O.
//!
//! Everything the engine needs from the outside world goes through these traits, so the
//! same engine runs in a browser (see `platform`) and in native tests (see `tests/support`).
//! The futures are deliberately not `Send`: browser futures never are.

use std::future::Future;

/// HTTP method of an outgoing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Idempotent requests may be retried automatically (after a 429/503 or a refresh);
    /// non-idempotent ones (POST) only after a 401, which proves the server did nothing.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post)
    }
}

/// An outgoing HTTP request. `body`, when present, is sent as `application/json`
/// unless a `content-type` header says otherwise.
///
/// `Debug` is hand-written: the `authorization` header and the body (which may hold a
/// code or a refresh token) are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &header_names)
            .field(
                "body",
                &self.body.as_ref().map(|b| format!("<{} bytes>", b.len())),
            )
            .finish()
    }
}

/// A received HTTP response. Header names are lower-case.
///
/// `Debug` is hand-written: a token response's body holds the tokens, so only the status,
/// the header names and the body length are printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &header_names)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request produced no HTTP response at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Connection refused, DNS failure, CORS refusal, dropped connection, ...
    #[error("network error: {0}")]
    Network(String),
    /// No response within the client's timeout.
    #[error("the request timed out")]
    Timeout,
}

/// Sends HTTP requests (fetch in the browser, reqwest in native tests).
pub trait HttpClient {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;
}

/// Which store a record lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Short-lived, hidden from content scripts: the access token and its expiry
    /// (`chrome.storage.session`, `sessionStorage`, memory).
    Session,
    /// Survives restarts: the refresh token, the chosen site, pending sign-in state
    /// (`chrome.storage.local`, `localStorage`, memory).
    Persistent,
}

/// A storage failure (quota, unavailable API, ...). Never contains a stored value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

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

/// Why a [`CrossContextLock`] could not be held. Never silent: the engine turns it into
/// [`crate::Error::Config`] (no lock mechanism here) or [`crate::Error::Storage`] (refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// This context has no lock that spans the contexts sharing the store (no Web Locks).
    #[error("{0}")]
    Unavailable(String),
    /// The lock manager refused the request (e.g. a `SecurityError` in an opaque origin).
    #[error("{0}")]
    Refused(String),
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

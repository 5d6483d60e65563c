//! The values of the engine's I/O: requests and responses, and why an operation got none.
//! The sans-IO core decides over these; the ports that carry them ([`crate::session::ports`])
//! are the async shell's.

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

/// Which store a record lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Short-lived, hidden from content scripts: the access token and its expiry
    /// (`chrome.storage.session`, IndexedDB, `sessionStorage`, memory).
    Session,
    /// Survives restarts: the refresh token, the chosen site, pending sign-in state
    /// (`chrome.storage.local`, IndexedDB, `sessionStorage`, memory).
    Persistent,
}

/// A storage failure (quota, unavailable API, ...). Never contains a stored value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

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

/// Why the installation's proof key could not be had or used (no WebCrypto, IndexedDB
/// refused, ...). Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("proof key error: {0}")]
pub struct KeyError(pub String);

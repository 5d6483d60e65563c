//! The one error type of the crate. Every variant has a stable [`ErrorCode`] string that
//! JavaScript sees as `error.code`, a human message (`Display`) and its details.
//!
//! No variant ever holds a token, an authorization code or the client secret.

use serde::Serialize;

/// A Jira site the user can choose (a deduplicated `accessible-resources` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteChoice {
    pub id: String,
    pub name: String,
    pub url: String,
    pub avatar_url: Option<String>,
}

/// Text chosen by a remote party (an OAuth `error_description`, a forged callback's
/// parameters): kept in an error's details for diagnostics, never part of its message. It has
/// no `Display`, so it cannot be formatted into one by accident. Control characters and the
/// markup brackets `<` `>` become spaces, runs of white space fold into one, and it is cut to
/// [`ProviderText::MAX_CHARS`]: one short line of plain text, even where an embedder renders
/// it carelessly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProviderText(String);

impl ProviderText {
    pub const MAX_CHARS: usize = 200;

    /// `None` when nothing but white space is left.
    pub fn new(raw: &str) -> Option<Self> {
        let mut text = String::new();
        for word in raw
            .split(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'))
            .filter(|w| !w.is_empty())
        {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(word);
        }
        if let Some((cut, _)) = text.char_indices().nth(Self::MAX_CHARS) {
            text.truncate(cut);
        }
        (!text.is_empty()).then_some(ProviderText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for ProviderText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// An OAuth `error` value from outside, as it may appear in a message: an error code is a
/// short word of `a-z A-Z 0-9 _ . -` (RFC 6749 codes are `snake_case`); anything else, which
/// only a forged or broken response sends, becomes `invalid_error_code`.
pub fn oauth_error_code(raw: &str) -> String {
    let is_code = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if is_code { raw } else { "invalid_error_code" }.to_string()
}

/// Stable machine-readable codes. These strings are part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // callback outcomes
    NotACallback,
    StateMismatch,
    UnknownState,
    StateExpired,
    AccessDenied,
    ProviderError,
    MissingCode,
    // session
    NotSignedIn,
    ReauthRequired,
    SiteSelectionRequired,
    NoJiraSite,
    UnknownSite,
    MissingScope,
    RateLimited,
    // transport / upstream
    Network,
    Timeout,
    Broker,
    Oauth,
    Jira,
    InvalidResponse,
    Storage,
    Config,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotACallback => "not_a_callback",
            ErrorCode::StateMismatch => "state_mismatch",
            ErrorCode::UnknownState => "unknown_state",
            ErrorCode::StateExpired => "state_expired",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::MissingCode => "missing_code",
            ErrorCode::NotSignedIn => "not_signed_in",
            ErrorCode::ReauthRequired => "reauth_required",
            ErrorCode::SiteSelectionRequired => "site_selection_required",
            ErrorCode::NoJiraSite => "no_jira_site",
            ErrorCode::UnknownSite => "unknown_site",
            ErrorCode::MissingScope => "missing_scope",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Network => "network",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Broker => "broker",
            ErrorCode::Oauth => "oauth",
            ErrorCode::Jira => "jira",
            ErrorCode::InvalidResponse => "invalid_response",
            ErrorCode::Storage => "storage",
            ErrorCode::Config => "config",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong, with what the caller needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The URL is not a redirect to our callback (other origin/path, no OAuth params, or no
    /// sign-in was ever started here).
    #[error("this URL is not the sign-in callback")]
    NotACallback,
    /// `state` in the callback differs from the pending sign-in's.
    #[error("the sign-in response does not belong to this sign-in attempt (state mismatch)")]
    StateMismatch,
    /// A redirect to the callback of a sign-in attempt that has already ended (used, or
    /// replaced by a newer attempt): start the sign-in again.
    #[error("no sign-in is in progress for this response; start the sign-in again")]
    UnknownState,
    /// The pending sign-in is older than its 10-minute life.
    #[error("the sign-in attempt expired; start the sign-in again")]
    StateExpired,
    /// The user clicked Cancel on the consent screen.
    #[error("access was not granted: the sign-in was cancelled on the consent screen")]
    AccessDenied { description: Option<ProviderText> },
    /// Any other `error=` on the callback.
    #[error("the authorization server refused the sign-in ({error})")]
    ProviderError {
        error: String,
        description: Option<ProviderText>,
    },
    /// The callback carried neither a ticket nor `error`.
    #[error("the sign-in response carries no sign-in ticket")]
    MissingCode,

    /// No refresh token is stored: the user has to connect first.
    #[error("not signed in to Jira")]
    NotSignedIn,
    /// The user must consent again: the token endpoint refused the refresh token for good
    /// (expired, revoked, rotated elsewhere; the tokens were cleared), or the gateway refused
    /// even a freshly refreshed access token (`error: "unauthorized"`; the tokens are kept,
    /// since only the token endpoint ends a grant, and reconnecting replaces them).
    /// `error: "unsealed_refresh_token"`: a refresh token stored by a version before sealed
    /// refresh tokens, which the broker no longer redeems (it was removed; see the README).
    #[error("{}", reauth_message(.error))]
    ReauthRequired {
        error: String,
        description: Option<ProviderText>,
    },
    /// The grant covers several Jira sites and none is chosen yet.
    #[error("choose which Jira site to use")]
    SiteSelectionRequired { sites: Vec<SiteChoice> },
    /// The grant covers no Jira site.
    #[error("this Atlassian account gave access to no Jira site")]
    NoJiraSite,
    /// A site id was chosen that is not among the accessible sites.
    #[error("that Jira site is not accessible with this sign-in")]
    UnknownSite { site_id: String },
    /// The gateway said `Unauthorized; scope does not match`.
    #[error("the app was not granted the permission this call needs (scope does not match); reconnect after the scopes are updated")]
    MissingScope { message: String },
    /// 429 (or 503 with Retry-After) beyond the configured total wait.
    #[error("Jira is rate limiting requests; retry in {} s", .retry_after_ms.div_ceil(1000))]
    RateLimited { status: u16, retry_after_ms: u64 },

    /// No HTTP response (connection refused, CORS, dropped connection).
    /// `origin` is the server that could not be reached (`scheme://host[:port]`, never a path
    /// or query), when known.
    #[error("network error: {message}")]
    Network {
        message: String,
        origin: Option<String>,
    },
    /// No response within the timeout.
    #[error("the request timed out")]
    Timeout,
    /// The broker refused or failed (its own `{error, error_description}` body).
    /// `retry_after_ms` is its `Retry-After` (a 429 `rate_limited` carries one), when present.
    #[error("the token broker failed ({status}): {error}")]
    Broker {
        status: u16,
        error: String,
        description: Option<ProviderText>,
        retry_after_ms: Option<u64>,
    },
    /// The token endpoint answered an OAuth error that is not a permanent refusal,
    /// or a transient failure (5xx) during refresh: the refresh token is kept.
    #[error("the token endpoint failed ({status}): {error}")]
    Oauth {
        status: u16,
        error: String,
        description: Option<ProviderText>,
    },
    /// Jira answered an error (`ErrorCollection` body).
    #[error("Jira refused the request ({status}){}", fmt_jira(.error_messages, .errors))]
    Jira {
        status: u16,
        error_messages: Vec<String>,
        errors: std::collections::BTreeMap<String, String>,
    },
    /// A response that could not be understood (HTML where JSON was expected, ...).
    #[error("unexpected response ({status}): {detail}")]
    InvalidResponse { status: u16, detail: String },
    /// The storage API failed.
    #[error("storage error: {message}")]
    Storage { message: String },
    /// The configuration is unusable (bad URL, missing scope, ...).
    #[error("invalid configuration: {message}")]
    Config { message: String },
    /// A refresh failed moments ago and the token endpoint is left alone until the wait is
    /// over: `last` is that failure (its code is this error's code), `retry_after_ms` when
    /// the next attempt will be made.
    #[error("{last} (the next attempt is in {} s)", .retry_after_ms.div_ceil(1000))]
    RefreshPaused {
        last: Box<Error>,
        retry_after_ms: u64,
    },
}

/// The error code of [`Error::ReauthRequired`] for a refresh token from an older version.
pub const UNSEALED_REFRESH_TOKEN: &str = "unsealed_refresh_token";

fn reauth_message(error: &str) -> &'static str {
    if error == UNSEALED_REFRESH_TOKEN {
        "this version keeps your Jira sign-in bound to this browser; please reconnect once"
    } else {
        "your Jira sign-in has expired or was revoked; please reconnect"
    }
}

fn fmt_jira(messages: &[String], errors: &std::collections::BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = messages.to_vec();
    parts.extend(errors.iter().map(|(k, v)| format!("{k}: {v}")));
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

impl Error {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotACallback => ErrorCode::NotACallback,
            Error::StateMismatch => ErrorCode::StateMismatch,
            Error::UnknownState => ErrorCode::UnknownState,
            Error::StateExpired => ErrorCode::StateExpired,
            Error::AccessDenied { .. } => ErrorCode::AccessDenied,
            Error::ProviderError { .. } => ErrorCode::ProviderError,
            Error::MissingCode => ErrorCode::MissingCode,
            Error::NotSignedIn => ErrorCode::NotSignedIn,
            Error::ReauthRequired { .. } => ErrorCode::ReauthRequired,
            Error::SiteSelectionRequired { .. } => ErrorCode::SiteSelectionRequired,
            Error::NoJiraSite => ErrorCode::NoJiraSite,
            Error::UnknownSite { .. } => ErrorCode::UnknownSite,
            Error::MissingScope { .. } => ErrorCode::MissingScope,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Network { .. } => ErrorCode::Network,
            Error::Timeout => ErrorCode::Timeout,
            Error::Broker { .. } => ErrorCode::Broker,
            Error::Oauth { .. } => ErrorCode::Oauth,
            Error::Jira { .. } => ErrorCode::Jira,
            Error::InvalidResponse { .. } => ErrorCode::InvalidResponse,
            Error::Storage { .. } => ErrorCode::Storage,
            Error::Config { .. } => ErrorCode::Config,
            Error::RefreshPaused { last, .. } => last.code(),
        }
    }

    /// True when the user must go through consent again (the popup shows "Reconnect").
    pub fn needs_reconnect(&self) -> bool {
        match self {
            Error::RefreshPaused { last, .. } => last.needs_reconnect(),
            _ => matches!(
                self,
                Error::NotSignedIn | Error::ReauthRequired { .. } | Error::MissingScope { .. }
            ),
        }
    }

    /// How long the server asked us to wait (a 429's or 503's `Retry-After`), when it did.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after_ms, .. }
            | Error::RefreshPaused { retry_after_ms, .. } => Some(*retry_after_ms),
            Error::Broker { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }

    /// True for failures worth retrying later with nothing changed (network, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Timeout | Error::RateLimited { .. } => true,
            Error::Oauth { status, .. } | Error::Broker { status, .. } => *status >= 500,
            Error::Jira { status, .. } | Error::InvalidResponse { status, .. } => *status >= 500,
            Error::RefreshPaused { last, .. } => last.is_transient(),
            _ => false,
        }
    }
}

impl Error {
    /// The gateway refused an access token fresh from the token endpoint (a second 401 on one
    /// call): the user has to reconnect, but no token is cleared for it.
    #[cold]
    pub(crate) fn gateway_refused_fresh_token() -> Self {
        Error::ReauthRequired {
            error: "unauthorized".into(),
            description: None,
        }
    }

    /// [`Error::InvalidResponse`] with a fixed detail: one out-of-line constructor where each
    /// call site would otherwise inline its own copy into a new `String` (wasm size).
    #[cold]
    pub(crate) fn invalid_response(status: u16, detail: &str) -> Self {
        Error::InvalidResponse {
            status,
            detail: detail.to_string(),
        }
    }

    /// The error for a request that got no response; `url` is the URL it was sent to, of
    /// which only the origin is kept (see [`crate::core::urls::origin_of`]).
    pub fn from_transport(e: crate::core::io::TransportError, url: &str) -> Self {
        match e {
            crate::core::io::TransportError::Network(message) => Error::Network {
                message,
                origin: crate::core::urls::origin_of(url),
            },
            crate::core::io::TransportError::Timeout => Error::Timeout,
        }
    }
}

impl From<crate::core::io::StoreError> for Error {
    fn from(e: crate::core::io::StoreError) -> Self {
        Error::Storage { message: e.0 }
    }
}

impl From<crate::core::io::KeyError> for Error {
    fn from(e: crate::core::io::KeyError) -> Self {
        Error::Storage {
            message: e.to_string(),
        }
    }
}

impl From<crate::core::io::LockError> for Error {
    fn from(e: crate::core::io::LockError) -> Self {
        use crate::core::io::LockError;
        match e {
            LockError::Unavailable(message) => Error::Config { message },
            LockError::Refused(message) => Error::Storage { message },
        }
    }
}

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
    /// The URL is not a redirect to our callback (other origin/path, or no OAuth params).
    #[error("this URL is not the sign-in callback")]
    NotACallback,
    /// `state` in the callback differs from the pending sign-in's.
    #[error("the sign-in response does not belong to this sign-in attempt (state mismatch)")]
    StateMismatch,
    /// No pending sign-in exists (never started, already used, or storage cleared).
    #[error("no sign-in is in progress for this response; start the sign-in again")]
    UnknownState,
    /// The pending sign-in is older than its 10-minute life.
    #[error("the sign-in attempt expired; start the sign-in again")]
    StateExpired,
    /// The user clicked Cancel on the consent screen.
    #[error("access was not granted: {description}")]
    AccessDenied { description: String },
    /// Any other `error=` on the callback.
    #[error("the authorization server refused the sign-in: {error}{}", fmt_desc(.description))]
    ProviderError {
        error: String,
        description: Option<String>,
    },
    /// The callback carried neither `code` nor `error`.
    #[error("the sign-in response has no authorization code")]
    MissingCode,

    /// No refresh token is stored: the user has to connect first.
    #[error("not signed in to Jira")]
    NotSignedIn,
    /// The refresh token was refused for good (expired, revoked, rotated elsewhere):
    /// tokens were cleared, the user must consent again.
    #[error("your Jira sign-in has expired or was revoked; please reconnect")]
    ReauthRequired {
        error: String,
        description: Option<String>,
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
    #[error("the token broker failed ({status}): {error}{}", fmt_desc(.description))]
    Broker {
        status: u16,
        error: String,
        description: Option<String>,
        retry_after_ms: Option<u64>,
    },
    /// The token endpoint answered an OAuth error that is not a permanent refusal,
    /// or a transient failure (5xx) during refresh: the refresh token is kept.
    #[error("the token endpoint failed ({status}): {error}{}", fmt_desc(.description))]
    Oauth {
        status: u16,
        error: String,
        description: Option<String>,
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
}

fn fmt_desc(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
}

fn fmt_jira(messages: &[String], errors: &std::collections::BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = messages.to_vec();
    parts.extend(errors.iter().map(|(k, v)| format!("{k}: {v}")));
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", crate::core::text::join(&parts, "; "))
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
        }
    }

    /// True when the user must go through consent again (the popup shows "Reconnect").
    pub fn needs_reconnect(&self) -> bool {
        matches!(
            self,
            Error::NotSignedIn | Error::ReauthRequired { .. } | Error::MissingScope { .. }
        )
    }

    /// True for failures worth retrying later with nothing changed (network, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Timeout | Error::RateLimited { .. } => true,
            Error::Oauth { status, .. } | Error::Broker { status, .. } => *status >= 500,
            Error::Jira { status, .. } | Error::InvalidResponse { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

impl Error {
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
    pub fn from_transport(e: crate::session::ports::TransportError, url: &str) -> Self {
        match e {
            crate::session::ports::TransportError::Network(message) => Error::Network {
                message,
                origin: crate::core::urls::origin_of(url),
            },
            crate::session::ports::TransportError::Timeout => Error::Timeout,
        }
    }
}

impl From<crate::session::ports::StoreError> for Error {
    fn from(e: crate::session::ports::StoreError) -> Self {
        Error::Storage { message: e.0 }
    }
}

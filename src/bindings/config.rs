//! `new JiraClient(config)`: the JavaScript configuration, validated into the engine's
//! [`SessionConfig`] and the platform choices.

use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::JsValue;

use crate::core::urls::WebUrl;

use crate::platform::StorageKind;
use crate::session::SessionConfig;
use crate::Error;

/// What `new JiraClient(...)` takes. Only `brokerUrl` is required.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The token broker (holds the client secret and hosts the app's one callback URL):
    /// `POST {brokerUrl}/v1/authorize` and `POST {brokerUrl}/oauth/token`.
    pub broker_url: String,
    /// Default `https://api.atlassian.com`.
    #[tsify(optional)]
    pub api_base_url: Option<String>,
    /// Default `read:jira-work write:jira-work read:jira-user`; `offline_access` is always added.
    #[tsify(optional)]
    pub scopes: Option<Vec<String>>,
    /// Default `"extension"` in an extension, `"session"` in a web page, `"memory"` in a plain worker.
    #[tsify(optional)]
    pub storage: Option<StorageChoice>,
    /// Separates the records (and the refresh lock) of several clients; default `"default"`.
    #[tsify(optional)]
    pub namespace: Option<String>,
    /// Per-request timeout in milliseconds; default 30000.
    #[tsify(optional)]
    pub request_timeout_ms: Option<u32>,
    /// How refreshes are kept to one across contexts. Default `"web"`: Web Locks, required for
    /// every storage other contexts share (a client cannot be created without them);
    /// `"context"`: within this JS context only, for an embedder that knows no other context
    /// uses the same storage. `memory` storage always locks within the context.
    #[tsify(optional)]
    pub locks: Option<LockChoice>,
}

/// See [`ClientConfig::locks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum LockChoice {
    Web,
    Context,
}

/// Where tokens live: `extension` = chrome.storage.session (access token) + chrome.storage.local
/// (refresh token, site), shared by every extension context; `session` = sessionStorage (this
/// tab); `local` = the origin's IndexedDB (every tab and worker of the origin); `memory` = this
/// JS context only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum StorageChoice {
    Extension,
    Session,
    Local,
    Memory,
}

impl From<StorageChoice> for StorageKind {
    fn from(choice: StorageChoice) -> Self {
        match choice {
            StorageChoice::Extension => StorageKind::Extension,
            StorageChoice::Session => StorageKind::Session,
            StorageChoice::Local => StorageKind::Local,
            StorageChoice::Memory => StorageKind::Memory,
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub session: SessionConfig,
    pub storage: StorageKind,
    /// Web Locks (true) or the in-context lock.
    pub web_locks: bool,
    pub request_timeout_ms: Option<u32>,
}

fn config_error(message: impl Into<String>) -> Error {
    Error::Config {
        message: message.into(),
    }
}

/// An absolute http(s) URL without query or fragment, returned without trailing slashes so
/// the engine can append paths.
fn base_url(field: &str, value: &str) -> Result<String, Error> {
    let parsed = WebUrl::parse(value.trim())
        .map_err(|e| config_error(format!("{field} is not a valid URL ({e})")))?;
    if !matches!(parsed.scheme.as_str(), "http" | "https") || parsed.host.is_none() {
        return Err(config_error(format!("{field} must be an http(s) URL")));
    }
    if parsed.query.is_some() || parsed.fragment.is_some() {
        return Err(config_error(format!(
            "{field} must not have a query or fragment"
        )));
    }
    Ok(parsed.href.trim_end_matches('/').to_string())
}

impl ClientConfig {
    /// Reads the object JavaScript passed (serde: `brokerUrl` required, the rest optional,
    /// `null` = absent).
    pub(crate) fn read(value: &JsValue) -> Result<Self, String> {
        serde_wasm_bindgen::from_value(value.clone()).map_err(|e| e.to_string())
    }

    /// Borrows the configuration: an error return then has nothing of it to drop (each early
    /// return of a consuming version dropped every remaining field: kilobytes of wasm).
    pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
        if self.broker_url.trim().is_empty() {
            return Err(config_error("brokerUrl is required"));
        }
        let mut session = SessionConfig::new(base_url("brokerUrl", &self.broker_url)?);
        if let Some(api) = &self.api_base_url {
            session.api_base_url = base_url("apiBaseUrl", api)?;
        }
        if let Some(scopes) = &self.scopes {
            if let Some(bad) = scopes
                .iter()
                .find(|s| s.is_empty() || s.contains(char::is_whitespace))
            {
                return Err(config_error(format!(
                    "scope \"{bad}\" is empty or contains whitespace"
                )));
            }
            if !scopes.is_empty() {
                session.scopes = scopes.clone();
            }
        }
        if let Some(namespace) = &self.namespace {
            let valid = !namespace.is_empty()
                && namespace.len() <= 64
                && namespace
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(config_error(
                    "namespace must be 1-64 characters of A-Z a-z 0-9 - _ .",
                ));
            }
            session.namespace = namespace.clone();
        }
        if self.request_timeout_ms == Some(0) {
            return Err(config_error("requestTimeoutMs must be positive"));
        }
        let storage = self
            .storage
            .map(StorageKind::from)
            .unwrap_or_else(StorageKind::detect);
        let web_locks = storage != StorageKind::Memory && self.locks != Some(LockChoice::Context);
        Ok(Resolved {
            session,
            storage,
            web_locks,
            request_timeout_ms: self.request_timeout_ms,
        })
    }
}

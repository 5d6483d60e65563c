//! What the fake is started with: registered apps, initial settings and the listen address.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::state::{Settings, SettingsPatch};

/// The built-in demo app's client id (public test credentials, not a secret).
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// The built-in demo app's client secret.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
/// Scopes the demo app (and, by default, an app registered on the command line) may request.
pub const DEMO_SCOPES: &[&str] = &[
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-project",
    "read:me",
    "offline_access",
    "read:confluence-content.all",
];

/// A client secret. Its `Debug` never shows the value, so a config can be logged safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One registered OAuth 2.0 (3LO) app, as in the Atlassian developer console.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub client_id: String,
    pub client_secret: Secret,
    /// The app's one callback URL, matched exactly (Atlassian compares the whole URL, path
    /// included, and its console takes a single callback per app). `None`: not set yet, so
    /// every `/authorize` is refused. `{base}` is replaced by the fake's own base URL.
    pub callback_url: Option<String>,
    /// The scopes added to the app; `/authorize` refuses anything else.
    pub scopes: Vec<String>,
}

/// Whether `/authorize` consents on its own or shows a page with Accept / Cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    /// 302 straight back to the redirect URI with a code (tests, benchmarks).
    #[default]
    Auto,
    /// An HTML consent page with Accept / Cancel buttons and a site picker (demo, browser tests).
    Page,
}

impl std::str::FromStr for ConsentMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ConsentMode::Auto),
            "page" => Ok(ConsentMode::Page),
            other => Err(ConfigError::Invalid(format!(
                "consent mode must be `auto` or `page`, not `{other}`"
            ))),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    }
}

/// Everything [`crate::spawn`] needs. `Default` gives the built-in demo app
/// (`demo-client` / `demo-secret`, no redirect URIs yet), auto-consent as `alice`,
/// and `127.0.0.1:0`.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) apps: Vec<AppConfig>,
    pub(crate) settings: Settings,
    /// Builder mistakes (e.g. a redirect URI for an unknown app), reported by `spawn`.
    pub(crate) errors: Vec<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            apps: vec![AppConfig {
                client_id: DEMO_CLIENT_ID.to_string(),
                client_secret: Secret::new(DEMO_CLIENT_SECRET),
                callback_url: None,
                scopes: DEMO_SCOPES.iter().map(|s| s.to_string()).collect(),
            }],
            settings: Settings::default(),
            errors: Vec::new(),
        }
    }
}

impl FakeConfig {
    /// Registers (or replaces) an app with its one callback URL.
    pub fn with_app(
        mut self,
        client_id: &str,
        client_secret: &str,
        callback_url: Option<&str>,
        scopes: &[&str],
    ) -> Self {
        self.apps.retain(|a| a.client_id != client_id);
        self.apps.push(AppConfig {
            client_id: client_id.to_string(),
            client_secret: Secret::new(client_secret),
            callback_url: callback_url.map(str::to_string),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// Sets the callback URL of an existing app (e.g. `demo-client`), **replacing** any earlier
    /// one: like Atlassian's console, an app has exactly one. `{base}` in `uri` becomes the
    /// fake's base URL, for callbacks served by the fake itself (`{base}/__test/callback`).
    /// An unknown client id makes [`crate::spawn`] fail with `InvalidInput`.
    pub fn callback_url(mut self, client_id: &str, uri: &str) -> Self {
        match self.apps.iter_mut().find(|a| a.client_id == client_id) {
            Some(app) => app.callback_url = Some(uri.to_string()),
            None => self
                .errors
                .push(format!("callback_url: no app with client id `{client_id}`")),
        }
        self
    }

    /// The former name of [`FakeConfig::callback_url`], kept for existing callers. It replaces
    /// the app's callback URL; it does not add a second one.
    pub fn allow_redirect_uri(self, client_id: &str, uri: &str) -> Self {
        self.callback_url(client_id, uri)
    }

    /// The address to bind (port 0 picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Auto-consent (default) or the consent page.
    pub fn consent_mode(mut self, mode: ConsentMode) -> Self {
        self.settings.consent_mode = mode;
        self
    }

    /// Which seeded user consents (`alice` by default, `bob`, `carol`, `dave`).
    pub fn consent_user(mut self, user: &str) -> Self {
        self.settings.consent_user = user.to_string();
        self
    }

    /// Access-token lifetime (`expires_in`), default 3600 s.
    pub fn access_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.settings.access_token_lifetime_secs = secs;
        self
    }

    /// Refresh-token reuse leeway, default 600 s.
    pub fn refresh_leeway_secs(mut self, secs: u64) -> Self {
        self.settings.refresh_leeway_secs = secs;
        self
    }

    /// Reads a JSON config file (see the README for its shape) on top of `self`.
    pub fn merge_file(self, path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: ConfigFile =
            serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
                path: shown,
                source,
            })?;
        self.merge(file)
    }

    fn merge(mut self, file: ConfigFile) -> Result<Self, ConfigError> {
        if let Some(listen) = file.listen {
            self.listen = listen;
        }
        for app in file.apps {
            let scopes: Vec<&str> = match &app.scopes {
                Some(s) => s.iter().map(String::as_str).collect(),
                None => DEMO_SCOPES.to_vec(),
            };
            self = self.with_app(
                &app.client_id,
                &app.client_secret,
                app.callback_url.as_deref(),
                &scopes,
            );
        }
        if let Some(uri) = &file.demo_callback_url {
            self = self.callback_url(DEMO_CLIENT_ID, uri);
        }
        if let Some(patch) = file.settings {
            self.settings.apply(patch).map_err(ConfigError::Invalid)?;
        }
        Ok(self)
    }

    /// Checks what the builders could not; `spawn` calls this.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = self.errors.first() {
            return Err(ConfigError::Invalid(e.clone()));
        }
        self.settings.validate().map_err(ConfigError::Invalid)
    }
}

/// The JSON config file (`--config FILE.json`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    listen: Option<SocketAddr>,
    #[serde(default)]
    apps: Vec<AppFile>,
    /// The built-in demo app's one callback URL.
    #[serde(default)]
    demo_callback_url: Option<String>,
    #[serde(default)]
    settings: Option<SettingsPatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    client_id: String,
    client_secret: String,
    /// One URL, not a list: an Atlassian app has exactly one callback.
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let cfg = FakeConfig::default().with_app(
            "c",
            "hunter2-secret",
            Some("http://localhost/cb"),
            &["read:jira-work"],
        );
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2-secret"));
        assert!(!shown.contains(DEMO_CLIENT_SECRET));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn callback_for_unknown_app_is_reported_and_a_second_one_replaces_the_first() {
        let cfg = FakeConfig::default().callback_url("nope", "http://x/cb");
        assert!(cfg.validate().is_err());
        let cfg = FakeConfig::default()
            .callback_url(DEMO_CLIENT_ID, "http://x/cb")
            .allow_redirect_uri(DEMO_CLIENT_ID, "http://y/cb");
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.apps[0].callback_url.as_deref(), Some("http://y/cb"));
    }

    #[test]
    fn config_file_merges() {
        let file: ConfigFile = serde_json::from_str(
            r#"{"apps":[{"client_id":"a","client_secret":"s","callback_url":"http://h/cb","scopes":["read:me"]}],
                "demo_callback_url":"http://d/cb","settings":{"consent_mode":"page","refresh_leeway_secs":5}}"#,
        )
        .unwrap();
        let cfg = FakeConfig::default().merge(file).unwrap();
        assert_eq!(cfg.apps.len(), 2);
        assert_eq!(cfg.settings.consent_mode, ConsentMode::Page);
        assert_eq!(cfg.settings.refresh_leeway_secs, 5);
        assert_eq!(cfg.apps[0].callback_url.as_deref(), Some("http://d/cb"));
        assert!(serde_json::from_str::<ConfigFile>(r#"{"aps":[]}"#).is_err());
        // The former list keys are refused rather than half-applied.
        assert!(
            serde_json::from_str::<ConfigFile>(r#"{"demo_redirect_uris":["http://d/cb"]}"#)
                .is_err()
        );
    }
}

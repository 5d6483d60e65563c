//! Command line, environment and config file → [`BrokerConfig`].
//!
//! Precedence per setting: command-line flag, then environment variable, then config file,
//! then the built-in default. The client id and secret come only from the environment.

use clap::{Parser, ValueEnum};
use jira_3lo_broker::{
    BrokerConfig, ClientSecret, DEFAULT_AUTH_BASE_URL, DEFAULT_LISTEN,
    DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_SCOPES, DEFAULT_UPSTREAM_TIMEOUT,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The jira-3lo token broker: adds the Atlassian client credentials to code exchanges and
/// refreshes. Client id and secret are read only from ATLASSIAN_CLIENT_ID and
/// ATLASSIAN_CLIENT_SECRET (or ATLASSIAN_CLIENT_SECRET_FILE), never from a flag.
#[derive(Debug, Parser)]
#[command(name = "jira-3lo-broker", version)]
pub struct Cli {
    /// JSON config file with any of the settings below (snake_case keys).
    #[arg(long, env = "BROKER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8787].
    #[arg(long, env = "BROKER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Authorization server base URL [default: https://auth.atlassian.com].
    #[arg(long, env = "BROKER_AUTH_BASE_URL", value_name = "URL")]
    pub auth_base_url: Option<String>,
    /// Browser origin allowed to call the broker (repeatable; env: comma-separated).
    #[arg(
        long = "allowed-origin",
        env = "BROKER_ALLOWED_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Redirect URI accepted in code exchanges (repeatable; env: comma-separated).
    #[arg(
        long = "allowed-redirect-uri",
        env = "BROKER_ALLOWED_REDIRECT_URIS",
        value_name = "URI",
        value_delimiter = ','
    )]
    pub allowed_redirect_uris: Vec<String>,
    /// Scope published by GET /v1/client (repeatable; env: comma-separated)
    /// [default: read:jira-work write:jira-work read:jira-user offline_access].
    #[arg(
        long = "scope",
        env = "BROKER_SCOPES",
        value_name = "SCOPE",
        value_delimiter = ','
    )]
    pub scopes: Vec<String>,
    /// Bound on one token-endpoint round trip, in seconds [default: 10].
    #[arg(long, env = "BROKER_UPSTREAM_TIMEOUT_SECS", value_name = "SECS")]
    pub upstream_timeout_secs: Option<u64>,
    /// Token requests per client address per minute, per instance; 0 disables [default: 120].
    #[arg(long, env = "BROKER_RATE_LIMIT_PER_MINUTE", value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Header carrying the client address, set by a trusted reverse proxy (e.g. x-forwarded-for);
    /// unset: the TCP peer address.
    #[arg(long, env = "BROKER_CLIENT_IP_HEADER", value_name = "NAME")]
    pub client_ip_header: Option<String>,
    /// Log line format on stderr [default: text].
    #[arg(long, env = "BROKER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// The broker's public base URL (what browsers call); `{URL}/oauth/callback` is the app's
    /// callback URL at Atlassian [default: http://{listen address}].
    #[arg(long, env = "BROKER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Sealing keys `kid:base64key,kid2:base64key` (32-byte keys): the first seals, all open.
    /// Prefer the environment variable (flags show in `ps`). Unset: a random key per process.
    #[arg(
        long,
        env = "BROKER_SEALING_KEYS",
        value_name = "KID:KEY,...",
        hide_env_values = true
    )]
    pub sealing_keys: Option<KeyList>,
    /// Shared state for several instances: `redis://[user:password@]host:port[/db]` or
    /// `rediss://` (TLS). Rate limits and replay records go there; unset: this process's memory.
    /// Prefer the environment variable (a password in a flag shows in `ps`).
    #[arg(
        long,
        env = "BROKER_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<KeyList>,
    /// Prefix of every Redis key [default: jira3lo:].
    #[arg(long, env = "BROKER_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<String>,
    /// Bound on each Redis call, in milliseconds [default: 50].
    #[arg(long, env = "BROKER_REDIS_TIMEOUT_MS", value_name = "MS")]
    pub redis_timeout_ms: Option<u64>,
    /// Serve GET /metrics on this address only (e.g. 127.0.0.1:9187) instead of on --listen.
    #[arg(long, env = "BROKER_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// The raw `--sealing-keys` (or `--redis-url`) text. Parsed after clap (whose errors would quote the value) and
/// redacted in `Debug`.
#[derive(Clone)]
pub struct KeyList(String);

impl std::str::FromStr for KeyList {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl std::fmt::Debug for KeyList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyList(<redacted>)")
    }
}

/// The config file: the same settings as the flags, nothing else (an unknown key, such as a
/// `client_secret`, is an error rather than silently ignored).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    auth_base_url: Option<String>,
    allowed_origins: Option<Vec<String>>,
    allowed_redirect_uris: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    upstream_timeout_secs: Option<u64>,
    rate_limit_per_minute: Option<u32>,
    client_ip_header: Option<String>,
    log_format: Option<LogFormat>,
    public_url: Option<String>,
    redis_prefix: Option<String>,
    redis_timeout_ms: Option<u64>,
    metrics_listen: Option<SocketAddr>,
}

/// Why the binary cannot start. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    ParseConfig { path: PathBuf, message: String },
    #[error("ATLASSIAN_CLIENT_ID is not set")]
    MissingClientId,
    #[error("set ATLASSIAN_CLIENT_SECRET or ATLASSIAN_CLIENT_SECRET_FILE")]
    MissingClientSecret,
    #[error("set only one of ATLASSIAN_CLIENT_SECRET and ATLASSIAN_CLIENT_SECRET_FILE")]
    AmbiguousClientSecret,
    #[error("cannot read ATLASSIAN_CLIENT_SECRET_FILE {path}: {source}")]
    ReadSecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ATLASSIAN_CLIENT_SECRET_FILE {0} is empty")]
    EmptySecretFile(PathBuf),
    #[error(transparent)]
    Config(#[from] jira_3lo_broker::ConfigError),
}

impl Cli {
    /// Reads the config file only; the log format is needed before the rest is validated.
    pub fn file(&self) -> Result<FileConfig, CliError> {
        let Some(path) = &self.config else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read(path).map_err(|source| CliError::ReadConfig {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| CliError::ParseConfig {
            path: path.clone(),
            message: e.to_string(),
        })
    }

    pub fn log_format(&self, file: &FileConfig) -> LogFormat {
        self.log_format.or(file.log_format).unwrap_or_default()
    }

    pub fn settings(
        self,
        file: FileConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BrokerConfig, CliError> {
        let (client_id, client_secret) = credentials(env)?;
        let list = |flag: Vec<String>, from_file: Option<Vec<String>>| -> Option<Vec<String>> {
            let flag: Vec<String> = flag
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if flag.is_empty() {
                from_file
            } else {
                Some(flag)
            }
        };
        let mut config = BrokerConfig::new(
            &self
                .auth_base_url
                .or(file.auth_base_url)
                .unwrap_or_else(|| DEFAULT_AUTH_BASE_URL.to_string()),
            &client_id,
            "",
        );
        config.client_secret = client_secret;
        config.listen = self.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN);
        config.allowed_origins =
            list(self.allowed_origins, file.allowed_origins).unwrap_or_default();
        config.allowed_redirect_uris =
            list(self.allowed_redirect_uris, file.allowed_redirect_uris).unwrap_or_default();
        config.scopes = list(self.scopes, file.scopes)
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect());
        config.upstream_timeout = self
            .upstream_timeout_secs
            .or(file.upstream_timeout_secs)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT);
        config.rate_limit_per_minute = self
            .rate_limit_per_minute
            .or(file.rate_limit_per_minute)
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE);
        config.client_ip_header = self
            .client_ip_header
            .or(file.client_ip_header)
            .filter(|h| !h.trim().is_empty());
        config.public_url = self
            .public_url
            .or(file.public_url)
            .filter(|u| !u.trim().is_empty());
        if let Some(KeyList(url)) = self.redis_url.filter(|u| !u.0.trim().is_empty()) {
            config.redis_url = Some(jira_3lo_broker::RedisUrl::new(url.trim()));
        }
        if let Some(prefix) = self.redis_prefix.or(file.redis_prefix) {
            config.redis_prefix = prefix;
        }
        if let Some(ms) = self.redis_timeout_ms.or(file.redis_timeout_ms) {
            config.redis_timeout = Duration::from_millis(ms);
        }
        config.metrics_listen = self.metrics_listen.or(file.metrics_listen);
        if let Some(KeyList(text)) = self.sealing_keys.filter(|k| !k.0.trim().is_empty()) {
            config.sealing_keys = jira_3lo_broker::parse_sealing_keys(&text)?;
        }
        Ok(config)
    }
}

/// Client id and secret, from the environment only.
fn credentials(env: &dyn Fn(&str) -> Option<String>) -> Result<(String, ClientSecret), CliError> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let client_id = set("ATLASSIAN_CLIENT_ID")
        .map(|v| v.trim().to_string())
        .ok_or(CliError::MissingClientId)?;
    let secret = match (
        set("ATLASSIAN_CLIENT_SECRET"),
        set("ATLASSIAN_CLIENT_SECRET_FILE"),
    ) {
        (Some(_), Some(_)) => return Err(CliError::AmbiguousClientSecret),
        (Some(secret), None) => secret,
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let text =
                std::fs::read_to_string(&path).map_err(|source| CliError::ReadSecretFile {
                    path: path.clone(),
                    source,
                })?;
            // Files written by editors, `echo` or secret mounts often end with a newline.
            let secret = text.trim_end_matches(['\r', '\n']).to_string();
            if secret.is_empty() {
                return Err(CliError::EmptySecretFile(path));
            }
            secret
        }
        (None, None) => return Err(CliError::MissingClientSecret),
    };
    Ok((client_id, ClientSecret::new(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn file(json: &str) -> FileConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let cli = Cli::parse_from([
            "b",
            "--allowed-origin",
            "http://a.example",
            "--allowed-origin",
            "http://b.example",
        ]);
        let env = env_of(&[
            ("ATLASSIAN_CLIENT_ID", "id"),
            ("ATLASSIAN_CLIENT_SECRET", "sec"),
        ]);
        let log_format = cli.log_format(&file(r#"{"log_format":"json"}"#));
        let c = cli
            .settings(
                file(r#"{"allowed_origins":["http://file.example"],"rate_limit_per_minute":7,"log_format":"json"}"#),
                &env,
            )
            .unwrap();
        assert_eq!(c.allowed_origins, ["http://a.example", "http://b.example"]);
        assert_eq!(c.rate_limit_per_minute, 7);
        assert_eq!(log_format, LogFormat::Json);
        assert_eq!(c.auth_base_url, DEFAULT_AUTH_BASE_URL);
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.scopes, DEFAULT_SCOPES);
        assert_eq!(c.client_secret.expose(), "sec");
    }

    #[test]
    fn the_file_rejects_unknown_keys_such_as_secrets() {
        assert!(serde_json::from_str::<FileConfig>(r#"{"client_secret":"x"}"#).is_err());
        assert!(serde_json::from_str::<FileConfig>(r#"{"sealing_keys":"k:x"}"#).is_err());
    }

    #[test]
    fn public_url_and_sealing_keys() {
        let env = env_of(&[
            ("ATLASSIAN_CLIENT_ID", "id"),
            ("ATLASSIAN_CLIENT_SECRET", "sec"),
        ]);
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let cli = Cli::parse_from([
            "b",
            "--public-url",
            "https://broker.example",
            "--sealing-keys",
            &format!("new:{key},old:{key}"),
        ]);
        assert!(!format!("{cli:?}").contains(key));
        let c = cli.settings(FileConfig::default(), &env).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://broker.example"));
        let kids: Vec<&str> = c.sealing_keys.iter().map(|k| k.kid()).collect();
        assert_eq!(kids, ["new", "old"]);
        let bad = Cli::parse_from(["b", "--sealing-keys", "k:c2hvcnQ="]);
        let error = bad
            .settings(FileConfig::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("32 bytes") && !error.contains("c2hvcnQ"),
            "{error}"
        );
    }

    #[test]
    fn credentials_come_from_the_environment_only() {
        let cli = || Cli::parse_from(["b"]);
        assert!(matches!(
            cli().settings(
                FileConfig::default(),
                &env_of(&[("ATLASSIAN_CLIENT_SECRET", "s")])
            ),
            Err(CliError::MissingClientId)
        ));
        assert!(matches!(
            cli().settings(
                FileConfig::default(),
                &env_of(&[("ATLASSIAN_CLIENT_ID", "i")])
            ),
            Err(CliError::MissingClientSecret)
        ));
        assert!(matches!(
            cli().settings(
                FileConfig::default(),
                &env_of(&[
                    ("ATLASSIAN_CLIENT_ID", "i"),
                    ("ATLASSIAN_CLIENT_SECRET", "s"),
                    ("ATLASSIAN_CLIENT_SECRET_FILE", "/x")
                ])
            ),
            Err(CliError::AmbiguousClientSecret)
        ));
        assert!(Cli::try_parse_from(["b", "--client-secret", "s"]).is_err());
        assert!(Cli::try_parse_from(["b", "--client-id", "i"]).is_err());
    }

    #[test]
    fn redis_settings_and_a_redacted_url() {
        let env = env_of(&[
            ("ATLASSIAN_CLIENT_ID", "id"),
            ("ATLASSIAN_CLIENT_SECRET", "sec"),
        ]);
        let cli = Cli::parse_from([
            "b",
            "--redis-url",
            "rediss://u:hunter2@redis.example:6380/1",
            "--redis-prefix",
            "app1:",
            "--metrics-listen",
            "127.0.0.1:9187",
        ]);
        assert!(!format!("{cli:?}").contains("hunter2"));
        let c = cli
            .settings(file(r#"{"redis_timeout_ms":80}"#), &env)
            .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
        assert_eq!(
            c.redis_url.as_ref().unwrap().expose(),
            "rediss://u:hunter2@redis.example:6380/1"
        );
        assert_eq!(c.redis_prefix, "app1:");
        assert_eq!(c.redis_timeout, Duration::from_millis(80));
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9187".parse().unwrap()));
        c.validate().unwrap();
        let bad = Cli::parse_from(["b", "--redis-url", "http://u:hunter2@x"])
            .settings(FileConfig::default(), &env)
            .unwrap();
        let error = bad.validate().unwrap_err().to_string();
        assert!(
            error.contains("redis://") && !error.contains("hunter2"),
            "{error}"
        );
        assert!(serde_json::from_str::<FileConfig>(r#"{"redis_url":"redis://x"}"#).is_err());
    }
}

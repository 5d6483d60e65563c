//! Broker configuration: the public settings, the client secret, and their validation.

use crate::replay::{ReplayCache, DEFAULT_REPLAY_CAPACITY};
use crate::seal::SealingKey;
use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Atlassian's authorization server; the default upstream.
pub const DEFAULT_AUTH_BASE_URL: &str = "https://auth.atlassian.com";
/// Where the binary listens unless told otherwise (loopback: a TLS terminator sits in front).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// Scopes published by `GET /v1/client` unless configured.
pub const DEFAULT_SCOPES: [&str; 4] = [
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "offline_access",
];
/// Bound on one round trip to the token endpoint (connect + request + response body).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Token requests allowed per client address per minute (also the burst size); 0 disables.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 120;
/// Largest accepted `POST /oauth/token` body. Real requests are well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The OAuth client secret. Kept out of `Debug`, and deliberately without `Display` or
/// `Serialize`, so it cannot end up in a log line or a response by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The raw value, for the one place that needs it: the upstream request body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl From<&str> for ClientSecret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for ClientSecret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// A replay cache supplied by the embedder (e.g. one shared by several instances).
#[derive(Clone)]
pub struct SharedReplayCache(pub Arc<dyn ReplayCache>);

impl fmt::Debug for SharedReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedReplayCache")
    }
}

/// A Redis URL (`redis://` or `rediss://`). It may carry a password, so `Debug` shows only
/// the scheme, host and port.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host:port`, safe to log.
    pub fn redacted(&self) -> String {
        crate::redis_store::display_url(&self.0)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.redacted())
    }
}

/// Where the broker reads the time, in Unix seconds: the system clock unless a test gives its
/// own (a proof's `iat`, and the expiry of states and tickets, are judged against it).
#[derive(Clone, Default)]
pub struct WallClock(Option<Arc<dyn Fn() -> u64 + Send + Sync>>);

impl WallClock {
    pub fn now(&self) -> u64 {
        match &self.0 {
            Some(now) => now(),
            None => crate::flow::unix_now(),
        }
    }
}

impl fmt::Debug for WallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "WallClock(custom)"
        } else {
            "WallClock(system)"
        })
    }
}

/// Everything the broker needs. `Debug` is safe to log: the secret and keys are redacted.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Address to bind (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Base URL of the authorization server; the broker only ever calls `{auth_base_url}/oauth/token`.
    pub auth_base_url: String,
    /// Exact browser origins (`scheme://host[:port]`) that may call the broker.
    pub allowed_origins: Vec<String>,
    /// Exact *client* redirect URIs (an extension's chromiumapp.org / allizom.org URL, a web
    /// page's callback) the broker's callback may send a ticket to.
    pub allowed_redirect_uris: Vec<String>,
    /// The broker's own public URL (what browsers call, behind any TLS terminator); its
    /// `/oauth/callback` is the app's one callback URL at Atlassian. `None`: `http://{bound address}`.
    pub public_url: Option<String>,
    /// Keys for sealed states, tickets and refresh blobs: the first seals, all open. Empty: one
    /// random key per process (a restart signs everyone out).
    pub sealing_keys: Vec<SealingKey>,
    /// Bound of the in-memory replay cache (DPoP `jti`s, states, tickets).
    pub replay_capacity: usize,
    /// Replaces the in-memory replay cache.
    pub replay_cache: Option<SharedReplayCache>,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Scopes published to clients by `GET /v1/client`.
    pub scopes: Vec<String>,
    pub upstream_timeout: Duration,
    /// Token requests per client address per minute; 0 disables the limiter.
    pub rate_limit_per_minute: u32,
    /// Header set by a trusted reverse proxy that carries the client address (e.g.
    /// `x-forwarded-for`); `None` uses the TCP peer address.
    pub client_ip_header: Option<String>,
    /// The time source; the system clock by default.
    pub clock: WallClock,
    /// Shared state for several instances: rate limits and replay records in Redis. `None`:
    /// in this process's memory.
    pub redis_url: Option<RedisUrl>,
    /// Prefix of every Redis key (several brokers or apps can share one Redis).
    pub redis_prefix: String,
    /// Bound on each Redis call.
    pub redis_timeout: Duration,
    /// Serve `GET /metrics` on this address only (not on the public listener). `None`: on the
    /// main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// A `sealing_key` call had an invalid key id (reported by `validate`).
    invalid_kid: bool,
}

impl BrokerConfig {
    /// A config with defaults for everything but the upstream and the credentials. Listens on
    /// `127.0.0.1:0`, the convenient choice for in-process use; the binary sets its own address.
    pub fn new(auth_base_url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            listen: SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            auth_base_url: auth_base_url.to_string(),
            allowed_origins: Vec::new(),
            allowed_redirect_uris: Vec::new(),
            public_url: None,
            sealing_keys: Vec::new(),
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
            replay_cache: None,
            client_id: client_id.to_string(),
            client_secret: ClientSecret::new(client_secret),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            client_ip_header: None,
            clock: WallClock::default(),
            redis_url: None,
            redis_prefix: crate::redis_store::DEFAULT_REDIS_PREFIX.to_string(),
            redis_timeout: crate::redis_store::DEFAULT_REDIS_TIMEOUT,
            metrics_listen: None,
            invalid_kid: false,
        }
    }

    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.allowed_origins.push(origin.to_string());
        self
    }

    pub fn allow_redirect_uri(mut self, uri: &str) -> Self {
        self.allowed_redirect_uris.push(uri.to_string());
        self
    }

    /// The broker's public base URL, e.g. `https://broker.example.com` (no query or fragment).
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_string());
        self
    }

    /// Adds a sealing key; the first one added seals, all open (rotation). An invalid key id
    /// (not 1..=32 of `[A-Za-z0-9_-]`) makes the config invalid.
    pub fn sealing_key(mut self, kid: &str, key: [u8; 32]) -> Self {
        match SealingKey::new(kid, key) {
            Some(key) => self.sealing_keys.push(key),
            None => self.invalid_kid = true,
        }
        self
    }

    /// Reads the time (Unix seconds) from `now` instead of the system clock: for tests whose
    /// clients run on a clock moved forward.
    pub fn clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = WallClock(Some(Arc::new(now)));
        self
    }

    pub fn replay_capacity(mut self, entries: usize) -> Self {
        self.replay_capacity = entries;
        self
    }

    /// Uses `cache` instead of the in-memory replay cache.
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay_cache = Some(SharedReplayCache(cache));
        self
    }

    /// Replaces the published scopes.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// 0 disables rate limiting.
    pub fn rate_limit_per_minute(mut self, limit: u32) -> Self {
        self.rate_limit_per_minute = limit;
        self
    }

    /// Keeps rate limits and replay records in Redis (`redis://` or `rediss://`).
    pub fn redis_url(mut self, url: &str) -> Self {
        self.redis_url = Some(RedisUrl::new(url));
        self
    }

    pub fn redis_prefix(mut self, prefix: &str) -> Self {
        self.redis_prefix = prefix.to_string();
        self
    }

    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// Serves `GET /metrics` on `addr` instead of the main listener.
    pub fn metrics_listen(mut self, addr: SocketAddr) -> Self {
        self.metrics_listen = Some(addr);
        self
    }

    pub fn client_ip_header(mut self, header: &str) -> Self {
        self.client_ip_header = Some(header.to_string());
        self
    }

    /// Checks every setting; the broker refuses to start on any error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.prepare().map(|_| ())
    }

    /// Validates and parses what the server needs.
    pub(crate) fn prepare(&self) -> Result<Validated, ConfigError> {
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::MissingClientId);
        }
        if self.client_secret.expose().is_empty() {
            return Err(ConfigError::MissingClientSecret);
        }
        let token_url = token_url(&self.auth_base_url)?;
        let authorize_url = endpoint(&self.auth_base_url, "authorize")?;
        let public_url = self
            .public_url
            .as_deref()
            .map(parse_public_url)
            .transpose()?;
        if self.invalid_kid {
            return Err(ConfigError::SealingKeys(
                "a key id must be 1 to 32 characters of A-Z a-z 0-9 _ -",
            ));
        }
        let mut kids = HashSet::new();
        if !self.sealing_keys.iter().all(|k| kids.insert(k.kid())) {
            return Err(ConfigError::SealingKeys("a key id appears twice"));
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Scope(bad.clone()));
        }
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| normalize_origin(o))
            .collect::<Result<HashSet<_>, _>>()?;
        let mut allowed_redirect_uris = HashSet::new();
        for uri in &self.allowed_redirect_uris {
            let parsed = url::Url::parse(uri).map_err(|_| ConfigError::RedirectUri(uri.clone()))?;
            if parsed.cannot_be_a_base() || parsed.fragment().is_some() {
                return Err(ConfigError::RedirectUri(uri.clone()));
            }
            allowed_redirect_uris.insert(uri.clone());
        }
        if self.upstream_timeout.is_zero() {
            return Err(ConfigError::UpstreamTimeout);
        }
        if let Some(url) = &self.redis_url {
            crate::redis_store::check_url(url.expose()).map_err(ConfigError::RedisUrl)?;
        }
        if self.redis_prefix.len() > 64 || !self.redis_prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::RedisPrefix);
        }
        if self.redis_timeout.is_zero() {
            return Err(ConfigError::RedisTimeout);
        }
        let client_ip_header = match &self.client_ip_header {
            None => None,
            Some(name) => Some(
                axum::http::HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| ConfigError::ClientIpHeader(name.clone()))?,
            ),
        };
        Ok(Validated {
            token_url,
            authorize_url,
            public_url,
            allowed_origins,
            allowed_redirect_uris,
            client_ip_header,
        })
    }
}

/// The parts of a config that needed parsing, ready for the server.
#[derive(Debug)]
pub(crate) struct Validated {
    pub token_url: url::Url,
    /// `{auth_base_url}/authorize`.
    pub authorize_url: url::Url,
    /// Without a trailing `/`; `None`: `http://{bound address}`, known once bound.
    pub public_url: Option<String>,
    pub allowed_origins: HashSet<String>,
    pub allowed_redirect_uris: HashSet<String>,
    pub client_ip_header: Option<axum::http::HeaderName>,
}

/// A setting the broker cannot start with. Messages never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the client id is empty (set ATLASSIAN_CLIENT_ID)")]
    MissingClientId,
    #[error(
        "the client secret is empty (set ATLASSIAN_CLIENT_SECRET or ATLASSIAN_CLIENT_SECRET_FILE)"
    )]
    MissingClientSecret,
    #[error("auth base URL {0:?} must be an absolute http(s) URL without query, fragment or credentials")]
    AuthBaseUrl(String),
    #[error("allowed origin {0:?} must look like scheme://host[:port] (no path, query or trailing data)")]
    Origin(String),
    #[error("allowed redirect URI {0:?} must be an absolute URL without a fragment")]
    RedirectUri(String),
    #[error("the upstream timeout must be greater than zero")]
    UpstreamTimeout,
    #[error("client IP header {0:?} is not a valid header name")]
    ClientIpHeader(String),
    #[error(
        "public URL {0:?} must be an absolute http(s) URL without query, fragment or credentials"
    )]
    PublicUrl(String),
    /// Never carries the keys: a fixed reason only.
    #[error("invalid sealing keys (BROKER_SEALING_KEYS=kid:base64key,...): {0}")]
    SealingKeys(&'static str),
    /// Never carries the URL (it may hold a password): a fixed reason only.
    #[error("invalid Redis URL (BROKER_REDIS_URL): {0}")]
    RedisUrl(&'static str),
    #[error("the Redis key prefix must be at most 64 printable ASCII characters without spaces")]
    RedisPrefix,
    #[error("the Redis timeout must be greater than zero")]
    RedisTimeout,
    #[error("scope {0:?} must be non-empty printable ASCII without spaces")]
    Scope(String),
}

/// `{base}/oauth/token`, computed once: the only URL the broker ever calls.
fn token_url(base: &str) -> Result<url::Url, ConfigError> {
    endpoint(base, "oauth/token")
}

/// An absolute http(s) URL with a host and nothing after the path.
fn plain_base(text: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(text).ok()?;
    (matches!(parsed.scheme(), "http" | "https")
        && parsed.host().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none())
    .then_some(parsed)
}

fn endpoint(base: &str, path: &str) -> Result<url::Url, ConfigError> {
    let bad = || ConfigError::AuthBaseUrl(base.to_string());
    let parsed = plain_base(base).ok_or_else(bad)?;
    let joined = format!("{}/{path}", parsed.as_str().trim_end_matches('/'));
    url::Url::parse(&joined).map_err(|_| bad())
}

/// The broker's public URL, normalized without a trailing `/` so `{public_url}{path}` joins.
pub(crate) fn parse_public_url(text: &str) -> Result<String, ConfigError> {
    let parsed = plain_base(text.trim()).ok_or_else(|| ConfigError::PublicUrl(text.to_string()))?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The allowed-origin entry that stands for every Firefox add-on origin (`moz-extension://<uuid>`).
pub const ANY_FIREFOX_EXTENSION: &str = "moz-extension://*";

/// True when `origin` is allowed by `allowed` (exact, or any `moz-extension://` origin when
/// [`ANY_FIREFOX_EXTENSION`] is listed).
pub(crate) fn origin_allowed(allowed: &HashSet<String>, origin: &str) -> bool {
    allowed.contains(origin)
        || (allowed.contains(ANY_FIREFOX_EXTENSION)
            && origin.strip_prefix("moz-extension://").is_some_and(|host| {
                !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

/// Lower-cases scheme and host and drops a trailing `/`, so the config can be written the way
/// people copy origins while matching stays an exact string comparison with the `Origin` header
/// (which browsers send in this canonical form).
pub(crate) fn normalize_origin(origin: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError::Origin(origin.to_string());
    let trimmed = origin.trim();
    // Firefox gives every installation of an add-on its own random origin, so an allow-list
    // cannot name them: this one entry allows them all (what protects tokens is the proof key
    // and the redirect allow-list, not CORS).
    if trimmed == ANY_FIREFOX_EXTENSION {
        return Ok(ANY_FIREFOX_EXTENSION.to_string());
    }
    let parsed = url::Url::parse(trimmed).map_err(|_| bad())?;
    if parsed.cannot_be_a_base()
        || !matches!(parsed.path(), "" | "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || trimmed.trim_end_matches('/').matches("://").count() != 1
    {
        return Err(bad());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    let mut out = format!("{}://{}", parsed.scheme(), host.to_ascii_lowercase());
    if let Some(port) = parsed.port() {
        out.push_str(&format!(":{port}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_firefox_extension_allows_every_add_on_origin_and_nothing_else() {
        let allowed: HashSet<String> = [normalize_origin(" moz-extension://* ").unwrap()]
            .into_iter()
            .collect();
        assert!(origin_allowed(
            &allowed,
            "moz-extension://0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
        ));
        for refused in [
            "moz-extension://",
            "moz-extension://a.b",
            "moz-extension://x/y",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "https://evil.example",
        ] {
            assert!(!origin_allowed(&allowed, refused), "{refused}");
        }
        let exact: HashSet<String> = ["https://app.example".to_string()].into_iter().collect();
        assert!(!origin_allowed(&exact, "moz-extension://0f1e2d3c"));
        assert!(origin_allowed(&exact, "https://app.example"));
    }

    #[test]
    fn origins_are_normalized_or_rejected() {
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_origin("HTTPS://Example.COM").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            normalize_origin("https://example.com:443").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            normalize_origin("chrome-extension://abcdefghijklmnopabcdefghijklmnop").unwrap(),
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
        );
        for bad in [
            "null",
            "example.com",
            "https://example.com/app",
            "https://e.com?x=1",
            "https://u:p@e.com",
            "*",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn token_url_is_fixed_from_the_base() {
        assert_eq!(
            token_url("https://auth.atlassian.com").unwrap().as_str(),
            "https://auth.atlassian.com/oauth/token"
        );
        assert_eq!(
            token_url("http://127.0.0.1:9/base/").unwrap().as_str(),
            "http://127.0.0.1:9/base/oauth/token"
        );
        assert_eq!(
            endpoint("https://auth.atlassian.com/", "authorize")
                .unwrap()
                .as_str(),
            "https://auth.atlassian.com/authorize"
        );
        for bad in [
            "ftp://x",
            "https://x/?a=1",
            "https://u:p@x",
            "not a url",
            "https://x/#f",
        ] {
            assert!(token_url(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn debug_redacts_the_secret_and_the_keys() {
        let config = BrokerConfig::new("https://auth.atlassian.com", "id", "s3cr3t-value")
            .sealing_key("k1", [0xAB; 32]);
        let shown = format!("{config:?} {:?}", config.client_secret);
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(
            !shown.contains("171, 171") && !shown.contains("abab"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>") && shown.contains("k1"));
    }

    #[test]
    fn public_urls_are_validated_and_normalized() {
        assert_eq!(
            parse_public_url("https://broker.example/").unwrap(),
            "https://broker.example"
        );
        assert_eq!(
            parse_public_url("https://x.example/broker/").unwrap(),
            "https://x.example/broker"
        );
        for bad in [
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "/relative",
            "https://u:p@x",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
        let bad_kid =
            BrokerConfig::new("https://a.example", "i", "s").sealing_key("bad kid", [0; 32]);
        assert!(matches!(
            bad_kid.validate(),
            Err(ConfigError::SealingKeys(_))
        ));
        let twice = BrokerConfig::new("https://a.example", "i", "s")
            .sealing_key("k", [0; 32])
            .sealing_key("k", [1; 32]);
        assert!(twice.validate().is_err());
    }
}

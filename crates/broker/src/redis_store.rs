//! Shared state for several instances: per-client rate limits and replay records in Redis.
//!
//! - One round trip per decision, atomic on the server: a GCRA Lua script for the rate limit
//!   (judged on Redis's own clock, so the instances' clocks do not matter), `SET key 1 NX PX ttl`
//!   for a replay record.
//! - Keys are `{prefix}rl:{client}` and `{prefix}rp:{namespace}:{sha256(id) base64url}`; every key
//!   has a lifetime (`PX`), so nothing needs cleaning up. Ids are hashed: keys stay short and the
//!   store never holds a proof's `jti` or a ticket id as such.
//! - Every call is bounded ([`BrokerConfig::redis_timeout`](crate::BrokerConfig), 50 ms by
//!   default). The connection manager reconnects by itself, in the background, after a failure;
//!   the broker starts even while Redis is down.
//! - Failures are designed: the rate limit fails **open** (a warning, a metric), the replay check
//!   fails **closed** (`503 replay_check_unavailable`, see [`crate::replay`]).

use crate::metrics::Metrics;
use crate::replay::{ReplayCache, ReplayFuture, ReplayUnavailable};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default bound on one Redis call.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// Default key prefix.
pub const DEFAULT_REDIS_PREFIX: &str = "jira3lo:";

/// GCRA (the generic cell rate algorithm): one key per client holds its theoretical arrival
/// time (TAT) in microseconds. A request is allowed while `TAT - burst_tolerance <= now`; each
/// allowed request moves the TAT one emission interval on. Equivalent to the in-memory token
/// bucket: `limit` at once, then one per `60 s / limit`. Returns `{1, 0}` or `{0, wait_us}`.
const GCRA: &str = r#"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
return {1, 0}
"#;

/// Warnings about a failing Redis are logged at most this often (the metric counts them all).
const WARN_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    gcra: redis::Script,
    metrics: Arc<Metrics>,
    started: Instant,
    /// Milliseconds since `started` of the last warning (0: never).
    last_warn_ms: AtomicU64,
}

/// Redis did not answer in time, or answered an error.
#[derive(Debug)]
pub(crate) enum RedisFailure {
    Timeout,
    Error(redis::RedisError),
}

impl RedisFailure {
    fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Error(_) => "error",
        }
    }
}

impl RedisStore {
    /// No connection is made here: the first call connects, and every failure reconnects.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| {
            // The URL may carry a password: only the error's kind is reported.
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid Redis URL ({:?})", e.kind()),
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| std::io::Error::other(format!("Redis client ({:?})", e.kind())))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            timeout,
            gcra: redis::Script::new(GCRA),
            metrics,
            started: Instant::now(),
            last_warn_ms: AtomicU64::new(0),
        })
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisFailure> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => RedisFailure::Error(error),
            Err(_) => RedisFailure::Timeout,
        };
        self.metrics
            .redis_errors
            .with_label_values(&[op, result.kind()])
            .inc();
        self.warn(op, &result);
        Err(result)
    }

    fn warn(&self, op: &'static str, failure: &RedisFailure) {
        let now_ms = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < WARN_EVERY.as_millis() as u64 {
            return;
        }
        if self
            .last_warn_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let (kind, detail) = match failure {
            RedisFailure::Timeout => ("timeout", String::new()),
            // The error's kind and category only: never the URL or a key.
            RedisFailure::Error(e) => ("error", format!("{:?}", e.kind())),
        };
        let consequence = if op == "rate_limit" {
            "rate limiting fails open"
        } else {
            "replay checks fail closed (503)"
        };
        tracing::warn!(
            op,
            kind,
            detail,
            timeout_ms = self.timeout.as_millis() as u64,
            "Redis unavailable: {consequence}"
        );
    }

    /// One GCRA decision for `client` at `per_minute` (burst of the same size).
    /// `Ok(Ok(()))` allowed, `Ok(Err(secs))` refused with a wait, `Err` Redis could not answer.
    pub async fn rate_limit(
        &self,
        client: IpAddr,
        per_minute: u32,
    ) -> Result<Result<(), u64>, RedisFailure> {
        let limit = u64::from(per_minute.max(1));
        let interval_us = 60_000_000 / limit;
        let tolerance_us = interval_us * (limit - 1);
        let key = format!("{}rl:{client}", self.prefix);
        let mut conn = self.conn.clone();
        let mut invocation = self.gcra.key(key);
        invocation.arg(interval_us).arg(tolerance_us);
        let (allowed, wait_us): (i64, i64) = self
            .bounded("rate_limit", invocation.invoke_async(&mut conn))
            .await?;
        if allowed == 1 {
            Ok(Ok(()))
        } else {
            let secs = (wait_us.max(0) as u64).div_ceil(1_000_000).max(1);
            Ok(Err(secs))
        }
    }

    /// `PING`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), RedisFailure> {
        let mut conn = self.conn.clone();
        let pong: String = self
            .bounded("ping", redis::cmd("PING").query_async(&mut conn))
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(RedisFailure::Timeout)
        }
    }

    fn replay_key(&self, namespace: &str, id: &str) -> String {
        let digest = Sha256::digest(id.as_bytes());
        format!(
            "{}rp:{namespace}:{}",
            self.prefix,
            URL_SAFE_NO_PAD.encode(digest)
        )
    }
}

impl ReplayCache for RedisStore {
    fn first_use<'a>(
        &'a self,
        namespace: &'static str,
        id: &'a str,
        ttl: Duration,
    ) -> ReplayFuture<'a> {
        Box::pin(async move {
            let key = self.replay_key(namespace, id);
            let mut conn = self.conn.clone();
            let ttl_ms = ttl.as_millis().max(1) as u64;
            // `SET key 1 NX PX ttl`: `OK` the first time, nil while an earlier record lives.
            let set: Option<String> = self
                .bounded(
                    "replay",
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async(&mut conn),
                )
                .await
                .map_err(|_| ReplayUnavailable)?;
            Ok(set.is_some())
        })
    }
}

/// `redis://` or `rediss://` (TLS), with a host. Fixed error texts: a URL may hold a password.
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(url).map_err(|_| "not a URL")?;
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        return Err("the scheme must be redis:// or rediss://");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host");
    }
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|_| "the Redis client refuses it")
}

/// `scheme://host:port`, for logs (never the password or the database path).
pub(crate) fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("?"),
            parsed.port().unwrap_or(6379)
        ),
        Err(_) => "<invalid>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_credentials() {
        assert!(check_url("redis://127.0.0.1:6379").is_ok());
        assert!(check_url("rediss://user:pw@redis.example:6380/2").is_ok());
        assert!(check_url("http://127.0.0.1:6379").is_err());
        assert!(check_url("redis://").is_err());
        assert!(check_url("nonsense").is_err());
        assert_eq!(
            display_url("rediss://user:s3cret@redis.example:6380/2"),
            "rediss://redis.example:6380"
        );
    }

    #[tokio::test]
    async fn keys_are_prefixed_namespaced_and_hashed() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let store =
            RedisStore::new("redis://127.0.0.1:1", "t:", DEFAULT_REDIS_TIMEOUT, metrics).unwrap();
        let key = store.replay_key("ticket", "the-ticket-id");
        assert!(key.starts_with("t:rp:ticket:"), "{key}");
        assert!(!key.contains("the-ticket-id"));
        assert_eq!(key, store.replay_key("ticket", "the-ticket-id"));
        assert_ne!(key, store.replay_key("state", "the-ticket-id"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_within_the_bound() {
        let metrics = Arc::new(Metrics::new().unwrap());
        // Nothing listens on port 1: refused at once, or bounded by the timeout.
        let store = RedisStore::new(
            "redis://127.0.0.1:1",
            "t:",
            DEFAULT_REDIS_TIMEOUT,
            metrics.clone(),
        )
        .unwrap();
        let started = Instant::now();
        assert!(store
            .first_use("ticket", "x", Duration::from_secs(5))
            .await
            .is_err());
        assert!(store
            .rate_limit("10.0.0.1".parse().unwrap(), 5)
            .await
            .is_err());
        assert!(started.elapsed() < Duration::from_millis(500));
        let errors: u64 = ["replay", "rate_limit"]
            .iter()
            .flat_map(|op| ["timeout", "error"].map(|kind| (op, kind)))
            .map(|(op, kind)| metrics.redis_errors.with_label_values(&[op, kind]).get())
            .sum();
        assert_eq!(errors, 2);
    }
}

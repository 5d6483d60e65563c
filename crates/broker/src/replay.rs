//! "Has this id been used?" for DPoP proof `jti`s, broker state nonces and ticket ids.
//!
//! Behind a trait so a shared store (Redis, another issue) can replace the in-memory one when
//! several instances must agree. Every implementation fails closed: when it cannot answer, the
//! request is refused (`503 replay_check_unavailable`), never let through.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Namespaces keep the kinds of ids apart (a `jti` equal to a ticket id is no collision).
pub mod namespace {
    pub const DPOP_JTI: &str = "dpop-jti";
    pub const STATE: &str = "state";
    pub const TICKET: &str = "ticket";
}

/// The store could not answer (full, or unreachable); the request must be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the replay check is unavailable")]
pub struct ReplayUnavailable;

pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, ReplayUnavailable>> + Send + 'a>>;

/// A set of used ids with per-entry lifetimes.
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `id` in `namespace` for `ttl` and says whether this was its first use: `true`
    /// the first time, `false` while an earlier record is alive. Atomic per id (a Redis
    /// implementation is `SET key 1 NX PX ttl`).
    fn first_use<'a>(
        &'a self,
        namespace: &'static str,
        id: &'a str,
        ttl: Duration,
    ) -> ReplayFuture<'a>;
}

/// Default bound of the in-memory cache. An entry is ~100 bytes: about 20 MB when full.
pub const DEFAULT_REPLAY_CAPACITY: usize = 200_000;

/// One process's memory. Bounded: expired entries are dropped as time passes; when the cache
/// is full of live entries it refuses (fails closed) instead of forgetting one.
pub struct MemoryReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    live: HashMap<(&'static str, Box<str>), Instant>,
    /// (expiry, sequence) → key, so expired entries are found oldest-first without a scan.
    by_expiry: BTreeMap<(Instant, u64), (&'static str, Box<str>)>,
    seq: u64,
}

impl MemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn first_use_at(
        &self,
        namespace: &'static str,
        id: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<bool, ReplayUnavailable> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(entry) = inner.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            inner.live.remove(&key);
        }
        let key = (namespace, Box::<str>::from(id));
        if inner.live.contains_key(&key) {
            return Ok(false);
        }
        if inner.live.len() >= self.capacity {
            return Err(ReplayUnavailable);
        }
        let expiry = now + ttl;
        let seq = inner.seq;
        inner.seq += 1;
        inner.by_expiry.insert((expiry, seq), key.clone());
        inner.live.insert(key, expiry);
        Ok(true)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn first_use<'a>(
        &'a self,
        namespace: &'static str,
        id: &'a str,
        ttl: Duration,
    ) -> ReplayFuture<'a> {
        let result = self.first_use_at(namespace, id, ttl, Instant::now());
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_refused_until_the_entry_expires() {
        let cache = MemoryReplayCache::new(10);
        let t = Instant::now();
        let ttl = Duration::from_secs(130);
        assert_eq!(cache.first_use_at("a", "x", ttl, t), Ok(true));
        assert_eq!(cache.first_use_at("a", "x", ttl, t), Ok(false));
        assert_eq!(cache.first_use_at("b", "x", ttl, t), Ok(true), "namespaced");
        assert_eq!(
            cache.first_use_at("a", "x", ttl, t + Duration::from_secs(129)),
            Ok(false)
        );
        assert_eq!(
            cache.first_use_at("a", "x", ttl, t + Duration::from_secs(130)),
            Ok(true)
        );
    }

    #[test]
    fn a_full_cache_fails_closed_and_recovers_as_entries_expire() {
        let cache = MemoryReplayCache::new(2);
        let t = Instant::now();
        let ttl = Duration::from_secs(10);
        assert_eq!(cache.first_use_at("a", "1", ttl, t), Ok(true));
        assert_eq!(
            cache.first_use_at("a", "2", Duration::from_secs(60), t),
            Ok(true)
        );
        assert_eq!(cache.first_use_at("a", "3", ttl, t), Err(ReplayUnavailable));
        // A known id is still recognised while full.
        assert_eq!(cache.first_use_at("a", "1", ttl, t), Ok(false));
        let later = t + Duration::from_secs(10);
        assert_eq!(cache.first_use_at("a", "3", ttl, later), Ok(true));
        assert_eq!(cache.inner.lock().unwrap().live.len(), 2);
    }
}

//! A per-client-address token bucket for `POST /oauth/token` and `POST /v1/authorize`, in memory.
//!
//! Per instance: with N replicas behind a load balancer a client would get up to N
//! times the limit, so several instances keep an equivalent limit (GCRA) in Redis instead
//! (`crate::redis_store`), one limit for all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    capacity: f64,
    per_sec: f64,
    state: Mutex<State>,
}

struct State {
    buckets: HashMap<IpAddr, Bucket>,
    last_prune: Instant,
}

impl RateLimiter {
    /// `per_minute` requests per minute, with a burst of the same size.
    pub fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            per_sec: capacity / 60.0,
            state: Mutex::new(State {
                buckets: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    /// Takes one token for `addr`, or says how many whole seconds until one is available.
    pub fn check(&self, addr: IpAddr) -> Result<(), u64> {
        self.check_at(bucket_key(addr), Instant::now())
    }

    fn check_at(&self, key: IpAddr, now: Instant) -> Result<(), u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A bucket idle for a full refill period is indistinguishable from a new one: drop it,
        // so the map stays as small as the set of recently active clients.
        let refill_period = Duration::from_secs_f64(self.capacity / self.per_sec);
        if now.duration_since(state.last_prune) >= refill_period {
            state
                .buckets
                .retain(|_, b| now.duration_since(b.updated) < refill_period);
            state.last_prune = now;
        }
        let bucket = state.buckets.entry(key).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_sec;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

/// IPv6 clients usually own a whole /64, so that is the unit; IPv4-mapped addresses count as IPv4.
pub(crate) fn bucket_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_over_time() {
        let limiter = RateLimiter::new(60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check_at(ip, start).is_ok());
        }
        assert_eq!(limiter.check_at(ip, start), Err(1));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(
            limiter.check_at(other, start).is_ok(),
            "buckets are per address"
        );
        assert!(limiter
            .check_at(ip, start + Duration::from_millis(1500))
            .is_ok());
        assert!(limiter
            .check_at(ip, start + Duration::from_millis(1500))
            .is_err());
    }

    #[test]
    fn retry_after_reflects_the_refill_rate() {
        let limiter = RateLimiter::new(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        assert!(limiter.check_at(ip, now).is_ok());
        assert!(limiter.check_at(ip, now).is_ok());
        assert_eq!(limiter.check_at(ip, now), Err(30));
    }

    #[test]
    fn ipv6_is_keyed_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(bucket_key(a), bucket_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(bucket_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn idle_buckets_are_pruned() {
        let limiter = RateLimiter::new(60);
        let now = Instant::now();
        for i in 0..100u8 {
            let _ = limiter.check_at(IpAddr::from([10, 0, 0, i]), now);
        }
        let _ = limiter.check_at(IpAddr::from([10, 0, 1, 0]), now + Duration::from_secs(61));
        assert_eq!(limiter.state.lock().unwrap().buckets.len(), 1);
    }
}

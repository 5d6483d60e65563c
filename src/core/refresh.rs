//! The refresh decision, taken inside the cross-context lock after re-reading storage.
//!
//! Atlassian rotates refresh tokens and revokes the whole family when an old one is reused
//! outside its leeway, so a context must never refresh with a token another context has already
//! rotated. The caller says which access token it found unusable (`rejected`); if storage now
//! holds a different, fresh one, another context (or caller) already refreshed: use it.

use super::records::AccessRecord;
use super::secrets::{AccessToken, RefreshToken};
use super::tokens::is_fresh;
use crate::Error;

/// Default pause after a failed refresh before the token endpoint is tried again.
pub const DEFAULT_COOLDOWN_MS: u64 = 5_000;

/// What to do once the lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Storage already holds a usable access token (someone else refreshed).
    UseStored(AccessRecord),
    /// Refresh with this (the currently stored) refresh token.
    Refresh(RefreshToken),
    /// Nothing to refresh with: the user must sign in.
    NotSignedIn,
}

/// Decides given what the caller saw as unusable and what storage holds now.
pub fn decide(
    rejected: Option<&AccessToken>,
    stored_access: Option<&AccessRecord>,
    stored_refresh: Option<&RefreshToken>,
    now_ms: u64,
    skew_ms: u64,
) -> RefreshDecision {
    if let Some(a) = stored_access {
        let is_the_rejected_one = rejected.is_some_and(|r| *r == a.access_token);
        if !is_the_rejected_one && is_fresh(a.expires_at_ms, now_ms, skew_ms) {
            return RefreshDecision::UseStored(a.clone());
        }
    }
    match stored_refresh {
        Some(rt) => RefreshDecision::Refresh(rt.clone()),
        None => RefreshDecision::NotSignedIn,
    }
}

/// The longest a server's `Retry-After` may pause refreshing: a bounded wait, never a lockout.
pub const MAX_PAUSE_MS: u64 = 10 * 60 * 1000;

/// After a token request that was sent and failed, the token endpoint is left alone until
/// `until_ms`: callers in the meantime get [`Error::RefreshPaused`] at once, saying when the
/// next attempt will be made, instead of hammering a failing endpoint. Only a sent request
/// starts one: a caller turned away by the pause does not extend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooldown {
    pub until_ms: u64,
    pub error: Error,
}

impl Cooldown {
    /// The pause after `error`: the server's `Retry-After` when it gave one (a broker 429),
    /// else `default_ms`; at most [`MAX_PAUSE_MS`].
    pub fn after_failure(error: Error, now_ms: u64, default_ms: u64) -> Self {
        let wait = error
            .retry_after_ms()
            .unwrap_or(default_ms)
            .min(MAX_PAUSE_MS);
        Cooldown {
            until_ms: now_ms.saturating_add(wait),
            error,
        }
    }

    /// The error for a caller arriving at `now_ms` while the pause lasts, `None` once it is over.
    pub fn active(&self, now_ms: u64) -> Option<Error> {
        (now_ms < self.until_ms).then(|| Error::RefreshPaused {
            last: Box::new(self.error.clone()),
            retry_after_ms: self.until_ms - now_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(token: &str, exp: u64) -> AccessRecord {
        AccessRecord {
            v: 1,
            access_token: AccessToken::new(token),
            expires_at_ms: exp,
            scopes: vec![],
        }
    }

    #[test]
    fn uses_a_token_refreshed_elsewhere() {
        let stored = access("new", 10_000_000);
        let d = decide(
            Some(&AccessToken::new("old")),
            Some(&stored),
            Some(&RefreshToken::new("r2")),
            0,
            60_000,
        );
        assert_eq!(d, RefreshDecision::UseStored(stored.clone()));
        // A caller that only found the token stale (no specific rejection) also uses it.
        assert_eq!(
            decide(None, Some(&stored), None, 0, 60_000),
            RefreshDecision::UseStored(stored)
        );
    }

    #[test]
    fn refreshes_when_the_stored_token_is_the_rejected_or_stale_one() {
        let stored = access("tok", 10_000_000);
        let rt = RefreshToken::new("r1");
        assert_eq!(
            decide(
                Some(&AccessToken::new("tok")),
                Some(&stored),
                Some(&rt),
                0,
                60_000
            ),
            RefreshDecision::Refresh(rt.clone())
        );
        let stale = access("tok", 100_000);
        assert_eq!(
            decide(None, Some(&stale), Some(&rt), 50_000, 60_000),
            RefreshDecision::Refresh(rt.clone())
        );
        assert_eq!(
            decide(None, None, Some(&rt), 0, 60_000),
            RefreshDecision::Refresh(rt)
        );
    }

    #[test]
    fn nothing_stored_means_not_signed_in() {
        assert_eq!(decide(None, None, None, 0, 0), RefreshDecision::NotSignedIn);
        let stale = access("tok", 1);
        assert_eq!(
            decide(None, Some(&stale), None, 10, 0),
            RefreshDecision::NotSignedIn
        );
    }

    #[test]
    fn cooldown_window_says_when_the_next_attempt_is() {
        let c = Cooldown::after_failure(Error::Timeout, 1_000, 5_000);
        let paused = |retry_after_ms| Error::RefreshPaused {
            last: Box::new(Error::Timeout),
            retry_after_ms,
        };
        assert_eq!(c.active(1_000), Some(paused(5_000)));
        assert_eq!(c.active(5_999), Some(paused(1)));
        assert_eq!(c.active(6_000), None);
        let e = c.active(2_000).unwrap();
        assert_eq!(
            (e.code(), e.retry_after_ms()),
            (crate::ErrorCode::Timeout, Some(4_000))
        );
        assert!(e.is_transient());
    }

    #[test]
    fn a_servers_retry_after_sets_the_pause_within_a_bound() {
        let broker_429 = |retry_after_ms| Error::Broker {
            status: 429,
            error: "rate_limited".into(),
            description: None,
            retry_after_ms,
        };
        let c = Cooldown::after_failure(broker_429(Some(2_000)), 0, 5_000);
        assert_eq!(c.until_ms, 2_000);
        let c = Cooldown::after_failure(broker_429(Some(30_000)), 0, 5_000);
        assert_eq!(c.until_ms, 30_000);
        let c = Cooldown::after_failure(broker_429(Some(u64::MAX)), 0, 5_000);
        assert_eq!(c.until_ms, MAX_PAUSE_MS);
        let c = Cooldown::after_failure(broker_429(None), 0, 5_000);
        assert_eq!(c.until_ms, 5_000);
    }
}

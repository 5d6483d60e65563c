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

/// After a failed refresh the token endpoint is left alone until `until_ms`; callers in the
/// meantime get the same error at once instead of hammering a failing endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooldown {
    pub until_ms: u64,
    pub error: Error,
}

impl Cooldown {
    pub fn after_failure(error: Error, now_ms: u64, cooldown_ms: u64) -> Self {
        Cooldown {
            until_ms: now_ms.saturating_add(cooldown_ms),
            error,
        }
    }

    /// The error to return while the cooldown lasts, `None` once it is over.
    pub fn active(&self, now_ms: u64) -> Option<&Error> {
        (now_ms < self.until_ms).then_some(&self.error)
    }
}

/// Whether a refresh failure leaves the grant intact (keep tokens, cool down): everything except
/// the outcomes that already need the user (re-authorization, not signed in).
pub fn starts_cooldown(error: &Error) -> bool {
    !matches!(error, Error::ReauthRequired { .. } | Error::NotSignedIn)
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
    fn cooldown_window() {
        let c = Cooldown::after_failure(Error::Timeout, 1_000, 5_000);
        assert_eq!(c.active(1_000), Some(&Error::Timeout));
        assert_eq!(c.active(5_999), Some(&Error::Timeout));
        assert_eq!(c.active(6_000), None);
        assert!(starts_cooldown(&Error::Network {
            message: "x".into(),
            origin: None,
        }));
        assert!(!starts_cooldown(&Error::ReauthRequired {
            error: "invalid_grant".into(),
            description: None
        }));
    }
}

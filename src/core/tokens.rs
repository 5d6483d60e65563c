//! Token sets, their freshness, and merging a refresh response into what is stored.

use super::json::MAX_SAFE_INTEGER;
use super::secrets::{AccessToken, RefreshToken};

/// Default refresh skew: a token within 60 s of expiry counts as expired (auth0, jira.js).
pub const DEFAULT_SKEW_MS: u64 = 60_000;

/// The token endpoint's success body (Atlassian returns `access_token`, `expires_in`, `scope`,
/// `token_type` and, with `offline_access`, `refresh_token`; a refresh may omit the latter).
/// Optional members may be absent or `null`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub expires_in: u64,
    pub scope: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    pub token_type: Option<String>,
}

/// Tokens with an absolute expiry, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    /// Milliseconds since the Unix epoch (the response's relative `expires_in`, stamped).
    pub expires_at_ms: u64,
    pub scopes: Vec<String>,
    /// `None` only when there never was one (no `offline_access` granted).
    pub refresh_token: Option<RefreshToken>,
}

impl TokenSet {
    /// Stamps a token response received at `now_ms`. A response without `refresh_token`
    /// keeps `previous_refresh` (Atlassian's own sample does the same); a response without
    /// `scope` keeps `previous_scopes`.
    pub fn from_response(
        response: TokenResponse,
        now_ms: u64,
        previous_refresh: Option<RefreshToken>,
        previous_scopes: &[String],
    ) -> TokenSet {
        let scopes = match response.scope.as_deref() {
            Some(s) if !s.trim().is_empty() => {
                let mut scopes = Vec::new();
                for scope in s.split_whitespace() {
                    scopes.push(scope.to_string());
                }
                scopes
            }
            _ => previous_scopes.to_vec(),
        };
        TokenSet {
            access_token: response.access_token,
            // Stored as a JSON number, exact only up to 2^53 - 1 (and a JavaScript number in
            // the wasm): a larger expiry would not survive the record's round trip.
            expires_at_ms: now_ms
                .saturating_add(response.expires_in.saturating_mul(1000))
                .min(MAX_SAFE_INTEGER),
            scopes,
            refresh_token: response.refresh_token.or(previous_refresh),
        }
    }
}

/// True while the token may be used: more than `skew_ms` before its expiry.
pub fn is_fresh(expires_at_ms: u64, now_ms: u64, skew_ms: u64) -> bool {
    now_ms.saturating_add(skew_ms) < expires_at_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(json: &str) -> TokenResponse {
        crate::core::json::decode(json).unwrap()
    }

    #[test]
    fn stamps_expiry_and_splits_scopes() {
        let r = response(
            r#"{"access_token":"a","expires_in":3600,"scope":"read:jira-work offline_access","refresh_token":"r","token_type":"Bearer"}"#,
        );
        let set = TokenSet::from_response(r, 1_000, None, &[]);
        assert_eq!(set.expires_at_ms, 3_601_000);
        assert_eq!(set.scopes, vec!["read:jira-work", "offline_access"]);
        assert_eq!(set.refresh_token, Some(RefreshToken::new("r")));
    }

    #[test]
    fn an_absurd_lifetime_still_stores_and_reloads() {
        use crate::core::records::{decode, encode, AccessRecord, Decoded, SCHEMA_VERSION};
        let r = response(r#"{"access_token":"a","expires_in":18446744073709551615}"#);
        let set = TokenSet::from_response(r, 1_000, None, &[]);
        assert_eq!(set.expires_at_ms, MAX_SAFE_INTEGER);
        let record = AccessRecord {
            v: SCHEMA_VERSION,
            access_token: set.access_token,
            expires_at_ms: set.expires_at_ms,
            scopes: set.scopes,
        };
        match decode::<AccessRecord>(Some(&encode(&record))) {
            Decoded::Ok(back) => assert_eq!(back.expires_at_ms, MAX_SAFE_INTEGER),
            _ => panic!("the stored access record did not reload"),
        }
    }

    #[test]
    fn refresh_without_refresh_token_keeps_the_old_one() {
        let r = response(r#"{"access_token":"a2","expires_in":3600}"#);
        let set = TokenSet::from_response(r, 0, Some(RefreshToken::new("old")), &["s".to_string()]);
        assert_eq!(set.refresh_token, Some(RefreshToken::new("old")));
        assert_eq!(set.scopes, vec!["s"]);
        let r = response(r#"{"access_token":"a3","expires_in":3600,"refresh_token":"new"}"#);
        let set = TokenSet::from_response(r, 0, Some(RefreshToken::new("old")), &[]);
        assert_eq!(set.refresh_token, Some(RefreshToken::new("new")));
    }

    #[test]
    fn freshness_uses_the_skew() {
        let exp = 100_000;
        assert!(is_fresh(exp, exp - 60_001, 60_000));
        assert!(!is_fresh(exp, exp - 60_000, 60_000));
        assert!(!is_fresh(exp, exp + 1, 60_000));
        assert!(is_fresh(exp, exp - 1, 0));
        assert!(!is_fresh(exp, u64::MAX, 60_000));
    }

    #[test]
    fn debug_of_a_response_hides_tokens() {
        let r =
            response(r#"{"access_token":"SECRET-A","expires_in":1,"refresh_token":"SECRET-R"}"#);
        let s = format!(
            "{r:?} {:?}",
            TokenSet::from_response(r.clone(), 0, None, &[])
        );
        assert!(!s.contains("SECRET"), "{s}");
    }
}

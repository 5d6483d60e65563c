//! The sign-in flow's sealed payloads and the pure helpers around them: what goes into the
//! broker state, the ticket and the refresh blob, and how URLs and fragments are built.
//!
//! None of the payload types has `Debug`: they hold tokens or bind-to-key material.

use crate::error::Refusal;
use crate::seal::{Purpose, Sealer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long a user may take between `POST /v1/authorize` and the callback.
pub const STATE_LIFETIME_SECS: u64 = 600;
/// How long a ticket waits in the client's redirect for its redemption.
pub const TICKET_LIFETIME_SECS: u64 = 120;
/// Longest client `state` accepted.
pub const MAX_CLIENT_STATE_LEN: usize = 512;

/// Everything but RFC 3986 unreserved characters is percent-encoded (spaces as `%20`, `+` as
/// `%2B`, so `URLSearchParams` on the client reads back exactly what was sent).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// Travels through Atlassian as `state`; says where the callback sends its result.
#[derive(Serialize, Deserialize)]
pub struct StatePayload {
    /// Thumbprint of the key that asked for the sign-in.
    pub jkt: String,
    pub redirect_uri: String,
    /// The client's own state, echoed in the fragment.
    pub state: String,
    /// The single-use id in the replay cache.
    pub nonce: String,
    pub exp: u64,
}

/// The one-time ticket in the client's redirect: Atlassian's tokens, sealed, bound to the key.
#[derive(Serialize, Deserialize)]
pub struct TicketPayload {
    pub id: String,
    pub jkt: String,
    pub exp: u64,
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
    pub refresh_token: Option<String>,
}

/// What the client stores instead of Atlassian's refresh token.
#[derive(Serialize, Deserialize)]
pub struct RefreshPayload {
    pub jkt: String,
    pub refresh_token: String,
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// 128 random bits, base64url.
pub fn random_id() -> Result<String, Refusal> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|_| Refusal::Internal)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn seal_json<T: Serialize>(
    sealer: &Sealer,
    purpose: Purpose,
    value: &T,
) -> Result<String, Refusal> {
    let plaintext = serde_json::to_vec(value).map_err(|_| Refusal::Internal)?;
    sealer
        .seal(purpose, &plaintext)
        .map_err(|_| Refusal::Internal)
}

/// `None` for anything that does not open as `purpose` (unknown kid, tampered, another kind).
pub fn open_json<T: DeserializeOwned>(sealer: &Sealer, purpose: Purpose, text: &str) -> Option<T> {
    let plaintext = sealer.open(purpose, text).ok()?;
    serde_json::from_slice(&plaintext).ok()
}

/// The client's `state`: 1..=512 printable ASCII characters without spaces.
pub fn valid_client_state(state: &str) -> bool {
    (1..=MAX_CLIENT_STATE_LEN).contains(&state.len()) && state.bytes().all(|b| b.is_ascii_graphic())
}

/// The requested scopes (a subset of the configured ones, default all of them), always with
/// `offline_access`: without a refresh token the broker has nothing to seal.
pub fn resolve_scope(requested: Option<&str>, configured: &[String]) -> Result<String, Refusal> {
    let mut scopes: Vec<&str> = match requested {
        None => configured.iter().map(String::as_str).collect(),
        Some(text) => {
            let asked: Vec<&str> = text.split(' ').filter(|s| !s.is_empty()).collect();
            let known = |s: &&str| *s == "offline_access" || configured.iter().any(|c| c == s);
            if asked.is_empty() || !asked.iter().all(known) {
                return Err(Refusal::InvalidScope);
            }
            asked
        }
    };
    scopes.push("offline_access");
    let mut unique: Vec<&str> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !unique.contains(&scope) {
            unique.push(scope);
        }
    }
    Ok(unique.join(" "))
}

/// Atlassian's authorize URL, with the broker's callback as `redirect_uri`.
pub fn authorize_url(
    authorize_endpoint: &url::Url,
    client_id: &str,
    scope: &str,
    callback_url: &str,
    sealed_state: &str,
) -> String {
    format!(
        "{authorize_endpoint}?audience=api.atlassian.com&client_id={}&scope={}&redirect_uri={}&state={}&response_type=code&prompt=consent",
        encode(client_id),
        encode(scope),
        encode(callback_url),
        encode(sealed_state),
    )
}

/// An OAuth error code safe to put in the client's redirect: Atlassian's if it looks like one,
/// a fixed placeholder otherwise (never free text).
pub fn sanitize_error_code(code: Option<&str>) -> &str {
    match code {
        Some(c)
            if (1..=64).contains(&c.len())
                && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            c
        }
        _ => "invalid_error_code",
    }
}

/// `{redirect}#<key>=<value>&state=<client state>`.
pub fn fragment_redirect(redirect_uri: &str, key: &str, value: &str, client_state: &str) -> String {
    format!(
        "{redirect_uri}#{key}={}&state={}",
        encode(value),
        encode(client_state)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_the_configured_ones_and_always_include_offline_access() {
        let configured: Vec<String> = ["read:jira-work", "write:jira-work"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            resolve_scope(None, &configured).unwrap(),
            "read:jira-work write:jira-work offline_access"
        );
        assert_eq!(
            resolve_scope(Some("write:jira-work"), &configured).unwrap(),
            "write:jira-work offline_access"
        );
        assert_eq!(
            resolve_scope(Some("offline_access read:jira-work"), &configured).unwrap(),
            "offline_access read:jira-work"
        );
        for bad in [
            "manage:jira-project",
            "",
            "  ",
            "read:jira-work manage:jira-project",
        ] {
            assert!(resolve_scope(Some(bad), &configured).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_codes_are_sanitized() {
        assert_eq!(sanitize_error_code(Some("access_denied")), "access_denied");
        for bad in [
            None,
            Some(""),
            Some("Access Denied"),
            Some("x<script>"),
            Some(&"a".repeat(65)[..]),
        ] {
            assert_eq!(sanitize_error_code(bad), "invalid_error_code");
        }
    }

    #[test]
    fn urls_and_fragments_are_percent_encoded() {
        let endpoint = url::Url::parse("https://auth.atlassian.com/authorize").unwrap();
        let url = authorize_url(
            &endpoint,
            "cid",
            "a b",
            "https://b.example/oauth/callback",
            "k.x_y-z",
        );
        assert_eq!(
            url,
            "https://auth.atlassian.com/authorize?audience=api.atlassian.com&client_id=cid&scope=a%20b&redirect_uri=https%3A%2F%2Fb.example%2Foauth%2Fcallback&state=k.x_y-z&response_type=code&prompt=consent"
        );
        assert_eq!(
            fragment_redirect("https://x.chromiumapp.org/", "ticket", "k1.abc", "s+1&b=2"),
            "https://x.chromiumapp.org/#ticket=k1.abc&state=s%2B1%26b%3D2"
        );
        assert!(valid_client_state("abc-._~!$&'()*+,;=:@/?"));
        assert!(!valid_client_state(""));
        assert!(!valid_client_state("a b"));
        assert!(!valid_client_state("é"));
        assert!(!valid_client_state(&"a".repeat(513)));
    }
}

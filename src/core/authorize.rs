//! The authorize URL and the pending sign-in it creates.

use serde::{Deserialize, Serialize};

use super::secrets::State;
use super::urls::WebUrl;
use crate::Error;

/// A pending sign-in is valid this long (a code is short-lived anyway; a stale tab must restart).
pub const PENDING_TTL_MS: u64 = 10 * 60 * 1000;

/// The scope that makes Atlassian issue a refresh token; always requested.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// What a sign-in attempt remembers until its callback arrives (stored in the persistent area,
/// because the popup that started it usually closes before the callback comes back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// `None` once the attempt has ended (its callback was taken). The redirect URI is kept,
    /// so that a later redirect to it (a reload, a second tab) is told apart from a URL that
    /// is no callback of ours.
    pub state: Option<State>,
    pub redirect_uri: String,
    pub created_at_ms: u64,
}

impl PendingSignIn {
    /// True once the attempt is older than [`PENDING_TTL_MS`].
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.created_at_ms) > PENDING_TTL_MS
    }

    /// The same attempt, ended: no state can match it any more.
    pub fn ended(self) -> Self {
        PendingSignIn {
            state: None,
            ..self
        }
    }
}

/// The inputs of the authorize URL.
#[derive(Debug, Clone)]
pub struct AuthorizeParams<'a> {
    /// e.g. `https://auth.atlassian.com` (the URL is `{auth_base_url}/authorize`).
    pub auth_base_url: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub redirect_uri: &'a str,
    pub state: &'a State,
}

/// The requested scopes, deduplicated in order, with `offline_access` always present
/// (without it there is no refresh token and the user would reconnect every hour).
pub fn normalize_scopes<S: AsRef<str>>(scopes: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes {
        for s in scope.as_ref().split_whitespace() {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    }
    if !out.iter().any(|o| o == OFFLINE_ACCESS) {
        out.push(OFFLINE_ACCESS.to_string());
    }
    out
}

/// Builds `{auth_base}/authorize?audience=api.atlassian.com&client_id=..&scope=..&redirect_uri=..&state=..&response_type=code&prompt=consent`.
/// Values are percent-encoded with `%20` for spaces (as Atlassian documents the scope list).
pub fn authorize_url(p: &AuthorizeParams<'_>) -> Result<String, Error> {
    let base = WebUrl::parse(p.auth_base_url).map_err(|e| Error::Config {
        message: format!("auth base URL is not a URL: {e}"),
    })?;
    if !matches!(base.scheme.as_str(), "http" | "https") {
        return Err(Error::Config {
            message: "auth base URL must be http(s)".into(),
        });
    }
    check_redirect_uri(p.redirect_uri)?;
    if p.client_id.trim().is_empty() {
        return Err(Error::Config {
            message: "client id is empty".into(),
        });
    }
    let scope = normalize_scopes(p.scopes).join(" ");
    let pairs: [(&str, &str); 7] = [
        ("audience", "api.atlassian.com"),
        ("client_id", p.client_id),
        ("scope", &scope),
        ("redirect_uri", p.redirect_uri),
        ("state", p.state.secret()),
        ("response_type", "code"),
        ("prompt", "consent"),
    ];
    // The names are plain: encoding leaves them as they are.
    let mut query = String::new();
    for (k, v) in pairs {
        super::urls::push_query_pair(&mut query, k, v);
    }
    Ok(format!(
        "{}/authorize?{query}",
        p.auth_base_url.trim_end_matches('/')
    ))
}

/// A redirect URI must be an absolute URL without a fragment (OAuth 2.0 §3.1.2), `https`, or
/// `http` on a loopback host only (RFC 8252 §7.3): a plain `http` redirect to any other host
/// would carry the code across the network in the clear.
pub fn check_redirect_uri(uri: &str) -> Result<WebUrl, Error> {
    let parsed = WebUrl::parse(uri).map_err(|e| Error::Config {
        message: format!("redirect URI is not an absolute URL: {e}"),
    })?;
    let secure = match parsed.scheme.as_str() {
        "https" => true,
        "http" => parsed.host.as_deref().is_some_and(is_loopback_host),
        _ => false,
    };
    if !secure || parsed.fragment.is_some() {
        return Err(Error::Config {
            message: "redirect URI must be https (http only on a loopback host) without a fragment"
                .into(),
        });
    }
    Ok(parsed)
}

/// `localhost`, `127.0.0.0/8` or `[::1]`, as a parsed URL spells its host.
fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let mut parts = host.split('.');
    parts.next() == Some("127")
        && host.split('.').count() == 4
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Percent-encodes a query value; spaces become `%20`, not `+`.
pub fn encode(value: &str) -> String {
    super::urls::encode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_of(url: &str) -> Vec<(String, String)> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn url_has_every_required_parameter() {
        let state = State::new("st-1");
        let scopes = vec!["read:jira-work".to_string(), "write:jira-work".to_string()];
        let url = authorize_url(&AuthorizeParams {
            auth_base_url: "https://auth.atlassian.com/",
            client_id: "cid",
            scopes: &scopes,
            redirect_uri: "https://abc.chromiumapp.org/cb",
            state: &state,
        })
        .unwrap();
        assert!(
            url.starts_with("https://auth.atlassian.com/authorize?"),
            "{url}"
        );
        assert!(
            url.contains("scope=read%3Ajira-work%20write%3Ajira-work%20offline_access"),
            "{url}"
        );
        let p = params_of(&url);
        let get = |k: &str| p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("audience"), Some("api.atlassian.com"));
        assert_eq!(get("client_id"), Some("cid"));
        assert_eq!(
            get("scope"),
            Some("read:jira-work write:jira-work offline_access")
        );
        assert_eq!(get("redirect_uri"), Some("https://abc.chromiumapp.org/cb"));
        assert_eq!(get("state"), Some("st-1"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("prompt"), Some("consent"));
        assert_eq!(p.len(), 7);
    }

    #[test]
    fn offline_access_added_once_and_scopes_deduplicated() {
        assert_eq!(
            normalize_scopes(&["a", "b a", "offline_access", "b"]),
            vec!["a", "b", "offline_access"]
        );
        assert_eq!(normalize_scopes::<&str>(&[]), vec!["offline_access"]);
    }

    #[test]
    fn bad_inputs_are_config_errors() {
        let state = State::new("s");
        let ok = AuthorizeParams {
            auth_base_url: "https://auth.atlassian.com",
            client_id: "cid",
            scopes: &[],
            redirect_uri: "https://x.example/cb",
            state: &state,
        };
        for bad in [
            AuthorizeParams {
                auth_base_url: "not a url",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "/relative",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "https://x.example/cb#frag",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "javascript:alert(1)",
                ..ok.clone()
            },
            AuthorizeParams {
                client_id: " ",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "http://x.example/cb",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "http://127.0.0.1.evil.example/cb",
                ..ok.clone()
            },
            AuthorizeParams {
                redirect_uri: "http://localhost.evil.example/cb",
                ..ok.clone()
            },
        ] {
            assert_eq!(
                authorize_url(&bad).unwrap_err().code(),
                crate::ErrorCode::Config
            );
        }
        assert!(authorize_url(&ok).is_ok());
    }

    #[test]
    fn plain_http_redirects_are_for_loopback_hosts_only() {
        for ok in [
            "http://127.0.0.1:9/cb",
            "http://127.1.2.3/cb",
            "http://localhost:8080/callback",
            "http://[::1]:7/cb",
            "https://x.example/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://x.example/cb",
            "http://10.0.0.1/cb",
            "http://127.0.0.1.nip.example/cb",
            "ftp://127.0.0.1/cb",
        ] {
            assert_eq!(
                check_redirect_uri(bad).unwrap_err().code(),
                crate::ErrorCode::Config,
                "{bad}"
            );
        }
    }

    #[test]
    fn pending_expires_after_ten_minutes() {
        let p = PendingSignIn {
            state: Some(State::new("s")),
            redirect_uri: "r".into(),
            created_at_ms: 1_000,
        };
        assert!(!p.is_expired(1_000 + PENDING_TTL_MS));
        assert!(p.is_expired(1_000 + PENDING_TTL_MS + 1));
    }
}

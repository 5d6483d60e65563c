//! The authorize URL and the pending sign-in it creates.

use serde::{Deserialize, Serialize};

use super::gateway::retry_after_ms;
use super::io::HttpResponse;
use super::json::decode;
use super::secrets::State;
use super::token_response::oauth_error;
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

/// What the broker's `POST /v1/authorize` answers: `{"authorize_url": "...", "start_url": "..."}`
/// (`start_url` from brokers that serve `GET /oauth/start`).
#[derive(Deserialize)]
struct AuthorizeAnswer {
    authorize_url: String,
    #[serde(default)]
    start_url: Option<String>,
}

/// The URLs a sign-in can open: Atlassian's authorize URL, and the broker's redirect to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeUrls {
    /// Atlassian's authorize URL (its `redirect_uri` is the broker's callback).
    pub authorize: String,
    /// `{broker}/oauth/start?…`, which redirects to `authorize`: a first URL without a
    /// `redirect_uri` parameter, as Firefox's `launchWebAuthFlow` requires (it refuses one
    /// whose `redirect_uri` is not the extension's redirect URL). `None` from an older broker,
    /// or when it is not an http(s) URL.
    pub start: Option<String>,
}

fn is_web_url(text: &str) -> bool {
    WebUrl::parse(text).is_ok_and(|url| matches!(url.scheme.as_str(), "http" | "https"))
}

/// The authorize URL in the broker's `POST /v1/authorize` answer (received at `now_ms`): the
/// broker built it (client id, scopes, its own callback, its sealed `state`). A refusal is
/// [`Error::Broker`] with the broker's code; anything else is [`Error::InvalidResponse`].
pub fn authorize_answer(resp: &HttpResponse, now_ms: u64) -> Result<AuthorizeUrls, Error> {
    if !(200..300).contains(&resp.status) {
        return Err(match oauth_error(&resp.body) {
            Some((error, description)) => Error::Broker {
                status: resp.status,
                error,
                description,
                retry_after_ms: retry_after_ms(resp, now_ms),
            },
            None => Error::invalid_response(
                resp.status,
                "the broker's /v1/authorize answered without a JSON error",
            ),
        });
    }
    let answer = decode::<AuthorizeAnswer>(&resp.body).map_err(|_| {
        Error::invalid_response(
            resp.status,
            "the broker's /v1/authorize has no authorize_url",
        )
    })?;
    let url = WebUrl::parse(&answer.authorize_url).map_err(|_| {
        Error::invalid_response(resp.status, "the broker's authorize_url is not a URL")
    })?;
    if !matches!(url.scheme.as_str(), "http" | "https") {
        return Err(Error::invalid_response(
            resp.status,
            "the broker's authorize_url is not http(s)",
        ));
    }
    Ok(AuthorizeUrls {
        authorize: answer.authorize_url,
        start: answer.start_url.filter(|u| is_web_url(u)),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("retry-after".into(), "7".into())],
            body: body.into(),
        }
    }

    #[test]
    fn the_broker_answer_gives_the_url_or_a_typed_error() {
        let url = "https://auth.atlassian.com/authorize?state=sealed";
        assert_eq!(
            authorize_answer(&answer(200, &format!(r#"{{"authorize_url":"{url}"}}"#)), 0).unwrap(),
            AuthorizeUrls {
                authorize: url.into(),
                start: None
            }
        );
        let start = "https://broker.example/oauth/start?scope=a&state=sealed";
        let both = format!(r#"{{"authorize_url":"{url}","start_url":"{start}"}}"#);
        assert_eq!(
            authorize_answer(&answer(200, &both), 0)
                .unwrap()
                .start
                .as_deref(),
            Some(start)
        );
        let bad = format!(r#"{{"authorize_url":"{url}","start_url":"javascript:alert(1)"}}"#);
        assert_eq!(authorize_answer(&answer(200, &bad), 0).unwrap().start, None);
        let e = authorize_answer(
            &answer(
                400,
                r#"{"error":"redirect_uri_not_allowed","error_description":"x"}"#,
            ),
            0,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Broker { status: 400, error, .. } if error == "redirect_uri_not_allowed"),
            "{e:?}"
        );
        let e = authorize_answer(&answer(429, r#"{"error":"rate_limited"}"#), 0).unwrap_err();
        assert_eq!(e.retry_after_ms(), Some(7_000));
        for (status, body) in [
            (502, "<html>bad gateway</html>"),
            (200, "{}"),
            (200, "<html></html>"),
            (200, r#"{"authorize_url":"javascript:alert(1)"}"#),
            (200, r#"{"authorize_url":"not a url"}"#),
        ] {
            assert_eq!(
                authorize_answer(&answer(status, body), 0)
                    .unwrap_err()
                    .code(),
                crate::ErrorCode::InvalidResponse,
                "{status} {body}"
            );
        }
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
    fn bad_redirect_uris_are_config_errors() {
        for bad in [
            "/relative",
            "https://x.example/cb#frag",
            "javascript:alert(1)",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
        ] {
            assert_eq!(
                check_redirect_uri(bad).unwrap_err().code(),
                crate::ErrorCode::Config,
                "{bad}"
            );
        }
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

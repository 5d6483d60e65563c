//! Validating the redirect back from the authorization server (oauth4webapi-style: one pure
//! function, one typed error per failure). A rejected callback never reaches the token endpoint.

use super::authorize::PendingSignIn;
use super::secrets::{AuthorizationCode, State};
use super::urls::WebUrl;
use crate::Error;

/// Checks `callback_url` against the pending sign-in and returns the authorization code.
///
/// Order of checks: it must be a callback at all (same scheme/host/port/path as the pending
/// redirect URI and carrying `code`, `error` or `state`) → a pending sign-in must exist → the
/// `state` must match (constant time) → provider errors (`error=...`) → expiry → the code.
/// An `error=` redirect without `state` is still reported as that error (Atlassian's denial
/// redirect may omit `state`; reporting a refusal grants nothing).
pub fn validate_callback(
    callback_url: &str,
    pending: Option<&PendingSignIn>,
    now_ms: u64,
) -> Result<AuthorizationCode, Error> {
    let url = WebUrl::parse(callback_url).map_err(|_| Error::NotACallback)?;
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match k.as_str() {
            "code" => code = Some(v),
            "state" => state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = Some(v),
            _ => {}
        }
    }
    if code.is_none() && state.is_none() && error.is_none() {
        return Err(Error::NotACallback);
    }
    let Some(pending) = pending else {
        return Err(Error::UnknownState);
    };
    if !same_endpoint(&url, &pending.redirect_uri) {
        return Err(Error::NotACallback);
    }
    match &state {
        Some(s) if State::new(s.as_str()) == pending.state => {}
        Some(_) => return Err(Error::StateMismatch),
        None if error.is_some() => {}
        None => return Err(Error::StateMismatch),
    }
    if let Some(error) = error {
        return Err(if error == "access_denied" {
            Error::AccessDenied {
                description: description
                    .unwrap_or_else(|| "the user did not authorize the request".into()),
            }
        } else {
            Error::ProviderError { error, description }
        });
    }
    if pending.is_expired(now_ms) {
        return Err(Error::StateExpired);
    }
    match code {
        Some(c) if !c.is_empty() => Ok(AuthorizationCode::new(c)),
        _ => Err(Error::MissingCode),
    }
}

/// True when the callback outcome ends the pending attempt (it must not be used again).
/// A foreign or forged callback (not ours, wrong state) leaves the real attempt alive.
pub fn consumes_pending(outcome: &Result<AuthorizationCode, Error>) -> bool {
    !matches!(
        outcome,
        Err(Error::NotACallback | Error::StateMismatch | Error::UnknownState)
    )
}

/// Same scheme, host, port and path as the registered redirect URI ("starts with" done on
/// parsed parts, so `http://127.0.0.1:80` does not match `http://127.0.0.1:8080`).
fn same_endpoint(url: &WebUrl, redirect_uri: &str) -> bool {
    let Ok(expected) = WebUrl::parse(redirect_uri) else {
        return false;
    };
    url.scheme == expected.scheme
        && url.host == expected.host
        && url.port == expected.port
        && url.path.trim_end_matches('/') == expected.path.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const REDIRECT: &str = "https://abc.chromiumapp.org/cb";

    fn pending() -> PendingSignIn {
        PendingSignIn {
            state: State::new("good-state"),
            redirect_uri: REDIRECT.into(),
            created_at_ms: 1_000,
        }
    }

    fn check(url: &str, now: u64) -> Result<AuthorizationCode, Error> {
        validate_callback(url, Some(&pending()), now)
    }

    #[test]
    fn valid_callback_returns_code() {
        let code = check(&format!("{REDIRECT}?code=the-code&state=good-state"), 2_000).unwrap();
        assert_eq!(code.secret(), "the-code");
        // Chrome's getRedirectURL() has a trailing slash; tolerate it either way.
        let p = PendingSignIn {
            redirect_uri: "https://abc.chromiumapp.org/".into(),
            ..pending()
        };
        let code = validate_callback(
            "https://abc.chromiumapp.org/?code=c&state=good-state",
            Some(&p),
            2_000,
        );
        assert!(code.is_ok());
    }

    #[test]
    fn typed_outcomes() {
        let cases: Vec<(&str, ErrorCode)> = vec![
            ("https://evil.example/cb?code=x&state=good-state", ErrorCode::NotACallback),
            ("https://abc.chromiumapp.org/other?code=x&state=good-state", ErrorCode::NotACallback),
            ("http://abc.chromiumapp.org/cb?code=x&state=good-state", ErrorCode::NotACallback),
            ("https://abc.chromiumapp.org:8443/cb?code=x&state=good-state", ErrorCode::NotACallback),
            ("https://abc.chromiumapp.org/cb", ErrorCode::NotACallback),
            ("https://abc.chromiumapp.org/cb?foo=bar", ErrorCode::NotACallback),
            ("not a url", ErrorCode::NotACallback),
            ("https://abc.chromiumapp.org/cb?code=x&state=bad-state", ErrorCode::StateMismatch),
            ("https://abc.chromiumapp.org/cb?code=x", ErrorCode::StateMismatch),
            ("https://abc.chromiumapp.org/cb?code=x&state=good-stat", ErrorCode::StateMismatch),
            (
                "https://abc.chromiumapp.org/cb?error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=good-state",
                ErrorCode::AccessDenied,
            ),
            ("https://abc.chromiumapp.org/cb?error=access_denied", ErrorCode::AccessDenied),
            ("https://abc.chromiumapp.org/cb?error=server_error&state=good-state", ErrorCode::ProviderError),
            ("https://abc.chromiumapp.org/cb?error=access_denied&state=bad", ErrorCode::StateMismatch),
            ("https://abc.chromiumapp.org/cb?state=good-state", ErrorCode::MissingCode),
            ("https://abc.chromiumapp.org/cb?state=good-state&code=", ErrorCode::MissingCode),
        ];
        for (url, expected) in cases {
            assert_eq!(check(url, 2_000).unwrap_err().code(), expected, "{url}");
        }
    }

    #[test]
    fn descriptions_are_carried() {
        let e = check(&format!("{REDIRECT}?error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=good-state"), 2_000)
            .unwrap_err();
        assert_eq!(
            e,
            Error::AccessDenied {
                description: "User did not authorize the request".into()
            }
        );
        let e = check(
            &format!(
                "{REDIRECT}?error=temporarily_unavailable&error_description=busy&state=good-state"
            ),
            2_000,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::ProviderError {
                error: "temporarily_unavailable".into(),
                description: Some("busy".into())
            }
        );
    }

    #[test]
    fn unknown_and_expired_state() {
        let url = format!("{REDIRECT}?code=x&state=good-state");
        assert_eq!(
            validate_callback(&url, None, 2_000).unwrap_err(),
            Error::UnknownState
        );
        assert_eq!(
            validate_callback("https://x/?a=b", None, 2_000).unwrap_err(),
            Error::NotACallback
        );
        let late = 1_000 + super::super::authorize::PENDING_TTL_MS + 1;
        assert_eq!(check(&url, late).unwrap_err(), Error::StateExpired);
        assert!(check(&url, late - 1).is_ok());
    }

    #[test]
    fn forged_callbacks_do_not_consume_the_attempt() {
        assert!(!consumes_pending(&Err(Error::StateMismatch)));
        assert!(!consumes_pending(&Err(Error::NotACallback)));
        assert!(consumes_pending(&Err(Error::StateExpired)));
        assert!(consumes_pending(&Err(Error::MissingCode)));
        assert!(consumes_pending(&Ok(AuthorizationCode::new("c"))));
    }
}

//! Validating the redirect back from the broker's hosted callback (oauth4webapi-style: one
//! pure function, one typed error per failure). The broker redirects to the client's redirect
//! URI with `#ticket=…&state=…` (or `#error=…&state=…`): in the fragment, which never reaches
//! a server or a `Referer`. A rejected callback never reaches the token endpoint.

use super::authorize::PendingSignIn;
use super::secrets::{State, Ticket};
use super::urls::WebUrl;
use crate::error::{oauth_error_code, ProviderText};
use crate::Error;

/// The verdict on a callback URL: what the caller gets, and whether it ends the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCheck {
    pub outcome: Result<Ticket, Error>,
    /// Only a callback carrying the attempt's own `state` ends it: a forged or foreign
    /// redirect (no state, a wrong one, another URL) leaves the real attempt alive.
    pub ends_attempt: bool,
}

impl CallbackCheck {
    fn keeps(error: Error) -> Self {
        CallbackCheck {
            outcome: Err(error),
            ends_attempt: false,
        }
    }

    fn ends(outcome: Result<Ticket, Error>) -> Self {
        CallbackCheck {
            outcome,
            ends_attempt: true,
        }
    }
}

/// Checks `callback_url` against the sign-in attempt (pending, or ended with its redirect URI
/// remembered) and returns the sign-in ticket.
///
/// Order of checks: it must be a redirect to the attempt's redirect URI (same scheme, host,
/// port and path, its fragment carrying `ticket`, `error` or `state`) → the attempt must still
/// be pending → the `state` must match (constant time) → errors (`error=...`) → expiry → the
/// ticket. An `error=` redirect without `state` is reported as that error but, proving
/// nothing, does not end the attempt.
pub fn validate_callback(
    callback_url: &str,
    attempt: Option<&PendingSignIn>,
    now_ms: u64,
) -> CallbackCheck {
    let Ok(url) = WebUrl::parse(callback_url) else {
        return CallbackCheck::keeps(Error::NotACallback);
    };
    let mut ticket = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.fragment_pairs() {
        match k.as_str() {
            "ticket" => ticket = Some(v),
            "state" => state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = Some(v),
            _ => {}
        }
    }
    let is_ours = attempt.is_some_and(|a| same_endpoint(&url, &a.redirect_uri));
    let (Some(attempt), true) = (attempt, is_ours) else {
        return CallbackCheck::keeps(Error::NotACallback);
    };
    if ticket.is_none() && state.is_none() && error.is_none() {
        return CallbackCheck::keeps(Error::NotACallback);
    }
    let Some(expected) = &attempt.state else {
        return CallbackCheck::keeps(Error::UnknownState);
    };
    let provider_error = |error: &str| {
        let description = description.as_deref().and_then(ProviderText::new);
        let error = oauth_error_code(error);
        if error == "access_denied" {
            Error::AccessDenied { description }
        } else {
            Error::ProviderError { error, description }
        }
    };
    match (&state, &error) {
        (Some(s), _) if State::new(s.as_str()) == *expected => {}
        (None, Some(error)) => return CallbackCheck::keeps(provider_error(error)),
        _ => return CallbackCheck::keeps(Error::StateMismatch),
    }
    if let Some(error) = error {
        return CallbackCheck::ends(Err(provider_error(&error)));
    }
    if attempt.is_expired(now_ms) {
        return CallbackCheck::ends(Err(Error::StateExpired));
    }
    CallbackCheck::ends(match ticket {
        Some(t) if !t.is_empty() => Ok(Ticket::new(t)),
        _ => Err(Error::MissingCode),
    })
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
            state: Some(State::new("good-state")),
            redirect_uri: REDIRECT.into(),
            created_at_ms: 1_000,
        }
    }

    fn check(url: &str, now: u64) -> Result<Ticket, Error> {
        validate_callback(url, Some(&pending()), now).outcome
    }

    #[test]
    fn valid_callback_returns_code() {
        let code = check(
            &format!("{REDIRECT}#ticket=the-ticket&state=good-state"),
            2_000,
        )
        .unwrap();
        assert_eq!(code.secret(), "the-ticket");
        // Chrome's getRedirectURL() has a trailing slash; tolerate it either way.
        let p = PendingSignIn {
            redirect_uri: "https://abc.chromiumapp.org/".into(),
            ..pending()
        };
        let check = validate_callback(
            "https://abc.chromiumapp.org/#ticket=c&state=good-state",
            Some(&p),
            2_000,
        );
        assert!(check.outcome.is_ok() && check.ends_attempt);
    }

    #[test]
    fn typed_outcomes_and_which_end_the_attempt() {
        let cases: Vec<(&str, ErrorCode, bool)> = vec![
            ("https://evil.example/cb#ticket=x&state=good-state", ErrorCode::NotACallback, false),
            ("https://abc.chromiumapp.org/other#ticket=x&state=good-state", ErrorCode::NotACallback, false),
            ("http://abc.chromiumapp.org/cb#ticket=x&state=good-state", ErrorCode::NotACallback, false),
            ("https://abc.chromiumapp.org:8443/cb#ticket=x&state=good-state", ErrorCode::NotACallback, false),
            ("https://abc.chromiumapp.org/cb", ErrorCode::NotACallback, false),
            ("https://abc.chromiumapp.org/cb#foo=bar", ErrorCode::NotACallback, false),
            ("not a url", ErrorCode::NotACallback, false),
            // Atlassian's own redirect shape (a code in the query) is no callback of ours:
            // codes go to the broker's hosted callback, never to the client.
            ("https://abc.chromiumapp.org/cb?code=x&state=good-state", ErrorCode::NotACallback, false),
            ("https://abc.chromiumapp.org/cb#ticket=x&state=bad-state", ErrorCode::StateMismatch, false),
            ("https://abc.chromiumapp.org/cb#ticket=x", ErrorCode::StateMismatch, false),
            ("https://abc.chromiumapp.org/cb#ticket=x&state=good-stat", ErrorCode::StateMismatch, false),
            (
                "https://abc.chromiumapp.org/cb#error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=good-state",
                ErrorCode::AccessDenied,
                true,
            ),
            // No state: reported, but it proves nothing, so the attempt stays.
            ("https://abc.chromiumapp.org/cb#error=access_denied", ErrorCode::AccessDenied, false),
            ("https://abc.chromiumapp.org/cb#error=server_error", ErrorCode::ProviderError, false),
            ("https://abc.chromiumapp.org/cb#error=server_error&state=good-state", ErrorCode::ProviderError, true),
            ("https://abc.chromiumapp.org/cb#error=access_denied&state=bad", ErrorCode::StateMismatch, false),
            ("https://abc.chromiumapp.org/cb#state=good-state", ErrorCode::MissingCode, true),
            ("https://abc.chromiumapp.org/cb#state=good-state&ticket=", ErrorCode::MissingCode, true),
        ];
        for (url, expected, ends) in cases {
            let check = validate_callback(url, Some(&pending()), 2_000);
            assert_eq!(check.outcome.unwrap_err().code(), expected, "{url}");
            assert_eq!(check.ends_attempt, ends, "{url}");
        }
    }

    #[test]
    fn provider_text_is_kept_bounded_and_never_in_the_message() {
        let forged =
            "Call%20555-0100%20now%3Cb%3E!%3C%2Fb%3E%0A%0Dx".to_string() + &"y".repeat(900);
        let e = check(
            &format!("{REDIRECT}#error=access_denied&error_description={forged}&state=good-state"),
            2_000,
        )
        .unwrap_err();
        let Error::AccessDenied {
            description: Some(description),
        } = &e
        else {
            panic!("{e:?}")
        };
        assert!(description
            .as_str()
            .starts_with("Call 555-0100 now b ! /b x"));
        assert!(!description.as_str().contains(['\n', '\r', '<', '>']));
        assert!(description.as_str().chars().count() <= ProviderText::MAX_CHARS);
        assert!(!e.to_string().contains("555"), "{e}");
        // An error code that is not an OAuth error code is not repeated either.
        let e = check(
            &format!("{REDIRECT}#error=Call%20555-0100&state=good-state"),
            2_000,
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::ProviderError);
        assert!(!e.to_string().contains("555"), "{e}");
        let e = check(
            &format!(
                "{REDIRECT}#error=temporarily_unavailable&error_description=busy&state=good-state"
            ),
            2_000,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::ProviderError {
                error: "temporarily_unavailable".into(),
                description: ProviderText::new("busy"),
            }
        );
    }

    #[test]
    fn unknown_ended_and_expired_attempts() {
        let url = format!("{REDIRECT}#ticket=x&state=good-state");
        // Nothing started: no URL is a callback of ours.
        let none = validate_callback(&url, None, 2_000);
        assert_eq!(none.outcome.unwrap_err(), Error::NotACallback);
        // An ended attempt: its redirect is a used callback, a foreign URL is still foreign.
        let ended = pending().ended();
        let again = validate_callback(&url, Some(&ended), 2_000);
        assert_eq!(again.outcome.unwrap_err(), Error::UnknownState);
        assert!(!again.ends_attempt);
        let foreign = validate_callback(
            "https://evil.example/cb#ticket=x&state=y",
            Some(&ended),
            2_000,
        );
        assert_eq!(foreign.outcome.unwrap_err(), Error::NotACallback);
        let late = 1_000 + super::super::authorize::PENDING_TTL_MS + 1;
        let expired = validate_callback(&url, Some(&pending()), late);
        assert_eq!(expired.outcome.unwrap_err(), Error::StateExpired);
        assert!(expired.ends_attempt);
        assert!(check(&url, late - 1).is_ok());
    }
}

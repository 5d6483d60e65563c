//! Classifying what the broker's `/oauth/token` answered: tokens, a permanent refusal of the
//! grant, or a failure that says nothing about the grant (keep the refresh token, retry later).

use super::gateway::retry_after_ms;
use super::json::decode;
use super::tokens::TokenResponse;
use crate::core::io::HttpResponse;
use crate::error::{oauth_error_code, ProviderText};
use crate::Error;

/// Error codes the broker itself produces (its refusals, not Atlassian's).
pub const BROKER_ERROR_CODES: &[&str] = &[
    "origin_not_allowed",
    "redirect_uri_not_allowed",
    "unsupported_grant_type",
    "payload_too_large",
    "rate_limited",
    "upstream_unreachable",
    "upstream_invalid_response",
    "upstream_timeout",
    // A proof the broker refused (a clock far off, a key that could not sign): nothing is
    // wrong with the grant, so it is kept.
    "invalid_dpop_proof",
    "replay_check_unavailable",
];

/// OAuth errors that mean "this grant is dead": retrying the same refresh token never helps.
/// `access_denied` is deliberately not one: Atlassian answers it (401) for bad *client*
/// credentials, i.e. a misconfigured broker, which says nothing about the user's grant.
pub const PERMANENT_REFUSALS: &[&str] = &["invalid_grant", "unauthorized_client"];

/// What a token-endpoint answer means.
#[derive(Debug)]
pub enum TokenOutcome {
    Issued(TokenResponse),
    /// A permanent refusal (`invalid_grant` or `unauthorized_client` with 400/401/403).
    Refused {
        status: u16,
        error: String,
        description: Option<ProviderText>,
    },
    /// Anything else: broker refusals, other OAuth errors, 5xx, 429, non-JSON.
    Failed(Error),
}

/// An OAuth error body (`{"error": ..., "error_description": ...}`, the broker's too).
#[derive(serde::Deserialize)]
struct OauthError {
    error: String,
    error_description: Option<String>,
}

/// An OAuth error body: `error` (as [`oauth_error_code`] lets it into a message) and the
/// optional description (as [`ProviderText`]: it is the server's text). `None` when the body
/// is not JSON or not one.
pub fn oauth_error(body: &str) -> Option<(String, Option<ProviderText>)> {
    let e = decode::<OauthError>(body).ok()?;
    Some((
        oauth_error_code(&e.error),
        e.error_description.as_deref().and_then(ProviderText::new),
    ))
}

/// Classifies a response of `POST {broker}/oauth/token` received at `now_ms` (for an
/// HTTP-date `Retry-After`).
pub fn classify_token_response(resp: &HttpResponse, now_ms: u64) -> TokenOutcome {
    let status = resp.status;
    if (200..300).contains(&status) {
        return match decode::<TokenResponse>(&resp.body) {
            Ok(t) => TokenOutcome::Issued(t),
            Err(category) => TokenOutcome::Failed(Error::InvalidResponse {
                status,
                detail: format!("token response is not a token set ({category:?} error)"),
            }),
        };
    }
    let Some((error, description)) = oauth_error(&resp.body) else {
        return TokenOutcome::Failed(Error::InvalidResponse {
            status,
            detail: format!("token endpoint answered {status} without an OAuth error body"),
        });
    };
    if BROKER_ERROR_CODES.contains(&error.as_str()) {
        return TokenOutcome::Failed(Error::Broker {
            status,
            error,
            description,
            retry_after_ms: retry_after_ms(resp, now_ms),
        });
    }
    if matches!(status, 400 | 401 | 403) && PERMANENT_REFUSALS.contains(&error.as_str()) {
        return TokenOutcome::Refused {
            status,
            error,
            description,
        };
    }
    TokenOutcome::Failed(Error::Oauth {
        status,
        error,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.into(),
        }
    }

    fn classify(resp: &HttpResponse) -> TokenOutcome {
        classify_token_response(resp, 0)
    }

    #[test]
    fn success() {
        let o = classify(&resp(
            200,
            r#"{"access_token":"a","expires_in":3600,"token_type":"Bearer","scope":"x"}"#,
        ));
        assert!(matches!(o, TokenOutcome::Issued(t) if t.expires_in == 3600));
    }

    #[test]
    fn permanent_refusals() {
        for (status, body) in [
            (
                403,
                r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
            ),
            (
                403,
                r#"{"error":"unauthorized_client","error_description":"refresh_token is invalid"}"#,
            ),
            (400, r#"{"error":"invalid_grant"}"#),
        ] {
            assert!(
                matches!(classify(&resp(status, body)), TokenOutcome::Refused { .. }),
                "{body}"
            );
        }
        match classify(&resp(
            403,
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        )) {
            TokenOutcome::Refused {
                status,
                error,
                description,
            } => {
                assert_eq!((status, error.as_str()), (403, "invalid_grant"));
                assert_eq!(
                    description.as_ref().map(ProviderText::as_str),
                    Some("Unknown or invalid refresh token.")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transient_and_other_failures() {
        let cases: Vec<(u16, &str, crate::ErrorCode, bool)> = vec![
            (
                503,
                "<html>busy</html>",
                crate::ErrorCode::InvalidResponse,
                true,
            ),
            (
                200,
                "<html>login</html>",
                crate::ErrorCode::InvalidResponse,
                false,
            ),
            (
                200,
                r#"{"access_token":"a""#,
                crate::ErrorCode::InvalidResponse,
                false,
            ),
            (
                503,
                r#"{"error":"temporarily_unavailable"}"#,
                crate::ErrorCode::Oauth,
                true,
            ),
            (
                500,
                r#"{"error":"server_error"}"#,
                crate::ErrorCode::Oauth,
                true,
            ),
            (
                502,
                r#"{"error":"upstream_unreachable","error_description":"x"}"#,
                crate::ErrorCode::Broker,
                true,
            ),
            (
                504,
                r#"{"error":"upstream_timeout"}"#,
                crate::ErrorCode::Broker,
                true,
            ),
            (
                403,
                r#"{"error":"origin_not_allowed"}"#,
                crate::ErrorCode::Broker,
                false,
            ),
            (
                429,
                r#"{"error":"rate_limited"}"#,
                crate::ErrorCode::Broker,
                false,
            ),
            (
                400,
                r#"{"error":"invalid_request","error_description":"authorization_code is invalid"}"#,
                crate::ErrorCode::Oauth,
                false,
            ),
            (
                500,
                r#"{"error":"invalid_grant"}"#,
                crate::ErrorCode::Oauth,
                true,
            ),
            // Bad client credentials (a misconfigured broker): the grant is fine.
            (
                401,
                r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
                crate::ErrorCode::Oauth,
                false,
            ),
        ];
        for (status, body, code, transient) in cases {
            match classify(&resp(status, body)) {
                TokenOutcome::Failed(e) => {
                    assert_eq!(e.code(), code, "{status} {body}");
                    assert_eq!(e.is_transient(), transient, "{status} {body}");
                }
                other => panic!("{status} {body}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_never_echo_the_body() {
        let o = classify(&resp(200, r#"{"access_token":"SECRET","expires_in":"x"}"#));
        let TokenOutcome::Failed(e) = o else { panic!() };
        assert!(!format!("{e} {e:?}").contains("SECRET"));
    }

    #[test]
    fn a_broker_rate_limit_carries_its_retry_after() {
        let limited = |retry_after: Option<&str>| HttpResponse {
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v.to_string())])
                .unwrap_or_default(),
            ..resp(
                429,
                r#"{"error":"rate_limited","error_description":"slow down"}"#,
            )
        };
        let now = 784_111_777_000; // Sun, 06 Nov 1994 08:49:37 GMT
        for (header, expected) in [
            (Some("42"), Some(42_000)),
            (Some("Sun, 06 Nov 1994 08:49:40 GMT"), Some(3_000)),
            (Some("soon"), None),
            (None, None),
        ] {
            match classify_token_response(&limited(header), now) {
                TokenOutcome::Failed(Error::Broker {
                    status: 429,
                    error,
                    retry_after_ms,
                    ..
                }) => {
                    assert_eq!(error, "rate_limited");
                    assert_eq!(retry_after_ms, expected, "{header:?}");
                }
                other => panic!("{header:?}: {other:?}"),
            }
        }
        // Other broker errors carry none unless the broker sent one.
        let TokenOutcome::Failed(e) = classify(&resp(403, r#"{"error":"origin_not_allowed"}"#))
        else {
            panic!()
        };
        assert!(
            matches!(
                e,
                Error::Broker {
                    retry_after_ms: None,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

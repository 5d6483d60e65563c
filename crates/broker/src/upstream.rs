//! The one outbound call: `POST {auth_base_url}/oauth/token` with the client credentials added.

use crate::config::ClientSecret;
use crate::error::Refusal;
use axum::http::{header, HeaderValue, StatusCode};
use std::time::Duration;

/// Upper bound on an upstream body; a token response is a few KiB at most.
const MAX_UPSTREAM_BODY: usize = 64 * 1024;

/// What the authorization server said, already checked to be a JSON object.
pub struct UpstreamAnswer {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub retry_after: Option<HeaderValue>,
    /// The parsed token response, for a 2xx.
    pub success: Option<TokenSuccess>,
}

/// What the broker calls the token endpoint with. Codes only come from the broker's own
/// callback, with the broker's callback URL as `redirect_uri`.
pub enum UpstreamGrant<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
    },
    RefreshToken {
        refresh_token: &'a str,
    },
}

/// A successful token response. No `Debug`: every field but two is a credential or
/// describes one.
#[derive(serde::Deserialize)]
pub struct TokenSuccess {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

pub struct Upstream {
    http: reqwest::Client,
    token_url: url::Url,
    client_id: String,
    client_secret: ClientSecret,
}

#[derive(serde::Serialize)]
struct UpstreamBody<'a> {
    grant_type: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

impl Upstream {
    pub fn new(
        token_url: url::Url,
        client_id: String,
        client_secret: ClientSecret,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            // Never follow a redirect: the token endpoint is the only place the secret may go.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("jira-3lo-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            http,
            token_url,
            client_id,
            client_secret,
        })
    }

    pub async fn exchange(&self, grant: UpstreamGrant<'_>) -> Result<UpstreamAnswer, Refusal> {
        let (grant_type, code, redirect_uri, refresh_token) = match grant {
            UpstreamGrant::AuthorizationCode { code, redirect_uri } => {
                ("authorization_code", Some(code), Some(redirect_uri), None)
            }
            UpstreamGrant::RefreshToken { refresh_token } => {
                ("refresh_token", None, None, Some(refresh_token))
            }
        };
        let body = serde_json::to_vec(&UpstreamBody {
            grant_type,
            client_id: &self.client_id,
            client_secret: self.client_secret.expose(),
            code,
            redirect_uri,
            refresh_token,
        })
        .map_err(|_| Refusal::InvalidRequest("the request could not be encoded"))?;
        let mut response = self
            .http
            .post(self.token_url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .filter(|v| is_plain_retry_after(v))
            .cloned();
        if response
            .content_length()
            .is_some_and(|len| len > MAX_UPSTREAM_BODY as u64)
        {
            return Err(Refusal::UpstreamInvalidResponse {
                status: status.as_u16(),
            });
        }
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .unwrap_or(1024)
                .min(MAX_UPSTREAM_BODY as u64) as usize,
        );
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_UPSTREAM_BODY {
                return Err(Refusal::UpstreamInvalidResponse {
                    status: status.as_u16(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let Some(success) = token_answer(status, &body) else {
            return Err(Refusal::UpstreamInvalidResponse {
                status: status.as_u16(),
            });
        };
        Ok(UpstreamAnswer {
            status,
            body,
            retry_after,
            success,
        })
    }
}

/// Success must be a JSON object with an `access_token`; an error must be a JSON object (the
/// OAuth `{error, error_description}` shape is passed on verbatim). Redirects and informational
/// statuses are never passed on, whatever their body.
/// `None`: not a token answer. `Some(None)`: a JSON error. `Some(Some(_))`: a success.
fn token_answer(status: StatusCode, body: &[u8]) -> Option<Option<TokenSuccess>> {
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !is_object {
        return None;
    }
    if status.is_success() {
        serde_json::from_slice::<TokenSuccess>(body)
            .ok()
            .filter(|t| !t.access_token.is_empty())
            .map(Some)
    } else if status.is_client_error() || status.is_server_error() {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .ok()
            .map(|_| None)
    } else {
        None
    }
}

#[cfg(test)]
fn looks_like_token_answer(status: StatusCode, body: &[u8]) -> bool {
    token_answer(status, body).is_some()
}

/// `Retry-After` is either delta-seconds or an HTTP date: printable ASCII, short.
fn is_plain_retry_after(value: &HeaderValue) -> bool {
    value.len() <= 64 && value.as_bytes().iter().all(|b| (0x20..0x7f).contains(b))
}

fn classify(error: reqwest::Error) -> Refusal {
    let timed_out = error.is_timeout();
    // Only the kind is logged: the URL is configuration, the body never leaves this module.
    tracing::warn!(error = %error.without_url(), timed_out, "token endpoint call failed");
    if timed_out {
        Refusal::UpstreamTimeout
    } else {
        Refusal::UpstreamUnreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_checked() {
        assert!(looks_like_token_answer(
            StatusCode::OK,
            br#"{"access_token":"a","expires_in":3600}"#
        ));
        assert!(!looks_like_token_answer(
            StatusCode::OK,
            br#"{"expires_in":3600}"#
        ));
        assert!(!looks_like_token_answer(StatusCode::OK, b"<html>hi</html>"));
        assert!(!looks_like_token_answer(
            StatusCode::OK,
            br#"{"access_token":"a""#
        ));
        assert!(looks_like_token_answer(
            StatusCode::FORBIDDEN,
            br#"{"error":"invalid_grant","error_description":"x"}"#
        ));
        assert!(looks_like_token_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            br#" {"error":"temporarily_unavailable"}"#
        ));
        assert!(!looks_like_token_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            b"Service Unavailable"
        ));
        assert!(!looks_like_token_answer(
            StatusCode::FOUND,
            br#"{"error":"x"}"#
        ));
        assert!(!looks_like_token_answer(StatusCode::BAD_REQUEST, b"[]"));
    }
}

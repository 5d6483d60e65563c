//! The broker's own refusals. Each has a stable `error` code and is answered in the OAuth
//! `{error, error_description}` shape, so clients handle the broker's and Atlassian's answers
//! with one parser. Descriptions are fixed texts: nothing from the request is echoed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `Retry-After` of a `replay_check_unavailable`: entries expire within minutes.
const REPLAY_RETRY_AFTER_SECS: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this origin is not allowed to use the broker")]
    OriginNotAllowed,
    #[error("redirect_uri is not one of the broker's allowed redirect URIs")]
    RedirectUriNotAllowed,
    #[error("grant_type must be urn:jira-3lo:ticket or refresh_token")]
    UnsupportedGrantType,
    /// The `DPoP` proof is missing or fails a check; the text says which check (fixed texts).
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// A ticket or refresh blob that this broker will not honour for this key.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// The callback's `state` is missing, expired, tampered or already used.
    #[error("the state is missing, expired, invalid or already used")]
    InvalidState,
    #[error("scope must be a space-separated subset of the broker's configured scopes")]
    InvalidScope,
    /// The replay cache cannot answer; refusing is the safe side.
    #[error("the replay check is unavailable; retry later")]
    ReplayCheckUnavailable,
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("the request body is larger than the broker accepts")]
    PayloadTooLarge,
    #[error("too many token requests from this address; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error("the authorization server could not be reached")]
    UpstreamUnreachable,
    #[error("the authorization server answered something that is not a JSON token response (status {status})")]
    UpstreamInvalidResponse { status: u16 },
    #[error("the authorization server did not answer in time")]
    UpstreamTimeout,
    /// Randomness or encoding failed: nothing the client did.
    #[error("the broker could not complete the request")]
    Internal,
    #[error("no such route")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
}

impl Refusal {
    /// The stable machine-readable code (the `error` field).
    pub fn code(&self) -> &'static str {
        match self {
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::RedirectUriNotAllowed => "redirect_uri_not_allowed",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidState => "invalid_state",
            Self::InvalidScope => "invalid_scope",
            Self::ReplayCheckUnavailable => "replay_check_unavailable",
            Self::InvalidRequest(_) => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::UpstreamUnreachable => "upstream_unreachable",
            Self::UpstreamInvalidResponse { .. } => "upstream_invalid_response",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Internal => "internal_error",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::RedirectUriNotAllowed
            | Self::UnsupportedGrantType
            | Self::InvalidRequest(_)
            | Self::InvalidDpopProof(_)
            | Self::InvalidGrant(_)
            | Self::InvalidState
            | Self::InvalidScope => StatusCode::BAD_REQUEST,
            Self::ReplayCheckUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamUnreachable | Self::UpstreamInvalidResponse { .. } => {
                StatusCode::BAD_GATEWAY
            }
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        })
        .unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        match self {
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Self::ReplayCheckUnavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(REPLAY_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response.extensions_mut().insert(RefusalCode(self.code()));
        response
    }
}

/// Attached to refusal responses so the access log can name the code without parsing bodies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RefusalCode(pub &'static str);

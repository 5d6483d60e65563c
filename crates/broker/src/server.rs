//! Routes, middleware and handlers.

use crate::config::{BrokerConfig, Validated, MAX_BODY_BYTES};
use crate::error::{Refusal, RefusalCode};
use crate::grant;
use crate::rate_limit::RateLimiter;
use crate::upstream::Upstream;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// The audience every Atlassian 3LO authorize URL carries.
const AUDIENCE: &str = "api.atlassian.com";

pub(crate) struct App {
    upstream: Upstream,
    allowed_origins: HashSet<String>,
    allowed_redirect_uris: HashSet<String>,
    limiter: Option<RateLimiter>,
    client_ip_header: Option<HeaderName>,
    /// `GET /v1/client` never changes while running, so it is rendered once.
    client_info: Bytes,
}

#[derive(serde::Serialize)]
struct ClientInfo<'a> {
    client_id: &'a str,
    audience: &'a str,
    scopes: &'a [String],
    redirect_uris: &'a [String],
}

/// The client address used for rate limiting and the access log.
#[derive(Clone, Copy, Debug)]
struct ClientIp(IpAddr);

/// What a token request turned into, for the access log (no values, only kinds).
#[derive(Clone, Copy, Debug)]
struct TokenOutcome {
    grant_type: &'static str,
    upstream_status: Option<u16>,
}

pub(crate) fn router(config: &BrokerConfig, validated: Validated) -> std::io::Result<Router> {
    let client_info = serde_json::to_vec(&ClientInfo {
        client_id: &config.client_id,
        audience: AUDIENCE,
        scopes: &config.scopes,
        redirect_uris: &config.allowed_redirect_uris,
    })
    .map_err(std::io::Error::other)?;
    let upstream = Upstream::new(
        validated.token_url,
        config.client_id.clone(),
        config.client_secret.clone(),
        config.upstream_timeout,
    )?;
    let app = Arc::new(App {
        upstream,
        allowed_origins: validated.allowed_origins,
        allowed_redirect_uris: validated.allowed_redirect_uris,
        limiter: (config.rate_limit_per_minute > 0)
            .then(|| RateLimiter::new(config.rate_limit_per_minute)),
        client_ip_header: validated.client_ip_header,
        client_info: client_info.into(),
    });
    Ok(Router::new()
        .route("/oauth/token", post(token))
        .route("/v1/client", get(client))
        .route("/healthz", get(healthz))
        .fallback(|| async { Refusal::NotFound })
        .method_not_allowed_fallback(|| async { Refusal::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(app.clone(), cors))
        .layer(middleware::from_fn_with_state(app.clone(), access_log))
        .with_state(app))
}

async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        Bytes::from_static(br#"{"status":"ok"}"#),
        "no-store",
    )
}

async fn client(State(app): State<Arc<App>>) -> Response {
    json_response(
        StatusCode::OK,
        app.client_info.clone(),
        "public, max-age=60",
    )
}

async fn token(
    State(app): State<Arc<App>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    if let Some(limiter) = &app.limiter {
        limiter
            .check(ip)
            .map_err(|retry_after_secs| Refusal::RateLimited { retry_after_secs })?;
    }
    let body = read_body(&headers, body).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let grant = grant::parse(content_type, &body, &app.allowed_redirect_uris)?;
    let mut outcome = TokenOutcome {
        grant_type: grant.grant_type(),
        upstream_status: None,
    };
    let result = app.upstream.exchange(&grant).await;
    let mut response = match result {
        Ok(answer) => {
            outcome.upstream_status = Some(answer.status.as_u16());
            let mut response = json_response(answer.status, answer.body.into(), "no-store");
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            if let Some(retry_after) = answer.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after);
            }
            response
        }
        Err(refusal) => {
            if let Refusal::UpstreamInvalidResponse { status } = refusal {
                outcome.upstream_status = Some(status);
            }
            refusal.into_response()
        }
    };
    response.extensions_mut().insert(outcome);
    Ok(response)
}

/// Reads at most [`MAX_BODY_BYTES`]; a declared or actual larger body is a 413.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Vec<u8>, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(Refusal::PayloadTooLarge);
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(512).min(MAX_BODY_BYTES as u64) as usize);
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame =
            frame.map_err(|_| Refusal::InvalidRequest("the request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_BODY_BYTES {
                return Err(Refusal::PayloadTooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

fn json_response(status: StatusCode, body: Bytes, cache_control: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

/// CORS by allow-list. No `Origin` (curl, servers) passes without CORS headers; an allowed origin
/// gets them (and its preflight answered); any other origin gets a 403 and no CORS headers, so
/// the request never reaches a handler.
async fn cors(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return response;
    };
    let allowed = origin
        .to_str()
        .is_ok_and(|o| app.allowed_origins.contains(o));
    if !allowed {
        let mut response = Refusal::OriginNotAllowed.into_response();
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return response;
    }
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if is_preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// The client address: the TCP peer, or the last address in the trusted proxy's header.
fn client_ip(app: &App, request: &Request) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let Some(name) = &app.client_ip_header else {
        return peer;
    };
    // The proxy appends the address it saw, so the last entry is the one it vouches for.
    request
        .headers()
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer)
}

/// One structured line per request. Only fixed route names are logged, never a query string,
/// header value or body, so no code, token or secret can reach the log.
async fn access_log(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let ip = client_ip(&app, &request);
    request.extensions_mut().insert(ClientIp(ip));
    let method = request.method().clone();
    let route = match request.uri().path() {
        "/oauth/token" => "/oauth/token",
        "/v1/client" => "/v1/client",
        "/healthz" => "/healthz",
        _ => "<other>",
    };
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = response.extensions().get::<RefusalCode>().map(|c| c.0);
    let outcome = response.extensions().get::<TokenOutcome>().copied();
    let grant_type = outcome.map(|o| o.grant_type);
    let upstream_status = outcome.and_then(|o| o.upstream_status);
    if route == "/healthz" {
        tracing::debug!(%method, route, status, latency_ms, "request");
    } else if status >= 500 {
        tracing::warn!(%method, route, status, latency_ms, client = %ip, error, grant_type, upstream_status, "request");
    } else {
        tracing::info!(%method, route, status, latency_ms, client = %ip, error, grant_type, upstream_status, "request");
    }
    response
}

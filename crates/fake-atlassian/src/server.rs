//! The listener, the router and the cross-cutting middleware (counting, loopback guard, CORS).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, map_response, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use axum::{Json, Router};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::{self, jira};
use crate::state::AppState;
use crate::{admin, auth, faults, quota, token};

macro_rules! jira_path {
    ($p:literal) => {
        concat!("/ex/jira/{cloudId}/rest/api/3", $p)
    };
}

/// Every served `"<METHOD> <route template>"` (the keys of `/__admin/stats` and fault routes).
pub(crate) const ROUTES: &[&str] = &[
    "GET /authorize",
    "POST /authorize/consent",
    "POST /oauth/token",
    "GET /oauth/token/accessible-resources",
    "GET /me",
    concat!("GET ", jira_path!("/myself")),
    concat!("GET ", jira_path!("/search/jql")),
    concat!("POST ", jira_path!("/search/jql")),
    concat!("POST ", jira_path!("/search/approximate-count")),
    concat!("GET ", jira_path!("/search")),
    concat!("POST ", jira_path!("/search")),
    concat!("POST ", jira_path!("/issue")),
    concat!("GET ", jira_path!("/issue/{issueIdOrKey}")),
    concat!("PUT ", jira_path!("/issue/{issueIdOrKey}")),
    concat!("GET ", jira_path!("/issue/{issueIdOrKey}/comment")),
    concat!("POST ", jira_path!("/issue/{issueIdOrKey}/comment")),
    concat!("GET ", jira_path!("/issue/{issueIdOrKey}/transitions")),
    concat!("POST ", jira_path!("/issue/{issueIdOrKey}/transitions")),
    concat!("PUT ", jira_path!("/issue/{issueIdOrKey}/assignee")),
    concat!("GET ", jira_path!("/issue/{issueIdOrKey}/watchers")),
    concat!("GET ", jira_path!("/user/assignable/search")),
    concat!("GET ", jira_path!("/project/search")),
    concat!(
        "GET ",
        jira_path!("/issue/createmeta/{projectIdOrKey}/issuetypes")
    ),
];

/// `"<METHOD> <route template>"` of a routed request.
pub(crate) fn route_key(req: &Request) -> Option<String> {
    let path = req.extensions().get::<MatchedPath>()?;
    Some(format!("{} {}", req.method(), path.as_str()))
}

pub(crate) fn router(app: AppState) -> Router {
    let api_routes = Router::new()
        .route(
            "/oauth/token/accessible-resources",
            get(api::accessible_resources),
        )
        .route("/me", get(api::me))
        .route(jira_path!("/myself"), get(jira::myself))
        .route(
            jira_path!("/search/jql"),
            get(jira::search_get).post(jira::search_post),
        )
        .route(
            jira_path!("/search/approximate-count"),
            post(jira::approximate_count),
        )
        .route(
            jira_path!("/search"),
            get(jira::removed_search).post(jira::removed_search),
        )
        .route(jira_path!("/issue"), post(jira::create_issue))
        .route(
            jira_path!("/issue/{issueIdOrKey}"),
            get(jira::get_issue).put(jira::edit_issue),
        )
        .route(
            jira_path!("/issue/{issueIdOrKey}/comment"),
            get(jira::get_comments).post(jira::add_comment),
        )
        .route(
            jira_path!("/issue/{issueIdOrKey}/transitions"),
            get(jira::get_transitions).post(jira::do_transition),
        )
        .route(
            jira_path!("/issue/{issueIdOrKey}/assignee"),
            axum::routing::put(jira::assign),
        )
        .route(
            jira_path!("/issue/{issueIdOrKey}/watchers"),
            get(jira::watchers),
        )
        .route(
            jira_path!("/user/assignable/search"),
            get(jira::assignable_users),
        )
        .route(jira_path!("/project/search"), get(jira::project_search))
        .route(
            jira_path!("/issue/createmeta/{projectIdOrKey}/issuetypes"),
            get(jira::createmeta_issuetypes),
        )
        .route_layer(from_fn_with_state(app.clone(), api::rate_limit))
        .route_layer(from_fn_with_state(app.clone(), faults::inject))
        // Outside the faults: an injected 503 still counts and carries the quota headers.
        .route_layer(from_fn_with_state(app.clone(), quota::meter))
        .route_layer(api_cors())
        .route_layer(from_fn_with_state(app.clone(), count));

    let auth_routes = Router::new()
        .route("/authorize", get(auth::authorize))
        .route("/authorize/consent", post(auth::consent))
        .route_layer(from_fn_with_state(app.clone(), faults::inject))
        .route_layer(map_response(allow_any_origin))
        .route_layer(from_fn_with_state(app.clone(), count));

    let token_routes = Router::new()
        .route("/oauth/token", post(token::token))
        .route_layer(from_fn_with_state(app.clone(), faults::inject))
        .route_layer(from_fn_with_state(app.clone(), count));

    // Loopback-only and never counted: the harness's own controls.
    let admin_routes = Router::new()
        .route("/__admin/stats", get(admin::stats))
        .route("/__admin/reset", post(admin::reset))
        .route(
            "/__admin/clock",
            get(admin::clock_get).post(admin::clock_advance),
        )
        .route(
            "/__admin/settings",
            get(admin::settings_get).post(admin::settings_post),
        )
        .route(
            "/__admin/faults",
            get(admin::faults_get)
                .post(admin::faults_post)
                .delete(admin::faults_clear),
        )
        .route("/__admin/revoke", post(admin::revoke))
        .route(
            "/__admin/quota",
            get(admin::quota_get).post(admin::quota_set),
        )
        .route("/__admin/callback-url", post(admin::set_callback_url))
        .route(
            "/__admin/issued-refresh-tokens",
            get(admin::issued_refresh_tokens),
        )
        .route("/__test/callback", get(test_callback))
        .route_layer(from_fn(loopback_only))
        .route_layer(CorsLayer::permissive());

    Router::new()
        .merge(api_routes)
        .merge(auth_routes)
        .merge(token_routes)
        .merge(admin_routes)
        .fallback(api::not_found)
        .with_state(app)
}

/// CORS as api.atlassian.com sends it: the caller's origin echoed, bearer + JSON allowed, and
/// the rate-limit headers exposed so a browser client can honour `Retry-After`.
fn api_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("x-atlassian-token"),
            HeaderName::from_static("x-force-accept-language"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("x-ratelimit-nearlimit"),
            HeaderName::from_static("ratelimit-reason"),
            HeaderName::from_static("beta-ratelimit"),
            HeaderName::from_static("beta-ratelimit-policy"),
            HeaderName::from_static("x-beta-ratelimit-reset"),
            HeaderName::from_static("x-beta-ratelimit-nearlimit"),
            HeaderName::from_static("x-beta-ratelimit-reason"),
        ])
        .max_age(Duration::from_secs(600))
}

/// `/authorize` answers carry `Access-Control-Allow-Origin: *` so a test page can
/// `fetch(authorizeUrl)` and read the final redirect URL.
async fn allow_any_origin(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// Counts every request by route template; CORS preflights go to a separate map.
async fn count(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = route_key(&req) {
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut st = app.lock();
        let map = if preflight {
            &mut st.stats.preflights
        } else {
            &mut st.stats.requests
        };
        match map.get_mut(&key) {
            Some(n) => *n += 1,
            None => {
                map.insert(key, 1);
            }
        }
    }
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let resp = next.run(req).await;
    // Route templates only: query strings and concrete paths could carry codes or states.
    tracing::debug!(%method, route = path.as_deref().unwrap_or("?"), status = resp.status().as_u16(), "request");
    resp
}

/// The admin API and the test callback answer only to clients on this machine.
async fn loopback_only(
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
    next: Next,
) -> Response {
    if is_loopback(conn.peer.ip()) {
        next.run(req).await
    } else {
        (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": "the admin API answers loopback clients only"})),
        )
            .into_response()
    }
}

pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// Where browser tests send the authorization redirect: a 200 the page can read.
async fn test_callback() -> Response {
    let mut resp = Json(serde_json::json!({"ok": true})).into_response();
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// Per-connection facts handed to handlers: the peer address (loopback guard) and a switch
/// that makes the connection fail its next read or write (the "drop" fault).
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    pub peer: SocketAddr,
    killed: Arc<AtomicBool>,
}

impl ConnInfo {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, FakeListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, FakeListener>) -> Self {
        ConnInfo {
            peer: *stream.remote_addr(),
            killed: stream.io().killed.clone(),
        }
    }
}

/// A TCP listener whose connections can be killed from a handler.
pub(crate) struct FakeListener {
    inner: TcpListener,
}

impl FakeListener {
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(FakeListener {
            inner: TcpListener::bind(addr).await?,
        })
    }
}

impl Listener for FakeListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small JSON answers must leave at once, not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    return (
                        KillableStream {
                            inner: stream,
                            killed: Arc::new(AtomicBool::new(false)),
                        },
                        addr,
                    );
                }
                Err(e) if is_per_connection_error(&e) => continue,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::error!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A `TcpStream` that fails every operation once killed, so hyper closes the connection
/// without writing the response.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn dead(&self) -> Option<io::Error> {
        self.killed.load(Ordering::SeqCst).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by fault injection",
            )
        })
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("127.8.9.10".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("192.0.2.2".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!is_loopback("2001:db8::1".parse().unwrap()));
    }
}

//! Routes, middleware and handlers.

use crate::config::{BrokerConfig, Validated, MAX_BODY_BYTES};
use crate::dpop::{self, VerifiedProof, JTI_TTL_SECS};
use crate::error::{Refusal, RefusalCode};
use crate::flow::{
    self, RefreshPayload, StatePayload, TicketPayload, STATE_LIFETIME_SECS, TICKET_LIFETIME_SECS,
};
use crate::grant::{self, Grant};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::redis_store::RedisStore;
use crate::replay::{namespace, MemoryReplayCache, ReplayCache};
use crate::seal::{Purpose, Sealer};
use crate::upstream::{TokenSuccess, Upstream, UpstreamGrant};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The audience every Atlassian 3LO authorize URL carries.
const AUDIENCE: &str = "api.atlassian.com";
/// The broker's callback route: `{public_url}/oauth/callback` is registered at Atlassian.
pub(crate) const CALLBACK_PATH: &str = "/oauth/callback";
const AUTHORIZE_PATH: &str = "/v1/authorize";
/// `GET {public_url}/oauth/start?scope=…&state=…` redirects to Atlassian's authorize URL: a
/// first URL without a `redirect_uri` parameter, for Firefox's `launchWebAuthFlow`, which
/// refuses a URL whose `redirect_uri` is not the extension's own redirect URL.
const START_PATH: &str = "/oauth/start";
const TOKEN_PATH: &str = "/oauth/token";
/// Replay records outlive what they guard by this much (clock steps, slow requests).
const REPLAY_MARGIN_SECS: u64 = 60;

pub(crate) struct App {
    upstream: Upstream,
    allowed_origins: HashSet<String>,
    allowed_redirect_uris: HashSet<String>,
    limiter: Limiter,
    metrics: Arc<Metrics>,
    /// Set when the state is shared through Redis (`/readyz` pings it).
    redis: Option<Arc<RedisStore>>,
    client_ip_header: Option<HeaderName>,
    /// `GET /v1/client` never changes while running, so it is rendered once.
    client_info: Bytes,
    client_id: String,
    scopes: Vec<String>,
    sealer: Sealer,
    replay: Arc<dyn ReplayCache>,
    /// `{auth_base_url}/authorize`.
    authorize_endpoint: url::Url,
    /// `{public_url}/oauth/callback`, the `redirect_uri` of every code.
    callback_url: String,
    /// `{public_url}/oauth/start`.
    start_url: String,
    /// What a proof's `htu` must name, per route.
    htu_authorize: url::Url,
    htu_token: url::Url,
    clock: crate::config::WallClock,
}

#[derive(serde::Serialize)]
struct ClientInfo<'a> {
    client_id: &'a str,
    audience: &'a str,
    scopes: &'a [String],
    redirect_uris: &'a [String],
}

/// Where the per-client rate limit is kept.
enum Limiter {
    Off,
    Memory(RateLimiter),
    /// Shared by every instance using the same Redis and prefix.
    Redis {
        store: Arc<RedisStore>,
        per_minute: u32,
    },
}

/// The routers of one broker: the public one, and `GET /metrics` alone when it has a
/// listener of its own.
pub(crate) struct Routers {
    pub main: Router,
    pub metrics: Option<Router>,
}

/// The client address used for rate limiting and the access log.
#[derive(Clone, Copy, Debug)]
struct ClientIp(IpAddr);

/// What a token or callback request turned into, for the access log (kinds, never values).
#[derive(Clone, Copy, Debug)]
struct TokenOutcome {
    grant_type: &'static str,
    upstream_status: Option<u16>,
    /// The `#error=` code a callback redirected with (sanitized, so safe to log).
    redirect_error: Option<&'static str>,
}

impl TokenOutcome {
    fn new(grant_type: &'static str) -> Self {
        Self {
            grant_type,
            upstream_status: None,
            redirect_error: None,
        }
    }
}

/// Builds the router. `public_base` is the validated public URL without a trailing `/`.
pub(crate) fn router(
    config: &BrokerConfig,
    validated: Validated,
    public_base: &str,
) -> std::io::Result<Routers> {
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
    let htu = |path: &str| {
        url::Url::parse(&format!("{public_base}{path}")).map_err(std::io::Error::other)
    };
    let sealing_keys = if config.sealing_keys.is_empty() {
        tracing::warn!(
            "no sealing keys configured (BROKER_SEALING_KEYS): using a random key for this \
             process only; a restart signs everyone out (demo use only)"
        );
        vec![crate::seal::SealingKey::random("ephemeral")?]
    } else {
        config.sealing_keys.clone()
    };
    let metrics = Arc::new(Metrics::new()?);
    let redis = match &config.redis_url {
        Some(url) => Some(Arc::new(RedisStore::new(
            url.expose(),
            &config.redis_prefix,
            config.redis_timeout,
            metrics.clone(),
        )?)),
        None => None,
    };
    let replay: Arc<dyn ReplayCache> = match (&config.replay_cache, &redis) {
        (Some(shared), _) => shared.0.clone(),
        (None, Some(store)) => store.clone(),
        (None, None) => Arc::new(MemoryReplayCache::new(config.replay_capacity)),
    };
    let limiter = match (config.rate_limit_per_minute, &redis) {
        (0, _) => Limiter::Off,
        (per_minute, Some(store)) => Limiter::Redis {
            store: store.clone(),
            per_minute,
        },
        (per_minute, None) => Limiter::Memory(RateLimiter::new(per_minute)),
    };
    let app = Arc::new(App {
        upstream,
        allowed_origins: validated.allowed_origins,
        allowed_redirect_uris: validated.allowed_redirect_uris,
        limiter,
        metrics,
        redis,
        client_ip_header: validated.client_ip_header,
        client_info: client_info.into(),
        client_id: config.client_id.clone(),
        scopes: config.scopes.clone(),
        sealer: Sealer::new(&sealing_keys),
        replay,
        authorize_endpoint: validated.authorize_url,
        callback_url: format!("{public_base}{CALLBACK_PATH}"),
        start_url: format!("{public_base}{START_PATH}"),
        htu_authorize: htu(AUTHORIZE_PATH)?,
        htu_token: htu(TOKEN_PATH)?,
        clock: config.clock.clone(),
    });
    let separate_metrics = config.metrics_listen.is_some();
    let mut main = Router::new()
        .route(TOKEN_PATH, post(token))
        .route(AUTHORIZE_PATH, post(authorize))
        .route(CALLBACK_PATH, get(callback))
        .route(START_PATH, get(start))
        .route("/v1/client", get(client))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if !separate_metrics {
        main = main.route(METRICS_PATH, get(metrics_text));
    }
    let main = main
        .fallback(|| async { Refusal::NotFound })
        .method_not_allowed_fallback(|| async { Refusal::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(app.clone(), cors))
        .layer(middleware::from_fn_with_state(app.clone(), date))
        .layer(middleware::from_fn_with_state(app.clone(), access_log))
        .with_state(app.clone());
    let metrics = separate_metrics.then(|| {
        Router::new()
            .route(METRICS_PATH, get(metrics_text))
            .fallback(|| async { Refusal::NotFound })
            .with_state(app)
    });
    Ok(Routers { main, metrics })
}

const METRICS_PATH: &str = "/metrics";

impl App {
    /// In Redis, the limit fails open: a Redis that cannot answer lets the request through
    /// (with a warning and `broker_rate_limit_fail_open_total`).
    async fn rate_limit(&self, ip: IpAddr) -> Result<(), Refusal> {
        let decision = match &self.limiter {
            Limiter::Off => Ok(()),
            Limiter::Memory(limiter) => limiter.check(ip),
            Limiter::Redis { store, per_minute } => {
                match store
                    .rate_limit(crate::rate_limit::bucket_key(ip), *per_minute)
                    .await
                {
                    Ok(decision) => decision,
                    Err(_) => {
                        self.metrics.rate_limit_fail_open.inc();
                        Ok(())
                    }
                }
            }
        };
        decision.map_err(|retry_after_secs| {
            self.metrics.rate_limited.inc();
            Refusal::RateLimited { retry_after_secs }
        })
    }

    /// The token endpoint call, timed into `broker_upstream_duration_seconds`.
    async fn exchange(
        &self,
        grant: UpstreamGrant<'_>,
    ) -> Result<crate::upstream::UpstreamAnswer, Refusal> {
        let grant_type = match grant {
            UpstreamGrant::AuthorizationCode { .. } => "authorization_code",
            UpstreamGrant::RefreshToken { .. } => "refresh_token",
        };
        let started = Instant::now();
        let answer = self.upstream.exchange(grant).await;
        let result = match &answer {
            Ok(a) if a.success.is_some() => "ok",
            Ok(_) => "error",
            Err(Refusal::UpstreamTimeout) => "timeout",
            Err(Refusal::UpstreamUnreachable) => "unreachable",
            Err(_) => "invalid",
        };
        self.metrics
            .upstream_seconds
            .with_label_values(&[grant_type, result])
            .observe(started.elapsed().as_secs_f64());
        answer
    }

    /// Verifies the request's `DPoP` proof and spends its `jti`.
    async fn proof(&self, headers: &HeaderMap, htu: &url::Url) -> Result<VerifiedProof, Refusal> {
        let values = headers.get_all("dpop").iter().map(HeaderValue::as_bytes);
        let proof = dpop::verify(values, "POST", htu, self.clock.now())?;
        let id = format!("{}:{}", proof.jkt, proof.jti);
        let ttl = Duration::from_secs(JTI_TTL_SECS);
        self.first_use(namespace::DPOP_JTI, &id, ttl)
            .await?
            .then_some(proof)
            .ok_or(Refusal::InvalidDpopProof("the DPoP proof was already used"))
    }

    /// `Ok(false)` for a replay; an unavailable cache refuses the request (fails closed).
    async fn first_use(
        &self,
        namespace: &'static str,
        id: &str,
        ttl: Duration,
    ) -> Result<bool, Refusal> {
        match self.replay.first_use(namespace, id, ttl).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.metrics
                    .replay_refused
                    .with_label_values(&[namespace])
                    .inc();
                Ok(false)
            }
            Err(_) => {
                self.metrics
                    .replay_unavailable
                    .with_label_values(&[namespace])
                    .inc();
                Err(Refusal::ReplayCheckUnavailable)
            }
        }
    }

    /// The token response the client gets: Atlassian's tokens, with the refresh token sealed
    /// to the client's key.
    fn token_response(
        &self,
        jkt: &str,
        access_token: &str,
        expires_in: u64,
        scope: &str,
        refresh_token: Option<&str>,
    ) -> Result<Response, Refusal> {
        let sealed = refresh_token
            .map(|rt| {
                flow::seal_json(
                    &self.sealer,
                    Purpose::Refresh,
                    &RefreshPayload {
                        jkt: jkt.to_string(),
                        refresh_token: rt.to_string(),
                    },
                )
            })
            .transpose()?;
        let body = serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope,
        });
        let mut body = body;
        if let Some(sealed) = sealed {
            body["refresh_token"] = serde_json::Value::String(sealed);
        }
        let mut response = json_response(StatusCode::OK, body.to_string().into(), "no-store");
        response
            .headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        Ok(response)
    }
}

async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        Bytes::from_static(br#"{"status":"ok"}"#),
        "no-store",
    )
}

/// Readiness: with Redis configured, whether it answers a `PING` within the bound. A load
/// balancer takes an instance out while it is not ready (its replay checks would fail
/// closed); `/healthz` stays liveness only.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let (status, body): (StatusCode, &'static [u8]) = match &app.redis {
        None => (StatusCode::OK, br#"{"status":"ready"}"#),
        Some(store) => match store.ping().await {
            Ok(()) => (StatusCode::OK, br#"{"status":"ready","redis":"ok"}"#),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"status":"not_ready","redis":"unavailable"}"#,
            ),
        },
    };
    json_response(status, Bytes::from_static(body), "no-store")
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    let mut response = (StatusCode::OK, app.metrics.render()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn client(State(app): State<Arc<App>>) -> Response {
    json_response(
        StatusCode::OK,
        app.client_info.clone(),
        "public, max-age=60",
    )
}

/// `POST /v1/authorize` body. Unknown fields are ignored.
#[derive(serde::Deserialize)]
struct AuthorizeRequest {
    redirect_uri: String,
    state: String,
    #[serde(default)]
    scope: Option<String>,
}

/// Starts a sign-in: seals where to send the result and for which key, and answers the
/// Atlassian authorize URL that carries it as `state`.
async fn authorize(
    State(app): State<Arc<App>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    app.rate_limit(ip).await?;
    let body = read_body(&headers, body).await?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Refusal::InvalidRequest(
            "Content-Type must be application/json",
        ));
    }
    let request: AuthorizeRequest = serde_json::from_slice(&body).map_err(|_| {
        Refusal::InvalidRequest("the body must be a JSON object with string redirect_uri and state")
    })?;
    if !app.allowed_redirect_uris.contains(&request.redirect_uri) {
        return Err(Refusal::RedirectUriNotAllowed);
    }
    if !flow::valid_client_state(&request.state) {
        return Err(Refusal::InvalidRequest(
            "state must be 1 to 512 printable ASCII characters without spaces",
        ));
    }
    let scope = flow::resolve_scope(request.scope.as_deref(), &app.scopes)?;
    let proof = app.proof(&headers, &app.htu_authorize).await?;
    let sealed_state = flow::seal_json(
        &app.sealer,
        Purpose::State,
        &StatePayload {
            jkt: proof.jkt,
            redirect_uri: request.redirect_uri,
            state: request.state,
            nonce: flow::random_id()?,
            exp: app.clock.now() + STATE_LIFETIME_SECS,
        },
    )?;
    let authorize_url = flow::authorize_url(
        &app.authorize_endpoint,
        &app.client_id,
        &scope,
        &app.callback_url,
        &sealed_state,
    );
    let start_url = format!(
        "{}?scope={}&state={}",
        app.start_url,
        flow::encode(&scope),
        flow::encode(&sealed_state)
    );
    let body = serde_json::json!({ "authorize_url": authorize_url, "start_url": start_url });
    Ok(json_response(
        StatusCode::OK,
        body.to_string().into(),
        "no-store",
    ))
}

/// `GET /oauth/start?scope=…&state=…`: the `start_url` of `POST /v1/authorize`, a redirect to
/// the same Atlassian authorize URL. Only a live state this broker sealed is redirected, and
/// only to the configured authorize endpoint with this app's client id and callback, so it is
/// no open redirect.
async fn start(
    State(app): State<Arc<App>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut response = match start_inner(&app, ip, raw.as_deref()).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn start_inner(app: &App, ip: IpAddr, raw: Option<&str>) -> Result<Response, Refusal> {
    app.rate_limit(ip).await?;
    let (mut scope, mut state, mut repeated) = (None, None, false);
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let slot = match key.as_ref() {
            "scope" => &mut scope,
            "state" => &mut state,
            _ => continue,
        };
        repeated |= slot.is_some();
        *slot = Some(value.into_owned());
    }
    let sealed = state.filter(|_| !repeated).ok_or(Refusal::InvalidState)?;
    let payload: StatePayload =
        flow::open_json(&app.sealer, Purpose::State, &sealed).ok_or(Refusal::InvalidState)?;
    if app.clock.now() >= payload.exp {
        return Err(Refusal::InvalidState);
    }
    let scope = flow::resolve_scope(scope.as_deref(), &app.scopes)?;
    Ok(found(&flow::authorize_url(
        &app.authorize_endpoint,
        &app.client_id,
        &scope,
        &app.callback_url,
        &sealed,
    )))
}

/// The query of `GET /oauth/callback`; a repeated parameter makes it unusable.
#[derive(Default)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    repeated: bool,
}

fn callback_query(raw: Option<&str>) -> CallbackQuery {
    let mut query = CallbackQuery::default();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut query.code,
            "state" => &mut query.state,
            "error" => &mut query.error,
            _ => continue,
        };
        if slot.is_some() {
            query.repeated = true;
        }
        *slot = Some(value.into_owned());
    }
    query
}

/// Atlassian's redirect back. The state says where the result goes; the code is exchanged at
/// once and the tokens continue, sealed in a one-time ticket, in the client's fragment.
async fn callback(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Response {
    let mut outcome = TokenOutcome::new("authorization_code");
    let mut response = match callback_inner(&app, raw.as_deref(), &mut outcome).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response.extensions_mut().insert(outcome);
    response
}

async fn callback_inner(
    app: &App,
    raw: Option<&str>,
    outcome: &mut TokenOutcome,
) -> Result<Response, Refusal> {
    let query = callback_query(raw);
    let state: StatePayload = query
        .state
        .as_deref()
        .filter(|_| !query.repeated)
        .and_then(|s| flow::open_json(&app.sealer, Purpose::State, s))
        .ok_or(Refusal::InvalidState)?;
    let now = app.clock.now();
    if now >= state.exp {
        return Err(Refusal::InvalidState);
    }
    let ttl = Duration::from_secs(state.exp - now + REPLAY_MARGIN_SECS);
    if !app.first_use(namespace::STATE, &state.nonce, ttl).await? {
        return Err(Refusal::InvalidState);
    }
    let redirect_error = |outcome: &mut TokenOutcome, code: &str| {
        outcome.redirect_error = Some(log_name(code));
        found(&flow::fragment_redirect(
            &state.redirect_uri,
            "error",
            code,
            &state.state,
        ))
    };
    if let Some(error) = &query.error {
        // Atlassian's `error_description` is never forwarded: free text from a redirect.
        let code = flow::sanitize_error_code(Some(error));
        return Ok(redirect_error(outcome, code));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(redirect_error(outcome, "invalid_request"));
    };
    let answer = app
        .exchange(UpstreamGrant::AuthorizationCode {
            code,
            redirect_uri: &app.callback_url,
        })
        .await;
    let tokens: TokenSuccess = match answer {
        Ok(answer) => {
            outcome.upstream_status = Some(answer.status.as_u16());
            match answer.success {
                Some(tokens) => tokens,
                None if answer.status.is_server_error() => {
                    return Ok(redirect_error(outcome, "temporarily_unavailable"))
                }
                None => {
                    let code = upstream_error_code(&answer.body);
                    return Ok(redirect_error(outcome, &code));
                }
            }
        }
        Err(Refusal::UpstreamInvalidResponse { status }) => {
            outcome.upstream_status = Some(status);
            return Ok(redirect_error(outcome, "server_error"));
        }
        Err(_) => return Ok(redirect_error(outcome, "temporarily_unavailable")),
    };
    let ticket = flow::seal_json(
        &app.sealer,
        Purpose::Ticket,
        &TicketPayload {
            id: flow::random_id()?,
            jkt: state.jkt.clone(),
            exp: app.clock.now() + TICKET_LIFETIME_SECS,
            access_token: tokens.access_token,
            expires_in: tokens.expires_in,
            scope: tokens.scope,
            refresh_token: tokens.refresh_token,
        },
    )?;
    Ok(found(&flow::fragment_redirect(
        &state.redirect_uri,
        "ticket",
        &ticket,
        &state.state,
    )))
}

/// The `error` code of an Atlassian error body, sanitized.
fn upstream_error_code(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorShape {
        error: Option<String>,
    }
    let parsed = serde_json::from_slice::<ErrorShape>(body).ok();
    flow::sanitize_error_code(parsed.as_ref().and_then(|e| e.error.as_deref())).to_string()
}

/// The access log names only well-known codes; any other (well-formed, forwarded) code is
/// logged as `other`, so nothing a redirect carried can be spelled out in the log.
fn log_name(code: &str) -> &'static str {
    const KNOWN: [&str; 13] = [
        "access_denied",
        "invalid_request",
        "invalid_grant",
        "invalid_scope",
        "invalid_client",
        "unauthorized_client",
        "unsupported_response_type",
        "unsupported_grant_type",
        "server_error",
        "temporarily_unavailable",
        "consent_required",
        "login_required",
        "invalid_error_code",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("other")
}

/// A 302 (not axum's 303) with the given `Location`.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => Refusal::Internal.into_response(),
    }
}

async fn token(
    State(app): State<Arc<App>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut outcome = None;
    let mut response = token_inner(&app, ip, &headers, body, &mut outcome)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    // Refusals too, so the access log names the grant type a refused request asked for.
    if let Some(outcome) = outcome {
        response.extensions_mut().insert(outcome);
    }
    response
}

async fn token_inner(
    app: &App,
    ip: IpAddr,
    headers: &HeaderMap,
    body: Body,
    outcome: &mut Option<TokenOutcome>,
) -> Result<Response, Refusal> {
    app.rate_limit(ip).await?;
    let body = read_body(headers, body).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let grant = grant::parse(content_type, &body)?;
    let outcome = outcome.insert(TokenOutcome::new(grant.grant_type()));
    let proof = app.proof(headers, &app.htu_token).await?;
    match grant {
        Grant::Ticket { ticket } => redeem(app, &proof, &ticket).await,
        Grant::RefreshToken { refresh_token } => {
            refresh(app, &proof, &refresh_token, outcome).await
        }
    }
}

/// A ticket: opened, checked to belong to the proof's key, spent, and turned into tokens.
async fn redeem(app: &App, proof: &VerifiedProof, ticket: &str) -> Result<Response, Refusal> {
    let ticket: TicketPayload = flow::open_json(&app.sealer, Purpose::Ticket, ticket)
        .ok_or(Refusal::InvalidGrant("the ticket is invalid"))?;
    let now = app.clock.now();
    if now >= ticket.exp {
        return Err(Refusal::InvalidGrant("the ticket has expired"));
    }
    // Checked before spending, so a thief's attempt does not burn the owner's ticket.
    if ticket.jkt != proof.jkt {
        return Err(Refusal::InvalidGrant("the ticket is bound to another key"));
    }
    let ttl = Duration::from_secs(ticket.exp - now + REPLAY_MARGIN_SECS);
    if !app.first_use(namespace::TICKET, &ticket.id, ttl).await? {
        return Err(Refusal::InvalidGrant("the ticket was already used"));
    }
    // The access token aged while the ticket waited: announce what is left of its lifetime.
    let age = now.saturating_sub(ticket.exp.saturating_sub(TICKET_LIFETIME_SECS));
    app.token_response(
        &proof.jkt,
        &ticket.access_token,
        ticket.expires_in.saturating_sub(age),
        &ticket.scope,
        ticket.refresh_token.as_deref(),
    )
}

/// A sealed refresh blob: opened and checked against the proof's key before Atlassian is
/// called; the rotated refresh token comes back sealed again.
async fn refresh(
    app: &App,
    proof: &VerifiedProof,
    blob: &str,
    outcome: &mut TokenOutcome,
) -> Result<Response, Refusal> {
    let sealed: RefreshPayload = flow::open_json(&app.sealer, Purpose::Refresh, blob).ok_or(
        Refusal::InvalidGrant("the refresh token is not one this broker issued, or is damaged"),
    )?;
    if sealed.jkt != proof.jkt {
        return Err(Refusal::InvalidGrant(
            "the refresh token is bound to another key",
        ));
    }
    let answer = app
        .exchange(UpstreamGrant::RefreshToken {
            refresh_token: &sealed.refresh_token,
        })
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(refusal) => {
            if let Refusal::UpstreamInvalidResponse { status } = refusal {
                outcome.upstream_status = Some(status);
            }
            return Err(refusal);
        }
    };
    outcome.upstream_status = Some(answer.status.as_u16());
    match answer.success {
        Some(tokens) => {
            // Atlassian sometimes answers without a new refresh token; the old one stays current.
            let rotated = tokens
                .refresh_token
                .as_deref()
                .unwrap_or(&sealed.refresh_token);
            app.token_response(
                &proof.jkt,
                &tokens.access_token,
                tokens.expires_in,
                &tokens.scope,
                Some(rotated),
            )
        }
        None => {
            // Atlassian's own error (e.g. 403 invalid_grant), passed on as it came.
            let mut response = json_response(answer.status, answer.body.into(), "no-store");
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            if let Some(retry_after) = answer.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after);
            }
            Ok(response)
        }
    }
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

/// `Date` from the broker's own clock (the one proofs are judged by), so a client told its proof is
/// too old or too new learns the time to use.
async fn date(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(app.clock.now());
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        response.headers_mut().insert(header::DATE, value);
    }
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
        .is_ok_and(|o| crate::config::origin_allowed(&app.allowed_origins, o));
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
            HeaderValue::from_static("content-type, dpop"),
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
        // `date`: a client whose clock is off learns the broker's time from a refused proof.
        HeaderValue::from_static("retry-after, date"),
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
        TOKEN_PATH => TOKEN_PATH,
        AUTHORIZE_PATH => AUTHORIZE_PATH,
        CALLBACK_PATH => CALLBACK_PATH,
        START_PATH => START_PATH,
        "/v1/client" => "/v1/client",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        METRICS_PATH => METRICS_PATH,
        _ => "<other>",
    };
    app.metrics.in_flight.inc();
    let response = next.run(request).await;
    app.metrics.in_flight.dec();
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = response.extensions().get::<RefusalCode>().map(|c| c.0);
    let outcome = response.extensions().get::<TokenOutcome>().copied();
    let grant_type = outcome.map(|o| o.grant_type);
    let upstream_status = outcome.and_then(|o| o.upstream_status);
    let redirect_error = outcome.and_then(|o| o.redirect_error);
    let outcome_label = error.unwrap_or(match status {
        200..=399 => "ok",
        400..=499 => "client_error",
        _ => "server_error",
    });
    app.metrics
        .requests
        .with_label_values(&[route, status_label(status), outcome_label])
        .inc();
    if matches!(route, "/healthz" | "/readyz" | METRICS_PATH) {
        tracing::debug!(%method, route, status, latency_ms, "request");
    } else if status >= 500 {
        tracing::warn!(%method, route, status, latency_ms, client = %ip, error, grant_type, upstream_status, redirect_error, "request");
    } else {
        tracing::info!(%method, route, status, latency_ms, client = %ip, error, grant_type, upstream_status, redirect_error, "request");
    }
    response
}

/// The status as a fixed label (anything unusual is `other`).
fn status_label(status: u16) -> &'static str {
    const KNOWN: [(u16, &str); 14] = [
        (200, "200"),
        (204, "204"),
        (302, "302"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (413, "413"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    KNOWN
        .iter()
        .find(|(code, _)| *code == status)
        .map(|(_, label)| *label)
        .unwrap_or("other")
}

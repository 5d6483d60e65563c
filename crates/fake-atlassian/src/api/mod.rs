//! api.atlassian.com: the bearer-token gateway (token, site and scope checks, rate limit),
//! `accessible-resources`, `/me`, and the Jira routes in [`jira`].

pub(crate) mod jira;
pub(crate) mod render;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::faults::default_body;
use crate::seed::{SITES, USERS};
use crate::server::route_key;
use crate::state::{AppState, State as World};
use crate::util::iso_minute;

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// The gateway's own error shape: `{"code": 401, "message": "..."}`.
pub(crate) fn gateway_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"code": status.as_u16(), "message": message}),
    )
}

/// Jira's ErrorCollection: `{"errorMessages": [...], "errors": {...}}`.
pub(crate) fn jira_error(status: StatusCode, messages: &[&str], errors: Value) -> Response {
    json_response(
        status,
        &json!({"errorMessages": messages, "errors": errors}),
    )
}

/// Who is calling, established by [`gateway`].
pub(crate) struct Caller {
    pub user: usize,
    /// Index into `State::sites` for `/ex/jira/{cloudId}` routes.
    pub site: usize,
    pub scopes: Vec<String>,
    pub sites: Vec<&'static str>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The gateway checks, in order: a live bearer token (401 "Unauthorized"), the cloud id inside
/// the grant (404, see README), the endpoint's scope (401 "Unauthorized; scope does not match").
pub(crate) fn gateway(
    st: &World,
    headers: &HeaderMap,
    cloud_id: Option<&str>,
    scope: Option<&str>,
) -> Result<Caller, Response> {
    let unauthorized = || gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    let token = bearer(headers).ok_or_else(unauthorized)?;
    let family = st
        .grants
        .access(token, st.now(), st.settings.refresh_leeway_secs)
        .ok_or_else(unauthorized)?;
    let site = match cloud_id {
        Some(id) => {
            let granted = family.sites.contains(&id);
            match st.site(id) {
                Some(i) if granted => i,
                _ => return Err(gateway_error(StatusCode::NOT_FOUND, "Not Found")),
            }
        }
        None => usize::MAX,
    };
    if let Some(scope) = scope {
        if !family.has_scope(scope) {
            return Err(gateway_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized; scope does not match",
            ));
        }
    }
    Ok(Caller {
        user: family.user,
        site,
        scopes: family.scopes.clone(),
        sites: family.sites.clone(),
    })
}

/// `GET /oauth/token/accessible-resources`: one entry per product and site, so a site with
/// Jira and Confluence appears twice under the same id with different scopes. Confluence
/// entries come first: the list has no meaningful order and clients must not assume one.
pub(crate) async fn accessible_resources(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let st = app.lock();
    let caller = match gateway(&st, &headers, None, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    drop(st);
    let pick = |needle: &str| -> Vec<&str> {
        caller
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| s.contains(needle))
            .collect()
    };
    let (jira_scopes, confluence_scopes) = (pick("jira"), pick("confluence"));
    let mut out = Vec::new();
    for id in &caller.sites {
        let Some(info) = SITES.iter().find(|s| s.cloud_id == *id) else {
            continue;
        };
        let entry = |scopes: &[&str]| json!({"id": info.cloud_id, "url": info.url, "name": info.name, "scopes": scopes, "avatarUrl": info.avatar});
        if info.confluence && !confluence_scopes.is_empty() {
            out.push(entry(&confluence_scopes));
        }
        if !jira_scopes.is_empty() {
            out.push(entry(&jira_scopes));
        }
    }
    json_response(StatusCode::OK, &Value::Array(out))
}

/// `GET /me` (scope `read:me`): the User Identity API profile.
pub(crate) async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let st = app.lock();
    let caller = match gateway(&st, &headers, None, Some("read:me")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    drop(st);
    let u = &USERS[caller.user];
    json_response(
        StatusCode::OK,
        &json!({
            "account_type": "atlassian",
            "account_id": u.account_id,
            "email": u.email,
            "name": u.name,
            "picture": format!("https://avatar-management.example/avatars/{}/128.png", u.key),
            "account_status": "active",
            "nickname": u.nickname,
            "zoneinfo": u.time_zone,
            "locale": u.locale.replace('_', "-"),
            "extended_profile": {
                "job_title": u.job_title,
                "organization": "Example Corp",
                "department": u.department,
                "location": u.time_zone.split('/').nth(1).unwrap_or(""),
            },
        }),
    )
}

enum Budget {
    Unlimited,
    Allowed {
        limit: u64,
        remaining: u64,
    },
    Limited {
        limit: u64,
        retry_after: u64,
        reset_at: u64,
    },
}

/// Middleware on API routes: a fixed window of `rate_limit_budget` requests per
/// `rate_limit_window_secs` (fake clock), then 429 with `Retry-After` and `X-RateLimit-*`.
pub(crate) async fn rate_limit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let budget = {
        let mut st = app.lock();
        match st.settings.rate_limit_budget {
            None => Budget::Unlimited,
            Some(limit) => {
                let now = st.now();
                let window = st.settings.rate_limit_window_secs;
                if now >= st.rate.start.saturating_add(window) || now < st.rate.start {
                    st.rate.start = now;
                    st.rate.used = 0;
                }
                let reset_at = st.rate.start + window;
                if st.rate.used >= limit {
                    Budget::Limited {
                        limit,
                        retry_after: (reset_at - now).max(1),
                        reset_at,
                    }
                } else {
                    st.rate.used += 1;
                    Budget::Allowed {
                        limit,
                        remaining: limit - st.rate.used,
                    }
                }
            }
        }
    };
    let put = |resp: &mut Response, name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    };
    match budget {
        Budget::Unlimited => next.run(req).await,
        Budget::Allowed { limit, remaining } => {
            let mut resp = next.run(req).await;
            put(&mut resp, "x-ratelimit-limit", limit.to_string());
            put(&mut resp, "x-ratelimit-remaining", remaining.to_string());
            if remaining * 5 < limit {
                put(&mut resp, "x-ratelimit-nearlimit", "true".to_string());
            }
            resp
        }
        Budget::Limited {
            limit,
            retry_after,
            reset_at,
        } => {
            let key = route_key(&req).unwrap_or_default();
            let (body, ctype) = default_body(&key, StatusCode::TOO_MANY_REQUESTS);
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
            put(&mut resp, "content-type", ctype.to_string());
            put(&mut resp, "retry-after", retry_after.to_string());
            put(&mut resp, "x-ratelimit-limit", limit.to_string());
            put(&mut resp, "x-ratelimit-remaining", "0".to_string());
            put(&mut resp, "x-ratelimit-reset", iso_minute(reset_at));
            put(&mut resp, "x-ratelimit-nearlimit", "true".to_string());
            put(
                &mut resp,
                "ratelimit-reason",
                "jira-quota-based".to_string(),
            );
            resp
        }
    }
}

/// Unknown paths: Jira's ErrorCollection under `/ex/jira/`, the gateway's shape elsewhere.
pub(crate) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/ex/jira/") {
        jira_error(
            StatusCode::NOT_FOUND,
            &["null for uri: the requested resource does not exist"],
            json!({}),
        )
    } else {
        gateway_error(StatusCode::NOT_FOUND, "Not Found")
    }
}

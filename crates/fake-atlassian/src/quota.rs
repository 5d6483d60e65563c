//! Atlassian's points-based quota (2026), as the fake plays it: `POST /__admin/quota` sets a
//! budget of `limit` points per `window_secs` (fake clock), every Jira REST request
//! (`/ex/jira/…`) costs one, and every answer carries the headers Atlassian sends:
//! `Beta-RateLimit-Policy: "tenant-app-quota";q=<limit>;w=<window>`,
//! `Beta-RateLimit: "tenant-app-quota";r=<remaining>;t=<secs to reset>`,
//! `X-Beta-RateLimit-Reset` (ISO minute), `X-Beta-RateLimit-NearLimit: true` below the
//! threshold, `X-Beta-RateLimit-Reason` when a reason is set, and the older `X-RateLimit-*` /
//! `RateLimit-Reason`. Once exhausted: 429 with `Retry-After`, the same headers with `r=0`, and
//! no `Beta-RateLimit-Policy` (Atlassian drops it at zero). `/__admin/reset` lifts the quota.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::faults::default_body;
use crate::server::route_key;
use crate::state::AppState;
use crate::util::iso_minute;

/// The policy name Atlassian's tenant quota carries.
pub(crate) const POLICY: &str = "tenant-app-quota";

/// The body of `POST /__admin/quota` (see [`crate::admin::quota_set`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetQuota {
    limit: u64,
    /// Points left in the current window (default: `limit`).
    #[serde(default)]
    remaining: Option<u64>,
    /// Window length (default 3600, Atlassian's hour).
    #[serde(default)]
    window_secs: Option<u64>,
    /// `X-Beta-RateLimit-Reason` / `RateLimit-Reason` (a token such as `jira-quota-tenant-based`).
    #[serde(default)]
    reason: Option<String>,
    /// `NearLimit: true` while fewer than this many points are left (default: 20% of `limit`).
    #[serde(default)]
    near_limit_below: Option<u64>,
}

/// The quota in force (`GET /__admin/quota` shows it).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Quota {
    pub limit: u64,
    pub remaining: u64,
    pub window_secs: u64,
    pub reason: Option<String>,
    pub near_limit_below: u64,
    /// Fake-clock second the current window started.
    pub window_start: u64,
}

impl Quota {
    fn reset_at(&self) -> u64 {
        self.window_start.saturating_add(self.window_secs)
    }
}

impl SetQuota {
    /// The quota this asks for, with a window starting at `now`; an invalid one is the error.
    pub(crate) fn into_quota(self, now: u64) -> Result<Quota, String> {
        let window_secs = self.window_secs.unwrap_or(3600);
        let remaining = self.remaining.unwrap_or(self.limit);
        if window_secs == 0 {
            return Err("window_secs must be at least 1".into());
        }
        if remaining > self.limit {
            return Err("remaining must not exceed limit".into());
        }
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if self.reason.as_deref().is_some_and(|r| !token(r)) {
            return Err(
                "reason must be a token (letters, digits, - _ .), at most 64 characters".into(),
            );
        }
        Ok(Quota {
            limit: self.limit,
            remaining,
            window_secs,
            reason: self.reason,
            near_limit_below: self.near_limit_below.unwrap_or(self.limit / 5),
            window_start: now,
        })
    }
}

/// Middleware on the API routes: counts Jira REST requests down and adds the headers; answers
/// 429 once nothing is left, until the window ends.
pub(crate) async fn meter(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/ex/jira/") {
        return next.run(req).await;
    }
    let taken = {
        let mut st = app.lock();
        let now = st.now();
        match st.quota.as_mut() {
            None => None,
            Some(q) => {
                if now >= q.reset_at() || now < q.window_start {
                    q.window_start = now;
                    q.remaining = q.limit;
                }
                let allowed = q.remaining > 0;
                if allowed {
                    q.remaining -= 1;
                }
                Some((allowed, q.clone(), now))
            }
        }
    };
    let Some((allowed, quota, now)) = taken else {
        return next.run(req).await;
    };
    let mut resp = if allowed {
        next.run(req).await
    } else {
        let key = route_key(&req).unwrap_or_default();
        let (body, ctype) = default_body(&key, StatusCode::TOO_MANY_REQUESTS);
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        put(&mut resp, "content-type", ctype.to_string());
        resp
    };
    let reset_in = quota.reset_at().saturating_sub(now).max(1);
    let near = quota.remaining < quota.near_limit_below;
    if allowed {
        put(
            &mut resp,
            "beta-ratelimit-policy",
            format!("\"{POLICY}\";q={};w={}", quota.limit, quota.window_secs),
        );
    } else {
        put(&mut resp, "retry-after", reset_in.to_string());
    }
    put(
        &mut resp,
        "beta-ratelimit",
        format!("\"{POLICY}\";r={};t={reset_in}", quota.remaining),
    );
    put(
        &mut resp,
        "x-beta-ratelimit-reset",
        iso_minute(quota.reset_at()),
    );
    put(&mut resp, "x-ratelimit-limit", quota.limit.to_string());
    put(
        &mut resp,
        "x-ratelimit-remaining",
        quota.remaining.to_string(),
    );
    put(&mut resp, "x-ratelimit-reset", iso_minute(quota.reset_at()));
    if near {
        put(&mut resp, "x-beta-ratelimit-nearlimit", "true".to_string());
        put(&mut resp, "x-ratelimit-nearlimit", "true".to_string());
    }
    if let Some(reason) = &quota.reason {
        put(&mut resp, "x-beta-ratelimit-reason", reason.clone());
        put(&mut resp, "ratelimit-reason", reason.clone());
    }
    resp
}

fn put(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

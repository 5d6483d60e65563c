//! The admin API under `/__admin/` (loopback only, never counted): counters, reset, clock,
//! settings, fault injection, revocation, runtime redirect URIs.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::DEMO_CLIENT_ID;
use crate::faults::FaultRequest;
use crate::quota::SetQuota;
use crate::seed;
use crate::state::{AppState, RateWindow, SettingsPatch};

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

/// Parses a JSON body; an empty body means `{}`.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid body: {e}")))
}

/// `GET /__admin/stats`.
pub(crate) async fn stats(State(app): State<AppState>) -> Response {
    Json(app.lock().stats.clone()).into_response()
}

/// `POST /__admin/reset`.
pub(crate) async fn reset(State(app): State<AppState>) -> Response {
    app.reset();
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_secs: u64,
}

/// `GET /__admin/clock` → `{"now", "offset_secs"}`.
pub(crate) async fn clock_get(State(app): State<AppState>) -> Response {
    let st = app.lock();
    Json(json!({"now": st.now(), "offset_secs": st.clock_offset})).into_response()
}

/// `POST /__admin/clock` `{"advance_secs": N}` → `{"now": <unix secs>}`.
pub(crate) async fn clock_advance(State(app): State<AppState>, bytes: Bytes) -> Response {
    let a: Advance = match body(&bytes) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut st = app.lock();
    st.clock_offset = st.clock_offset.saturating_add(a.advance_secs);
    Json(json!({"now": st.now(), "offset_secs": st.clock_offset})).into_response()
}

/// `GET /__admin/settings`.
pub(crate) async fn settings_get(State(app): State<AppState>) -> Response {
    Json(app.lock().settings.clone()).into_response()
}

/// `POST /__admin/settings` with any subset of the settings; returns all of them.
pub(crate) async fn settings_post(State(app): State<AppState>, bytes: Bytes) -> Response {
    let patch: SettingsPatch = match body(&bytes) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let touches_rate = patch.rate_limit_budget.is_some() || patch.rate_limit_window_secs.is_some();
    let mut st = app.lock();
    if let Err(e) = st.settings.apply(patch) {
        return bad(e);
    }
    if touches_rate {
        // A new budget starts a fresh window.
        st.rate = RateWindow::default();
    }
    Json(st.settings.clone()).into_response()
}

/// `GET /__admin/faults`: pending faults.
pub(crate) async fn faults_get(State(app): State<AppState>) -> Response {
    let st = app.lock();
    let list: Vec<Value> = st
        .faults
        .iter()
        .map(|f| json!({"route": f.route, "remaining": f.remaining, "fault": format!("{:?}", f.fault)}))
        .collect();
    Json(Value::Array(list)).into_response()
}

/// `POST /__admin/faults` `{"route", "count"?, "fault"}`.
pub(crate) async fn faults_post(State(app): State<AppState>, bytes: Bytes) -> Response {
    let req: FaultRequest = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match req.into_pending() {
        Ok(pending) => {
            let mut st = app.lock();
            st.faults.push(pending);
            Json(json!({"pending": st.faults.len()})).into_response()
        }
        Err(e) => bad(e),
    }
}

/// `DELETE /__admin/faults`: drops every pending fault.
pub(crate) async fn faults_clear(State(app): State<AppState>) -> Response {
    app.lock().faults.clear();
    Json(json!({"pending": 0})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    #[serde(default)]
    user: Option<String>,
}

/// `POST /__admin/revoke` `{"user"?}`: the grant is gone (like revoking the app in the
/// Atlassian account settings): refresh → invalid_grant, access tokens → 401.
pub(crate) async fn revoke(State(app): State<AppState>, bytes: Bytes) -> Response {
    let r: Revoke = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let user = match r.user.as_deref() {
        None => None,
        Some(key) => match seed::user_by_key(key) {
            Some(u) => Some(u),
            None => return bad(format!("unknown user `{key}`")),
        },
    };
    let revoked = app.lock().grants.revoke(user);
    Json(json!({"revoked": revoked})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCallback {
    #[serde(default)]
    client_id: Option<String>,
    uri: String,
}

/// `POST /__admin/callback-url` `{"client_id"?: "demo-client", "uri"}`: sets the app's one
/// callback URL at runtime, replacing the previous one (kept across reset, like the
/// registration it models).
pub(crate) async fn set_callback_url(State(app): State<AppState>, bytes: Bytes) -> Response {
    let r: SetCallback = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let client_id = r.client_id.unwrap_or_else(|| DEMO_CLIENT_ID.to_string());
    let uri = r.uri.replace("{base}", &app.base_url);
    let mut st = app.lock();
    let Some(registered) = st.apps.iter_mut().find(|a| a.client_id == client_id) else {
        return bad(format!("unknown client_id `{client_id}`"));
    };
    registered.callback_url = Some(uri);
    Json(json!({"client_id": client_id, "callback_url": registered.callback_url})).into_response()
}

/// `GET /__admin/issued-refresh-tokens`: every refresh token value the fake ever issued, oldest
/// first (survives reset). Lets a test prove no raw one reached browser storage.
pub(crate) async fn issued_refresh_tokens(State(app): State<AppState>) -> Response {
    Json(app.lock().issued_refresh_tokens.clone()).into_response()
}

/// `GET /__admin/quota`: the points-based quota in force (see [`crate::quota`]), or `null`.
pub(crate) async fn quota_get(State(app): State<AppState>) -> Response {
    Json(app.lock().quota.clone()).into_response()
}

/// `POST /__admin/quota` `{"limit", "remaining"?: limit, "window_secs"?: 3600, "reason"?,
/// "near_limit_below"?: limit / 5}`: from now on every Jira REST request costs a point and
/// carries the quota headers; a new window starts now. → the quota in force.
pub(crate) async fn quota_set(State(app): State<AppState>, bytes: Bytes) -> Response {
    let req: SetQuota = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut st = app.lock();
    match req.into_quota(st.now()) {
        Ok(quota) => {
            st.quota = Some(quota.clone());
            Json(quota).into_response()
        }
        Err(e) => bad(e),
    }
}

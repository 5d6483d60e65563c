//! Fault injection (`POST /__admin/faults`): the next N requests matching a route template get
//! a status, a delay, malformed JSON, an HTML page, or a dropped connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::server::{route_key, ConnInfo, ROUTES};
use crate::state::AppState;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Fault {
    /// Answer with this status and Atlassian's body shape for the route (or `body` verbatim).
    Status {
        status: u16,
        body: Option<String>,
        retry_after_secs: Option<u64>,
        content_type: Option<String>,
    },
    /// Wait, then handle the request normally.
    Delay { delay_ms: u64 },
    /// 200 with `Content-Type: application/json` and a truncated JSON body.
    MalformedJson,
    /// 200 with an HTML error page instead of JSON (a captive portal or a proxy page).
    Html,
    /// Close the connection without writing a response.
    Drop,
}

pub(crate) struct PendingFault {
    pub route: String,
    pub remaining: u64,
    pub fault: Fault,
}

/// Body of `POST /__admin/faults`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    pub route: String,
    #[serde(default = "one")]
    pub count: u64,
    pub fault: FaultSpec,
}

fn one() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum FaultSpec {
    Named(Named),
    Status(StatusSpec),
    Delay(DelaySpec),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Named {
    MalformedJson,
    Html,
    Drop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusSpec {
    status: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    retry_after_secs: Option<u64>,
    #[serde(default)]
    content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DelaySpec {
    delay_ms: u64,
}

impl FaultRequest {
    /// Checks the route against the served templates, so a typo fails loudly instead of never firing.
    pub fn into_pending(self) -> Result<PendingFault, String> {
        if self.route != "*" && !ROUTES.contains(&self.route.as_str()) {
            return Err(format!(
                "unknown route `{}`: use \"*\" or one of: {}",
                self.route,
                ROUTES.join(", ")
            ));
        }
        if self.count == 0 {
            return Err("count must be at least 1".to_string());
        }
        let fault = match self.fault {
            FaultSpec::Named(Named::MalformedJson) => Fault::MalformedJson,
            FaultSpec::Named(Named::Html) => Fault::Html,
            FaultSpec::Named(Named::Drop) => Fault::Drop,
            FaultSpec::Delay(d) => Fault::Delay {
                delay_ms: d.delay_ms,
            },
            FaultSpec::Status(s) => {
                if StatusCode::from_u16(s.status).is_err() || s.status < 200 {
                    return Err(format!("status {} is not a usable HTTP status", s.status));
                }
                Fault::Status {
                    status: s.status,
                    body: s.body,
                    retry_after_secs: s.retry_after_secs,
                    content_type: s.content_type,
                }
            }
        };
        Ok(PendingFault {
            route: self.route,
            remaining: self.count,
            fault,
        })
    }
}

/// Takes one pending fault for `key` (the first registered that matches), if any.
pub(crate) fn take(faults: &mut Vec<PendingFault>, key: &str) -> Option<Fault> {
    let pos = faults
        .iter()
        .position(|f| f.route == key || f.route == "*")?;
    let entry = &mut faults[pos];
    entry.remaining -= 1;
    let fault = entry.fault.clone();
    if entry.remaining == 0 {
        faults.remove(pos);
    }
    Some(fault)
}

/// The error body Atlassian would send for `status` on this route: OAuth shape on the token
/// endpoint, Jira's ErrorCollection under `/ex/jira`, the gateway's `{code,message}` elsewhere.
pub(crate) fn default_body(route: &str, status: StatusCode) -> (String, &'static str) {
    let reason = status.canonical_reason().unwrap_or("Error");
    let path = route.split_once(' ').map_or(route, |(_, p)| p);
    if path == "/oauth/token" {
        let error = match status.as_u16() {
            400 => "invalid_request",
            401 => "access_denied",
            403 => "invalid_grant",
            429 => "too_many_requests",
            503 => "temporarily_unavailable",
            _ => "server_error",
        };
        (
            serde_json::json!({"error": error, "error_description": reason}).to_string(),
            "application/json",
        )
    } else if path.starts_with("/authorize") {
        (
            crate::auth::error_page_html(
                reason,
                "The authorization server had a problem. Try again later.",
            ),
            "text/html; charset=utf-8",
        )
    } else if path.starts_with("/ex/jira/") {
        (
            serde_json::json!({"errorMessages": [reason], "errors": {}}).to_string(),
            "application/json;charset=UTF-8",
        )
    } else {
        (
            serde_json::json!({"code": status.as_u16(), "message": reason}).to_string(),
            "application/json",
        )
    }
}

/// Middleware: applies a pending fault to a matching request.
pub(crate) async fn inject(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = route_key(&req) else {
        return next.run(req).await;
    };
    let Some(fault) = take(&mut app.lock().faults, &key) else {
        return next.run(req).await;
    };
    match fault {
        Fault::Delay { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(req).await
        }
        Fault::Status {
            status,
            body,
            retry_after_secs,
            content_type,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (default, default_type) = default_body(&key, status);
            let ctype = content_type.unwrap_or_else(|| default_type.to_string());
            let mut resp = (status, body.unwrap_or(default)).into_response();
            set(&mut resp, header::CONTENT_TYPE, &ctype);
            if let Some(secs) = retry_after_secs {
                set(&mut resp, header::RETRY_AFTER, &secs.to_string());
            }
            resp
        }
        Fault::MalformedJson => {
            let mut resp = (StatusCode::OK, Body::from(r#"{"access_token": "tru"#)).into_response();
            set(&mut resp, header::CONTENT_TYPE, "application/json");
            resp
        }
        Fault::Html => {
            let page = "<!DOCTYPE html><html><head><title>Something went wrong</title></head>\
                        <body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>";
            let mut resp = (StatusCode::OK, page).into_response();
            set(&mut resp, header::CONTENT_TYPE, "text/html; charset=utf-8");
            resp
        }
        Fault::Drop => {
            if let Some(ConnectInfo(conn)) = req.extensions().get::<ConnectInfo<ConnInfo>>() {
                conn.kill();
            }
            // Never written: the connection refuses the write and hyper closes it.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PendingFault, String> {
        serde_json::from_str::<FaultRequest>(json)
            .map_err(|e| e.to_string())?
            .into_pending()
    }

    #[test]
    fn fault_specs_parse() {
        let f = parse(r#"{"route":"POST /oauth/token","count":2,"fault":{"status":503,"retry_after_secs":3}}"#).unwrap();
        assert_eq!(f.remaining, 2);
        assert!(matches!(
            f.fault,
            Fault::Status {
                status: 503,
                retry_after_secs: Some(3),
                ..
            }
        ));
        assert_eq!(
            parse(r#"{"route":"*","fault":{"delay_ms":5}}"#)
                .unwrap()
                .fault,
            Fault::Delay { delay_ms: 5 }
        );
        assert_eq!(
            parse(r#"{"route":"*","fault":"drop"}"#).unwrap().fault,
            Fault::Drop
        );
        assert_eq!(
            parse(r#"{"route":"*","fault":"html"}"#).unwrap().fault,
            Fault::Html
        );
        assert_eq!(
            parse(r#"{"route":"*","fault":"malformed_json"}"#)
                .unwrap()
                .fault,
            Fault::MalformedJson
        );
        assert!(parse(r#"{"route":"POST /oauth/tokens","fault":"drop"}"#).is_err());
        assert!(parse(r#"{"route":"*","fault":"explode"}"#).is_err());
        assert!(parse(r#"{"route":"*","count":0,"fault":"drop"}"#).is_err());
    }

    #[test]
    fn take_counts_down_in_order() {
        let mut v = vec![
            PendingFault {
                route: "GET /me".into(),
                remaining: 2,
                fault: Fault::Drop,
            },
            PendingFault {
                route: "*".into(),
                remaining: 1,
                fault: Fault::Html,
            },
        ];
        assert_eq!(take(&mut v, "GET /me"), Some(Fault::Drop));
        assert_eq!(take(&mut v, "POST /oauth/token"), Some(Fault::Html));
        assert_eq!(take(&mut v, "POST /oauth/token"), None);
        assert_eq!(take(&mut v, "GET /me"), Some(Fault::Drop));
        assert!(v.is_empty());
    }

    #[test]
    fn default_bodies_follow_the_route() {
        let (b, _) = default_body("POST /oauth/token", StatusCode::SERVICE_UNAVAILABLE);
        assert!(b.contains("temporarily_unavailable"));
        let (b, _) = default_body(
            "GET /ex/jira/{cloudId}/rest/api/3/myself",
            StatusCode::BAD_GATEWAY,
        );
        assert!(b.contains("errorMessages"));
        let (b, _) = default_body("GET /me", StatusCode::SERVICE_UNAVAILABLE);
        assert!(b.contains("\"code\":503"));
    }
}

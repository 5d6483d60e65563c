//! `POST /oauth/token`: the authorization-code and refresh-token grants, with JSON (documented)
//! or form (what many libraries send) bodies, and Atlassian's error payloads (reference §4).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::grants::{GrantError, Policy};
use crate::state::AppState;
use crate::util::ct_eq;

fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    oauth_json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// The request fields, from a JSON object or a form body.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json_like =
        ctype.starts_with("application/json") || (ctype.is_empty() && body.first() == Some(&b'{'));
    if json_like {
        let map: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
        Some(
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Number(n) => Some((k, n.to_string())),
                    _ => None,
                })
                .collect(),
        )
    } else if ctype.is_empty() || ctype.starts_with("application/x-www-form-urlencoded") {
        Some(url::form_urlencoded::parse(body).into_owned().collect())
    } else {
        None
    }
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fields) = parse_body(&headers, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unable to parse the request body",
        );
    };
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let grant_type = get("grant_type");
    let mut st = app.lock();
    match grant_type {
        "authorization_code" | "refresh_token" => {
            *st.stats.grants.entry(grant_type.to_string()).or_insert(0) += 1
        }
        "" => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: grant_type",
            )
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type",
            )
        }
    }
    // Client authentication: credentials in the body only, as documented.
    let client_id = get("client_id");
    let authenticated = st.app(client_id).is_some_and(|a| {
        ct_eq(
            a.client_secret.expose().as_bytes(),
            get("client_secret").as_bytes(),
        )
    });
    if !authenticated {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    let now = st.now();
    let policy = Policy {
        access_lifetime: st.settings.access_token_lifetime_secs,
        leeway: st.settings.refresh_leeway_secs,
        code_lifetime: st.settings.code_lifetime_secs,
    };
    let result = if grant_type == "authorization_code" {
        st.grants
            .exchange_code(client_id, get("code"), get("redirect_uri"), now, policy)
    } else {
        let omit = st.settings.omit_refresh_token_next;
        let r = st
            .grants
            .refresh(client_id, get("refresh_token"), now, policy, omit);
        if r.is_ok() && omit {
            st.settings.omit_refresh_token_next = false;
        }
        r
    };
    match result {
        Ok(issued) => {
            *st.stats
                .grants_ok
                .entry(grant_type.to_string())
                .or_insert(0) += 1;
            if let Some(rt) = &issued.refresh_token {
                st.issued_refresh_tokens.push(rt.clone());
            }
            drop(st);
            let mut body = json!({
                "access_token": issued.access_token,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
                "scope": issued.scope,
            });
            if let Some(rt) = issued.refresh_token {
                body["refresh_token"] = Value::String(rt);
            }
            oauth_json(StatusCode::OK, body)
        }
        Err(GrantError::InvalidCode) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "authorization_code is invalid",
        ),
        Err(GrantError::InvalidRefresh) => oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_grant",
            "Unknown or invalid refresh token.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_as_json_or_form() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        let f = parse_body(&h, br#"{"grant_type":"refresh_token","n":1,"x":{}}"#).unwrap();
        assert_eq!(f["grant_type"], "refresh_token");
        assert_eq!(f["n"], "1");
        assert!(!f.contains_key("x"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let f = parse_body(
            &h,
            b"grant_type=authorization_code&redirect_uri=http%3A%2F%2Fh%2Fcb",
        )
        .unwrap();
        assert_eq!(f["redirect_uri"], "http://h/cb");
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(parse_body(&h, b"grant_type=x").is_none());
        assert!(parse_body(&HeaderMap::new(), br#"{"grant_type":"x"}"#).is_some());
    }
}

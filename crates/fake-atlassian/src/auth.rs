//! `GET /authorize` and the consent page (`POST /authorize/consent`): auth.atlassian.com's
//! browser-facing half.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::ConsentMode;
use crate::grants::Consent;
use crate::seed::{self, USERS};
use crate::state::{AppState, PendingConsent, State as World};
use crate::util::{html_escape, random_token, with_query};

/// How long a shown consent page can still be answered (fake clock).
const CONSENT_PAGE_LIFETIME_SECS: u64 = 3600;

const DENIED: &str = "User did not authorize the request";

fn params(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A 302 to `location` (Atlassian uses 302, not axum's default 303).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The callback URL cannot be used in a redirect.",
        ),
    }
}

/// An HTML error page body.
pub(crate) fn error_page_html(title: &str, detail: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><main><h1 id=\"error-title\">{t}</h1><p id=\"error-detail\">{d}</p></main></body></html>",
        t = html_escape(title),
        d = html_escape(detail)
    )
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    html(status, error_page_html(title, detail))
}

/// Redirect carrying an OAuth error (after the redirect URI has been validated).
fn redirect_error(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    found(&with_query(redirect_uri, &pairs))
}

fn redirect_code(redirect_uri: &str, code: &str, state: Option<&str>) -> Response {
    let mut pairs = vec![("code", code)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    found(&with_query(redirect_uri, &pairs))
}

/// `GET /authorize`.
pub(crate) async fn authorize(State(app): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let q = params(raw.as_deref());
    let mut st = app.lock();
    let client_id = param(&q, "client_id").unwrap_or("");
    let Some(registered) = st.app(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            &format!("unauthorized_client: the client id `{client_id}` is not registered."),
        );
    };
    // Never redirect to an unregistered URI: that would make the fake an open redirector.
    let redirect_uri = param(&q, "redirect_uri").unwrap_or("");
    if registered.callback_url.as_deref() != Some(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Callback URL mismatch",
            &format!("unauthorized_client: Callback URL mismatch. {redirect_uri} is not in the list of allowed callback URLs"),
        );
    }
    let state = param(&q, "state");
    if param(&q, "response_type") != Some("code") {
        return redirect_error(
            redirect_uri,
            "unsupported_response_type",
            "response_type must be code",
            state,
        );
    }
    if param(&q, "audience") != Some("api.atlassian.com") {
        return redirect_error(
            redirect_uri,
            "invalid_request",
            "audience must be api.atlassian.com",
            state,
        );
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in param(&q, "scope").unwrap_or("").split_whitespace() {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    if scopes.is_empty() {
        return redirect_error(redirect_uri, "invalid_scope", "scope is required", state);
    }
    if let Some(bad) = scopes.iter().find(|s| !registered.scopes.contains(s)) {
        let msg = format!("The scope {bad} is not allowed for this app");
        return redirect_error(redirect_uri, "invalid_scope", &msg, state);
    }
    let user = seed::user_by_key(&st.settings.consent_user).unwrap_or(seed::ALICE);
    let now = st.now();
    match st.settings.consent_mode {
        ConsentMode::Auto => {
            let consent = Consent {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                user,
                scopes,
                sites: USERS[user].sites.to_vec(),
            };
            let code = st.grants.issue_code(consent, now);
            redirect_code(redirect_uri, &code, state)
        }
        ConsentMode::Page => {
            let id = random_token(24);
            let page = consent_page(&st, &id, client_id, user, &scopes);
            st.consents.insert(
                id,
                PendingConsent {
                    client_id: client_id.to_string(),
                    redirect_uri: redirect_uri.to_string(),
                    state: state.map(str::to_string),
                    scopes,
                    user,
                    created_at: now,
                },
            );
            html(StatusCode::OK, page)
        }
    }
}

fn scope_description(scope: &str) -> &'static str {
    match scope {
        "read:jira-work" => "View Jira issue data",
        "write:jira-work" => "Create and manage issues",
        "read:jira-user" => "View user profiles",
        "manage:jira-project" => "Manage project settings",
        "manage:jira-configuration" => "Manage Jira global settings",
        "manage:jira-webhook" => "Manage Jira webhooks",
        "read:me" => "View active user profile",
        "offline_access" => "Maintain access to data you have given it access to",
        "read:confluence-content.all" => "Read Confluence content",
        _ => "Additional access",
    }
}

fn consent_page(st: &World, id: &str, client_id: &str, user: usize, scopes: &[String]) -> String {
    let u = &USERS[user];
    let scope_items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code> — {}</li>",
                html_escape(s),
                scope_description(s)
            )
        })
        .collect();
    let sites: Vec<_> = u
        .sites
        .iter()
        .filter_map(|c| st.site(c).map(|i| st.sites[i].info))
        .collect();
    let picker = if sites.len() > 1 {
        let options: String = sites
            .iter()
            .map(|s| {
                format!(
                    "<option value=\"{}\">{} ({})</option>",
                    s.cloud_id,
                    html_escape(s.name),
                    html_escape(s.url)
                )
            })
            .collect();
        format!(
            "<p><label for=\"site\">Use app on</label> <select id=\"site\" name=\"site\">\
             <option value=\"all\" selected>All my sites</option>{options}</select></p>"
        )
    } else {
        sites
            .first()
            .map(|s| {
                format!(
                    "<p id=\"single-site\">Site: {} ({})</p>",
                    html_escape(s.name),
                    html_escape(s.url)
                )
            })
            .unwrap_or_default()
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Authorize {app} (fake Atlassian)</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}}#accept{{background:#0052cc;color:#fff;border:0}}</style>\
         </head><body><main>\
         <h1>{app} is requesting access to your Atlassian account</h1>\
         <p id=\"account\">Signed in as <strong>{name}</strong> ({email})</p>\
         <p>It would like to:</p><ul id=\"scopes\">{scope_items}</ul>\
         <form method=\"post\" action=\"/authorize/consent\">\
         <input type=\"hidden\" name=\"consent\" value=\"{id}\">{picker}\
         <button type=\"submit\" id=\"accept\" name=\"decision\" value=\"accept\">Accept</button>\
         <button type=\"submit\" id=\"cancel\" name=\"decision\" value=\"cancel\">Cancel</button>\
         </form><p><small>This is the local fake Atlassian; no data leaves this machine.</small></p>\
         </main></body></html>",
        app = html_escape(client_id),
        name = html_escape(u.name),
        email = html_escape(u.email),
    )
}

/// `POST /authorize/consent` (form): the Accept / Cancel buttons of the consent page.
pub(crate) async fn consent(State(app): State<AppState>, body: Bytes) -> Response {
    let form = params(std::str::from_utf8(&body).ok());
    let mut st = app.lock();
    let id = param(&form, "consent").unwrap_or("");
    let now = st.now();
    let Some(pending) = st.consents.remove(id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Authorization expired",
            "This authorization request is no longer valid. Start again.",
        );
    };
    if now >= pending.created_at + CONSENT_PAGE_LIFETIME_SECS {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Authorization expired",
            "This authorization request is no longer valid. Start again.",
        );
    }
    match param(&form, "decision") {
        Some("cancel") => redirect_error(
            &pending.redirect_uri,
            "access_denied",
            DENIED,
            pending.state.as_deref(),
        ),
        Some("accept") => {
            let user_sites = USERS[pending.user].sites;
            let sites = match param(&form, "site") {
                None | Some("all") | Some("") => user_sites.to_vec(),
                Some(chosen) => match user_sites.iter().find(|c| **c == chosen) {
                    Some(c) => vec![*c],
                    None => {
                        return error_page(
                            StatusCode::BAD_REQUEST,
                            "Unknown site",
                            "Pick one of your sites.",
                        )
                    }
                },
            };
            let consent = Consent {
                client_id: pending.client_id,
                redirect_uri: pending.redirect_uri.clone(),
                user: pending.user,
                scopes: pending.scopes,
                sites,
            };
            let code = st.grants.issue_code(consent, now);
            redirect_code(&pending.redirect_uri, &code, pending.state.as_deref())
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Invalid decision",
            "Choose Accept or Cancel.",
        ),
    }
}

//! Errors as JavaScript sees them: a real `Error` (so `instanceof Error`, stack traces and
//! `console.error` work) named `JiraError`, with the stable `code`, the structured `details`
//! and `needsReconnect` (the popup shows "Reconnect" when it is true).

use wasm_bindgen::prelude::*;

use super::js::set;
use super::types::sites_js;
use crate::error::ProviderText;
use crate::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
/** Stable machine-readable error codes (`JiraError.code`). */
export type JiraErrorCode =
  | "not_a_callback" | "state_mismatch" | "unknown_state" | "state_expired" | "access_denied"
  | "provider_error" | "missing_code" | "not_signed_in" | "reauth_required" | "site_selection_required"
  | "no_jira_site" | "unknown_site" | "missing_scope" | "rate_limited" | "network" | "timeout" | "broker"
  | "oauth" | "jira" | "invalid_response" | "storage" | "config";

/** What is known about a failure beyond its code; every field is optional. */
export interface JiraErrorDetails {
  /** HTTP status of the failing response (broker, token endpoint, Jira, 429). */
  status?: number;
  /** `rate_limited`, a `broker` 429 with `Retry-After`, and any error of a refresh that
   * failed moments ago (the token endpoint is left alone until then): wait at least this long
   * before trying again. */
  retryAfterMs?: number;
  /** `network`: the server that could not be reached, `scheme://host[:port]` (no path). */
  origin?: string;
  /** `site_selection_required`: the sites to choose from. */
  sites?: Site[];
  /** `unknown_site`: the id that was chosen. */
  siteId?: string;
  /** `jira` (and `missing_scope`): Jira's `errorMessages`. */
  errorMessages?: string[];
  /** `jira`: Jira's field errors, e.g. `{summary: "You must specify a summary of the issue."}`. */
  errors?: Record<string, string>;
  /** OAuth / broker / provider error code, e.g. `invalid_grant`, `access_denied`. */
  error?: string;
  /** OAuth / broker / provider error description. */
  errorDescription?: ProviderText;
}

/** Text chosen by a remote server or by whoever crafted a callback URL: untrusted. It is never
 * part of a `message`; render it only as text (`textContent`), if at all. One line, at most 200
 * characters. */
export type ProviderText = string;

/** How every promise of this package rejects. */
export interface JiraError extends Error {
  name: "JiraError";
  code: JiraErrorCode;
  message: string;
  details: JiraErrorDetails;
  /** True when the user must sign in again (`not_signed_in`, `reauth_required`, `missing_scope`). */
  needsReconnect: boolean;
}

/** Receives the current status after another context (or this one) signed in or out,
 * refreshed the tokens or chose a site. */
export type StatusChangeCallback = (status: Status) => void;
"#;

/// `error.details`: only the fields that apply are present, always in the order of
/// `JiraErrorDetails` (status, retryAfterMs, origin, sites, siteId, errorMessages, errors,
/// error, errorDescription). Set straight from the error, without copying it first.
fn details(error: &Error) -> JsValue {
    let out: JsValue = js_sys::Object::new().into();
    fill_details(&out, error);
    out
}

/// Sets the members of `error`'s details on `out`. A paused refresh has its last failure's
/// details plus `retryAfterMs`, the time until the next attempt.
fn fill_details(out: &JsValue, error: &Error) {
    let number = |key: &str, n: f64| set(out, key, &JsValue::from_f64(n));
    let text = |key: &str, s: &str| set(out, key, &JsValue::from_str(s));
    let oauth = |error: &str, description: &Option<ProviderText>| {
        text("error", error);
        if let Some(description) = description {
            text("errorDescription", description);
        }
    };
    match error {
        Error::RefreshPaused {
            last,
            retry_after_ms,
        } => {
            fill_details(out, last);
            number("retryAfterMs", *retry_after_ms as f64);
        }
        Error::AccessDenied { description } => oauth("access_denied", description),
        Error::ProviderError { error, description }
        | Error::ReauthRequired { error, description } => oauth(error, description),
        Error::Broker {
            status,
            error,
            description,
            retry_after_ms,
        } => {
            number("status", (*status).into());
            if let Some(ms) = retry_after_ms {
                number("retryAfterMs", *ms as f64);
            }
            oauth(error, description);
        }
        Error::Oauth {
            status,
            error,
            description,
        } => {
            number("status", (*status).into());
            oauth(error, description);
        }
        Error::Network {
            origin: Some(origin),
            ..
        } => text("origin", origin),
        Error::SiteSelectionRequired { sites } => set(out, "sites", &sites_js(sites)),
        Error::UnknownSite { site_id } => text("siteId", site_id),
        Error::MissingScope { message } => {
            number("status", 401.0);
            set(
                out,
                "errorMessages",
                &super::js::strings(std::slice::from_ref(message)),
            );
        }
        Error::RateLimited {
            status,
            retry_after_ms,
        } => {
            number("status", (*status).into());
            number("retryAfterMs", *retry_after_ms as f64);
        }
        Error::Jira {
            status,
            error_messages,
            errors,
        } => {
            number("status", (*status).into());
            set(out, "errorMessages", &super::js::strings(error_messages));
            let object = js_sys::Object::new().into();
            for (field, message) in errors {
                set(&object, field, &JsValue::from_str(message));
            }
            set(out, "errors", &object);
        }
        Error::InvalidResponse { status, .. } => number("status", (*status).into()),
        _ => {}
    }
}

/// Converts a crate error into the `JiraError` a promise rejects with.
pub(crate) fn to_js(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("JiraError");
    let js: JsValue = js.into();
    set(&js, "code", &JsValue::from_str(error.code().as_str()));
    set(&js, "details", &details(&error));
    set(
        &js,
        "needsReconnect",
        &JsValue::from_bool(error.needs_reconnect()),
    );
    js
}

/// True when `value` is a rejection of this package (a `JiraError` with a `code`).
#[wasm_bindgen(js_name = isJiraError, unchecked_return_type = "value is JiraError")]
pub fn is_jira_error(#[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue) -> bool {
    value.is_instance_of::<js_sys::Error>()
        && js_sys::Reflect::get(&value, &JsValue::from_str("name"))
            .ok()
            .and_then(|n| n.as_string())
            .as_deref()
            == Some("JiraError")
        && js_sys::Reflect::get(&value, &JsValue::from_str("code")).is_ok_and(|c| c.is_string())
}

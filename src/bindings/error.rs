//! Errors as JavaScript sees them: a real `Error` (so `instanceof Error`, stack traces and
//! `console.error` work) named `JiraError`, with the stable `code`, the structured `details`
//! and `needsReconnect` (the popup shows "Reconnect" when it is true).

use std::collections::BTreeMap;

use wasm_bindgen::prelude::*;

use super::js::set;
use super::types::sites_js;
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
  /** `rate_limited` (and a `broker` 429 with `Retry-After`): wait at least this long before
   * trying again. */
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
  errorDescription?: string;
}

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

/// `error.details`: only the fields that apply are present, in this order.
#[derive(Default)]
struct Details {
    status: Option<u16>,
    retry_after_ms: Option<u64>,
    origin: Option<String>,
    sites: Option<JsValue>,
    site_id: Option<String>,
    error_messages: Option<Vec<String>>,
    errors: Option<BTreeMap<String, String>>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Details {
    fn to_js(&self) -> JsValue {
        let out = js_sys::Object::new().into();
        let str = |s: &String| JsValue::from_str(s);
        let members: [(&str, Option<JsValue>); 9] = [
            ("status", self.status.map(|s| JsValue::from_f64(s.into()))),
            (
                "retryAfterMs",
                self.retry_after_ms.map(|ms| JsValue::from_f64(ms as f64)),
            ),
            ("origin", self.origin.as_ref().map(str)),
            ("sites", self.sites.clone()),
            ("siteId", self.site_id.as_ref().map(str)),
            (
                "errorMessages",
                self.error_messages.as_deref().map(super::js::strings),
            ),
            (
                "errors",
                self.errors.as_ref().map(|errors| {
                    let object = js_sys::Object::new().into();
                    for (field, message) in errors {
                        set(&object, field, &JsValue::from_str(message));
                    }
                    object
                }),
            ),
            ("error", self.error.as_ref().map(str)),
            ("errorDescription", self.error_description.as_ref().map(str)),
        ];
        for (key, value) in members {
            if let Some(value) = value {
                set(&out, key, &value);
            }
        }
        out
    }
}

fn details(error: &Error) -> Details {
    let oauth = |status: Option<u16>, error: &str, description: &Option<String>| Details {
        status,
        error: Some(error.to_string()),
        error_description: description.clone(),
        ..Details::default()
    };
    match error {
        Error::AccessDenied { description } => {
            oauth(None, "access_denied", &Some(description.clone()))
        }
        Error::ProviderError { error, description } => oauth(None, error, description),
        Error::ReauthRequired { error, description } => oauth(None, error, description),
        Error::Broker {
            status,
            error,
            description,
            retry_after_ms,
        } => Details {
            retry_after_ms: *retry_after_ms,
            ..oauth(Some(*status), error, description)
        },
        Error::Oauth {
            status,
            error,
            description,
        } => oauth(Some(*status), error, description),
        Error::Network { origin, .. } => Details {
            origin: origin.clone(),
            ..Details::default()
        },
        Error::SiteSelectionRequired { sites } => Details {
            sites: Some(sites_js(sites)),
            ..Details::default()
        },
        Error::UnknownSite { site_id } => Details {
            site_id: Some(site_id.clone()),
            ..Details::default()
        },
        Error::MissingScope { message } => Details {
            status: Some(401),
            error_messages: Some(vec![message.clone()]),
            ..Details::default()
        },
        Error::RateLimited {
            status,
            retry_after_ms,
        } => Details {
            status: Some(*status),
            retry_after_ms: Some(*retry_after_ms),
            ..Details::default()
        },
        Error::Jira {
            status,
            error_messages,
            errors,
        } => Details {
            status: Some(*status),
            error_messages: Some(error_messages.clone()),
            errors: Some(errors.clone()),
            ..Details::default()
        },
        Error::InvalidResponse { status, .. } => Details {
            status: Some(*status),
            ..Details::default()
        },
        _ => Details::default(),
    }
}

/// Converts a crate error into the `JiraError` a promise rejects with.
pub(crate) fn to_js(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("JiraError");
    let js: JsValue = js.into();
    set(&js, "code", &JsValue::from_str(error.code().as_str()));
    set(&js, "details", &details(&error).to_js());
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

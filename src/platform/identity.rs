//! `chrome.identity` / `browser.identity`: the extension's sign-in window.
//!
//! `launchWebAuthFlow` opens the authorize URL in a browser-owned window and resolves with
//! the final redirect URL once the provider redirects to `getRedirectURL()`
//! (`https://<extension-id>.chromiumapp.org/` in Chrome). It must run in the service worker:
//! opening the window closes the popup, which would abort a flow started there.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::global::{describe_js_error, global_path};
use crate::error::ProviderText;
use crate::Error;

/// `browser.identity` (Firefox, promise-based) when present, else `chrome.identity`.
fn identity() -> Result<JsValue, Error> {
    global_path(&["browser", "identity"]).or_else(|| global_path(&["chrome", "identity"])).ok_or_else(|| Error::Config {
        message: "chrome.identity is not available here: signInWithExtension runs in an extension (service worker) with the \"identity\" permission; web pages use beginSignIn/completeSignIn".to_string(),
    })
}

fn method(api: &JsValue, name: &str) -> Result<js_sys::Function, Error> {
    js_sys::Reflect::get(api, &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| Error::Config {
            message: format!("identity.{name} is not available in this browser"),
        })
}

/// The extension's OAuth redirect URI (`https://<id>.chromiumapp.org/` in Chrome).
pub fn redirect_url() -> Result<String, Error> {
    let api = identity()?;
    method(&api, "getRedirectURL")?
        .call0(&api)
        .ok()
        .and_then(|url| url.as_string())
        .ok_or_else(|| Error::Config {
            message: "identity.getRedirectURL returned no URL".to_string(),
        })
}

/// The URL to open for a sign-in whose redirect URI is `redirect_uri`: Atlassian's authorize
/// URL, except in Firefox (a redirect URI `https://<hash>.extensions.allizom.org/…` or
/// `http://127.0.0.1/mozoauth2/…`), whose `launchWebAuthFlow` refuses a URL whose
/// `redirect_uri` parameter is not the extension's own redirect URL ("redirect_uri not
/// allowed"), and Atlassian's carries the broker's callback: there the broker's `start_url`,
/// which redirects to it, when the broker gives one.
pub fn launch_url<'a>(
    redirect_uri: &str,
    urls: &'a crate::core::authorize::AuthorizeUrls,
) -> &'a str {
    match &urls.start {
        Some(start) if is_firefox_redirect(redirect_uri) => start,
        _ => &urls.authorize,
    }
}

fn is_firefox_redirect(redirect_uri: &str) -> bool {
    let host = redirect_uri
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .unwrap_or("");
    host.ends_with(".extensions.allizom.org")
        || redirect_uri.starts_with("http://127.0.0.1/mozoauth2/")
}

/// Opens `url` in the browser's auth window and returns the redirect URL it ended on.
pub async fn launch_web_auth_flow(url: &str, interactive: bool) -> Result<String, Error> {
    let api = identity()?;
    let launch = method(&api, "launchWebAuthFlow")?;
    let details = js_sys::Object::new();
    let set =
        |key: &str, value: &JsValue| js_sys::Reflect::set(&details, &JsValue::from_str(key), value);
    set("url", &JsValue::from_str(url))
        .and_then(|_| set("interactive", &JsValue::from_bool(interactive)))
        .map_err(|e| flow_error(&e, url))?;
    let promise: js_sys::Promise = launch
        .call1(&api, &details)
        .map_err(|e| flow_error(&e, url))?
        .dyn_into()
        .map_err(|_| Error::Config {
            message: "identity.launchWebAuthFlow did not return a promise (browser too old)"
                .to_string(),
        })?;
    let redirected = JsFuture::from(promise)
        .await
        .map_err(|e| flow_error(&e, url))?;
    redirected
        .as_string()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::AccessDenied {
            description: ProviderText::new("the sign-in window closed without a response"),
        })
}

/// Chrome reports a closed window as "The user did not approve access." and an unreachable
/// authorize page as "Authorization page could not be loaded."; neither message holds a
/// URL or a code.
///
/// `url` is the authorize URL: an unreachable page is reported with its origin only.
fn flow_error(error: &JsValue, url: &str) -> Error {
    let message = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| describe_js_error(error));
    let lower = message.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("did not approve") || has("cancel") || has("closed") {
        Error::AccessDenied {
            description: ProviderText::new(&message),
        }
    } else if has("could not be loaded") {
        Error::Network {
            message: format!("the sign-in page could not be loaded ({message})"),
            origin: crate::core::urls::origin_of(url),
        }
    } else {
        Error::ProviderError {
            error: "web_auth_flow_failed".to_string(),
            description: ProviderText::new(&message),
        }
    }
}

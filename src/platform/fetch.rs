//! The [`HttpClient`] port over the global `fetch`, through gloo-net (which binds the global
//! `fetch`, not `window.fetch`, so it works in a page and in a service worker alike).
//!
//! This layer builds the request itself (one `new Request(url, init)`, so the browser parses
//! the URL once), gloo-net sends it, and the body is read as bytes (`arrayBuffer()`) straight
//! into the wasm. Every request carries an `AbortController` signal: the timeout
//! aborts it (reported as [`TransportError::Timeout`]), and so does dropping the future (no
//! orphaned request keeps running after its caller gave up). Cookies are never sent
//! (`credentials: "omit"`): the broker and the API authenticate with the body / bearer header
//! only, and nothing comes from the HTTP cache (`cache: "no-store"`).
//!
//! Error messages name the failing origin and the browser's generic reason, never the URL
//! path, a header value or the body (which may hold a code or a token).

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, RequestCache, RequestCredentials, RequestInit, RequestMode, RequestRedirect,
};

use super::global::{clear_timeout, describe_js_error, set_timeout};
use crate::session::ports::{HttpClient, HttpRequest, HttpResponse, Method, TransportError};

/// Default per-request timeout; the config's `requestTimeoutMs` overrides it.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// `fetch`-based HTTP client with a per-request timeout.
#[derive(Debug, Clone, Copy)]
pub struct FetchClient {
    timeout_ms: u32,
}

impl Default for FetchClient {
    fn default() -> Self {
        FetchClient {
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

impl FetchClient {
    /// A client whose requests (headers and body) must complete within `timeout_ms`.
    pub fn new(timeout_ms: u32) -> Self {
        FetchClient {
            timeout_ms: timeout_ms.max(1),
        }
    }

    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }
}

impl HttpClient for FetchClient {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        send(request, self.timeout_ms)
    }
}

/// Aborts the request when dropped before [`Inflight::finish`]: a timeout fires it via the
/// timer, a dropped future via `Drop`.
struct Inflight {
    controller: AbortController,
    timer: JsValue,
    _on_timeout: Closure<dyn FnMut()>,
    done: bool,
}

impl Inflight {
    fn start(controller: AbortController, timeout_ms: u32, timed_out: Rc<Cell<bool>>) -> Self {
        let abort = controller.clone();
        let on_timeout = Closure::<dyn FnMut()>::new(move || {
            timed_out.set(true);
            abort.abort();
        });
        let timer = set_timeout(
            on_timeout.as_ref().unchecked_ref(),
            timeout_ms.min(i32::MAX as u32) as i32,
        );
        Inflight {
            controller,
            timer,
            _on_timeout: on_timeout,
            done: false,
        }
    }

    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        clear_timeout(&self.timer);
        if !self.done {
            self.controller.abort();
        }
    }
}

async fn send(request: HttpRequest, timeout_ms: u32) -> Result<HttpResponse, TransportError> {
    // The origin (a parse of the URL) is only worked out for an error message.
    let origin = || origin_of(&request.url);
    let controller = AbortController::new().map_err(|e| network(&origin(), &e))?;
    let js_request = build(&request, &controller, origin)?;

    let timed_out = Rc::new(Cell::new(false));
    let inflight = Inflight::start(controller, timeout_ms, timed_out.clone());
    let result = perform(js_request).await;
    inflight.finish();
    result.map_err(|e| {
        if timed_out.get() {
            TransportError::Timeout
        } else {
            TransportError::Network(format!(
                "request to {} failed ({})",
                origin(),
                describe_gloo_error(&e)
            ))
        }
    })
}

/// The request: our headers (appended, so a repeated name keeps every value), the JSON
/// default content type, CORS, no cookies, no HTTP cache, and the abort signal. Built as one
/// `new Request(url, init)` (the browser parses the URL once) and sent through gloo-net.
fn build(
    request: &HttpRequest,
    controller: &AbortController,
    origin: impl Fn() -> String,
) -> Result<gloo_net::http::Request, TransportError> {
    // The headers are a `web_sys::Headers` filled here rather than gloo-net's `header()`:
    // that one overwrites (`set`) and throws on an invalid value, where this reports it.
    let headers =
        web_sys::Headers::new().map_err(|e| TransportError::Network(describe_js_error(&e)))?;
    let mut has_content_type = false;
    for (name, value) in &request.headers {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        // The value may be a bearer token: only the header name goes into the message.
        headers.append(name, value).map_err(|_| {
            TransportError::Network(format!("invalid value for request header {name}"))
        })?;
    }
    if request.body.is_some() && !has_content_type {
        headers
            .set("content-type", "application/json")
            .map_err(|e| TransportError::Network(describe_js_error(&e)))?;
    }
    let init = RequestInit::new();
    init.set_method(method_name(request.method));
    init.set_headers(&headers);
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    // Token and API responses must never come from the HTTP cache.
    init.set_cache(RequestCache::NoStore);
    // No redirect is followed: a 307/308 would send a token request's body (a code, a refresh
    // token) on to wherever it points. A redirect fails as a network error instead.
    init.set_redirect(RequestRedirect::Error);
    init.set_signal(Some(&controller.signal()));
    if let Some(body) = &request.body {
        init.set_body(&JsValue::from_str(body));
    }
    // The browser's message may quote the URL: only the origin goes into ours.
    web_sys::Request::new_with_str_and_init(&request.url, &init)
        .map(gloo_net::http::Request::from)
        .map_err(|_| TransportError::Network(format!("invalid request URL for {}", origin())))
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    }
}

/// Sends the request and reads status, headers (names lower-cased) and the whole body, all
/// under the signal. The body is read as bytes and copied into the wasm memory as they are
/// (no UTF-8 decoding into a JS string and encoding back), then decoded as `Response.text()`
/// does: a leading BOM dropped, invalid sequences replaced by U+FFFD.
async fn perform(request: gloo_net::http::Request) -> Result<HttpResponse, gloo_net::Error> {
    let response = web_sys::Response::from(request.send().await?);
    let status = response.status();
    let headers = gloo_net::http::Headers::from_raw(response.headers())
        .entries()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    let bytes = match response.array_buffer() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    }
    .map_err(js_error)?;
    let body = utf8_text(js_sys::Uint8Array::new(&bytes).to_vec());
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The body text of `Response.text()` from its bytes (the WHATWG "UTF-8 decode": without a
/// leading BOM, each maximal invalid subpart replaced by U+FFFD, as `from_utf8_lossy` does).
fn utf8_text(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A rejection of `arrayBuffer()` (an abort, a network error mid-body) as gloo-net reports
/// the other fetch errors.
fn js_error(value: JsValue) -> gloo_net::Error {
    match value.dyn_into::<js_sys::Error>() {
        Ok(error) => gloo_net::Error::JsError(error.into()),
        Err(_) => gloo_net::Error::GlooError("non-Error rejection".to_string()),
    }
}

/// The name and message of the browser's error (fetch's `TypeError: Failed to fetch`, an
/// `AbortError`), as [`describe_js_error`] gives them; never gloo-net's other variants' text.
fn describe_gloo_error(error: &gloo_net::Error) -> String {
    match error {
        gloo_net::Error::JsError(js) if js.message.is_empty() => js.name.clone(),
        gloo_net::Error::JsError(js) => format!("{}: {}", js.name, js.message),
        _ => "unexpected error".to_string(),
    }
}

fn network(origin: &str, error: &JsValue) -> TransportError {
    TransportError::Network(format!(
        "request to {origin} failed ({})",
        describe_js_error(error)
    ))
}

/// `scheme://host:port` of a URL: enough to tell which server failed, without the path or
/// query (which could carry a code in a misconfigured setup).
fn origin_of(url: &str) -> String {
    crate::core::urls::origin_of(url).unwrap_or_else(|| "an invalid URL".to_string())
}

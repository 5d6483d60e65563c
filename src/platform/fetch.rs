//! The [`HttpClient`] port over the global `fetch`, usable in a page and in a service worker.
//!
//! Every request carries an `AbortController` signal: the timeout aborts it (reported as
//! [`TransportError::Timeout`]), and so does dropping the future (no orphaned request keeps
//! running after its caller gave up). Cookies are never sent (`credentials: "omit"`): the
//! broker and the API authenticate with the body / bearer header only.
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
    AbortController, Headers, Request, RequestCache, RequestCredentials, RequestInit, RequestMode,
    Response,
};

use super::global::{clear_timeout, describe_js_error, fetch_with_request, set_timeout};
use crate::session::ports::{HttpClient, HttpRequest, HttpResponse, TransportError};

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
    let origin = origin_of(&request.url);
    let init = request_init(&request)?;
    let controller = AbortController::new().map_err(|e| network(&origin, &e))?;
    init.set_signal(Some(&controller.signal()));
    let js_request = Request::new_with_str_and_init(&request.url, &init)
        .map_err(|_| TransportError::Network(format!("invalid request URL for {origin}")))?;

    let timed_out = Rc::new(Cell::new(false));
    let inflight = Inflight::start(controller, timeout_ms, timed_out.clone());
    let result = perform(&js_request).await;
    inflight.finish();
    result.map_err(|e| {
        if timed_out.get() {
            TransportError::Timeout
        } else {
            network(&origin, &e)
        }
    })
}

fn request_init(request: &HttpRequest) -> Result<RequestInit, TransportError> {
    let headers = Headers::new().map_err(|e| TransportError::Network(describe_js_error(&e)))?;
    let mut has_content_type = false;
    for (name, value) in &request.headers {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        // The value may be a bearer token: only the header name goes into the message.
        headers.append(name, value).map_err(|_| {
            TransportError::Network(format!("invalid value for request header {name}"))
        })?;
    }
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    if let Some(body) = &request.body {
        if !has_content_type {
            headers
                .set("content-type", "application/json")
                .map_err(|e| TransportError::Network(describe_js_error(&e)))?;
        }
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    // Token and API responses must never come from the HTTP cache.
    init.set_cache(RequestCache::NoStore);
    Ok(init)
}

/// Runs the fetch and reads status, headers and the whole body (all under the signal).
async fn perform(request: &Request) -> Result<HttpResponse, JsValue> {
    let response: Response = JsFuture::from(fetch_with_request(request)?)
        .await?
        .dyn_into()?;
    let status = response.status();
    let mut headers = Vec::new();
    if let Some(entries) = js_sys::try_iter(&response.headers())? {
        for entry in entries {
            let pair: js_sys::Array = entry?.dyn_into()?;
            let name = pair
                .get(0)
                .as_string()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let value = pair.get(1).as_string().unwrap_or_default();
            headers.push((name, value));
        }
    }
    let body = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
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

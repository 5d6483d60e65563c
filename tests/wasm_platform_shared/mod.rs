//! Checks shared by `wasm_platform_page.rs` (a page) and `wasm_platform_worker.rs` (a service
//! worker). Every network check talks over real HTTP to the fake Atlassian and the broker that
//! `cargo xtask test` started on 127.0.0.1 (`JIRA3LO_TEST_FAKE_URL`, `JIRA3LO_TEST_BROKER_URL`).
//! The broker's hosted callback is the fake app's one callback URL; the broker allows the client
//! redirects `{fake}/__test/callback` and `{test page origin}/jira3lo-test-callback`.
#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::{self, Either};
use serde_json::{json, Value};
use tsify::Ts;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use jira_3lo::bindings::{is_jira_error, JiraClient};
use jira_3lo::platform::{sleep, BrowserClock, BrowserStore, FetchClient, MemoryStore, WebLock};
use jira_3lo::session::ports::{
    Area, Clock, CrossContextLock, HttpClient, HttpRequest, KeyValueStore, Method, TransportError,
};

/// Set at compile time by `cargo xtask test` (which also starts the services).
const FAKE_URL: Option<&str> = option_env!("JIRA3LO_TEST_FAKE_URL");
const BROKER_URL: Option<&str> = option_env!("JIRA3LO_TEST_BROKER_URL");

pub fn fake_url() -> &'static str {
    match FAKE_URL {
        Some(url) => url,
        None => panic!("run through `cargo xtask test`, which sets JIRA3LO_TEST_FAKE_URL"),
    }
}

pub fn broker_url() -> &'static str {
    match BROKER_URL {
        Some(url) => url,
        None => panic!("run through `cargo xtask test`, which sets JIRA3LO_TEST_BROKER_URL"),
    }
}

/// A client redirect the broker allows, usable from any context (nothing reads it back).
pub fn callback_uri() -> String {
    format!("{}/__test/callback", fake_url())
}

/// The client redirect on the test page's own origin, where a frame's final address (with the
/// broker's `#ticket=…&state=…`) can be read back: a fragment never reaches a server, and
/// `fetch` drops it from `Response.url`.
pub fn page_callback_uri() -> String {
    let origin = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"origin".into()))
        .ok()
        .and_then(|o| o.as_string())
        .expect("a page has a location");
    format!("{origin}/jira3lo-test-callback")
}

/// Follows `authorize_url` the way a user's browser does (a frame navigating: the fake's auto
/// consent → the broker's hosted callback → [`page_callback_uri`]) and returns the address it
/// ends on, fragment included. Pages only; bounded to 10 s.
pub async fn callback_in_a_frame(authorize_url: &str) -> String {
    let global = js_sys::global();
    let document = js_sys::Reflect::get(&global, &"document".into()).expect("a page");
    let call = |target: &JsValue, name: &str, args: &[JsValue]| -> JsValue {
        let f: js_sys::Function = js_sys::Reflect::get(target, &name.into())
            .unwrap()
            .unchecked_into();
        f.apply(target, &args.iter().collect::<js_sys::Array>())
            .unwrap()
    };
    let frame = call(&document, "createElement", &["iframe".into()]);
    // The test runner's page is cross-origin isolated (COEP `require-corp`): a credentialless
    // frame may still load the fake's and the broker's pages, which send no CORP header.
    js_sys::Reflect::set(&frame, &"credentialless".into(), &true.into()).unwrap();
    js_sys::Reflect::set(&frame, &"src".into(), &authorize_url.into()).unwrap();
    let body = js_sys::Reflect::get(&document, &"body".into()).unwrap();
    call(&body, "appendChild", std::slice::from_ref(&frame));
    let expected = page_callback_uri();
    for _ in 0..200 {
        sleep(50).await;
        // Cross-origin while on the fake or the broker: reading the address throws.
        let href = js_sys::Reflect::get(&frame, &"contentWindow".into())
            .and_then(|w| js_sys::Reflect::get(&w, &"location".into()))
            .and_then(|l| js_sys::Reflect::get(&l, &"href".into()))
            .ok()
            .and_then(|h| h.as_string());
        if let Some(href) = href.filter(|h| h.starts_with(&expected)) {
            call(&frame, "remove", &[]);
            return href;
        }
    }
    let last = js_sys::Reflect::get(&frame, &"contentWindow".into())
        .and_then(|w| js_sys::Reflect::get(&w, &"location".into()))
        .and_then(|l| js_sys::Reflect::get(&l, &"href".into()));
    let (_, _, stats) = plain_fetch(&format!("{}/__admin/stats", fake_url()), "GET", None).await;
    panic!(
        "the frame never came back to {expected}: last {:?}; fake stats {stats}",
        last.is_ok()
    );
}

/// The `#[wasm_bindgen_test]` wrappers that are the same in a page and in a service worker
/// (the checks that take no per-context names); each test file expands this once.
macro_rules! same_checks_in_both_contexts {
    () => {
        #[wasm_bindgen_test]
        async fn fetch_status_headers_body() {
            $crate::shared::fetch_reads_status_lowercased_headers_and_body().await;
        }
        #[wasm_bindgen_test]
        async fn fetch_post_json() {
            $crate::shared::fetch_posts_a_json_body_with_default_content_type().await;
        }
        #[wasm_bindgen_test]
        async fn fetch_timeout() {
            $crate::shared::fetch_times_out_with_abort_controller().await;
        }
        #[wasm_bindgen_test]
        async fn fetch_dropped_connection() {
            $crate::shared::fetch_reports_a_dropped_connection_as_network_error_without_secrets()
                .await;
        }
        #[wasm_bindgen_test]
        async fn fetch_refused_requests() {
            $crate::shared::fetch_refuses_bad_headers_and_urls_with_typed_errors_without_secrets()
                .await;
        }
        #[wasm_bindgen_test]
        async fn memory_store() {
            $crate::shared::memory_stores_are_shared_per_context_and_isolated_otherwise().await;
        }
        #[wasm_bindgen_test]
        async fn clock() {
            $crate::shared::clock_tells_time_and_sleeps().await;
        }
        #[wasm_bindgen_test]
        async fn client_config_errors() {
            $crate::shared::config_errors_are_jira_errors().await;
        }
        #[wasm_bindgen_test]
        async fn client_signed_out() {
            $crate::shared::signed_out_client_reports_not_signed_in().await;
        }
        #[wasm_bindgen_test]
        async fn refused_web_lock() {
            $crate::shared::a_refused_web_lock_is_a_typed_error_and_leaks_nothing().await;
        }
    };
}
pub(crate) use same_checks_in_both_contexts;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    pub fn raw_fetch(url: &str, init: &JsValue) -> js_sys::Promise;
}

pub fn js(value: &Value) -> JsValue {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

fn rust(value: &JsValue) -> Value {
    serde_wasm_bindgen::from_value(value.clone()).unwrap()
}

/// Plain `fetch` (not the code under test): `(status, final URL after redirects, body)`.
pub async fn plain_fetch(url: &str, method: &str, body: Option<&Value>) -> (u16, String, String) {
    let init = match body {
        Some(body) => {
            json!({"method": method, "headers": {"content-type": "application/json"}, "body": body.to_string()})
        }
        None => json!({"method": method}),
    };
    let response: web_sys::Response = JsFuture::from(raw_fetch(url, &js(&init)))
        .await
        .expect("fetch resolves")
        .unchecked_into();
    let text = JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    (response.status(), response.url(), text)
}

/// `POST {fake}/__admin/{path}` (or another method) with a JSON body.
pub async fn admin(method: &str, path: &str, body: Value) -> Value {
    let (status, _, text) = plain_fetch(
        &format!("{}/__admin/{path}", fake_url()),
        method,
        Some(&body),
    )
    .await;
    assert!(status < 300, "admin {path} answered {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn clear_faults() {
    let (status, _, text) =
        plain_fetch(&format!("{}/__admin/faults", fake_url()), "DELETE", None).await;
    assert!(status < 300, "clearing faults answered {status}: {text}");
}

/// Runs `future`, failing the test if it takes longer than `ms`.
pub async fn within<F: Future>(ms: u64, what: &str, future: F) -> F::Output {
    let future = std::pin::pin!(future);
    match future::select(future, std::pin::pin!(sleep(ms))).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("{what} did not finish within {ms} ms"),
    }
}

/// Waits (bounded) until `ready()` holds.
pub async fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        sleep(10).await;
    }
    panic!("{what}: still not true after 2 s");
}

fn get(url: String, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: None,
    }
}

// ---------------------------------------------------------------------------------- fetch

pub async fn fetch_reads_status_lowercased_headers_and_body() {
    let response = FetchClient::default()
        .send(get(
            format!("{}/oauth/token/accessible-resources", fake_url()),
            &[("Authorization", "Bearer not-a-token")],
        ))
        .await
        .expect("an HTTP response");
    assert_eq!(response.status, 401);
    let body: Value = serde_json::from_str(&response.body).expect("the gateway's JSON body");
    assert_eq!(body["code"], json!(401), "body: {}", response.body);
    assert!(!response.headers.is_empty());
    assert!(
        response
            .headers
            .iter()
            .all(|(name, _)| name == &name.to_ascii_lowercase()),
        "header names are lower-case: {:?}",
        response.headers
    );
    assert!(
        response
            .header("Content-Type")
            .is_some_and(|v| v.contains("json")),
        "{:?}",
        response.headers
    );
}

pub async fn fetch_posts_a_json_body_with_default_content_type() {
    // The Jira search endpoint takes a JSON body; with a garbage token the gateway answers
    // 401 — after a CORS preflight that must allow our authorization + content-type headers.
    let request = HttpRequest {
        method: Method::Post,
        url: format!(
            "{}/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/search/jql",
            fake_url()
        ),
        headers: vec![("authorization".into(), "Bearer garbage".into())],
        body: Some(json!({"jql": "project = X"}).to_string()),
    };
    let response = FetchClient::default()
        .send(request)
        .await
        .expect("an HTTP response");
    assert_eq!(response.status, 401, "body: {}", response.body);
    // Injected faults reach this client (what the timeout and drop checks rely on).
    admin(
        "POST",
        "faults",
        json!({"route": "GET /me", "count": 1, "fault": {"status": 418}}),
    )
    .await;
    let teapot = FetchClient::default()
        .send(get(format!("{}/me", fake_url()), &[]))
        .await
        .expect("a response");
    assert_eq!(
        teapot.status, 418,
        "the injected fault answered: {}",
        teapot.body
    );
    clear_faults().await;
}

pub async fn fetch_times_out_with_abort_controller() {
    admin(
        "POST",
        "faults",
        json!({"route": "GET /me", "count": 1, "fault": {"delay_ms": 3000}}),
    )
    .await;
    let started = js_sys::Date::now();
    let result = FetchClient::new(300)
        .send(get(format!("{}/me", fake_url()), &[]))
        .await;
    let elapsed = js_sys::Date::now() - started;
    clear_faults().await;
    assert_eq!(result, Err(TransportError::Timeout));
    assert!(
        (250.0..2500.0).contains(&elapsed),
        "timed out after {elapsed} ms"
    );
}

pub async fn fetch_reports_a_dropped_connection_as_network_error_without_secrets() {
    // Several drops: Chromium retries a GET once when a reused connection closes early,
    // Firefox up to `network.http.request.max-attempts` (10) times.
    admin(
        "POST",
        "faults",
        json!({"route": "GET /me", "count": 12, "fault": "drop"}),
    )
    .await;
    let secret = "secret-token-7f3a";
    let result = FetchClient::default()
        .send(get(
            format!("{}/me?code=secret-code-19", fake_url()),
            &[("authorization", &format!("Bearer {secret}"))],
        ))
        .await;
    clear_faults().await;
    let Err(TransportError::Network(message)) = result else {
        panic!("expected a network error, got {result:?}")
    };
    assert!(message.contains(fake_url()), "names the origin: {message}");
    assert!(
        !message.contains(secret)
            && !message.contains("secret-code-19")
            && !message.contains("/me"),
        "{message}"
    );
}

/// What the platform layer keeps on top of gloo-net (whose own `Headers::append` throws on a
/// bad value): a header value fetch refuses, and a URL it cannot parse, are typed network
/// errors naming the header or the origin only, never the value or the path; the client keeps
/// working afterwards.
pub async fn fetch_refuses_bad_headers_and_urls_with_typed_errors_without_secrets() {
    let secret = "secret-token-5c1e";
    let result = FetchClient::default()
        .send(get(
            format!("{}/me", fake_url()),
            &[("authorization", &format!("Bearer {secret}\nx-injected: 1"))],
        ))
        .await;
    let Err(TransportError::Network(message)) = result else {
        panic!("a header value with a newline is refused, got {result:?}")
    };
    assert!(
        message.contains("authorization"),
        "names the header: {message}"
    );
    assert!(!message.contains(secret), "{message}");

    let result = FetchClient::default()
        .send(get(
            "http://[::1/secret-path?code=secret-code-44".to_string(),
            &[],
        ))
        .await;
    let Err(TransportError::Network(message)) = result else {
        panic!("an unparsable URL is refused, got {result:?}")
    };
    assert!(
        !message.contains("secret-path") && !message.contains("secret-code-44"),
        "{message}"
    );

    let response = FetchClient::default()
        .send(get(
            format!("{}/oauth/token/accessible-resources", fake_url()),
            &[],
        ))
        .await
        .expect("the client still works after refused requests");
    assert_eq!(response.status, 401, "body: {}", response.body);
}

pub async fn fetch_reports_connection_refused_as_network_error() {
    // Port 9 (discard) is closed on the test machine.
    let result = FetchClient::new(5_000)
        .send(get("http://127.0.0.1:9/x".to_string(), &[]))
        .await;
    assert!(
        matches!(result, Err(TransportError::Network(_))),
        "{result:?}"
    );
}

// -------------------------------------------------------------------------------- storage

/// set/get/remove in both areas, values round-trip exactly. `separate_areas`: the two areas
/// are distinct storages (false for the `session` kind, where both are `sessionStorage` and
/// the engine's keys never repeat across areas).
pub async fn store_round_trip(store: &BrowserStore, prefix: &str, separate_areas: bool) {
    let key = format!("{prefix}:k");
    let value = r#"{"v":1,"token":"ü ✓ \"quoted\""}"#;
    for area in [Area::Session, Area::Persistent] {
        store.remove(area, &key).await.unwrap();
        assert_eq!(store.get(area, &key).await.unwrap(), None);
    }
    store.set(Area::Persistent, &key, value).await.unwrap();
    assert_eq!(
        store.get(Area::Persistent, &key).await.unwrap().as_deref(),
        Some(value)
    );
    if separate_areas {
        store.set(Area::Session, &key, "other").await.unwrap();
        assert_eq!(
            store.get(Area::Session, &key).await.unwrap().as_deref(),
            Some("other")
        );
        assert_eq!(
            store.get(Area::Persistent, &key).await.unwrap().as_deref(),
            Some(value)
        );
        store.remove(Area::Session, &key).await.unwrap();
        assert_eq!(store.get(Area::Session, &key).await.unwrap(), None);
    }
    store
        .set(Area::Persistent, &key, "overwritten")
        .await
        .unwrap();
    assert_eq!(
        store.get(Area::Persistent, &key).await.unwrap().as_deref(),
        Some("overwritten")
    );
    store.remove(Area::Persistent, &key).await.unwrap();
    assert_eq!(store.get(Area::Persistent, &key).await.unwrap(), None);
    store
        .remove(Area::Persistent, &key)
        .await
        .expect("removing a missing key is fine");
}

pub async fn memory_stores_are_shared_per_context_and_isolated_otherwise() {
    store_round_trip(&BrowserStore::memory(MemoryStore::new()), "mem", true).await;
    let a = BrowserStore::memory(MemoryStore::context());
    let b = BrowserStore::memory(MemoryStore::context());
    let isolated = BrowserStore::memory(MemoryStore::new());
    a.set(Area::Persistent, "shared-key", "1").await.unwrap();
    assert_eq!(
        b.get(Area::Persistent, "shared-key")
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        isolated.get(Area::Persistent, "shared-key").await.unwrap(),
        None
    );
    a.remove(Area::Persistent, "shared-key").await.unwrap();
}

/// A subscription sees this context's writes (after the write, never inside it) and stops
/// when dropped.
pub async fn subscription_reports_changed_keys(store: &BrowserStore, key: &str) {
    let seen: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
    let sink = seen.clone();
    let subscription = store.subscribe(move |k| sink.borrow_mut().push(k.map(str::to_string)));
    store.set(Area::Persistent, key, "1").await.unwrap();
    assert!(
        seen.borrow().is_empty(),
        "reported inside the write: {:?}",
        seen.borrow()
    );
    eventually("the write is reported", || {
        seen.borrow().contains(&Some(key.to_string()))
    })
    .await;
    drop(subscription);
    seen.borrow_mut().clear();
    store.remove(Area::Persistent, key).await.unwrap();
    sleep(30).await;
    assert!(
        seen.borrow().is_empty(),
        "no reports after the subscription is dropped: {:?}",
        seen.borrow()
    );
}

// ---------------------------------------------------------------------------------- lock

/// Two concurrent `run_exclusive` on one name never overlap; another name does not wait.
pub async fn lock_serializes_critical_sections(lock: WebLock, name: &str) {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let section = |who: &'static str, lock_name: String| {
        let log = log.clone();
        async move {
            let inner = log.clone();
            lock.run_exclusive(&lock_name, async move {
                inner.borrow_mut().push(format!("{who} in"));
                sleep(40).await;
                inner.borrow_mut().push(format!("{who} out"));
                who
            })
            .await
            .expect("the lock is granted")
        }
    };
    let (a, b) = future::join(
        section("a", name.to_string()),
        section("b", name.to_string()),
    )
    .await;
    assert_eq!((a, b), ("a", "b"), "each caller gets its own output");
    let log = log.borrow().clone();
    assert!(
        log == ["a in", "a out", "b in", "b out"] || log == ["b in", "b out", "a in", "a out"],
        "critical sections overlapped: {log:?}"
    );

    // A different name is independent: both sections run at the same time.
    let inside = Rc::new(std::cell::Cell::new(0u32));
    let max_inside = Rc::new(std::cell::Cell::new(0u32));
    let independent = |lock_name: String| {
        let (inside, max_inside) = (inside.clone(), max_inside.clone());
        async move {
            lock.run_exclusive(&lock_name, async move {
                inside.set(inside.get() + 1);
                max_inside.set(max_inside.get().max(inside.get()));
                sleep(40).await;
                inside.set(inside.get() - 1);
            })
            .await
            .expect("the lock is granted")
        }
    };
    future::join(
        independent(format!("{name}-x")),
        independent(format!("{name}-y")),
    )
    .await;
    assert_eq!(
        max_inside.get(),
        2,
        "different lock names must not exclude each other"
    );
}

/// The Web Lock is really held (visible to `navigator.locks.query()`, which every context of
/// the origin sees) for the whole critical future, and released afterwards.
pub async fn web_lock_is_held_for_the_whole_critical_future(name: &str) {
    let lock = WebLock::new();
    assert_eq!(lock.mode(), jira_3lo::platform::LockMode::Web);
    let held_names = || async {
        let locks = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap();
        let locks = js_sys::Reflect::get(&locks, &"locks".into()).unwrap();
        let query: js_sys::Function = js_sys::Reflect::get(&locks, &"query".into())
            .unwrap()
            .unchecked_into();
        let snapshot = JsFuture::from(
            query
                .call0(&locks)
                .unwrap()
                .unchecked_into::<js_sys::Promise>(),
        )
        .await
        .unwrap();
        let held = rust(&js_sys::Reflect::get(&snapshot, &"held".into()).unwrap());
        held.as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let seen_inside = lock
        .run_exclusive(name, async {
            let early = held_names().await;
            sleep(30).await;
            let late = held_names().await;
            (early, late)
        })
        .await
        .expect("navigator.locks must exist in this context");
    assert!(
        seen_inside.0.iter().any(|n| n == name),
        "held at the start: {:?}",
        seen_inside.0
    );
    assert!(
        seen_inside.1.iter().any(|n| n == name),
        "still held after an await: {:?}",
        seen_inside.1
    );
    eventually_async_not_held(name, held_names).await;
}

async fn eventually_async_not_held<F, Fut>(name: &str, held_names: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    for _ in 0..100 {
        if !held_names().await.iter().any(|n| n == name) {
            return;
        }
        sleep(10).await;
    }
    panic!("lock {name} is still held after the critical future completed");
}

/// Dropping a `run_exclusive` future (its caller gave up) releases the lock.
pub async fn dropping_the_critical_future_releases_the_lock(lock: WebLock, name: &str) {
    let entered = Rc::new(std::cell::Cell::new(false));
    let flag = entered.clone();
    let stuck = lock.run_exclusive(name, async move {
        flag.set(true);
        future::pending::<()>().await
    });
    // Owned (boxed) so that `select` drops it: a `pin!` local would outlive the select.
    match future::select(Box::pin(stuck), Box::pin(sleep(50))).await {
        Either::Left(_) => panic!("the critical future never completes"),
        Either::Right((_, stuck)) => drop(stuck),
    }
    assert!(
        entered.get(),
        "the critical future was entered before being dropped"
    );
    within(
        2_000,
        "taking the lock after the holder was dropped",
        lock.run_exclusive(name, async {}),
    )
    .await
    .expect("the lock is granted");
}

// --------------------------------------------------------------------------------- clock

pub async fn clock_tells_time_and_sleeps() {
    let clock = BrowserClock::new();
    let now = clock.now_ms() as f64;
    assert!((now - js_sys::Date::now()).abs() < 1_000.0);
    assert!(
        now > 1_600_000_000_000.0,
        "milliseconds since the epoch: {now}"
    );
    let started = js_sys::Date::now();
    clock.sleep_ms(60).await;
    let elapsed = js_sys::Date::now() - started;
    assert!((55.0..2_000.0).contains(&elapsed), "slept {elapsed} ms");
    let started = js_sys::Date::now();
    clock.sleep_ms(0).await;
    assert!(js_sys::Date::now() - started < 1_000.0);
}

// ---------------------------------------------------------------------------- JiraClient

pub fn client(config: Value) -> Result<JiraClient, JsValue> {
    JiraClient::new(Ts::new_unchecked(js(&config)))
}

pub fn memory_client(namespace: &str) -> JiraClient {
    client(json!({
        "brokerUrl": broker_url(),
        "apiBaseUrl": fake_url(),
        "storage": "memory",
        "namespace": namespace,
    }))
    .expect("a valid config")
}

/// The `JiraError` contract: a real `Error` named JiraError with code, message, details and
/// needsReconnect. Returns (code, details, needsReconnect).
pub fn jira_error(error: &JsValue) -> (String, Value, bool) {
    assert!(
        error.is_instance_of::<js_sys::Error>(),
        "rejections are Error objects: {error:?}"
    );
    assert!(is_jira_error(error.clone()));
    let field = |name: &str| js_sys::Reflect::get(error, &JsValue::from_str(name)).unwrap();
    assert_eq!(field("name").as_string().as_deref(), Some("JiraError"));
    assert!(
        !field("message").as_string().unwrap_or_default().is_empty(),
        "a human message"
    );
    let details = rust(&field("details"));
    assert!(details.is_object(), "details is an object: {details}");
    (
        field("code").as_string().expect("a string code"),
        details,
        field("needsReconnect").as_bool().expect("a boolean"),
    )
}

pub fn state_of(status: &JsValue) -> Value {
    rust(status)
}

pub async fn config_errors_are_jira_errors() {
    for config in [
        json!({}),
        json!({"brokerUrl": "not a url"}),
        json!({"brokerUrl": "ftp://x"}),
        json!({"brokerUrl": "http://127.0.0.1:1", "storage": "floppy"}),
        json!({"brokerUrl": "http://127.0.0.1:1", "namespace": "a b"}),
    ] {
        let error = client(config.clone())
            .err()
            .unwrap_or_else(|| panic!("{config} must be refused"));
        let (code, _, reconnect) = jira_error(&error);
        assert_eq!(code, "config", "{config}");
        assert!(!reconnect);
    }
    assert!(!is_jira_error(js_sys::Error::new("plain").into()));
    assert!(!is_jira_error(JsValue::from_str("JiraError")));
}

pub async fn signed_out_client_reports_not_signed_in() {
    let client = memory_client(&format!("signed-out-{}", js_sys::Date::now()));
    let status = client
        .status()
        .await
        .expect("status never needs the network");
    assert_eq!(state_of(&status.js_value()), json!({"state": "signedOut"}));
    let error = client
        .sites()
        .await
        .expect_err("no sites without a sign-in");
    let (code, _, reconnect) = jira_error(&error);
    assert_eq!(code, "not_signed_in");
    assert!(reconnect, "not_signed_in needs a (re)connect");
}

/// The whole redirect flow through the JS-facing client: beginSignIn → the fake's authorize
/// (auto-consent, 302 to the callback) → completeSignIn(final URL) → site choice → signedIn;
/// a second client of the same context shares the records and hears the sign-out.
pub async fn client_signs_in_through_the_redirect_flow(namespace: &str) {
    let client = memory_client(namespace);
    let authorize_url = client
        .begin_sign_in(page_callback_uri())
        .await
        .expect("an authorize URL");
    assert!(
        authorize_url.starts_with(&format!("{}/authorize?", fake_url())),
        "{authorize_url}"
    );

    let final_url = callback_in_a_frame(&authorize_url).await;
    assert!(
        final_url.starts_with(&format!("{}#ticket=", page_callback_uri())),
        "{final_url}"
    );

    let status = state_of(
        &client
            .complete_sign_in(final_url.clone())
            .await
            .expect("sign-in completes")
            .js_value(),
    );
    let site_id = match status["state"].as_str() {
        Some("signedIn") => status["site"]["id"].as_str().unwrap().to_string(),
        Some("siteSelectionRequired") => {
            let sites = status["sites"].as_array().unwrap();
            assert!(sites.len() >= 2, "a picker means several sites: {status}");
            let choice = sites[1]["id"].as_str().unwrap().to_string();
            let chosen = state_of(
                &client
                    .choose_site(choice.clone())
                    .await
                    .expect("site chosen")
                    .js_value(),
            );
            assert_eq!(chosen["state"], json!("signedIn"), "{chosen}");
            assert_eq!(chosen["site"]["id"], json!(choice));
            choice
        }
        _ => panic!("unexpected status after sign-in: {status}"),
    };
    let status = state_of(&client.status().await.unwrap().js_value());
    assert_eq!(status["state"], json!("signedIn"));
    assert_eq!(status["site"]["id"], json!(site_id));
    assert!(
        status["site"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{status}"
    );
    let sites: Vec<Value> = client
        .sites()
        .await
        .unwrap()
        .iter()
        .map(|s| state_of(&s.js_value()))
        .collect();
    assert!(sites.iter().any(|s| s["id"] == json!(site_id)), "{sites:?}");

    // The callback cannot be replayed: its pending sign-in was consumed.
    let replay = client
        .complete_sign_in(final_url)
        .await
        .expect_err("a replayed callback is refused");
    let (code, _, _) = jira_error(&replay);
    assert!(
        ["unknown_state", "state_mismatch"].contains(&code.as_str()),
        "{code}"
    );

    // Another client of this context (same namespace, same memory store) sees the sign-in and
    // is told about the sign-out.
    let other = memory_client(namespace);
    assert_eq!(
        state_of(&other.status().await.unwrap().js_value())["state"],
        json!("signedIn")
    );
    let heard: Rc<RefCell<Vec<Value>>> = Rc::default();
    let sink = heard.clone();
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |status: JsValue| {
        sink.borrow_mut().push(rust(&status))
    });
    other.on_status_change(
        callback
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone(),
    );
    client.sign_out().await.expect("signed out");
    eventually("onStatusChange reports the sign-out", || {
        heard
            .borrow()
            .iter()
            .any(|s| s["state"] == json!("signedOut"))
    })
    .await;
    assert!(
        heard.borrow().len() <= 2,
        "a burst of writes is reported once or twice, not per key: {:?}",
        heard.borrow()
    );
    assert_eq!(
        state_of(&other.status().await.unwrap().js_value())["state"],
        json!("signedOut")
    );
    drop(other);
    drop(callback);
}

/// A Web Locks request the browser refuses (a name starting with `-` is reserved) is a typed
/// `storage` error, never a quiet fall-back to a lock that only covers this context; and the
/// grant callback of a refused request is freed (its captured handles leave the heap).
pub async fn a_refused_web_lock_is_a_typed_error_and_leaks_nothing() {
    let lock = WebLock::new();
    let attempt = || lock.run_exclusive("-reserved-name", async { "entered" });
    // Warm up once: the first call allocates lazily-created handles that stay.
    let first = attempt().await.unwrap_err();
    assert!(
        matches!(first, jira_3lo::session::ports::LockError::Refused(_)),
        "{first:?}"
    );
    assert_eq!(
        jira_3lo::Error::from(first).code(),
        jira_3lo::ErrorCode::Storage
    );
    sleep(10).await;
    let before = wasm_bindgen::externref_heap_live_count();
    for _ in 0..20 {
        assert!(attempt().await.is_err());
    }
    sleep(10).await;
    let after = wasm_bindgen::externref_heap_live_count();
    assert!(
        after <= before + 2,
        "20 refused requests left {} JS handles behind",
        after - before
    );
}

/// The broker builds the authorize URL from this context's proof: `beginSignIn` in any context
/// (a service worker too) gets Atlassian's authorize URL with the broker's callback and sealed
/// state, and stores only its own state.
pub async fn client_begins_a_sign_in_through_the_broker(namespace: &str) {
    let client = memory_client(namespace);
    let url = client
        .begin_sign_in(callback_uri())
        .await
        .expect("the broker answers the proof");
    let parsed = web_sys::Url::new(&url).unwrap();
    let params = parsed.search_params();
    assert_eq!(
        params.get("redirect_uri"),
        Some(format!("{}/oauth/callback", broker_url()))
    );
    assert_eq!(params.get("client_id").as_deref(), Some("demo-client"));
    let sealed = params.get("state").expect("a state");
    assert!(sealed.len() > 100, "the broker's sealed state: {sealed}");
    // A redirect the broker does not allow is its typed refusal.
    let refused = client
        .begin_sign_in("https://elsewhere.example/cb".into())
        .await
        .expect_err("not on the broker's allow-list");
    let (code, _, _) = jira_error(&refused);
    assert_eq!(code, "broker");
}

/// One key pair per origin, even when two clients need it at the same moment on a fresh
/// database (the `add` that loses reads the winner's pair); its private half cannot be read.
pub async fn proof_key_is_one_non_extractable_pair_per_origin() {
    use jira_3lo::platform::{BrowserProofKey, KeyHome};
    use jira_3lo::session::ports::ProofKey;
    delete_key_database().await;
    let (a, b) = (
        BrowserProofKey::new(KeyHome::IndexedDb),
        BrowserProofKey::new(KeyHome::IndexedDb),
    );
    let (ja, jb) = future::join(a.public_jwk(), b.public_jwk()).await;
    let (ja, jb) = (ja.expect("a key"), jb.expect("a key"));
    assert_eq!(ja, jb, "both clients use one pair");
    assert_eq!(ja.x.len(), 43, "a P-256 coordinate");
    // A third client (a context started later) reads the same pair.
    let c = BrowserProofKey::new(KeyHome::IndexedDb);
    assert_eq!(c.public_jwk().await.unwrap(), ja);
    assert_eq!(a.sign(b"input").await.unwrap().len(), 64);
    // What IndexedDB holds is a CryptoKey that refuses to be exported.
    let exported = JsFuture::from(export_stored_private_key()).await;
    assert!(exported.is_err(), "the private key is not extractable");
    // The in-memory home is per JS context, like the `memory` store every memory client of
    // the context shares: a second client must sign with the key the first one's sign-in and
    // refresh blob are bound to (else its refresh is `invalid_grant` and clears both).
    let (m1, m2) = (
        BrowserProofKey::new(KeyHome::Memory),
        BrowserProofKey::new(KeyHome::Memory),
    );
    let (j1, j2) = future::join(m1.public_jwk(), m2.public_jwk()).await;
    let (j1, j2) = (j1.unwrap(), j2.unwrap());
    assert_eq!(j1, j2, "two memory clients of one context, one key");
    assert_ne!(j1, ja, "the memory home is not IndexedDB's");
    assert_eq!(
        BrowserProofKey::new(KeyHome::Memory)
            .public_jwk()
            .await
            .unwrap(),
        j1
    );
}

#[wasm_bindgen(inline_js = r#"
export function delete_key_database() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase('jira-3lo');
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error('blocked: a connection to jira-3lo is still open'));
  });
}
export function export_stored_private_key() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('jira-3lo');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const get = db.transaction('keys').objectStore('keys').get('proof-key');
      get.onerror = () => { db.close(); reject(get.error); };
      get.onsuccess = () => {
        db.close();
        const pair = get.result;
        if (!pair || pair.privateKey.extractable !== false) return resolve('extractable or missing');
        crypto.subtle.exportKey('jwk', pair.privateKey).then(resolve, reject);
      };
    };
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = delete_key_database)]
    fn delete_key_database_promise() -> js_sys::Promise;
    fn export_stored_private_key() -> js_sys::Promise;
}

async fn delete_key_database() {
    JsFuture::from(delete_key_database_promise())
        .await
        .expect("the key database is deleted");
}

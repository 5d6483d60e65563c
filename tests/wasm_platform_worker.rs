//! The browser platform layer inside a service worker (what the MV3 background is): no
//! `window`, no Web Storage. fetch (incl. timeout and network errors) against the real fake,
//! the memory store, Web Locks, the clock, and a full sign-in through `JiraClient`.
#![cfg(target_arch = "wasm32")]

#[path = "wasm_platform_shared/mod.rs"]
mod shared;

use jira_3lo::platform::{BrowserStore, StorageKind, WebLock};
use shared::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
fn this_is_a_service_worker_without_window_or_web_storage() {
    let global = js_sys::global();
    assert!(js_sys::Reflect::has(&global, &JsValue::from_str("ServiceWorkerGlobalScope")).unwrap());
    assert!(global.dyn_ref::<web_sys::Window>().is_none());
    assert!(
        BrowserStore::open(StorageKind::Session).is_err(),
        "no sessionStorage in a worker"
    );
    assert!(
        BrowserStore::open(StorageKind::Local).is_ok(),
        "local is IndexedDB, which workers have"
    );
    assert_eq!(StorageKind::detect(), StorageKind::Memory);
}

same_checks_in_both_contexts!();

/// `local` keeps its records in IndexedDB, so a worker (e.g. a page's own worker) can share the
/// origin's session with its tabs.
#[wasm_bindgen_test]
async fn local_store_works_in_a_worker() {
    let store = BrowserStore::open(StorageKind::Local).unwrap();
    store_round_trip(&store, "t-worker-local", false).await;
}

/// `FetchClient` is gloo-net's `fetch` (the global one, from gloo-net 0.6) plus our layer, here
/// where there is no `window`: a POST with a JSON body and a bearer header (through the CORS
/// preflight), the response's headers read back, then a timeout of the same client's kind.
#[wasm_bindgen_test]
async fn gloo_net_fetch_works_in_the_service_worker() {
    use jira_3lo::platform::FetchClient;
    use jira_3lo::session::ports::{HttpClient, HttpRequest, Method, TransportError};
    use serde_json::json;

    assert!(js_sys::Reflect::has(&js_sys::global(), &"ServiceWorkerGlobalScope".into()).unwrap());
    let response = FetchClient::default()
        .send(HttpRequest {
            method: Method::Post,
            url: format!(
                "{}/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/search/jql",
                fake_url()
            ),
            headers: vec![("Authorization".into(), "Bearer garbage".into())],
            body: Some(json!({"jql": "project = X", "maxResults": 1}).to_string()),
        })
        .await
        .expect("an HTTP response through gloo-net in the worker");
    assert_eq!(response.status, 401, "body: {}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|v| v.contains("json")),
        "{:?}",
        response.headers
    );
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("a JSON body");
    assert_eq!(body["code"], json!(401), "body: {}", response.body);

    admin(
        "POST",
        "faults",
        json!({"route": "GET /me", "count": 1, "fault": {"delay_ms": 2000}}),
    )
    .await;
    let result = FetchClient::new(200)
        .send(HttpRequest {
            method: Method::Get,
            url: format!("{}/me", fake_url()),
            headers: vec![],
            body: None,
        })
        .await;
    clear_faults().await;
    assert_eq!(result, Err(TransportError::Timeout));
}

#[wasm_bindgen_test]
async fn memory_store_reports_own_writes() {
    subscription_reports_changed_keys(
        &BrowserStore::open(StorageKind::Memory).unwrap(),
        "t-sub:worker",
    )
    .await;
}

#[wasm_bindgen_test]
async fn web_lock_serializes() {
    lock_serializes_critical_sections(WebLock::new(), "jira3lo-test:worker-serial").await;
}

#[wasm_bindgen_test]
async fn web_lock_is_held_while_critical() {
    web_lock_is_held_for_the_whole_critical_future("jira3lo-test:worker-held").await;
}

#[wasm_bindgen_test]
async fn web_lock_released_on_drop() {
    dropping_the_critical_future_releases_the_lock(WebLock::new(), "jira3lo-test:worker-drop")
        .await;
}

/// A service worker cannot follow the redirects in a frame; the ticket's redemption in the
/// extension's service worker is covered by the Playwright sign-in tests.
#[wasm_bindgen_test]
async fn client_begins_sign_in_with_a_proof() {
    client_begins_a_sign_in_through_the_broker("worker-sign-in").await;
}

#[wasm_bindgen_test]
async fn proof_key_one_pair() {
    proof_key_is_one_non_extractable_pair_per_origin().await;
}

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
        BrowserStore::open(StorageKind::Local).is_err(),
        "no localStorage in a worker"
    );
    assert_eq!(StorageKind::detect(), StorageKind::Memory);
}

same_checks_in_both_contexts!();

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

#[wasm_bindgen_test]
async fn client_sign_in_redirect_flow() {
    client_signs_in_through_the_redirect_flow("worker-sign-in").await;
}

//! The browser platform layer in a page (headless Chromium): fetch against the real fake
//! Atlassian, each Web Storage store and the memory store, Web Locks (also against another
//! context), the clock, and the JS-facing `JiraClient` through a real sign-in.
#![cfg(target_arch = "wasm32")]

#[path = "wasm_platform_shared/mod.rs"]
mod shared;

use std::cell::RefCell;
use std::rc::Rc;

use jira_3lo::platform::{sleep, BrowserStore, StorageKind, WebLock};
use jira_3lo::session::ports::{Area, CrossContextLock, KeyValueStore};
use shared::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

same_checks_in_both_contexts!();

#[wasm_bindgen_test]
async fn fetch_connection_refused() {
    fetch_reports_connection_refused_as_network_error().await;
}

fn web_storage(name: &str) -> web_sys::Storage {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .unwrap()
        .unchecked_into()
}

/// The origin's IndexedDB `records` store, read by plain JS: `(key, value)` pairs under `prefix`.
async fn indexed_records(prefix: &str) -> Vec<(String, String)> {
    let read = js_sys::Function::new_with_args(
        "prefix",
        "return new Promise((resolve, reject) => {
           const open = indexedDB.open('jira-3lo');
           open.onupgradeneeded = () => open.transaction.abort();
           open.onerror = () => (open.error.name === 'AbortError' ? resolve([]) : reject(open.error));
           open.onsuccess = () => {
             const db = open.result, out = [];
             if (!db.objectStoreNames.contains('records')) { db.close(); resolve(out); return; }
             const cursor = db.transaction('records').objectStore('records').openCursor();
             cursor.onsuccess = () => {
               const c = cursor.result;
               if (!c) { db.close(); resolve(out); return; }
               if (String(c.key).startsWith(prefix)) out.push([String(c.key), String(c.value)]);
               c.continue();
             };
           };
         });",
    );
    let promise: js_sys::Promise = read
        .call1(&JsValue::NULL, &JsValue::from_str(prefix))
        .unwrap()
        .unchecked_into();
    let pairs = JsFuture::from(promise).await.unwrap();
    serde_wasm_bindgen::from_value(pairs).unwrap()
}

/// `local`: both areas in the origin's IndexedDB, so every tab of the origin shares the access
/// token with the refresh token (a per-tab copy made each tab refresh and rotate on its own), and
/// nothing in Web Storage.
#[wasm_bindgen_test]
async fn local_store_keeps_both_areas_in_indexed_db() {
    let store = BrowserStore::open(StorageKind::Local).expect("IndexedDB in a page");
    store_round_trip(&store, "t-local", false).await;
    store
        .set(Area::Session, "t-local:access", "short")
        .await
        .unwrap();
    store
        .set(Area::Persistent, "t-local:refresh", "long")
        .await
        .unwrap();
    assert_eq!(
        indexed_records("t-local:").await,
        vec![
            ("t-local:access".to_string(), "short".to_string()),
            ("t-local:refresh".to_string(), "long".to_string()),
        ]
    );
    for storage in ["localStorage", "sessionStorage"] {
        assert_eq!(
            web_storage(storage).get_item("t-local:access").unwrap(),
            None
        );
    }
    store.remove(Area::Session, "t-local:access").await.unwrap();
    store
        .remove(Area::Persistent, "t-local:refresh")
        .await
        .unwrap();
    assert_eq!(indexed_records("t-local:").await, vec![]);
}

/// Without `navigator.locks`, a shared store's lock is a typed `config` error (the client
/// says how to opt into in-context locking), and the opted-in in-context lock works.
#[wasm_bindgen_test]
async fn missing_web_locks_are_a_config_error() {
    let navigator: js_sys::Object = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .unwrap()
        .unchecked_into();
    let descriptor = js_sys::Object::new();
    js_sys::Reflect::set(&descriptor, &"value".into(), &JsValue::UNDEFINED).unwrap();
    js_sys::Reflect::set(&descriptor, &"configurable".into(), &JsValue::TRUE).unwrap();
    js_sys::Object::define_property(&navigator, &"locks".into(), &descriptor);
    let refused = WebLock::new()
        .run_exclusive("jira3lo-test:no-locks", async {})
        .await;
    let in_context = WebLock::in_context()
        .run_exclusive("jira3lo-test:no-locks", async { 7 })
        .await;
    js_sys::Reflect::delete_property(&navigator, &"locks".into()).unwrap();
    let err = jira_3lo::Error::from(refused.unwrap_err());
    assert_eq!(err.code(), jira_3lo::ErrorCode::Config, "{err}");
    assert!(err.to_string().contains("locks: \"context\""), "{err}");
    assert_eq!(in_context, Ok(7));
    // navigator.locks is back for the other tests.
    assert!(WebLock::new()
        .run_exclusive("jira3lo-test:no-locks", async {})
        .await
        .is_ok());
}

#[wasm_bindgen_test]
async fn session_store_keeps_both_areas_in_session_storage() {
    let store = BrowserStore::open(StorageKind::Session).expect("sessionStorage in a page");
    store_round_trip(&store, "t-session", false).await;
    store
        .set(Area::Persistent, "t-session:p", "persistent")
        .await
        .unwrap();
    store
        .set(Area::Session, "t-session:s", "short")
        .await
        .unwrap();
    assert_eq!(
        web_storage("sessionStorage")
            .get_item("t-session:p")
            .unwrap()
            .as_deref(),
        Some("persistent")
    );
    assert_eq!(
        web_storage("sessionStorage")
            .get_item("t-session:s")
            .unwrap()
            .as_deref(),
        Some("short")
    );
    assert_eq!(
        web_storage("localStorage").get_item("t-session:p").unwrap(),
        None
    );
    store.remove(Area::Persistent, "t-session:p").await.unwrap();
    store.remove(Area::Session, "t-session:s").await.unwrap();
}

#[wasm_bindgen_test]
async fn extension_store_is_refused_outside_an_extension() {
    let error =
        BrowserStore::open(StorageKind::Extension).expect_err("no chrome.storage in a test page");
    assert!(error.0.contains("chrome.storage"), "{}", error.0);
    assert_eq!(
        StorageKind::detect(),
        StorageKind::Session,
        "a plain page defaults to sessionStorage"
    );
}

#[wasm_bindgen_test]
async fn local_store_reports_own_writes() {
    subscription_reports_changed_keys(
        &BrowserStore::open(StorageKind::Local).unwrap(),
        "t-sub:local",
    )
    .await;
}

#[wasm_bindgen_test]
async fn session_store_reports_own_writes() {
    subscription_reports_changed_keys(
        &BrowserStore::open(StorageKind::Session).unwrap(),
        "t-sub:session",
    )
    .await;
}

#[wasm_bindgen_test]
async fn memory_store_reports_own_writes() {
    subscription_reports_changed_keys(
        &BrowserStore::open(StorageKind::Memory).unwrap(),
        "t-sub:memory",
    )
    .await;
}

/// Another document of the tab (a same-origin iframe) writes sessionStorage: the page's
/// subscription hears it through the `storage` event.
#[wasm_bindgen_test]
async fn session_store_reports_other_documents_writes() {
    let store = BrowserStore::open(StorageKind::Session).unwrap();
    let seen: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
    let sink = seen.clone();
    let _subscription = store.subscribe(move |k| sink.borrow_mut().push(k.map(str::to_string)));
    let write_elsewhere = js_sys::Function::new_no_args(
        "const f = document.createElement('iframe'); document.body.appendChild(f);
         f.contentWindow.sessionStorage.setItem('t-sub:iframe', '1');
         f.contentWindow.sessionStorage.removeItem('t-sub:iframe'); f.remove();",
    );
    write_elsewhere.call0(&JsValue::NULL).unwrap();
    eventually("the iframe's write is reported", || {
        seen.borrow().contains(&Some("t-sub:iframe".to_string()))
    })
    .await;
}

#[wasm_bindgen_test]
async fn web_lock_serializes() {
    lock_serializes_critical_sections(WebLock::new(), "jira3lo-test:page-serial").await;
}

#[wasm_bindgen_test]
async fn in_context_fallback_lock_serializes() {
    lock_serializes_critical_sections(WebLock::in_context(), "jira3lo-test:page-fallback").await;
}

#[wasm_bindgen_test]
async fn web_lock_is_held_while_critical() {
    web_lock_is_held_for_the_whole_critical_future("jira3lo-test:page-held").await;
}

#[wasm_bindgen_test]
async fn web_lock_released_on_drop() {
    dropping_the_critical_future_releases_the_lock(WebLock::new(), "jira3lo-test:page-drop").await;
}

#[wasm_bindgen_test]
async fn fallback_lock_released_on_drop() {
    dropping_the_critical_future_releases_the_lock(
        WebLock::in_context(),
        "jira3lo-test:page-drop-fallback",
    )
    .await;
}

/// A dedicated worker (another context of the origin) holds the lock for 400 ms: the page's
/// `run_exclusive` waits for it; then the worker is gone and the lock is free again.
#[wasm_bindgen_test]
async fn web_lock_excludes_another_context() {
    let name = "jira3lo-test:cross-context";
    let start_holder = js_sys::Function::new_with_args(
        "name",
        "return new Promise((resolve) => {
           const code = `navigator.locks.request(${JSON.stringify(name)}, () => {
             postMessage('held'); return new Promise((r) => setTimeout(r, 400)); });`;
           const w = new Worker(URL.createObjectURL(new Blob([code], {type: 'text/javascript'})));
           w.onmessage = () => resolve(w);
         });",
    );
    let promise: js_sys::Promise = start_holder
        .call1(&JsValue::NULL, &JsValue::from_str(name))
        .unwrap()
        .unchecked_into();
    let worker = within(5_000, "the worker taking the lock", JsFuture::from(promise))
        .await
        .unwrap();
    let started = js_sys::Date::now();
    let waited = WebLock::new()
        .run_exclusive(name, async move { js_sys::Date::now() - started })
        .await
        .expect("the lock is granted");
    assert!(
        waited >= 300.0,
        "the page entered after {waited} ms while the worker held the lock for 400 ms"
    );
    let terminate: js_sys::Function = js_sys::Reflect::get(&worker, &"terminate".into())
        .unwrap()
        .unchecked_into();
    terminate.call0(&worker).unwrap();
    sleep(0).await;
}

#[wasm_bindgen_test]
async fn client_sign_in_redirect_flow() {
    client_signs_in_through_the_redirect_flow("page-sign-in").await;
}

#[wasm_bindgen_test]
async fn client_begins_sign_in_with_a_proof() {
    client_begins_a_sign_in_through_the_broker("page-begin").await;
}

#[wasm_bindgen_test]
async fn proof_key_one_pair() {
    proof_key_is_one_non_extractable_pair_per_origin().await;
}

/// The same flow with `storage: "local"`: the records land in the origin's IndexedDB under the
/// documented keys (none in Web Storage), and sign-out clears them.
#[wasm_bindgen_test]
async fn client_sign_in_with_local_storage() {
    let client = client(serde_json::json!({
        "brokerUrl": broker_url(), "apiBaseUrl": fake_url(),
        "storage": "local", "namespace": "page-local",
    }))
    .unwrap();
    let keys = || async {
        let mut keys: Vec<String> = indexed_records("jira3lo:page-local:")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys
    };
    let url = client.begin_sign_in(page_callback_uri()).await.unwrap();
    assert_eq!(keys().await, ["jira3lo:page-local:pending"]);
    let final_url = callback_in_a_frame(&url).await;
    client.complete_sign_in(final_url).await.expect("signed in");
    // The access token sits with the refresh token, where every tab of the origin sees it (and
    // the attempt stays, ended, so that a second completion of the callback is refused).
    assert_eq!(
        keys().await,
        [
            "jira3lo:page-local:access",
            "jira3lo:page-local:pending",
            "jira3lo:page-local:refresh",
            "jira3lo:page-local:site"
        ]
    );
    for storage in ["localStorage", "sessionStorage"] {
        let storage = web_storage(storage);
        let ours = (0..storage.length().unwrap())
            .filter_map(|i| storage.key(i).unwrap())
            .filter(|k| k.starts_with("jira3lo:page-local:"))
            .count();
        assert_eq!(ours, 0, "nothing in Web Storage");
    }
    client.sign_out().await.unwrap();
    assert_eq!(keys().await, Vec::<String>::new());
}

/// A redirect is never followed: the authorize endpoint's 302 (to a callback URL carrying a
/// code) fails as a network error naming only the origin, where `fetch` would have followed
/// it (a 307/308 from a broker would resend a token request's body).
#[wasm_bindgen_test]
async fn fetch_follows_no_redirect() {
    use jira_3lo::platform::FetchClient;
    use jira_3lo::session::ports::{HttpClient, HttpRequest, Method, TransportError};
    let client = memory_client("page-no-redirect");
    let authorize = client.begin_sign_in(callback_uri()).await.unwrap();
    // Control: the authorize endpoint does answer with a redirect (a manual fetch sees it).
    let manual = JsFuture::from(raw_fetch(
        &authorize,
        &js(&serde_json::json!({"redirect": "manual"})),
    ))
    .await
    .expect("a manual fetch resolves");
    assert_eq!(
        js_sys::Reflect::get(&manual, &"type".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("opaqueredirect")
    );
    let result = FetchClient::default()
        .send(HttpRequest {
            method: Method::Get,
            url: authorize,
            headers: vec![],
            body: None,
        })
        .await;
    match result {
        Err(TransportError::Network(message)) => {
            assert!(
                !message.contains("code=") && !message.contains("state="),
                "{message}"
            );
            assert!(message.contains(fake_url()), "{message}");
        }
        other => panic!("a redirect must not be followed: {other:?}"),
    }
}

/// A change listener dropped before its notification is delivered (its client was freed
/// right after a write) is not called.
#[wasm_bindgen_test]
async fn a_listener_dropped_before_delivery_is_not_called() {
    let store = BrowserStore::memory(jira_3lo::platform::MemoryStore::new());
    let seen = Rc::new(std::cell::Cell::new(0));
    let counter = seen.clone();
    let subscription = store.subscribe(move |_| counter.set(counter.get() + 1));
    store.set(Area::Session, "t-drop:k", "v").await.unwrap();
    drop(subscription);
    sleep(10).await;
    assert_eq!(seen.get(), 0);
    // A listener still registered is called.
    let counter = seen.clone();
    let _kept = store.subscribe(move |_| counter.set(counter.get() + 1));
    store.set(Area::Session, "t-drop:k", "w").await.unwrap();
    sleep(10).await;
    assert_eq!(seen.get(), 1);
}

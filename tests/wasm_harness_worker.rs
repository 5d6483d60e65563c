//! Proof that wasm-bindgen tests also run inside a service worker (the MV3 background) and
//! that `fetch` from wasm works there against the local fake Atlassian.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> js_sys::Promise;
}

#[wasm_bindgen_test]
async fn service_worker_fetches_from_the_local_fake() {
    let global = js_sys::global();
    assert!(
        js_sys::Reflect::has(&global, &JsValue::from_str("ServiceWorkerGlobalScope")).unwrap(),
        "this test must run inside a service worker"
    );
    assert!(
        global.dyn_ref::<web_sys::Window>().is_none(),
        "no window in a service worker"
    );
    let url = format!(
        "{}/__test/callback?probe=worker",
        match option_env!("JIRA3LO_TEST_FAKE_URL") {
            Some(url) => url,
            None => panic!("run through `cargo xtask test`, which sets JIRA3LO_TEST_FAKE_URL"),
        }
    );
    let response: web_sys::Response = JsFuture::from(global_fetch(&url))
        .await
        .unwrap()
        .unchecked_into();
    assert_eq!(response.status(), 200);
    let text = JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON body");
    assert_eq!(body["ok"], serde_json::json!(true), "body was {text}");
}

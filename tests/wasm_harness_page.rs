//! Proof that the browser test harness is real: wasm in headless Chromium makes a real
//! `fetch` over HTTP to the fake Atlassian that `cargo xtask test` started on 127.0.0.1.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, present on `window` and on worker scopes alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> js_sys::Promise;
}

pub async fn fetch_json(url: &str) -> (u16, serde_json::Value) {
    let response: web_sys::Response = JsFuture::from(global_fetch(url))
        .await
        .expect("fetch resolves")
        .unchecked_into();
    let status = response.status();
    let text = JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

fn fake_url() -> &'static str {
    match option_env!("JIRA3LO_TEST_FAKE_URL") {
        Some(url) => url,
        None => panic!("run through `cargo xtask test`, which sets JIRA3LO_TEST_FAKE_URL"),
    }
}

#[wasm_bindgen_test]
async fn page_fetches_from_the_local_fake_over_real_http() {
    let (status, body) = fetch_json(&format!("{}/__test/callback?probe=page", fake_url())).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], serde_json::json!(true));
}

#[wasm_bindgen_test]
async fn a_gateway_401_body_arrives_intact() {
    // No token: the fake's gateway answers Atlassian's 401 shape, with CORS so the page can read it.
    let (status, body) =
        fetch_json(&format!("{}/oauth/token/accessible-resources", fake_url())).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], serde_json::json!(401));
}

#[wasm_bindgen_test]
fn the_crate_reports_its_version() {
    assert_eq!(jira_3lo::bindings::version(), env!("CARGO_PKG_VERSION"));
}

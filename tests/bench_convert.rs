//! How much converting a 50-issue search body costs in the browser, for each way of turning
//! the body into what JavaScript receives (the numbers in README "Measured"). Run it with
//! `cargo xtask bench convert` (a release build; it prints a table and asserts nothing but
//! that the ways agree). Not a `wasm_*` test: `cargo xtask test` does not run it.
//!
//! The body is a real `GET /rest/api/3/search/jql` answer of the fake Atlassian (50 PLAT
//! issues, the default search fields), `tests/fixtures/search50.json`.
#![cfg(target_arch = "wasm32")]

use jira_3lo::jira::SearchPage;
use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const BODY: &str = include_str!("fixtures/search50.json");

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now() -> f64;
    /// `JSON.parse` of a JavaScript string (what `Response.json()` costs, without the copy
    /// of the body out of the wasm memory).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    fn parse_js_string(text: &JsValue) -> JsValue;
}

/// What the module does (src/bindings/js.rs `to_js`): serde_json's text, `JSON.parse`d.
fn to_js_text<T: serde::Serialize>(value: &T) -> JsValue {
    js_sys::JSON::parse(&serde_json::to_string(value).unwrap()).unwrap()
}

/// The median of `runs` timings of `f`, in ms.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..5 {
        f();
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = now();
            f();
            now() - start
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[runs / 2]
}

/// (c): only what the engine needs of the page, the issues kept as the parsed JS values.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Light {
    #[serde(default)]
    issues: Vec<Preserved>,
    next_page_token: Option<String>,
    #[serde(default)]
    is_last: bool,
}

#[derive(Deserialize)]
#[serde(transparent)]
struct Preserved(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

#[wasm_bindgen_test]
fn conversion_costs() {
    let js_body = JsValue::from_str(BODY);
    let runs = 41;
    let parse_only = median(runs, || {
        let _ = parse_js_string(&js_body);
    });
    let parse_rust_body = median(runs, || {
        let _ = js_sys::JSON::parse(BODY).unwrap();
    });
    let a = median(runs, || {
        let v = js_sys::JSON::parse(BODY).unwrap();
        let page: SearchPage = serde_wasm_bindgen::from_value(v).unwrap();
        let _ = page.into_js().unwrap();
    });
    let b = median(runs, || {
        let page: SearchPage = serde_json::from_str(BODY).unwrap();
        let _ = page.into_js().unwrap();
    });
    let b_text = median(runs, || {
        let page: SearchPage = serde_json::from_str(BODY).unwrap();
        let _ = to_js_text(&page);
    });
    let a_text = median(runs, || {
        let v = js_sys::JSON::parse(BODY).unwrap();
        let page: SearchPage = serde_wasm_bindgen::from_value(v).unwrap();
        let _ = to_js_text(&page);
    });
    let c = median(runs, || {
        let v = js_sys::JSON::parse(BODY).unwrap();
        let page: Light = serde_wasm_bindgen::from_value(v).unwrap();
        let issues: js_sys::Array = page.issues.into_iter().map(|p| p.0).collect();
        let _ = (issues, page.next_page_token, page.is_last);
    });
    let de_json = median(runs, || {
        let _: SearchPage = serde_json::from_str(BODY).unwrap();
    });
    let de_swb = {
        let v = js_sys::JSON::parse(BODY).unwrap();
        median(runs, || {
            let _: SearchPage = serde_wasm_bindgen::from_value(v.clone()).unwrap();
        })
    };
    let page: SearchPage = serde_json::from_str(BODY).unwrap();
    let ser_swb = median(runs, || {
        let _ = page.into_js().unwrap();
    });
    let ser_text = median(runs, || {
        let _ = to_js_text(&page);
    });
    // (a) and (b) give what JavaScript receives with every member; they agree.
    let via_a: SearchPage =
        serde_wasm_bindgen::from_value(js_sys::JSON::parse(BODY).unwrap()).unwrap();
    assert_eq!(via_a, page);
    let rows = [
        ("JSON.parse alone (body already a JS string)", parse_only),
        (
            "JSON.parse of the Rust body (incl. its copy to JS)",
            parse_rust_body,
        ),
        ("(a) JSON.parse + from_value + into_js", a),
        (
            "(a') JSON.parse + from_value + to_string + JSON.parse [shipped]",
            a_text,
        ),
        ("(b) serde_json::from_str + into_js", b),
        ("(b') serde_json::from_str + to_string + JSON.parse", b_text),
        ("(c) JSON.parse + from_value of engine fields only", c),
        ("  part: serde_json::from_str into SearchPage", de_json),
        (
            "  part: from_value (parsed JS value) into SearchPage",
            de_swb,
        ),
        ("  part: into_js of SearchPage", ser_swb),
        (
            "  part: serde_json::to_string + JSON.parse of SearchPage",
            ser_text,
        ),
    ];
    let mut out = format!(
        "conversion of a {} B, 50-issue search body (median of {runs}):\n",
        BODY.len()
    );
    for (what, ms) in rows {
        out.push_str(&format!(
            "  {what:<62} {ms:>7.2} ms  ({:.2}x JSON.parse)\n",
            ms / parse_only
        ));
    }
    web_sys::console::log_1(&out.into());
}

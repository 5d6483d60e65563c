//! Bindings to functions of the global object (`globalThis`), so the same code runs in a
//! page (where it is `window`) and in a (service) worker (where there is no `window`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `globalThis.setTimeout`; the handle is a number in browsers, so it is kept opaque.
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(handler: &js_sys::Function, timeout_ms: i32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    pub(crate) fn clear_timeout(handle: &JsValue);
}

/// `globalThis.a.b.c`, or `None` when any link of the path is missing (`undefined`/`null`)
/// or throws (a sandboxed page throws on `localStorage`).
pub(crate) fn global_path(path: &[&str]) -> Option<JsValue> {
    let mut value: JsValue = js_sys::global().into();
    for name in path {
        value = js_sys::Reflect::get(&value, &JsValue::from_str(name)).ok()?;
        if value.is_undefined() || value.is_null() {
            return None;
        }
    }
    Some(value)
}

/// Setting timeouts beyond this (about 24.8 days) makes browsers fire them immediately.
pub(crate) fn clamp_timeout(ms: u64) -> i32 {
    ms.min(i32::MAX as u64) as i32
}

/// The name and message of a thrown JS value, for error messages. Only used for errors of
/// APIs that never echo request data (fetch's `TypeError: Failed to fetch`, storage quota).
pub(crate) fn describe_js_error(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        let name = String::from(error.name());
        let message = String::from(error.message());
        if message.is_empty() {
            name
        } else {
            format!("{name}: {message}")
        }
    } else if let Some(text) = value.as_string() {
        text
    } else {
        "unknown JavaScript error".to_string()
    }
}

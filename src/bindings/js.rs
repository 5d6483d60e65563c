//! The one way a model goes out to JavaScript ([`to_js`]) and the one way JavaScript input
//! comes in ([`from_js`]), and the few object helpers the error objects are built with.

use js_sys::{Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::{JsCast, JsValue};

use crate::Error;

/// A model as JavaScript receives it: its serde form (every `Option` a `null`, maps as plain
/// objects), written by serde_json and read by the browser's `JSON.parse`. Measured on a
/// 50-issue search page (`cargo xtask bench convert`), this is twice as fast as building the
/// objects member by member through serde-wasm-bindgen (`into_js`), and a fraction of the
/// cost of parsing the body in JavaScript and reading it into the model from there.
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    js_sys::JSON::parse(&crate::core::json::to_text(value)).unwrap_or(JsValue::NULL)
}

/// JavaScript input read as its model (tsify's `from_js`, through serde-wasm-bindgen); a wrong
/// shape is a `config` error naming what was wrong.
pub(crate) fn from_js<T: Tsify + DeserializeOwned>(value: JsValue, what: &str) -> Result<T, Error> {
    T::from_js(value).map_err(|e| Error::Config {
        message: format!("invalid {what}: {e}"),
    })
}

/// Sets a data property (cannot fail on a plain object or an `Error` we just made).
pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) {
    let name = JsValue::from_str(key);
    if key == "__proto__" {
        // Assigning `__proto__` would replace the prototype; in JSON it is an ordinary member
        // (what `JSON.parse` makes of it), so it is defined as an own data property.
        let descriptor = Object::new();
        for (field, flag) in [
            ("value", value),
            ("writable", &JsValue::TRUE),
            ("enumerable", &JsValue::TRUE),
            ("configurable", &JsValue::TRUE),
        ] {
            let _ = Reflect::set(&descriptor, &JsValue::from_str(field), flag);
        }
        Object::define_property(target.unchecked_ref::<Object>(), &name, &descriptor);
        return;
    }
    let _ = Reflect::set(target, &name, value);
}

/// A plain object from `(key, value)` pairs, in order.
pub(crate) fn object(members: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in members {
        set(&object, key, value);
    }
    object
}

/// A JavaScript array of strings.
pub(crate) fn strings(items: &[String]) -> JsValue {
    to_js(&items)
}

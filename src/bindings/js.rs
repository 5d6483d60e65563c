//! JavaScript values as [`Json`] for the shape interpreter, and the few object helpers the
//! bindings build their results with. Plain `Reflect`/`Object` calls instead of a serde
//! format for JavaScript: the same objects, far less wasm.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::json::{is_safe_integer, Json, Kind, ParseError};

impl Json for JsValue {
    fn kind(&self) -> Kind {
        if self.is_null() || self.is_undefined() {
            Kind::Null
        } else if self.as_bool().is_some() {
            Kind::Bool
        } else if self.as_f64().is_some() {
            Kind::Number
        } else if self.is_string() {
            Kind::String
        } else if Array::is_array(self) {
            Kind::Array
        } else if self.is_object() {
            Kind::Object
        } else {
            Kind::Other
        }
    }

    fn member(&self, key: &str) -> Option<Self> {
        Reflect::get(self, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn keys(&self) -> Vec<String> {
        Object::keys(self.unchecked_ref::<Object>())
            .iter()
            .filter_map(|k| k.as_string())
            .collect()
    }

    fn elements(&self) -> Vec<Self> {
        self.unchecked_ref::<Array>().iter().collect()
    }

    fn as_f64(&self) -> Option<f64> {
        JsValue::as_f64(self)
    }

    fn as_u64(&self) -> Option<u64> {
        // `JSON.parse` keeps no integer/float distinction: a safe integer counts.
        JsValue::as_f64(self)
            .filter(|&n| is_safe_integer(n) && n >= 0.0)
            .map(|n| n as u64)
    }

    fn as_i64(&self) -> Option<i64> {
        JsValue::as_f64(self)
            .filter(|&n| is_safe_integer(n))
            .map(|n| n as i64)
    }

    fn as_string(&self) -> Option<String> {
        JsValue::as_string(self)
    }

    fn as_bool(&self) -> Option<bool> {
        JsValue::as_bool(self)
    }

    fn null() -> Self {
        JsValue::NULL
    }

    fn from_f64(n: f64) -> Self {
        JsValue::from_f64(n)
    }

    fn from_bool(b: bool) -> Self {
        JsValue::from_bool(b)
    }

    fn from_str(s: &str) -> Self {
        JsValue::from_str(s)
    }

    fn array(items: Vec<Self>) -> Self {
        let array = Array::new();
        for item in &items {
            array.push(item);
        }
        array.into()
    }

    fn object(members: Vec<(String, Self)>) -> Self {
        let object = Object::new();
        for (key, value) in &members {
            set(&object, key, value);
        }
        object.into()
    }

    fn parse(text: &str) -> Result<Self, ParseError> {
        js_sys::JSON::parse(text).map_err(|_| crate::core::json::failure_kind(text))
    }

    fn to_json_string(&self) -> String {
        js_sys::JSON::stringify(self)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }
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
    JsValue::array(items.iter().map(|s| JsValue::from_str(s)).collect())
}

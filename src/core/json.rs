//! JSON in and out of the engine, with serde on both targets: the models derive
//! `Deserialize`/`Serialize`, [`decode`] reads a body or a stored record into one, and free-form
//! JSON (custom fields, ADF, expansions) is a [`JsonValue`].

use serde::de::DeserializeOwned;

/// Free-form JSON: a `serde_json::Value` (objects keep their keys sorted).
pub type JsonValue = serde_json::Value;

/// The largest integer every JSON reader holds exactly (JavaScript's `Number.MAX_SAFE_INTEGER`):
/// larger ones do not survive a trip through `JSON.parse` or an `f64`.
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Why a text is not the expected JSON, as `serde_json::error::Category` names it (`Debug`
/// prints `Syntax`, `Eof` or `Data`): the engine's messages name the category, never the text
/// (a stored record or a token body may hold a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON (HTML, garbage, trailing characters).
    Syntax,
    /// JSON cut short (an empty body, a truncated object).
    Eof,
    /// JSON, but not of the model's shape (a missing member, a wrong type).
    Data,
}

/// Reads a JSON text as `T`: the one decode function of the engine (token responses,
/// accessible-resources, gateway and Jira errors, storage records, Jira responses), serde_json
/// on both targets. In the wasm that is faster than `JSON.parse` + serde-wasm-bindgen (0.92 ms
/// against 1.88 ms for a 50-issue search, `cargo xtask bench convert`): one pass over the text
/// instead of a JS object graph read property by property through the boundary.
pub fn decode<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => DecodeError::Eof,
        serde_json::error::Category::Syntax => DecodeError::Syntax,
        _ => DecodeError::Data,
    })
}

/// The compact JSON text of a model or of free-form JSON (the one JSON writer of the engine).
pub fn to_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A JSON object whose members are all strings (token request bodies, `{"id": ..}`).
pub fn string_object(members: &[(&str, &str)]) -> JsonValue {
    let mut map = serde_json::Map::new();
    for (k, v) in members {
        map.insert(k.to_string(), JsonValue::from(*v));
    }
    JsonValue::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_category() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        assert_eq!(decode::<T>("").unwrap_err(), DecodeError::Eof);
        assert_eq!(decode::<T>("{\"a\":1").unwrap_err(), DecodeError::Eof);
        assert_eq!(decode::<T>("<html>").unwrap_err(), DecodeError::Syntax);
        assert_eq!(decode::<T>("{\"a\":1}x").unwrap_err(), DecodeError::Syntax);
        assert_eq!(decode::<T>("{\"a\":\"1\"}").unwrap_err(), DecodeError::Data);
        assert_eq!(decode::<T>("{}").unwrap_err(), DecodeError::Data);
        assert_eq!(decode::<T>("{\"a\":1}").unwrap().a, 1);
        assert_eq!(
            string_object(&[("b", "1"), ("a", "2")]).to_string(),
            "{\"a\":\"2\",\"b\":\"1\"}"
        );
    }
}

//! JSON values as a trait, so the engine reads and writes JSON once for two representations:
//! `serde_json::Value` natively and the browser's own values (`JSON.parse` / `JSON.stringify`
//! on a `JsValue`) in the wasm, which then carries no JSON parser, serializer or serde code.
//!
//! [`JsonValue`] is the representation of the target being built; the core's readers are
//! generic over [`Json`] and their public entry points use [`JsonValue`].

/// The JSON representation of this target: `serde_json::Value` natively, `JsValue` in wasm.
#[cfg(not(target_arch = "wasm32"))]
pub type JsonValue = serde_json::Value;
/// The JSON representation of this target: `serde_json::Value` natively, `JsValue` in wasm.
#[cfg(target_arch = "wasm32")]
pub type JsonValue = wasm_bindgen::JsValue;

/// A `serde_json::Value` in this target's representation (natively the value itself; in the
/// wasm through its JSON text). For the Rust API's serde-typed inputs; JavaScript's inputs
/// never take this path.
pub fn from_serde(value: serde_json::Value) -> JsonValue {
    #[cfg(not(target_arch = "wasm32"))]
    return value;
    #[cfg(target_arch = "wasm32")]
    return JsonValue::parse(&value.to_string()).unwrap_or(JsonValue::NULL);
}

/// The largest integer every JSON reader holds exactly (JavaScript's `Number.MAX_SAFE_INTEGER`):
/// larger ones do not survive a trip through `JSON.parse` or an `f64`.
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// A whole number within ±[`MAX_SAFE_INTEGER`].
pub fn is_safe_integer(n: f64) -> bool {
    n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64
}

/// The kind of a JSON-like value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null` (and JavaScript's `undefined`).
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// Anything JSON has no word for (a function, a symbol, a `BigInt`).
    Other,
}

/// Why a text is not JSON, named like `serde_json::error::Category` (`Debug` prints `Syntax`
/// or `Eof`): the engine's messages name the category, never the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON (HTML, garbage, trailing characters).
    Syntax,
    /// JSON cut short (an empty body, a truncated object).
    Eof,
}

/// A JSON-like value the engine reads and builds.
pub trait Json: Sized + Clone {
    fn kind(&self) -> Kind;
    /// The member `key` of an object; `None` when absent (or `undefined`).
    fn member(&self, key: &str) -> Option<Self>;
    /// The own enumerable keys of an object, in order.
    fn keys(&self) -> Vec<String>;
    /// The elements of an array.
    fn elements(&self) -> Vec<Self>;
    fn as_f64(&self) -> Option<f64>;
    /// A non-negative integer (what serde reads as a `u64`: no fraction, no sign).
    fn as_u64(&self) -> Option<u64>;
    /// An integer (what serde reads as an `i64`).
    fn as_i64(&self) -> Option<i64>;
    fn as_string(&self) -> Option<String>;
    fn as_bool(&self) -> Option<bool>;
    fn null() -> Self;
    fn from_f64(n: f64) -> Self;
    fn from_bool(b: bool) -> Self;
    fn from_str(s: &str) -> Self;
    fn array(items: Vec<Self>) -> Self;
    fn object(members: Vec<(String, Self)>) -> Self;
    /// Parses a JSON text.
    fn parse(text: &str) -> Result<Self, ParseError>;
    /// The compact JSON text of the value.
    fn to_json_string(&self) -> String;
}

/// A string member; `None` when absent or not a string.
pub fn string<J: Json>(value: &J, key: &str) -> Option<String> {
    value.member(key).and_then(|v| v.as_string())
}

/// What serde makes of an `Option` member: absent or `null` → `Some(None)`, a value `read`
/// refuses (the wrong type) → `None`.
pub fn optional<J: Json, T>(
    value: &J,
    key: &str,
    read: impl Fn(&J) -> Option<T>,
) -> Option<Option<T>> {
    match value.member(key) {
        None => Some(None),
        Some(v) if v.kind() == Kind::Null => Some(None),
        Some(v) => read(&v).map(Some),
    }
}

/// An array of strings; `None` when it is not one.
pub fn strings<J: Json>(value: &J) -> Option<Vec<String>> {
    if value.kind() != Kind::Array {
        return None;
    }
    map_all(&value.elements(), |s| s.as_string().ok_or(())).ok()
}

/// `read` of every item, or its first error. A plain loop: `collect` into a `Result` or an
/// `Option` brings an iterator adapter per call site (bytes of wasm each).
pub fn map_all<J, T, E>(items: &[J], read: impl Fn(&J) -> Result<T, E>) -> Result<Vec<T>, E> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(read(item)?);
    }
    Ok(out)
}

/// A JSON object from `(key, value)` pairs, in order.
pub fn object<J: Json>(members: Vec<(&str, J)>) -> J {
    J::object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A JSON object whose members are all strings, in order (token request bodies, `{"id": ..}`).
pub fn string_object<J: Json>(members: &[(&str, &str)]) -> J {
    J::object(
        members
            .iter()
            .map(|(k, v)| (k.to_string(), J::from_str(v)))
            .collect(),
    )
}

/// Sorts keys in byte order (a `BTreeMap`'s). Insertion sort: objects have few keys, and it
/// is a few bytes of wasm where `slice::sort` is kilobytes.
pub fn sort(keys: &mut [String]) {
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            keys.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A copy of free-form JSON with every object's keys sorted (what `serde_json::Value` holds).
pub fn sorted<J: Json>(value: &J) -> J {
    match value.kind() {
        Kind::Array => J::array(value.elements().iter().map(sorted).collect()),
        Kind::Object => sorted_object(value),
        _ => value.clone(),
    }
}

/// An object with its keys (and those of every object inside) sorted.
pub fn sorted_object<J: Json>(value: &J) -> J {
    let mut keys = value.keys();
    sort(&mut keys);
    J::object(
        keys.into_iter()
            .map(|k| {
                let v = value.member(&k).map_or_else(J::null, |v| sorted(&v));
                (k, v)
            })
            .collect(),
    )
}

/// Whether a text that is not JSON is cut short ([`ParseError::Eof`]: it ends where more JSON
/// was expected) or wrong ([`ParseError::Syntax`]), as `serde_json` tells them apart. For
/// parsers that only say "not JSON" (the browser's `JSON.parse`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn failure_kind(text: &str) -> ParseError {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
    };
    match scan.value(0).and_then(|()| scan.end()) {
        Err(e) => e,
        // Valid for this scanner (e.g. a number JSON.parse rejects): not cut short.
        Ok(()) => ParseError::Syntax,
    }
}

/// A JSON grammar check that only reports where it failed.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Result<u8, ParseError> {
        self.ws();
        self.bytes.get(self.at).copied().ok_or(ParseError::Eof)
    }

    fn eat(&mut self, byte: u8) -> Result<(), ParseError> {
        if self.peek()? == byte {
            self.at += 1;
            Ok(())
        } else {
            Err(ParseError::Syntax)
        }
    }

    fn end(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Err(_) => Ok(()),
            Ok(_) => Err(ParseError::Syntax),
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), ParseError> {
        if depth > 128 {
            return Err(ParseError::Syntax);
        }
        match self.peek()? {
            b'{' => self.list(b'}', depth, true),
            b'[' => self.list(b']', depth, false),
            b'"' => self.string(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(ParseError::Syntax),
        }
    }

    fn list(&mut self, close: u8, depth: usize, object: bool) -> Result<(), ParseError> {
        self.at += 1;
        if self.peek()? == close {
            self.at += 1;
            return Ok(());
        }
        loop {
            if object {
                if self.peek()? != b'"' {
                    return Err(ParseError::Syntax);
                }
                self.string()?;
                self.eat(b':')?;
            }
            self.value(depth + 1)?;
            match self.peek()? {
                b',' => self.at += 1,
                b if b == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(ParseError::Syntax),
            }
        }
    }

    fn string(&mut self) -> Result<(), ParseError> {
        self.at += 1;
        loop {
            let b = *self.bytes.get(self.at).ok_or(ParseError::Eof)?;
            self.at += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = *self.bytes.get(self.at).ok_or(ParseError::Eof)?;
                    self.at += 1;
                    if e == b'u' {
                        // serde_json reads all four bytes before judging them.
                        if self.bytes.len() < self.at + 4 {
                            return Err(ParseError::Eof);
                        }
                        for _ in 0..4 {
                            let h = self.bytes[self.at];
                            if !h.is_ascii_hexdigit() {
                                return Err(ParseError::Syntax);
                            }
                            self.at += 1;
                        }
                    } else if !b"\"\\/bfnrt".contains(&e) {
                        return Err(ParseError::Syntax);
                    }
                }
                0..=0x1f => return Err(ParseError::Syntax),
                _ => {}
            }
        }
    }

    fn word(&mut self, word: &[u8]) -> Result<(), ParseError> {
        for &w in word {
            match self.bytes.get(self.at) {
                None => return Err(ParseError::Eof),
                Some(&b) if b == w => self.at += 1,
                Some(_) => return Err(ParseError::Syntax),
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> Result<(), ParseError> {
        match self.bytes.get(self.at) {
            None => return Err(ParseError::Eof),
            Some(b) if !b.is_ascii_digit() => return Err(ParseError::Syntax),
            _ => {}
        }
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<(), ParseError> {
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        if self.bytes.get(self.at) == Some(&b'0') {
            self.at += 1;
        } else {
            self.digits()?;
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(())
    }
}

/// Natively the engine's representation; in the wasm only for Rust callers (and unit tests).
impl Json for serde_json::Value {
    fn kind(&self) -> Kind {
        use serde_json::Value;
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
    fn member(&self, key: &str) -> Option<Self> {
        self.as_object().and_then(|m| m.get(key)).cloned()
    }
    fn keys(&self) -> Vec<String> {
        self.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    fn elements(&self) -> Vec<Self> {
        self.as_array().cloned().unwrap_or_default()
    }
    fn as_f64(&self) -> Option<f64> {
        serde_json::Value::as_f64(self)
    }
    fn as_u64(&self) -> Option<u64> {
        serde_json::Value::as_u64(self)
    }
    fn as_i64(&self) -> Option<i64> {
        serde_json::Value::as_i64(self)
    }
    fn as_string(&self) -> Option<String> {
        self.as_str().map(str::to_string)
    }
    fn as_bool(&self) -> Option<bool> {
        serde_json::Value::as_bool(self)
    }
    fn null() -> Self {
        serde_json::Value::Null
    }
    fn from_f64(n: f64) -> Self {
        if is_safe_integer(n) {
            serde_json::Value::from(n as i64)
        } else {
            serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, Into::into)
        }
    }
    fn from_bool(b: bool) -> Self {
        serde_json::Value::Bool(b)
    }
    fn from_str(s: &str) -> Self {
        serde_json::Value::String(s.to_string())
    }
    fn array(items: Vec<Self>) -> Self {
        serde_json::Value::Array(items)
    }
    fn object(members: Vec<(String, Self)>) -> Self {
        serde_json::Value::Object(members.into_iter().collect())
    }
    fn parse(text: &str) -> Result<Self, ParseError> {
        serde_json::from_str(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Eof => ParseError::Eof,
            _ => ParseError::Syntax,
        })
    }
    fn to_json_string(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kind_agrees_with_serde_json() {
        for text in [
            "",
            "   ",
            "<html>",
            "garbage",
            "{\"access_token\":\"a\"",
            "{\"a\":1}x",
            "{\"a\" 1}",
            "[1,2",
            "[1,2,]",
            "{\"a\":tru",
            "{\"a\":trux}",
            "\"abc",
            "\"a\\x\"",
            "\"a\\u12",
            "\"\\ues\"",
            "\"\\u12x4\"",
            "-",
            "1.",
            "1.x",
            "01",
            "{\"a\":1,}",
            "{,}",
            "nul",
            "[[[",
            "{\"v\":1,",
        ] {
            let serde = <serde_json::Value as Json>::parse(text).unwrap_err();
            assert_eq!(failure_kind(text), serde, "{text:?}");
        }
    }
}

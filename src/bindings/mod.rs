//! The JavaScript surface (wasm only).
use wasm_bindgen::prelude::*;

/// The crate version; the popup renders it to prove the module initialised.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

//! The JavaScript surface (wasm only): `JiraClient`, its configuration, status and error
//! types, and `version()`. TypeScript types come from tsify and the custom sections in
//! `error.rs`; the generated `.d.ts` has no `any`.

mod client;
mod config;
pub(crate) mod error;
pub mod jira;
mod js;
mod types;

pub use client::JiraClient;
pub use config::{ClientConfig, StorageChoice};
pub use error::is_jira_error;
pub use js::to_js;
pub use types::{Site, Status};

use wasm_bindgen::prelude::*;

/// Talc instead of the default dlmalloc: the same job in a few KB less wasm (and faster).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Random bytes from the Web Crypto API of the page or worker (`getrandom`'s backend here).
fn web_crypto_random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .filter(|c| c.is_object())
        .ok_or(getrandom::Error::WEB_CRYPTO)?;
    let crypto: web_sys::Crypto = crypto.unchecked_into();
    // `getRandomValues` fills at most 65536 bytes per call.
    for chunk in buf.chunks_mut(65536) {
        crypto
            .get_random_values_with_u8_array(chunk)
            .map_err(|_| getrandom::Error::WEB_GET_RANDOM_VALUES)?;
    }
    Ok(())
}

getrandom::register_custom_getrandom!(web_crypto_random);

/// The crate version; the popup renders it to prove the module initialised.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

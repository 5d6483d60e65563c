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
pub use types::{Site, Status};

use wasm_bindgen::prelude::*;

/// Talc instead of the default dlmalloc: the same job in a few KB less wasm (and faster).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The crate version; the popup renders it to prove the module initialised.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

//! # jira-3lo
//!
//! Atlassian OAuth 2.0 (3LO) sign-in and typed Jira Cloud REST calls for browser
//! extensions (Manifest V3) and web pages, written in Rust and compiled to WebAssembly.
//!
//! The crate is layered so that a newcomer finds each concern by name:
//!
//! - [`core`]: the sans-IO protocol logic. Pure functions and small state types that
//!   *decide* (build the authorize URL, validate a callback, judge token freshness,
//!   classify token-endpoint and gateway responses, merge sites). No I/O, native-testable.
//! - [`session`]: the async engine that *performs* those decisions through four small
//!   ports ([`session::ports`]): HTTP, key-value storage, a cross-context lock and a clock.
//!   Single-flight refresh, site discovery, retries and the 401 → refresh → retry path live here.
//! - [`jira`]: typed Jira Cloud REST v3 models and calls on top of the session.
//! - `platform` (wasm only): the browser implementations of the ports (fetch that works in a
//!   service worker, `chrome.storage` / Web Storage / memory, Web Locks).
//! - `bindings` (wasm only): the `#[wasm_bindgen]` surface that JavaScript sees.

pub mod core;
pub mod error;
pub mod jira;
pub mod session;

#[cfg(target_arch = "wasm32")]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
pub mod platform;

pub use error::{Error, ErrorCode};

/// The crate version, as rendered by the popup's footer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

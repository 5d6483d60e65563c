//! Typed Jira Cloud REST v3 models and calls.
//!
//! - [`models`]: the shapes (Issue, User, Project, Transition, Comment, pages, inputs), with
//!   TypeScript types on wasm.
//! - [`adf`]: Atlassian Document Format ↔ plain text.
//! - [`requests`]: pure builders that turn a call into a [`crate::core::api_request::JiraRequest`].
//! - [`paging`]: the `nextPageToken` walk shared by Rust and JavaScript.
//! - `calls`: the async methods on [`crate::session::Session`] that send them.
pub mod adf;
pub(crate) mod calls;
pub mod models;
pub mod paging;
pub mod requests;

pub use adf::AdfDocument;
pub use models::*;
pub use paging::SearchWalk;

//! The sans-IO core: pure protocol logic, no I/O, no browser objects.
//!
//! Every function here takes inputs (URLs, response status + body, stored records, the
//! current time) and returns a decision or a typed [`crate::Error`]. The async engine in
//! [`crate::session`] performs the decisions; the core is unit-tested natively in milliseconds.
pub mod api_request;
pub mod authorize;
pub mod callback;
pub mod dpop;
pub mod gateway;
pub mod io;
pub mod json;
pub mod rate_limit;
pub mod records;
pub mod refresh;
pub mod secrets;
pub mod sites;
pub mod token_response;
pub mod tokens;
pub mod urls;

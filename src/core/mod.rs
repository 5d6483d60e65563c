//! The sans-IO core: pure protocol logic, no I/O, no browser objects.
pub mod api_request;

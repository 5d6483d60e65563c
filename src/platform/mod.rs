//! Browser implementations of the session ports (wasm only).

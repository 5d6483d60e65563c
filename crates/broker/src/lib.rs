//! The token broker.

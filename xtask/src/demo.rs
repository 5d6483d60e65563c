//! `cargo xtask demo` (owned by the extension work; placeholder until it lands).
use crate::Result;

pub fn run(_args: &[String]) -> Result {
    Err("cargo xtask demo is not built yet".into())
}

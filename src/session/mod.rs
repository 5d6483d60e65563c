//! The async session engine: performs the core's decisions through [`ports`].
pub mod ports;

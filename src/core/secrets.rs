//! Secret newtypes. Their `Debug` is redacted and they have no `Display`, so a token, a code
//! or a `state` value can never end up in a log line or an error message by accident.
//! Equality is constant-time (`subtle`), so comparing a `state` leaks nothing through timing.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The raw value, for the one place that must send it (a header or a request body).
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                ct_eq(&self.0, &other.0)
            }
        }

        impl Eq for $name {}
    };
}

secret_type!(
    /// A bearer token for api.atlassian.com (about one hour of life).
    AccessToken
);
secret_type!(
    /// A rotating refresh token: each use returns a new one and retires this one.
    RefreshToken
);
secret_type!(
    /// The broker's sealed, single-use sign-in ticket from the callback URL (it carries the
    /// first token set of the grant, bound to this installation's proof key).
    Ticket
);
secret_type!(
    /// The CSRF `state` of one sign-in attempt.
    State
);

impl State {
    /// 256 bits from the platform CSPRNG (`getrandom`: OS on native, `crypto.getRandomValues`
    /// in the browser), base64url without padding (43 characters).
    pub fn random() -> Result<State, crate::Error> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| crate::Error::Config {
            message: format!("no secure random source available: {}", random_failure(e)),
        })?;
        Ok(State(base64url(&bytes)))
    }
}

/// Why `getrandom` failed, in its own words.
#[cfg(not(target_arch = "wasm32"))]
fn random_failure(e: getrandom::Error) -> String {
    e.to_string()
}

/// Why `getrandom` failed, in its own words: the wasm's backend (src/bindings/mod.rs) fails
/// only in these two ways, and naming them here keeps getrandom's messages for every other
/// platform out of the wasm.
#[cfg(target_arch = "wasm32")]
fn random_failure(e: getrandom::Error) -> String {
    match e {
        getrandom::Error::WEB_CRYPTO => "Web Crypto API is unavailable".into(),
        getrandom::Error::WEB_GET_RANDOM_VALUES => {
            "Calling Web API crypto.getRandomValues failed".into()
        }
        // getrandom's words for a code it has no message for.
        other => format!("Unknown Error: {}", other.code()),
    }
}

/// Constant-time string equality (the length is not secret).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// RFC 4648 §5 base64url without padding; small enough not to warrant a dependency.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new("very-secret-token");
        let r = RefreshToken::new("very-secret-refresh");
        let c = Ticket::new("very-secret-ticket");
        let s = State::new("very-secret-state");
        let all = format!("{t:?} {r:?} {c:?} {s:?}");
        assert!(!all.contains("very-secret"), "{all}");
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(State::new("abc"), State::new("abc"));
        assert_ne!(State::new("abc"), State::new("abd"));
        assert_ne!(State::new("abc"), State::new("abcd"));
        assert!(ct_eq("", ""));
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn random_state_is_256_bits_and_unique() {
        let a = State::random().unwrap();
        let b = State::random().unwrap();
        assert_eq!(a.secret().len(), 43);
        assert!(a
            .secret()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn serde_is_transparent() {
        let t = RefreshToken::new("rt");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"rt\"");
        let back: RefreshToken = serde_json::from_str("\"rt\"").unwrap();
        assert_eq!(back, t);
    }
}

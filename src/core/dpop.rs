//! Proofs of possession (RFC 9449, DPoP) for the broker's routes.
//!
//! The broker binds the sign-in and the sealed refresh token to this installation's key, so
//! every request to it carries a fresh proof signed by that key: a compact JWS (`ES256`) whose
//! header carries the public key and whose claims name the request (`htm`, `htu`), the time
//! (`iat`) and a one-time id (`jti`). The core builds the bytes to sign and assembles the
//! proof; the platform's key (non-extractable, see `platform::proof_key`) signs.

use serde::Serialize;

use super::gateway::parse_http_date;
use super::io::{HttpResponse, Method};
use super::secrets::base64url;
use super::token_response::oauth_error;
use crate::Error;

/// The public half of a P-256 key as a JWK's coordinates (base64url, 32 bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ProofJwk {
    pub x: String,
    pub y: String,
}

#[derive(Serialize)]
struct Jwk<'a> {
    kty: &'static str,
    crv: &'static str,
    x: &'a str,
    y: &'a str,
}

#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    jwk: Jwk<'a>,
}

#[derive(Serialize)]
struct Claims<'a> {
    htm: &'static str,
    htu: &'a str,
    iat: u64,
    jti: &'a str,
}

/// A proof ready for the `DPoP` header. It is bound to one request and one minute, but it
/// is still a credential while fresh: `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct DpopProof(String);

impl DpopProof {
    /// The header value.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DpopProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopProof(<redacted>)")
    }
}

/// A proof under construction: the signing input, waiting for the key's signature.
#[derive(Debug, Clone)]
pub struct UnsignedProof {
    signing_input: String,
}

impl UnsignedProof {
    /// The proof for `method htu` at `now_ms`, with `jti` (random, used once). `htu` is the
    /// request URL without query or fragment (RFC 9449 §4.2).
    pub fn new(jwk: &ProofJwk, method: Method, htu: &str, now_ms: u64, jti: &str) -> Self {
        let header = Header {
            typ: "dpop+jwt",
            alg: "ES256",
            jwk: Jwk {
                kty: "EC",
                crv: "P-256",
                x: &jwk.x,
                y: &jwk.y,
            },
        };
        let claims = Claims {
            htm: method.as_str(),
            htu: htu.split(['?', '#']).next().unwrap_or(htu),
            iat: now_ms / 1000,
            jti,
        };
        let part = |json: String| base64url(json.as_bytes());
        // Serializing these plain structs cannot fail.
        let header = part(serde_json::to_string(&header).unwrap_or_default());
        let claims = part(serde_json::to_string(&claims).unwrap_or_default());
        UnsignedProof {
            signing_input: format!("{header}.{claims}"),
        }
    }

    /// The bytes the key signs (ECDSA P-256 with SHA-256).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The proof, given the signature as JWS ES256 wants it: `r || s`, 64 bytes (which is
    /// what WebCrypto's ECDSA `sign` returns).
    pub fn signed(self, signature: &[u8]) -> Result<DpopProof, Error> {
        if signature.len() != 64 {
            return Err(Error::Config {
                message: format!(
                    "the proof key gave a {}-byte signature, not a 64-byte P-256 one",
                    signature.len()
                ),
            });
        }
        Ok(DpopProof(format!(
            "{}.{}",
            self.signing_input,
            base64url(signature)
        )))
    }
}

/// A clock this far off the broker's is corrected (the broker accepts ±60 s; closer than this, a
/// refused proof has another cause).
pub const SKEW_CORRECTION_MIN_MS: u64 = 30_000;

/// When the broker refused a proof (`400 invalid_dpop_proof`) and its `Date` says this device's
/// clock is off by more than [`SKEW_CORRECTION_MIN_MS`]: the offset (broker − local, ms) that
/// later proofs add to the local time. A device clock a few minutes off is common; without this,
/// such a device could never sign in.
pub fn clock_offset(resp: &HttpResponse, local_now_ms: u64) -> Option<i64> {
    if resp.status != 400 {
        return None;
    }
    let (error, _) = oauth_error(&resp.body)?;
    if error != "invalid_dpop_proof" {
        return None;
    }
    let broker_ms = parse_http_date(resp.header("date")?)?;
    let offset = broker_ms as i64 - local_now_ms as i64;
    (offset.unsigned_abs() > SKEW_CORRECTION_MIN_MS).then_some(offset)
}

/// A fresh `jti`: 128 random bits, base64url.
pub fn random_jti() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|_| Error::Config {
        message: "no secure random source available for a proof id".into(),
    })?;
    Ok(base64url(&bytes))
}

// Native only: the decoding check uses the `base64` crate, a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn decode_part(part: &str) -> serde_json::Value {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_proof_names_the_request_and_carries_the_public_key() {
        let jwk = ProofJwk {
            x: "xx".into(),
            y: "yy".into(),
        };
        let unsigned = UnsignedProof::new(
            &jwk,
            Method::Post,
            "https://broker.example/oauth/token?x=1#f",
            1_700_000_000_999,
            "id-1",
        );
        let proof = unsigned.signed(&[7u8; 64]).unwrap();
        let parts: Vec<&str> = proof.secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert_eq!(header["jwk"]["x"], "xx");
        assert!(header["jwk"].get("d").is_none());
        let claims = decode_part(parts[1]);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://broker.example/oauth/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["jti"], "id-1");
        assert_eq!(format!("{proof:?}"), "DpopProof(<redacted>)");
    }

    #[test]
    fn a_signature_of_the_wrong_length_is_refused() {
        let jwk = ProofJwk {
            x: "x".into(),
            y: "y".into(),
        };
        let unsigned = UnsignedProof::new(&jwk, Method::Post, "https://b/", 0, "j");
        assert!(unsigned.clone().signed(&[0; 72]).is_err());
        assert!(unsigned.signed(&[0; 63]).is_err());
    }

    #[test]
    fn a_refused_proof_with_a_far_broker_date_gives_the_offset() {
        let resp = |status: u16, error: &str, date: &str| HttpResponse {
            status,
            headers: vec![("date".into(), date.into())],
            body: format!(r#"{{"error":"{error}"}}"#),
        };
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let broker_ms = 784_111_777_000u64;
        let late = resp(400, "invalid_dpop_proof", date);
        assert_eq!(clock_offset(&late, broker_ms - 300_000), Some(300_000));
        assert_eq!(clock_offset(&late, broker_ms + 90_000), Some(-90_000));
        assert_eq!(
            clock_offset(&late, broker_ms - 10_000),
            None,
            "close: another cause"
        );
        assert_eq!(clock_offset(&resp(400, "invalid_grant", date), 0), None);
        assert_eq!(
            clock_offset(&resp(503, "invalid_dpop_proof", date), 0),
            None
        );
        assert_eq!(
            clock_offset(&resp(400, "invalid_dpop_proof", "yesterday"), 0),
            None
        );
    }

    #[test]
    fn jtis_differ() {
        assert_ne!(random_jti().unwrap(), random_jti().unwrap());
    }
}

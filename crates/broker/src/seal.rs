//! Sealed strings: what the broker hands to browsers instead of keeping state (the broker state
//! sent through Atlassian, the one-time ticket, the refresh blob wrapping Atlassian's refresh
//! token). XChaCha20-Poly1305 with a random 192-bit nonce per seal; the associated data binds
//! the purpose and the key id, so one kind can never be opened as another, and a blob cannot be
//! moved to another key id.
//!
//! Format: `<kid>.<base64url-nopad(nonce || ciphertext || tag)>`, URL-safe and opaque.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::fmt;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Sealed strings longer than this are refused unread (a ticket is well under 4 KiB).
pub const MAX_SEALED_LEN: usize = 8 * 1024;
/// Key ids are short and URL-safe: they appear in every sealed string.
pub const MAX_KID_LEN: usize = 32;

/// One sealing key. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    kid: String,
    key: [u8; 32],
}

impl SealingKey {
    /// `None` if the key id is not 1..=32 characters of `[A-Za-z0-9_-]`.
    pub fn new(kid: &str, key: [u8; 32]) -> Option<Self> {
        valid_kid(kid).then(|| Self {
            kid: kid.to_string(),
            key,
        })
    }

    /// A fresh random key (the ephemeral key of a broker started without sealing keys).
    pub fn random(kid: &str) -> std::io::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
        Self::new(kid, key).ok_or_else(|| std::io::Error::other("invalid key id"))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey({:?}, <redacted>)", self.kid)
    }
}

pub fn valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a sealed string is for; part of the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    State,
    Ticket,
    Refresh,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::State, Purpose::Ticket, Purpose::Refresh];

    fn label(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::Ticket => "ticket",
            Self::Refresh => "refresh",
        }
    }
}

/// Why a sealed string was refused. Deliberately coarse: the caller maps every case to one
/// fixed refusal, and none of them carries the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("not a sealed string of this broker")]
    Malformed,
    #[error("sealed under a key this broker does not have")]
    UnknownKid,
    #[error("tampered, sealed for another purpose, or under another key")]
    Rejected,
}

/// The broker's keys: the first seals, all open.
pub struct Sealer {
    keys: Vec<(SealingKey, XChaCha20Poly1305)>,
}

impl Sealer {
    /// `keys` must not be empty (the config guarantees it).
    pub fn new(keys: &[SealingKey]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| (k.clone(), XChaCha20Poly1305::new(Key::from_slice(&k.key))))
                .collect(),
        }
    }

    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> std::io::Result<String> {
        let (key, cipher) = self
            .keys
            .first()
            .ok_or_else(|| std::io::Error::other("no sealing key"))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(std::io::Error::other)?;
        let aad = aad(purpose, &key.kid);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| std::io::Error::other("sealing failed"))?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{}.{}", key.kid, URL_SAFE_NO_PAD.encode(raw)))
    }

    pub fn open(&self, purpose: Purpose, text: &str) -> Result<Vec<u8>, OpenError> {
        if text.len() > MAX_SEALED_LEN {
            return Err(OpenError::Malformed);
        }
        let (kid, body) = text.split_once('.').ok_or(OpenError::Malformed)?;
        if !valid_kid(kid) {
            return Err(OpenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k.kid == kid)
            .ok_or(OpenError::UnknownKid)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(purpose, kid),
                },
            )
            .map_err(|_| OpenError::Rejected)
    }
}

fn aad(purpose: Purpose, kid: &str) -> Vec<u8> {
    format!("jira-3lo-broker/v1|{}|{kid}", purpose.label()).into_bytes()
}

/// Parses `kid:base64key,kid2:base64key` (standard base64, 32-byte keys). Errors are fixed
/// texts: the input is key material and must never reach a message.
pub fn parse_keys(text: &str) -> Result<Vec<SealingKey>, &'static str> {
    use base64::engine::general_purpose::STANDARD;
    let mut keys: Vec<SealingKey> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (kid, key) = entry
            .split_once(':')
            .ok_or("each entry must be kid:base64key")?;
        let key = STANDARD
            .decode(key.trim())
            .map_err(|_| "a key is not valid standard base64")?;
        let key: [u8; 32] = key.try_into().map_err(|_| "a key is not 32 bytes long")?;
        let key = SealingKey::new(kid.trim(), key)
            .ok_or("a key id must be 1 to 32 characters of A-Z a-z 0-9 _ -")?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err("a key id appears twice");
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("no key given");
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, byte: u8) -> SealingKey {
        SealingKey::new(kid, [byte; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_for_the_same_purpose_only() {
        let sealer = Sealer::new(&[key("k1", 1)]);
        let sealed = sealer.seal(Purpose::Ticket, b"hello").unwrap();
        assert!(sealed.starts_with("k1."));
        assert!(sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(sealer.open(Purpose::Ticket, &sealed).unwrap(), b"hello");
        assert_eq!(
            sealer.open(Purpose::Refresh, &sealed),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            sealer.open(Purpose::State, &sealed),
            Err(OpenError::Rejected)
        );
        assert_ne!(sealed, sealer.seal(Purpose::Ticket, b"hello").unwrap());
    }

    #[test]
    fn rotation_unknown_kids_and_tampering() {
        let old = Sealer::new(&[key("k1", 1)]);
        let sealed = old.seal(Purpose::Refresh, b"rt").unwrap();
        let rotated = Sealer::new(&[key("k2", 2), key("k1", 1)]);
        assert_eq!(rotated.open(Purpose::Refresh, &sealed).unwrap(), b"rt");
        assert!(rotated
            .seal(Purpose::Refresh, b"x")
            .unwrap()
            .starts_with("k2."));
        let other = Sealer::new(&[key("k2", 2)]);
        assert_eq!(
            other.open(Purpose::Refresh, &sealed),
            Err(OpenError::UnknownKid)
        );
        // Same kid, different key material.
        let impostor = Sealer::new(&[key("k1", 9)]);
        assert_eq!(
            impostor.open(Purpose::Refresh, &sealed),
            Err(OpenError::Rejected)
        );
        // Relabelling the kid does not help: the kid is in the associated data.
        let both = Sealer::new(&[key("k1", 1), key("k3", 1)]);
        let relabelled = sealed.replacen("k1.", "k3.", 1);
        assert_eq!(
            both.open(Purpose::Refresh, &relabelled),
            Err(OpenError::Rejected)
        );
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            old.open(Purpose::Refresh, &tampered),
            Err(OpenError::Rejected)
        );
        for bad in [
            "",
            "k1",
            "k1.",
            "k1.!!",
            "plain-refresh-token",
            ".abc",
            "k1.AAAA",
        ] {
            assert_eq!(old.open(Purpose::Refresh, bad), Err(OpenError::Malformed));
        }
    }

    #[test]
    fn key_lists_parse_with_fixed_errors() {
        let k = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let keys = parse_keys(&format!("new:{k}, old:{k}")).unwrap();
        assert_eq!(
            keys.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            ["new", "old"]
        );
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        for bad in [
            String::new(),
            "nokey".to_string(),
            format!("a:{short}"),
            "a:not base64!".to_string(),
            format!("bad kid:{k}"),
            format!("a:{k},a:{k}"),
        ] {
            let error = parse_keys(&bad).unwrap_err();
            assert!(!error.contains(&k) && !error.contains(&short));
        }
        let shown = format!("{:?}", keys);
        assert!(!shown.contains(&k) && shown.contains("redacted"));
    }
}

//! Versioned storage records and their keys.
//!
//! | key | area | record |
//! |---|---|---|
//! | `jira3lo:{namespace}:access`  | [`Area::Session`](crate::session::ports::Area::Session) | [`AccessRecord`]: access token, absolute expiry (ms), granted scopes |
//! | `jira3lo:{namespace}:refresh` | `Area::Persistent` | [`RefreshRecord`]: the rotating refresh token |
//! | `jira3lo:{namespace}:site`    | `Area::Persistent` | [`SiteRecord`]: the known Jira sites and the chosen one |
//! | `jira3lo:{namespace}:pending` | `Area::Persistent` | [`PendingRecord`]: the sign-in in progress (state, redirect URI, time) |
//!
//! Every value is a JSON object with `"v": 1`. A value that is not JSON, has another version or
//! misses a field is *unreadable*: the engine reports it and deletes it, never fails on it.
//! Listeners (the wasm layer's `onStatusChange`) watch these keys for changes from other contexts.

use super::authorize::PendingSignIn;
use super::json::{self, optional, string, Json, JsonValue};
use super::secrets::{AccessToken, RefreshToken, State};
use crate::error::SiteChoice;

/// The schema version written into every record.
pub const SCHEMA_VERSION: u32 = 1;

/// Storage keys of a namespace.
pub mod keys {
    pub fn access(namespace: &str) -> String {
        format!("jira3lo:{namespace}:access")
    }
    pub fn refresh(namespace: &str) -> String {
        format!("jira3lo:{namespace}:refresh")
    }
    pub fn site(namespace: &str) -> String {
        format!("jira3lo:{namespace}:site")
    }
    pub fn pending(namespace: &str) -> String {
        format!("jira3lo:{namespace}:pending")
    }
}

/// `jira3lo:{ns}:access` (session area).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub v: u32,
    pub access_token: AccessToken,
    pub expires_at_ms: u64,
    /// Absent in a record means none.
    pub scopes: Vec<String>,
}

/// `jira3lo:{ns}:refresh` (persistent area).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub v: u32,
    pub refresh_token: RefreshToken,
}

/// `jira3lo:{ns}:site` (persistent area). `chosen` is the id of one of `sites`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecord {
    pub v: u32,
    pub sites: Vec<SiteChoice>,
    /// Absent or `null`: none chosen.
    pub chosen: Option<String>,
}

impl SiteRecord {
    pub fn new(sites: Vec<SiteChoice>, chosen: Option<String>) -> Self {
        SiteRecord {
            v: SCHEMA_VERSION,
            sites,
            chosen,
        }
    }

    /// The chosen site, when it is (still) among the known sites.
    pub fn chosen_site(&self) -> Option<&SiteChoice> {
        let id = self.chosen.as_deref()?;
        self.sites.iter().find(|s| s.id == id)
    }
}

/// `jira3lo:{ns}:pending` (persistent area). No `state`: the attempt has ended (see
/// [`PendingSignIn::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    pub v: u32,
    pub state: Option<State>,
    pub redirect_uri: String,
    pub created_at_ms: u64,
}

impl From<&PendingSignIn> for PendingRecord {
    fn from(p: &PendingSignIn) -> Self {
        PendingRecord {
            v: SCHEMA_VERSION,
            state: p.state.clone(),
            redirect_uri: p.redirect_uri.clone(),
            created_at_ms: p.created_at_ms,
        }
    }
}

impl From<PendingRecord> for PendingSignIn {
    fn from(r: PendingRecord) -> Self {
        PendingSignIn {
            state: r.state,
            redirect_uri: r.redirect_uri,
            created_at_ms: r.created_at_ms,
        }
    }
}

/// The result of reading a raw stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    Missing,
    Ok(T),
    /// Present but unusable; `reason` never quotes the stored value (it may hold a token).
    Unreadable {
        reason: String,
    },
}

/// A record as the JSON object it is stored as (the members named as in the struct).
pub trait Record: Sized {
    /// The record in `value`; `None` when a member is missing or of the wrong type.
    fn read<J: Json>(value: &J) -> Option<Self>;
    fn write<J: Json>(&self) -> J;
}

fn version<J: Json>() -> J {
    J::from_f64(f64::from(SCHEMA_VERSION))
}

fn number<J: Json>(value: &J, key: &str) -> Option<u64> {
    value.member(key)?.as_u64()
}

fn site_choice<J: Json>(value: &J) -> Option<SiteChoice> {
    Some(SiteChoice {
        id: string(value, "id")?,
        name: string(value, "name")?,
        url: string(value, "url")?,
        avatar_url: json::optional(value, "avatarUrl", J::as_string)?,
    })
}

fn site_choice_json<J: Json>(site: &SiteChoice) -> J {
    json::object(vec![
        ("id", J::from_str(&site.id)),
        ("name", J::from_str(&site.name)),
        ("url", J::from_str(&site.url)),
        (
            "avatarUrl",
            site.avatar_url.as_deref().map_or_else(J::null, J::from_str),
        ),
    ])
}

fn strings_json<J: Json>(items: &[String]) -> J {
    J::array(items.iter().map(|s| J::from_str(s)).collect())
}

impl Record for AccessRecord {
    fn read<J: Json>(value: &J) -> Option<Self> {
        Some(AccessRecord {
            v: SCHEMA_VERSION,
            access_token: AccessToken::new(string(value, "access_token")?),
            expires_at_ms: number(value, "expires_at_ms")?,
            scopes: match value.member("scopes") {
                None => Vec::new(),
                Some(s) => json::strings(&s)?,
            },
        })
    }

    fn write<J: Json>(&self) -> J {
        json::object(vec![
            ("v", version()),
            ("access_token", J::from_str(self.access_token.secret())),
            ("expires_at_ms", J::from_f64(self.expires_at_ms as f64)),
            ("scopes", strings_json(&self.scopes)),
        ])
    }
}

impl Record for RefreshRecord {
    fn read<J: Json>(value: &J) -> Option<Self> {
        Some(RefreshRecord {
            v: SCHEMA_VERSION,
            refresh_token: RefreshToken::new(string(value, "refresh_token")?),
        })
    }

    fn write<J: Json>(&self) -> J {
        json::object(vec![
            ("v", version()),
            ("refresh_token", J::from_str(self.refresh_token.secret())),
        ])
    }
}

impl Record for SiteRecord {
    fn read<J: Json>(value: &J) -> Option<Self> {
        let sites = value.member("sites")?;
        if sites.kind() != json::Kind::Array {
            return None;
        }
        Some(SiteRecord {
            v: SCHEMA_VERSION,
            sites: json::map_all(&sites.elements(), |s| site_choice(s).ok_or(())).ok()?,
            chosen: json::optional(value, "chosen", J::as_string)?,
        })
    }

    fn write<J: Json>(&self) -> J {
        json::object(vec![
            ("v", version()),
            (
                "sites",
                J::array(self.sites.iter().map(site_choice_json).collect()),
            ),
            (
                "chosen",
                self.chosen.as_deref().map_or_else(J::null, J::from_str),
            ),
        ])
    }
}

impl Record for PendingRecord {
    fn read<J: Json>(value: &J) -> Option<Self> {
        Some(PendingRecord {
            v: SCHEMA_VERSION,
            state: optional(value, "state", J::as_string)?.map(State::new),
            redirect_uri: string(value, "redirect_uri")?,
            created_at_ms: number(value, "created_at_ms")?,
        })
    }

    fn write<J: Json>(&self) -> J {
        let state = match &self.state {
            Some(state) => J::from_str(state.secret()),
            None => J::null(),
        };
        json::object(vec![
            ("v", version()),
            ("state", state),
            ("redirect_uri", J::from_str(&self.redirect_uri)),
            ("created_at_ms", J::from_f64(self.created_at_ms as f64)),
        ])
    }
}

/// Decodes a stored value, checking `"v": 1` before the fields.
pub fn decode<T: Record>(raw: Option<&str>) -> Decoded<T> {
    decode_as::<T, JsonValue>(raw)
}

/// [`decode`] with the JSON representation `J`.
pub fn decode_as<T: Record, J: Json>(raw: Option<&str>) -> Decoded<T> {
    let Some(raw) = raw else {
        return Decoded::Missing;
    };
    let value = match J::parse(raw) {
        Ok(v) => v,
        Err(e) => {
            return Decoded::Unreadable {
                reason: format!("not JSON ({e:?} error)"),
            }
        }
    };
    match value.member("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Decoded::Unreadable {
                reason: format!("unsupported schema version {v}"),
            }
        }
        None => {
            return Decoded::Unreadable {
                reason: "no schema version".into(),
            }
        }
    }
    match T::read(&value) {
        Some(t) => Decoded::Ok(t),
        // Never a value from the record in the reason (it may hold a token): only the kind,
        // as serde_json names it.
        None => Decoded::Unreadable {
            reason: "fields do not match the schema (Data error)".into(),
        },
    }
}

/// Encodes a record.
pub fn encode<T: Record>(record: &T) -> String {
    encode_as::<T, JsonValue>(record)
}

/// [`encode`] with the JSON representation `J`.
pub fn encode_as<T: Record, J: Json>(record: &T) -> String {
    record.write::<J>().to_json_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced() {
        assert_eq!(keys::access("default"), "jira3lo:default:access");
        assert_eq!(keys::refresh("x"), "jira3lo:x:refresh");
        assert_eq!(keys::site("x"), "jira3lo:x:site");
        assert_eq!(keys::pending("x"), "jira3lo:x:pending");
    }

    #[test]
    fn round_trip_with_version() {
        let r = AccessRecord {
            v: 1,
            access_token: AccessToken::new("a"),
            expires_at_ms: 5,
            scopes: vec!["s".into()],
        };
        let raw = encode(&r);
        assert!(raw.contains("\"v\":1"), "{raw}");
        assert_eq!(decode::<AccessRecord>(Some(&raw)), Decoded::Ok(r));
        let s = SiteRecord::new(
            vec![SiteChoice {
                id: "c1".into(),
                name: "n".into(),
                url: "u".into(),
                avatar_url: None,
            }],
            Some("c1".into()),
        );
        let back = decode::<SiteRecord>(Some(&encode(&s)));
        assert_eq!(back, Decoded::Ok(s.clone()));
        assert_eq!(s.chosen_site().unwrap().id, "c1");
        assert!(SiteRecord::new(s.sites.clone(), Some("gone".into()))
            .chosen_site()
            .is_none());
    }

    #[test]
    fn unreadable_records() {
        assert_eq!(decode::<RefreshRecord>(None), Decoded::Missing);
        for raw in [
            "garbage",
            "{\"refresh_token\":\"SECRET\"}",
            "{\"v\":2,\"refresh_token\":\"SECRET\"}",
            "{\"v\":1,\"refresh_token\":42}",
            "{\"v\":1}",
            "[]",
        ] {
            match decode::<RefreshRecord>(Some(raw)) {
                Decoded::Unreadable { reason } => assert!(!reason.contains("SECRET"), "{reason}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        // A value of the wrong type must not be quoted in the reason.
        let Decoded::Unreadable { reason } = decode::<AccessRecord>(Some(
            "{\"v\":1,\"access_token\":\"SECRET\",\"expires_at_ms\":\"SECRET2\"}",
        )) else {
            panic!()
        };
        assert!(!reason.contains("SECRET"), "{reason}");
    }
}

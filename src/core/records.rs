//! Versioned storage records and their keys.
//!
//! | key | area | record |
//! |---|---|---|
//! | `jira3lo:{namespace}:access`  | [`Area::Session`](crate::session::ports::Area::Session) | [`AccessRecord`]: access token, absolute expiry (ms), granted scopes |
//! | `jira3lo:{namespace}:refresh` | `Area::Persistent` | [`RefreshRecord`]: the rotating refresh token |
//! | `jira3lo:{namespace}:site`    | `Area::Persistent` | [`SiteRecord`]: the known Jira sites and the chosen one |
//! | `jira3lo:{namespace}:pending` | `Area::Persistent` | [`PendingRecord`]: the sign-in in progress (state, redirect URI, time) |
//! | `jira3lo:{namespace}:quota`   | `Area::Session` | [`QuotaRecord`]: the latest rate-limit quota a context saw, for the others |
//!
//! Every value is a JSON object with `"v": 1`. A value that is not JSON, has another version or
//! misses a field is *unreadable*: the engine reports it and deletes it, never fails on it.
//! Listeners (the wasm layer's `onStatusChange`) watch these keys for changes from other contexts.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::authorize::PendingSignIn;
use super::json::decode as decode_json;
use super::rate_limit::Quota;
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
    pub fn quota(namespace: &str) -> String {
        format!("jira3lo:{namespace}:quota")
    }
}

/// `jira3lo:{ns}:access` (session area).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub v: u32,
    pub access_token: AccessToken,
    pub expires_at_ms: u64,
    /// Absent in a record means none.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `jira3lo:{ns}:refresh` (persistent area).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub v: u32,
    pub refresh_token: RefreshToken,
    /// The broker's sealed blob, bound to this installation's proof key: true for every
    /// token this version stores. Absent (`false`) in a record of an older version, which
    /// held Atlassian's raw refresh token: see [`crate::error::UNSEALED_REFRESH_TOKEN`].
    #[serde(default)]
    pub sealed: bool,
}

/// `jira3lo:{ns}:site` (persistent area). `chosen` is the id of one of `sites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// `jira3lo:{ns}:quota` (session area): the latest quota of a site, written by whichever
/// context saw it when [`super::rate_limit::worth_publishing`] says so, read by the others
/// (the options page, the popup) through `quota()`. Nothing secret in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRecord {
    pub v: u32,
    /// The cloud id of the site the quota is for.
    pub site_id: String,
    pub quota: Quota,
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
pub trait Record: Serialize + DeserializeOwned {}

impl Record for AccessRecord {}
impl Record for RefreshRecord {}
impl Record for SiteRecord {}
impl Record for PendingRecord {}
impl Record for QuotaRecord {}

/// The version of a stored value, read before its fields.
#[derive(Deserialize)]
struct Version {
    v: Option<serde_json::Value>,
}

/// Decodes a stored value, checking `"v": 1` before the fields.
pub fn decode<T: Record>(raw: Option<&str>) -> Decoded<T> {
    let Some(raw) = raw else {
        return Decoded::Missing;
    };
    // Never a value from the record in a reason (it may hold a token): only the category,
    // as serde_json names it.
    let version = match decode_json::<Version>(raw) {
        Ok(Version { v }) => v.and_then(|v| v.as_u64()),
        Err(super::json::DecodeError::Data) => None,
        Err(e) => {
            return Decoded::Unreadable {
                reason: format!("not JSON ({e:?} error)"),
            }
        }
    };
    match version {
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
    match decode_json::<T>(raw) {
        Ok(t) => Decoded::Ok(t),
        Err(e) => Decoded::Unreadable {
            reason: format!("fields do not match the schema ({e:?} error)"),
        },
    }
}

/// Encodes a record.
pub fn encode<T: Record>(record: &T) -> String {
    super::json::to_text(record)
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
        assert_eq!(keys::quota("x"), "jira3lo:x:quota");
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

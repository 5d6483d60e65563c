//! The fake's whole mutable world behind one mutex: clock, settings, grants, seed data,
//! counters and pending faults. Handlers hold the lock only for in-memory work, never across
//! an `.await`, so one lock is both simple and fast enough (see the README's latency figure).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{AppConfig, ConsentMode, FakeConfig};
use crate::faults::PendingFault;
use crate::grants::Grants;
use crate::seed::{self, SiteData};
use crate::util::real_unix_secs;

/// Runtime-tunable behaviour (`GET/POST /__admin/settings`).
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// `expires_in` of new access tokens.
    pub access_token_lifetime_secs: u64,
    /// How long a rotated refresh token and its companion access token keep working.
    pub refresh_leeway_secs: u64,
    /// Authorization-code lifetime.
    pub code_lifetime_secs: u64,
    /// API requests allowed per window before 429; `None` = unlimited.
    pub rate_limit_budget: Option<u64>,
    pub rate_limit_window_secs: u64,
    /// One-shot: the next successful refresh response carries no `refresh_token`.
    pub omit_refresh_token_next: bool,
    pub consent_mode: ConsentMode,
    /// Seed user key who consents (`alice`, `bob`, `carol`, `dave`).
    pub consent_user: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access_token_lifetime_secs: 3600,
            refresh_leeway_secs: 600,
            code_lifetime_secs: 600,
            rate_limit_budget: None,
            rate_limit_window_secs: 60,
            omit_refresh_token_next: false,
            consent_mode: ConsentMode::Auto,
            consent_user: "alice".to_string(),
        }
    }
}

/// A partial update; absent fields stay as they are, `"rate_limit_budget": null` lifts the limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub access_token_lifetime_secs: Option<u64>,
    pub refresh_leeway_secs: Option<u64>,
    pub code_lifetime_secs: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub rate_limit_budget: Option<Option<u64>>,
    pub rate_limit_window_secs: Option<u64>,
    pub omit_refresh_token_next: Option<bool>,
    pub consent_mode: Option<ConsentMode>,
    pub consent_user: Option<String>,
}

/// Distinguishes a present `null` (`Some(None)`) from an absent field (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl Settings {
    /// Applies a patch, all or nothing.
    pub fn apply(&mut self, patch: SettingsPatch) -> Result<(), String> {
        let mut next = self.clone();
        if let Some(v) = patch.access_token_lifetime_secs {
            next.access_token_lifetime_secs = v;
        }
        if let Some(v) = patch.refresh_leeway_secs {
            next.refresh_leeway_secs = v;
        }
        if let Some(v) = patch.code_lifetime_secs {
            next.code_lifetime_secs = v;
        }
        if let Some(v) = patch.rate_limit_budget {
            next.rate_limit_budget = v;
        }
        if let Some(v) = patch.rate_limit_window_secs {
            next.rate_limit_window_secs = v;
        }
        if let Some(v) = patch.omit_refresh_token_next {
            next.omit_refresh_token_next = v;
        }
        if let Some(v) = patch.consent_mode {
            next.consent_mode = v;
        }
        if let Some(v) = patch.consent_user {
            next.consent_user = v;
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    pub fn validate(&self) -> Result<(), String> {
        if seed::user_by_key(&self.consent_user).is_none() {
            let known: Vec<&str> = seed::USERS.iter().map(|u| u.key).collect();
            return Err(format!(
                "unknown consent_user `{}` (known: {})",
                self.consent_user,
                known.join(", ")
            ));
        }
        if self.rate_limit_window_secs == 0 {
            return Err("rate_limit_window_secs must be at least 1".to_string());
        }
        Ok(())
    }
}

/// Request counters (`GET /__admin/stats`).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// `"<METHOD> <route template>"` → count; CORS preflights are not in here.
    pub requests: BTreeMap<String, u64>,
    /// Token requests that reached the token endpoint, by `grant_type`, successful or not.
    pub grants: BTreeMap<String, u64>,
    /// Token requests that returned tokens, by `grant_type`.
    pub grants_ok: BTreeMap<String, u64>,
    /// CORS preflights, as `"OPTIONS <route template>"` → count.
    pub preflights: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        let zero = |_: ()| -> BTreeMap<String, u64> {
            [
                ("authorization_code".to_string(), 0),
                ("refresh_token".to_string(), 0),
            ]
            .into_iter()
            .collect()
        };
        Stats {
            requests: BTreeMap::new(),
            grants: zero(()),
            grants_ok: zero(()),
            preflights: BTreeMap::new(),
        }
    }
}

/// The fixed rate-limit window (fake clock).
#[derive(Default)]
pub(crate) struct RateWindow {
    pub start: u64,
    pub used: u64,
}

/// A consent page that has been shown and not answered yet.
pub(crate) struct PendingConsent {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub user: usize,
    pub created_at: u64,
}

pub(crate) struct State {
    /// Seconds added to the wall clock by `POST /__admin/clock`.
    pub clock_offset: u64,
    pub settings: Settings,
    pub apps: Vec<AppConfig>,
    pub sites: Vec<SiteData>,
    pub grants: Grants,
    pub stats: Stats,
    pub faults: Vec<PendingFault>,
    pub rate: RateWindow,
    /// The points-based quota of `POST /__admin/quota` (`None`: no quota headers).
    pub quota: Option<crate::quota::Quota>,
    pub consents: HashMap<String, PendingConsent>,
    /// Every refresh token value ever issued, in order (kept across reset), so tests can prove
    /// none of them reached browser storage.
    pub issued_refresh_tokens: Vec<String>,
}

impl State {
    fn fresh(settings: Settings, apps: Vec<AppConfig>) -> Self {
        State {
            clock_offset: 0,
            settings,
            apps,
            sites: seed::build(),
            grants: Grants::default(),
            stats: Stats::default(),
            faults: Vec::new(),
            rate: RateWindow::default(),
            quota: None,
            consents: HashMap::new(),
            issued_refresh_tokens: Vec::new(),
        }
    }

    /// The fake's clock in Unix seconds.
    pub fn now(&self) -> u64 {
        real_unix_secs() + self.clock_offset
    }

    pub fn app(&self, client_id: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    pub fn site(&self, cloud_id: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.info.cloud_id == cloud_id)
    }
}

/// Shared between every handler and [`crate::RunningFake`].
pub(crate) struct Shared {
    /// `http://HOST:PORT`, no trailing slash; used for `self` links and `{base}` redirect URIs.
    pub base_url: String,
    initial_settings: Settings,
    state: Mutex<State>,
}

pub(crate) type AppState = Arc<Shared>;

impl Shared {
    pub fn new(config: &FakeConfig, base_url: String) -> Self {
        let apps = config
            .apps
            .iter()
            .map(|a| AppConfig {
                callback_url: a
                    .callback_url
                    .as_ref()
                    .map(|u| u.replace("{base}", &base_url)),
                ..a.clone()
            })
            .collect();
        Shared {
            initial_settings: config.settings.clone(),
            state: Mutex::new(State::fresh(config.settings.clone(), apps)),
            base_url,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked mid-update; the data is still usable
        // for a test double, and refusing every later request would hide the real failure.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Back to the start: counters, grants, faults, clock, settings, seed data.
    /// Registered apps (including callback URLs set at runtime) are registration, not state,
    /// and survive; so does the record of issued refresh tokens ("ever issued").
    pub fn reset(&self) {
        let mut st = self.lock();
        let apps = std::mem::take(&mut st.apps);
        let issued = std::mem::take(&mut st.issued_refresh_tokens);
        *st = State::fresh(self.initial_settings.clone(), apps);
        st.issued_refresh_tokens = issued;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let mut s = Settings {
            rate_limit_budget: Some(5),
            ..Settings::default()
        };
        s.apply(serde_json::from_str(r#"{"refresh_leeway_secs": 1}"#).unwrap())
            .unwrap();
        assert_eq!(s.rate_limit_budget, Some(5));
        s.apply(serde_json::from_str(r#"{"rate_limit_budget": null}"#).unwrap())
            .unwrap();
        assert_eq!(s.rate_limit_budget, None);
        assert!(s
            .apply(serde_json::from_str(r#"{"consent_user": "mallory"}"#).unwrap())
            .is_err());
        assert_eq!(s.consent_user, "alice");
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"leeway": 1}"#).is_err());
    }
}

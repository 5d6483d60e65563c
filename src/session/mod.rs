//! The async session engine: performs the [`crate::core`] decisions through [`ports`].
//!
//! A [`Session`] is a cheap handle (internals behind an `Rc`); clone it freely within one
//! JavaScript context. Its futures are `!Send`, like every browser future. Several contexts
//! (popup, service worker, options page) each hold their own `Session` over the same store and
//! lock; they coordinate through storage and [`ports::CrossContextLock`].
//!
//! # Storage keys
//! All keys are `jira3lo:{namespace}:{kind}`, every value is JSON with `"v": 1`
//! (see [`crate::core::records`]):
//!
//! | key | area | holds |
//! |---|---|---|
//! | `jira3lo:{namespace}:access`  | `Session`    | access token, absolute expiry (ms), granted scopes |
//! | `jira3lo:{namespace}:refresh` | `Persistent` | refresh token |
//! | `jira3lo:{namespace}:site`    | `Persistent` | known Jira sites and the chosen one |
//! | `jira3lo:{namespace}:pending` | `Persistent` | pending sign-in (state, redirect URI, creation time) |
//! | `jira3lo:{namespace}:quota`   | `Session`    | the latest rate-limit quota of the site (see [`Session::quota`]) |
//!
//! A change of `refresh` or `site` changes [`Session::status`]; the wasm layer listens to
//! storage change events on these keys to tell the popup.
//!
//! # Request budgets
//! With a fresh token and a chosen site, [`Session::send`] costs exactly one HTTP request.
//! `accessible-resources` is called once per authorization (the result is persisted). Concurrent
//! callers needing a refresh share one refresh per context, and the lock
//! `jira-3lo:refresh:{namespace}` makes it one across contexts.
//!
//! # Locks
//! - `jira-3lo:refresh:{namespace}` guards every write of the tokens: a refresh round trip,
//!   storing a new grant, clearing tokens (sign-out, a refused grant). So a refresh in flight
//!   in one context can neither resurrect tokens another context just cleared nor overwrite a
//!   newer grant.
//! - `jira-3lo:sites:{namespace}` guards site discovery and the completion of a sign-in: a
//!   context that needs the sites while another one is discovering them waits for that
//!   result instead of asking again, and a pending attempt is read and ended by one context
//!   at a time (one code exchange per callback). Taken before the refresh lock, never inside it.
//! - A site record is only written inside the refresh lock while a token is stored, so a
//!   discovery that finishes after a sign-out cannot write it back.

pub mod ports;

mod broker;
mod cache;
mod call;
mod exchange;
mod quota;
mod refresh;
mod sign_in;
mod sites;
mod store;

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::{LocalBoxFuture, Shared};
use serde::Serialize;

use crate::core::rate_limit::Quota;
use crate::core::records::{AccessRecord, SiteRecord};
use crate::core::refresh::Cooldown;
pub use crate::error::SiteChoice;
use crate::Error;
use ports::{Clock, CrossContextLock, HttpClient, KeyValueStore, ProofKey};

/// Everything a platform provides: HTTP, storage, a cross-context lock, a clock and the proof
/// key. `'static` because the shared refresh future outlives any one caller.
pub trait Platform:
    HttpClient + KeyValueStore + CrossContextLock + Clock + ProofKey + 'static
{
}

impl<T: HttpClient + KeyValueStore + CrossContextLock + Clock + ProofKey + 'static> Platform for T {}

/// Default scopes: read and write Jira work, read users, and `offline_access` for refresh.
pub const DEFAULT_SCOPES: &[&str] = &[
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "offline_access",
];

/// Engine configuration. Build it with [`SessionConfig::new`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The broker (its `POST /v1/authorize` and `POST /oauth/token`), e.g.
    /// `http://127.0.0.1:PORT`. It hosts the one callback URL registered at Atlassian and
    /// builds the authorize URL.
    pub broker_url: String,
    /// Gateway: `{api_base_url}/oauth/token/accessible-resources`, `{api_base_url}/ex/jira/{cloudId}/...`.
    pub api_base_url: String,
    /// Requested scopes; `offline_access` is always added.
    pub scopes: Vec<String>,
    /// Storage-key and lock-name prefix: one namespace = one account connection.
    pub namespace: String,
    /// A token this close to expiry counts as expired.
    pub refresh_skew_ms: u64,
    /// The longest total wait for 429/503 `Retry-After` retries of one call.
    pub max_retry_wait_ms: u64,
    /// After a failed refresh, the token endpoint is not tried again for this long.
    pub refresh_cooldown_ms: u64,
}

impl SessionConfig {
    /// Defaults: real Atlassian endpoints, [`DEFAULT_SCOPES`], namespace `default`, 60 s skew,
    /// 30 s max retry wait, 5 s refresh cooldown.
    pub fn new(broker_url: impl Into<String>) -> Self {
        SessionConfig {
            broker_url: broker_url.into(),
            api_base_url: "https://api.atlassian.com".into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            namespace: "default".into(),
            refresh_skew_ms: crate::core::tokens::DEFAULT_SKEW_MS,
            max_retry_wait_ms: 30_000,
            refresh_cooldown_ms: crate::core::refresh::DEFAULT_COOLDOWN_MS,
        }
    }

    fn broker(&self) -> &str {
        self.broker_url.trim_end_matches('/')
    }

    fn api(&self) -> &str {
        self.api_base_url.trim_end_matches('/')
    }
}

/// Where the user stands, as the popup renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Status {
    /// No usable grant: show "Connect".
    SignedOut,
    /// Signed in, no site chosen yet. A non-empty `sites` is the list to pick from.
    ///
    /// An **empty** `sites` means *discovery pending*: tokens are stored but the sites are not
    /// known yet (a sign-in in some context is still discovering them, or the last discovery
    /// found none). Call [`Session::sites`]: it waits for a discovery in progress or performs
    /// one, then the status is `SignedIn` (one site) or `SiteSelectionRequired` with the list;
    /// a grant that still reaches no Jira site is [`Error::NoJiraSite`].
    SiteSelectionRequired { sites: Vec<SiteChoice> },
    /// Signed in with a chosen site: Jira calls go there.
    SignedIn { site: SiteChoice },
}

impl Status {
    /// The status a stored list of sites gives: the chosen site, else the list to choose from.
    fn of_sites(record: SiteRecord) -> Status {
        match record.chosen_site() {
            Some(site) => Status::SignedIn { site: site.clone() },
            None => Status::SiteSelectionRequired {
                sites: record.sites,
            },
        }
    }
}

/// An unreadable storage record that was discarded (reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageReport {
    pub key: String,
    pub reason: String,
}

/// The refresh in flight in one context: every caller awaits (and drives) the same future.
type RefreshFlight = Shared<LocalBoxFuture<'static, Result<AccessRecord, Error>>>;

pub(crate) struct Inner<P: Platform> {
    config: SessionConfig,
    platform: P,
    /// The refresh in flight in this context; every caller awaits the same one.
    refresh_flight: RefCell<Option<RefreshFlight>>,
    cooldown: RefCell<Option<Cooldown>>,
    /// Broker time − local time, learnt from a proof refused for a skewed clock (0 until then).
    broker_clock_offset_ms: std::cell::Cell<i64>,
    reports: RefCell<Vec<StorageReport>>,
    /// What a Jira call needs, kept between storage reads (see [`cache`]).
    access: cache::Cached<AccessRecord>,
    site: cache::Cached<SiteRecord>,
    /// The latest quota this context saw, with the site it is for (see [`quota`]).
    quota: RefCell<Option<(String, Quota)>>,
    /// The quota this context last wrote to the session area.
    quota_published: RefCell<Option<(String, Quota)>>,
}

/// The 3LO session of one context. See the module docs.
pub struct Session<P: Platform> {
    inner: Rc<Inner<P>>,
}

impl<P: Platform> std::fmt::Debug for Session<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Configuration only: tokens live in storage, never in the handle.
        f.debug_struct("Session")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Clone for Session<P> {
    fn clone(&self) -> Self {
        Session {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<P: Platform> Session<P> {
    pub fn new(config: SessionConfig, platform: P) -> Self {
        let inner = Rc::new(Inner {
            config,
            platform,
            refresh_flight: RefCell::new(None),
            cooldown: RefCell::new(None),
            broker_clock_offset_ms: std::cell::Cell::new(0),
            reports: RefCell::new(Vec::new()),
            access: Default::default(),
            site: Default::default(),
            quota: RefCell::new(None),
            quota_published: RefCell::new(None),
        });
        // The listener holds the engine weakly: the store's listeners live with the platform,
        // which the engine owns.
        let weak = Rc::downgrade(&inner);
        inner.platform.watch(Rc::new(move |key: Option<&str>| {
            if let Some(inner) = weak.upgrade() {
                inner.changed(key);
            }
        }));
        Session { inner }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    pub fn platform(&self) -> &P {
        &self.inner.platform
    }

    /// Unreadable records discarded since the last call (for logging / diagnostics).
    pub fn take_storage_reports(&self) -> Vec<StorageReport> {
        std::mem::take(&mut *self.inner.reports.borrow_mut())
    }

    /// Where the user stands, from storage only (no network). A raw refresh token an older
    /// version stored is removed here: [`Error::ReauthRequired`] (`unsealed_refresh_token`),
    /// once; the status is `SignedOut` afterwards.
    pub async fn status(&self) -> Result<Status, Error> {
        let mut refresh = self.inner.load_refresh().await?;
        if refresh.as_ref().is_some_and(|r| !r.sealed) {
            let inner = &self.inner;
            let dropped = inner
                .with_tokens_locked(async {
                    // Another context may have replaced it meanwhile (a new sign-in).
                    Ok(match inner.load_refresh().await? {
                        Some(r) if !r.sealed => Some(inner.drop_unsealed_locked().await),
                        _ => None,
                    })
                })
                .await?;
            if let Some(e) = dropped {
                return Err(e);
            }
            refresh = inner.load_refresh().await?;
        }
        // Signed in = a refresh token, or (a grant without offline_access) a live access token.
        let signed_in = refresh.is_some()
            || self.inner.load_access().await?.is_some_and(|a| {
                let now = self.inner.platform.now_ms();
                crate::core::tokens::is_fresh(a.expires_at_ms, now, 0)
            });
        if !signed_in {
            return Ok(Status::SignedOut);
        }
        Ok(match self.inner.load_site().await? {
            Some(rec) => Status::of_sites(rec),
            // Discovery pending (see the variant's docs).
            None => Status::SiteSelectionRequired { sites: Vec::new() },
        })
    }

    /// Forgets this namespace's tokens, sites and pending sign-in (both areas). Runs inside
    /// the refresh lock, so a refresh in flight in any context finishes first and cannot
    /// store tokens afterwards.
    pub async fn sign_out(&self) -> Result<(), Error> {
        let inner = &self.inner;
        inner
            .with_tokens_locked(async {
                inner.cooldown.borrow_mut().take();
                inner.clear_all().await
            })
            .await
    }
}

/// The headers of every gateway call: the bearer token and `accept: application/json`.
fn gateway_headers(access: &AccessRecord) -> Vec<(String, String)> {
    vec![
        (
            "authorization".into(),
            format!("Bearer {}", access.access_token.secret()),
        ),
        ("accept".into(), "application/json".into()),
    ]
}

impl<P: Platform> Inner<P> {
    /// Held for every write of the tokens (see the module docs).
    fn refresh_lock(&self) -> String {
        format!("jira-3lo:refresh:{}", self.config.namespace)
    }

    /// Sends one request; a transport failure becomes [`Error::Network`] naming the origin of
    /// the request URL (or [`Error::Timeout`]). Every request of the engine goes through here.
    async fn http(&self, request: ports::HttpRequest) -> Result<ports::HttpResponse, Error> {
        let url = request.url.clone();
        self.platform
            .send(request)
            .await
            .map_err(|e| Error::from_transport(e, &url))
    }

    /// Held while discovering sites and while completing a sign-in (see the module docs).
    fn sites_lock(&self) -> String {
        format!("jira-3lo:sites:{}", self.config.namespace)
    }

    /// Runs `critical` holding the lock `name`; a lock that cannot be had is the error.
    async fn exclusive<T>(
        &self,
        name: &str,
        critical: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.platform.run_exclusive(name, critical).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    struct Quiet;

    impl Wake for Quiet {
        fn wake(self: Arc<Self>) {}
    }

    /// The in-context lock (`futures_util`'s mutex with owned guards, as the platform's
    /// in-context lock and the issue iterator's turn use it): one holder at a time, a release
    /// wakes the next waiter, and a waiter dropped while waiting strands nobody.
    #[test]
    fn the_in_context_lock_hands_over_and_a_dropped_waiter_strands_nobody() {
        use futures_util::lock::Mutex;
        use std::pin::pin;
        let mutex = Arc::new(Mutex::new(()));
        let held = Arc::clone(&mutex)
            .lock_owned()
            .now_or_never()
            .expect("free");
        let (gone, next) = (Arc::new(Quiet), Arc::new(Quiet));
        let (gone_waker, next_waker) = (Waker::from(gone), Waker::from(next));
        {
            let mut dropped = pin!(Arc::clone(&mutex).lock_owned());
            assert!(dropped
                .as_mut()
                .poll(&mut Context::from_waker(&gone_waker))
                .is_pending());
        }
        let mut waiting = pin!(Arc::clone(&mutex).lock_owned());
        assert!(waiting
            .as_mut()
            .poll(&mut Context::from_waker(&next_waker))
            .is_pending());
        assert!(Arc::clone(&mutex).lock_owned().now_or_never().is_none());
        drop(held);
        let turn = waiting.as_mut().poll(&mut Context::from_waker(&next_waker));
        assert!(turn.is_ready());
        assert!(Arc::clone(&mutex).lock_owned().now_or_never().is_none());
        drop(turn);
        assert!(mutex.lock_owned().now_or_never().is_some());
    }

    /// A caller that stops waiting for the refresh leaves nothing behind in the flight: its
    /// waker is released, so a long refresh with callers coming and going (popup opens,
    /// cancelled calls) keeps no growing list of them.
    #[test]
    fn a_caller_that_stops_waiting_is_forgotten_by_the_refresh_flight() {
        let flight: RefreshFlight = futures_util::future::pending().boxed_local().shared();
        let mut driver = flight.clone();
        let keep = Arc::new(Quiet);
        let keep_waker = Waker::from(keep.clone());
        assert!(Pin::new(&mut driver)
            .poll(&mut Context::from_waker(&keep_waker))
            .is_pending());
        let gone: Vec<Arc<Quiet>> = (0..50).map(|_| Arc::new(Quiet)).collect();
        for quiet in &gone {
            let waker = Waker::from(quiet.clone());
            let mut caller = flight.clone();
            assert!(Pin::new(&mut caller)
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        // Only the test's own handle of each dropped caller's waker is left.
        assert!(gone.iter().all(|q| Arc::strong_count(q) == 1));
        // The caller still waiting is still registered.
        assert_eq!(Arc::strong_count(&keep), 3);
    }
}

//! Native test platform and harness shared by the `tests/session_*.rs` and `tests/jira_*.rs`
//! suites (`mod support;`).
//!
//! - [`TestPlatform`] implements the four session ports: reqwest for HTTP, an in-memory store
//!   and a per-name `tokio::sync::Mutex` lock that several platforms (= several extension
//!   contexts) can share ([`TestPlatform::sibling`]), and a test clock whose offset moves in step
//!   with the fake Atlassian's `POST /__admin/clock`.
//! - [`Env`] starts the real fake Atlassian and the real broker in-process on 127.0.0.1:0 and
//!   wraps the fake's admin API (stats, clock, settings, faults, revoke).
//! - [`signed_in_session`] runs the whole authorize → callback → `complete_sign_in` flow.
//!
//! Everything runs on one current-thread tokio runtime: `Session` futures are `!Send`; use
//! `futures_util::future::join_all` for concurrency inside one test task.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jira_3lo::session::ports::{
    Area, Clock, CrossContextLock, HttpClient, HttpRequest, HttpResponse, KeyError, KeyValueStore,
    LockError, Method, ProofJwk, ProofKey, StoreError, TransportError,
};
use jira_3lo::session::{Session, SessionConfig, Status};
use serde_json::{json, Value};

/// The redirect URI the tests register with the fake and the broker. Nothing listens there:
/// the harness reads the fake's 302 `Location` instead of following it.
pub const REDIRECT: &str = "http://127.0.0.1:9/jira-3lo/callback";
pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-secret";

// ---------------------------------------------------------------------------------------------
// Ports

/// Shared in-memory key-value store (both areas). Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Rc<RefCell<HashMap<(u8, String), String>>>,
    /// Change listeners of every context over this store, told of each write at once (as
    /// `chrome.storage.onChanged` tells every extension context).
    listeners: Rc<RefCell<Vec<jira_3lo::session::ports::ChangeListener>>>,
    /// Reads through the port (`get`), by every context.
    pub reads: Rc<Cell<u64>>,
}

fn area_id(area: Area) -> u8 {
    match area {
        Area::Session => 0,
        Area::Persistent => 1,
    }
}

impl MemoryStore {
    /// Reads a raw value (tests inspect records with it).
    pub fn raw_get(&self, area: Area, key: &str) -> Option<String> {
        self.data
            .borrow()
            .get(&(area_id(area), key.to_string()))
            .cloned()
    }

    /// Writes a raw value (tests corrupt records with it).
    pub fn raw_set(&self, area: Area, key: &str, value: &str) {
        self.data
            .borrow_mut()
            .insert((area_id(area), key.to_string()), value.to_string());
        self.changed(key);
    }

    pub fn raw_remove(&self, area: Area, key: &str) {
        self.data
            .borrow_mut()
            .remove(&(area_id(area), key.to_string()));
        self.changed(key);
    }

    fn changed(&self, key: &str) {
        let listeners = self.listeners.borrow().clone();
        for listener in listeners {
            listener(Some(key));
        }
    }

    /// Every key in one area.
    pub fn keys(&self, area: Area) -> Vec<String> {
        let mut keys: Vec<String> = self
            .data
            .borrow()
            .keys()
            .filter(|(a, _)| *a == area_id(area))
            .map(|(_, k)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// A parsed record (panics when absent or not JSON: for assertions only).
    pub fn json(&self, area: Area, key: &str) -> Value {
        serde_json::from_str(
            &self
                .raw_get(area, key)
                .unwrap_or_else(|| panic!("{key} is not stored")),
        )
        .expect("stored value is JSON")
    }
}

/// A cross-context lock: one `tokio::sync::Mutex` (FIFO) per lock name. Clones share the locks.
#[derive(Clone, Default)]
pub struct TestLock {
    locks: Rc<RefCell<HashMap<String, Rc<tokio::sync::Mutex<()>>>>>,
    /// How many times a critical section started, over every lock name.
    pub acquisitions: Rc<Cell<u64>>,
    by_name: Rc<RefCell<HashMap<String, u64>>>,
}

impl TestLock {
    /// How many times the critical section of lock `name` started.
    pub fn acquisitions_of(&self, name: &str) -> u64 {
        self.by_name.borrow().get(name).copied().unwrap_or(0)
    }

    /// Refresh-lock acquisitions of the `default` namespace: refreshes across contexts, plus
    /// one per stored grant and per sign-out.
    pub fn refreshes(&self) -> u64 {
        self.acquisitions_of("jira-3lo:refresh:default")
    }
}

/// A clock at real time plus an offset that tests move forward; `sleep_ms` does not sleep, it
/// advances the offset (and the fake's clock, when linked) and yields.
#[derive(Clone)]
pub struct TestClock {
    /// Shared with the broker's clock (see [`start_with`]), which runs on other threads.
    offset_ms: Arc<AtomicU64>,
    slept_ms: Rc<Cell<u64>>,
    /// Milliseconds slept but not yet pushed to the fake (its clock moves in whole seconds).
    unsynced_ms: Rc<Cell<u64>>,
    fake_admin: Option<(reqwest::Client, String)>,
}

impl TestClock {
    pub fn new(fake_base_url: Option<&str>) -> Self {
        TestClock {
            offset_ms: Arc::new(AtomicU64::new(0)),
            slept_ms: Rc::new(Cell::new(0)),
            unsynced_ms: Rc::new(Cell::new(0)),
            fake_admin: fake_base_url.map(|u| (reqwest::Client::new(), u.to_string())),
        }
    }

    /// Moves only this clock (see [`Env::advance`] to move both).
    pub fn advance_local_ms(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Unix seconds on this clock, for the broker (see [`start_with`]).
    pub fn unix_secs_source(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let offset = Arc::clone(&self.offset_ms);
        move || {
            let real = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            (real + offset.load(Ordering::SeqCst)) / 1000
        }
    }

    /// Total time "slept" through [`Clock::sleep_ms`].
    pub fn slept_ms(&self) -> u64 {
        self.slept_ms.get()
    }
}

/// One installation's proof key: a real P-256 key pair (the broker verifies what it signs).
#[derive(Clone)]
pub struct TestKey(Rc<p256::ecdsa::SigningKey>);

impl TestKey {
    pub fn random() -> Self {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).expect("random bytes");
            if let Ok(key) = p256::ecdsa::SigningKey::from_bytes(&bytes.into()) {
                return TestKey(Rc::new(key));
            }
        }
    }

    pub fn jwk(&self) -> ProofJwk {
        let point = self.0.verifying_key().to_encoded_point(false);
        ProofJwk {
            x: jira_3lo::core::secrets::base64url(point.x().expect("x")),
            y: jira_3lo::core::secrets::base64url(point.y().expect("y")),
        }
    }

    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.0.sign(input);
        signature.to_bytes().to_vec()
    }
}

/// The native platform: all five ports. [`TestPlatform::sibling`] makes another "context" that
/// shares store, lock, clock and proof key (one installation) but counts its own requests.
#[derive(Clone)]
pub struct TestPlatform {
    http: reqwest::Client,
    pub store: MemoryStore,
    pub lock: TestLock,
    pub clock: TestClock,
    pub key: TestKey,
    /// HTTP requests this platform sent, as `"METHOD path"` (no query, no secrets).
    pub sent: Rc<RefCell<Vec<String>>>,
}

impl TestPlatform {
    pub fn new(fake_base_url: Option<&str>) -> Self {
        TestPlatform {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("reqwest client"),
            store: MemoryStore::default(),
            lock: TestLock::default(),
            clock: TestClock::new(fake_base_url),
            key: TestKey::random(),
            sent: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// A fresh proof of this installation's key for `method url`, for a request a test sends
    /// by hand.
    pub fn proof(&self, method: &str, url: &str) -> String {
        let method = match method {
            "GET" => Method::Get,
            _ => Method::Post,
        };
        let jti = jira_3lo::core::dpop::random_jti().unwrap();
        let unsigned = jira_3lo::core::dpop::UnsignedProof::new(
            &self.key.jwk(),
            method,
            url,
            Clock::now_ms(self),
            &jti,
        );
        let signature = self.key.sign(unsigned.signing_input());
        unsigned.signed(&signature).unwrap().secret().to_string()
    }

    /// The same context with another installation's key (a copied store elsewhere).
    pub fn with_key(&self, key: TestKey) -> Self {
        TestPlatform {
            key,
            ..self.clone()
        }
    }

    /// Another context over the same store, lock and clock.
    pub fn sibling(&self) -> Self {
        TestPlatform {
            sent: Rc::new(RefCell::new(Vec::new())),
            ..self.clone()
        }
    }

    /// A platform whose HTTP requests time out after `timeout` (for timeout tests).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        TestPlatform {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("reqwest client"),
            ..self.clone()
        }
    }

    /// How many requests this platform sent whose `"METHOD path"` contains `needle`.
    pub fn sent_matching(&self, needle: &str) -> usize {
        self.sent
            .borrow()
            .iter()
            .filter(|s| s.contains(needle))
            .count()
    }
}

impl HttpClient for TestPlatform {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        let path = reqwest::Url::parse(&request.url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        self.sent
            .borrow_mut()
            .push(format!("{} {}", request.method.as_str(), path));
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.http.request(method, &request.url);
        let mut has_content_type = false;
        for (k, v) in &request.headers {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            builder = builder.header(k, v);
        }
        if let Some(body) = request.body {
            if !has_content_type {
                builder = builder.header("content-type", "application/json");
            }
            builder = builder.body(body);
        }
        async move {
            let resp = builder.send().await.map_err(map_reqwest_error)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let body = resp.text().await.map_err(map_reqwest_error)?;
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }
    }
}

/// Timeouts → `Timeout`; everything else (refused, reset, dropped) → `Network`. The URL is
/// stripped from the message.
fn map_reqwest_error(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else {
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        TransportError::Network(msg)
    }
}

impl KeyValueStore for TestPlatform {
    // Each operation takes effect, then yields once: browser storage is asynchronous, so other
    // contexts' tasks run between one storage step and the next, as they do in a browser.
    fn get(
        &self,
        area: Area,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> {
        let v = self.store.raw_get(area, key);
        self.store.reads.set(self.store.reads.get() + 1);
        async move {
            tokio::task::yield_now().await;
            Ok(v)
        }
    }

    fn set(
        &self,
        area: Area,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> {
        self.store.raw_set(area, key, value);
        async {
            tokio::task::yield_now().await;
            Ok(())
        }
    }

    fn watch(&self, listener: jira_3lo::session::ports::ChangeListener) {
        self.store.listeners.borrow_mut().push(listener);
    }

    fn remove(&self, area: Area, key: &str) -> impl Future<Output = Result<(), StoreError>> {
        self.store.raw_remove(area, key);
        async {
            tokio::task::yield_now().await;
            Ok(())
        }
    }
}

impl CrossContextLock for TestPlatform {
    fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> impl Future<Output = Result<F::Output, LockError>> {
        let mutex = self
            .lock
            .locks
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .clone();
        let acquisitions = self.lock.acquisitions.clone();
        let by_name = self.lock.by_name.clone();
        let name = name.to_string();
        async move {
            let _guard = mutex.lock().await;
            acquisitions.set(acquisitions.get() + 1);
            *by_name.borrow_mut().entry(name).or_default() += 1;
            Ok(critical.await)
        }
    }
}

impl ProofKey for TestPlatform {
    async fn public_jwk(&self) -> Result<ProofJwk, KeyError> {
        Ok(self.key.jwk())
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.key.sign(input))
    }
}

impl Clock for TestPlatform {
    fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64;
        real + self.clock.offset_ms.load(Ordering::SeqCst)
    }

    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        let clock = self.clock.clone();
        async move {
            clock.offset_ms.fetch_add(ms, Ordering::SeqCst);
            clock.slept_ms.set(clock.slept_ms.get() + ms);
            if let Some((http, base)) = &clock.fake_admin {
                let total = clock.unsynced_ms.get() + ms;
                let secs = total / 1000;
                clock.unsynced_ms.set(total % 1000);
                if secs > 0 {
                    let r = http
                        .post(format!("{base}/__admin/clock"))
                        .json(&json!({ "advance_secs": secs }))
                        .send()
                        .await;
                    assert!(
                        r.is_ok_and(|r| r.status().is_success()),
                        "advancing the fake clock failed"
                    );
                }
            }
            tokio::task::yield_now().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

/// The fake Atlassian + the broker, both real, in-process, plus a platform linked to them.
pub struct Env {
    pub fake: fake_atlassian::RunningFake,
    pub broker: jira_3lo_broker::RunningBroker,
    /// The first context's platform; [`Env::session`] uses siblings of it.
    pub platform: TestPlatform,
    admin: reqwest::Client,
}

/// Starts the fake and the broker in front of it: the broker's hosted callback is the fake
/// app's one callback URL, and [`REDIRECT`] is the client redirect the broker allows.
pub async fn start() -> Env {
    start_with(fake_atlassian::FakeConfig::default()).await
}

/// Like [`start`] with a custom fake configuration.
pub async fn start_with(fake_config: fake_atlassian::FakeConfig) -> Env {
    let fake = fake_atlassian::spawn(fake_config)
        .await
        .expect("fake starts");
    let platform = TestPlatform::new(Some(&fake.base_url));
    let broker = jira_3lo_broker::spawn(broker_config(&fake.base_url, CLIENT_SECRET, &platform))
        .await
        .expect("broker starts");
    let env = Env {
        fake,
        broker,
        platform,
        admin: reqwest::Client::new(),
    };
    env.admin_post("callback-url", json!({ "uri": env.broker.callback_url }))
        .await;
    env
}

/// The broker the tests run: [`REDIRECT`] allowed, no rate limit in the way, and the time of
/// the test clock (which tests move forward by hours; the proofs carry that time).
///
/// Every test broker seals with the same key, as the instances of one deployment do, so a
/// second broker in front of the same fake opens the refresh blobs the first one sealed.
fn broker_config(
    fake_url: &str,
    secret: &str,
    platform: &TestPlatform,
) -> jira_3lo_broker::BrokerConfig {
    jira_3lo_broker::BrokerConfig::new(fake_url, CLIENT_ID, secret)
        .allow_redirect_uri(REDIRECT)
        .rate_limit_per_minute(100_000)
        .sealing_key("test", [7; 32])
        .scopes(&[
            "read:jira-work",
            "write:jira-work",
            "read:jira-user",
            "read:confluence-content.all",
            "offline_access",
        ])
        .clock(platform.clock.unix_secs_source())
}

impl Env {
    /// A session config pointing at the broker and the fake's API.
    pub fn config(&self) -> SessionConfig {
        let mut c = SessionConfig::new(&self.broker.base_url);
        c.api_base_url = self.fake.base_url.clone();
        c
    }

    /// A new context (engine) over the shared store, lock and clock.
    pub fn session(&self) -> Session<TestPlatform> {
        Session::new(self.config(), self.platform.sibling())
    }

    /// A session over a given platform with the default config.
    pub fn session_on(&self, platform: TestPlatform) -> Session<TestPlatform> {
        Session::new(self.config(), platform)
    }

    /// Visits the authorize URL like a browser with auto-consent, follows the fake's redirect
    /// to the broker's hosted callback, and returns the callback URL the broker redirects to
    /// (`{REDIRECT}#ticket=…&state=…`), without following it.
    pub async fn authorize(&self, authorize_url: &str) -> String {
        let to_broker = redirect_of(authorize_url).await;
        self.through_broker(&to_broker).await
    }

    /// The broker's hosted callback for Atlassian's redirect `location` (its 302 `Location`).
    pub async fn through_broker(&self, location: &str) -> String {
        assert!(
            location.contains("/oauth/callback?"),
            "Atlassian redirects to the broker's callback, not to {location}"
        );
        redirect_of(location).await
    }

    /// begin_sign_in → authorize (auto-consent) → complete_sign_in.
    pub async fn sign_in(&self, session: &Session<TestPlatform>) -> Status {
        let url = session
            .begin_sign_in(REDIRECT)
            .await
            .expect("begin_sign_in");
        let callback = self.authorize(&url).await;
        session
            .complete_sign_in(&callback)
            .await
            .expect("complete_sign_in")
    }

    /// Signs in and, if several sites are offered, chooses the first one.
    pub async fn sign_in_and_choose(&self, session: &Session<TestPlatform>) -> Status {
        match self.sign_in(session).await {
            Status::SiteSelectionRequired { sites } => session
                .choose_site(&sites[0].id)
                .await
                .expect("choose_site"),
            other => other,
        }
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .admin
            .post(format!("{}/__admin/{path}", self.fake.base_url))
            .json(&body)
            .send()
            .await
            .expect("admin call");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "POST /__admin/{path} {body}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `GET /__admin/stats`.
    pub async fn stats(&self) -> Value {
        self.admin
            .get(format!("{}/__admin/stats", self.fake.base_url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// `GET /__admin/issued-refresh-tokens`: every refresh token the fake ever issued.
    pub async fn issued_refresh_tokens(&self) -> Vec<String> {
        self.admin
            .get(format!(
                "{}/__admin/issued-refresh-tokens",
                self.fake.base_url
            ))
            .send()
            .await
            .expect("issued tokens")
            .json()
            .await
            .expect("issued tokens JSON")
    }

    /// Requests served for one route template, e.g. `"POST /oauth/token"`.
    pub async fn count(&self, route: &str) -> u64 {
        self.stats().await["requests"][route].as_u64().unwrap_or(0)
    }

    /// All API requests served (every route except the admin API).
    pub async fn total_requests(&self) -> u64 {
        let stats = self.stats().await;
        stats["requests"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    }

    /// Token grants performed, `"authorization_code"` or `"refresh_token"`.
    pub async fn grants(&self, kind: &str) -> u64 {
        self.stats().await["grants"][kind].as_u64().unwrap_or(0)
    }

    /// Moves the fake's clock and the test clock forward together.
    pub async fn advance(&self, secs: u64) {
        self.admin_post("clock", json!({ "advance_secs": secs }))
            .await;
        self.platform.clock.advance_local_ms(secs * 1000);
    }

    pub async fn settings(&self, settings: Value) -> Value {
        self.admin_post("settings", settings).await
    }

    /// `POST /__admin/quota`: the fake's points-based quota (`{"limit", "remaining"?, ...}`).
    pub async fn quota(&self, quota: Value) -> Value {
        self.admin_post("quota", quota).await
    }

    /// `POST /__admin/faults`, e.g. `fault("POST /oauth/token", 1, json!({"status": 503}))`.
    pub async fn fault(&self, route: &str, count: u64, fault: Value) {
        self.admin_post(
            "faults",
            json!({ "route": route, "count": count, "fault": fault }),
        )
        .await;
    }

    /// Revokes every token family (or one user's).
    pub async fn revoke(&self, user: Option<&str>) {
        let body = match user {
            Some(u) => json!({ "user": u }),
            None => json!({}),
        };
        self.admin_post("revoke", body).await;
    }

    /// Another broker in front of the same fake, with a given client secret (a wrong one
    /// plays a misconfigured deploy).
    pub async fn broker_with_secret(&self, secret: &str) -> jira_3lo_broker::RunningBroker {
        jira_3lo_broker::spawn(broker_config(&self.fake.base_url, secret, &self.platform))
            .await
            .expect("broker starts")
    }

    /// Another broker in front of the same fake, its test config adjusted by `edit`. Its
    /// callback becomes the app's one callback URL (sign-ins through the first broker no
    /// longer come back).
    pub async fn broker_with(
        &self,
        edit: impl FnOnce(jira_3lo_broker::BrokerConfig) -> jira_3lo_broker::BrokerConfig,
    ) -> jira_3lo_broker::RunningBroker {
        let config = broker_config(&self.fake.base_url, CLIENT_SECRET, &self.platform);
        let broker = jira_3lo_broker::spawn(edit(config))
            .await
            .expect("broker starts");
        self.admin_post("callback-url", json!({ "uri": broker.callback_url }))
            .await;
        broker
    }

    pub async fn reset(&self) {
        self.admin_post("reset", json!({})).await;
    }
}

/// Starts everything and returns a signed-in session with a chosen site (alice's first site).
pub async fn signed_in_session() -> (Env, Session<TestPlatform>) {
    let env = start().await;
    let session = env.session();
    let status = env.sign_in_and_choose(&session).await;
    assert!(matches!(status, Status::SignedIn { .. }), "{status:?}");
    (env, session)
}

/// In the fake's consent-page mode: opens the consent page for `authorize_url` and presses
/// Accept (`decision = "accept"`) or Cancel (`"cancel"`); returns the callback URL (302 Location).
pub async fn answer_consent(env: &Env, authorize_url: &str, decision: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(authorize_url)
        .send()
        .await
        .expect("consent page")
        .text()
        .await
        .unwrap();
    let marker = "name=\"consent\" value=\"";
    let start = page.find(marker).expect("consent page has a consent id") + marker.len();
    let id = &page[start..start + page[start..].find('"').unwrap()];
    let resp = client
        .post(format!("{}/authorize/consent", env.fake.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("consent={id}&decision={decision}"))
        .send()
        .await
        .expect("consent answer");
    assert_eq!(
        resp.status().as_u16(),
        302,
        "consent answer should redirect"
    );
    let to_broker = resp.headers()["location"].to_str().unwrap().to_string();
    env.through_broker(&to_broker).await
}

/// GETs `url` without following redirects and returns its 302 `Location`.
pub async fn redirect_of(url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(url).send().await.expect("redirect request");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    match location {
        Some(location) if status == 302 || status == 303 => location,
        _ => panic!(
            "{url} should redirect: {status} {}",
            resp.text().await.unwrap_or_default()
        ),
    }
}

/// Presses Cancel on the fake's consent page (consent mode `page`).
pub async fn decline_consent(env: &Env, authorize_url: &str) -> String {
    answer_consent(env, authorize_url, "cancel").await
}

/// Waits (bounded: 2,000 polls, 1 ms apart on the real clock) until `done` says so; panics
/// naming `what` otherwise. For a test that must act while another context is mid-operation.
pub async fn eventually<Fut: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> Fut) {
    for _ in 0..2_000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{what} never happened");
}

/// What a [`Staged`] context runs once, right before its first token request.
pub type Hook = Box<dyn FnOnce()>;

/// A context over a [`TestPlatform`] that a test stages: a hook run right before its first
/// token request ("a sibling rotated the token while our refresh was on the wire"), deafness
/// to change events (a page restored from the back/forward cache missed them), and sleeps
/// held until the test lets them go on.
#[derive(Clone)]
pub struct Staged {
    pub inner: TestPlatform,
    pub before_token: Rc<RefCell<Option<Hook>>>,
    pub hears_events: bool,
    /// `.0` is notified when a sleep starts; the sleep goes on once `.1` is notified.
    pub sleep_gate: Option<Rc<(tokio::sync::Notify, tokio::sync::Notify)>>,
}

impl Staged {
    pub fn new(inner: TestPlatform) -> Self {
        Staged {
            inner,
            before_token: Rc::default(),
            hears_events: true,
            sleep_gate: None,
        }
    }
}

impl HttpClient for Staged {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        if request.url.ends_with("/oauth/token") {
            if let Some(hook) = self.before_token.borrow_mut().take() {
                hook();
            }
        }
        self.inner.send(request)
    }
}

impl KeyValueStore for Staged {
    fn get(
        &self,
        area: Area,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> {
        self.inner.get(area, key)
    }

    fn set(
        &self,
        area: Area,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> {
        self.inner.set(area, key, value)
    }

    fn remove(&self, area: Area, key: &str) -> impl Future<Output = Result<(), StoreError>> {
        self.inner.remove(area, key)
    }

    fn watch(&self, listener: jira_3lo::session::ports::ChangeListener) {
        if self.hears_events {
            self.inner.watch(listener)
        }
    }
}

impl CrossContextLock for Staged {
    fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> impl Future<Output = Result<F::Output, LockError>> {
        self.inner.run_exclusive(name, critical)
    }
}

impl ProofKey for Staged {
    fn public_jwk(&self) -> impl Future<Output = Result<ProofJwk, KeyError>> {
        self.inner.public_jwk()
    }

    fn sign(&self, input: &[u8]) -> impl Future<Output = Result<Vec<u8>, KeyError>> {
        self.inner.sign(input)
    }
}

impl Clock for Staged {
    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        let (inner, gate) = (self.inner.clone(), self.sleep_gate.clone());
        async move {
            if let Some(gate) = gate {
                gate.0.notify_one();
                gate.1.notified().await;
            }
            inner.sleep_ms(ms).await
        }
    }
}

//! Shared helpers: the real fake Atlassian and the real broker on 127.0.0.1, a test-only DPoP
//! proof builder over real P-256 keys, and small HTTP helpers. Every test binary includes this module and uses a subset of it.
#![allow(dead_code)]

pub mod processes;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use fake_atlassian::{FakeConfig, RunningFake};
use jira_3lo_broker::{BrokerConfig, RunningBroker};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-secret";
/// The client redirect (a web page's callback) the broker forwards tickets to.
pub const REDIRECT_URI: &str = "https://app.example/callback";
pub const ORIGIN: &str = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
pub const CLIENT_STATE: &str = "client-st4te";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The fake with no callback yet: [`Stack::start`] registers the broker's.
pub async fn fake() -> RunningFake {
    fake_atlassian::spawn(FakeConfig::default()).await.unwrap()
}

/// The broker configured the way the tests expect, pointing at `auth_base_url`.
pub fn broker_config(auth_base_url: &str) -> BrokerConfig {
    BrokerConfig::new(auth_base_url, CLIENT_ID, CLIENT_SECRET)
        .allow_redirect_uri(REDIRECT_URI)
        .allow_origin(ORIGIN)
}

pub async fn broker(config: BrokerConfig) -> RunningBroker {
    jira_3lo_broker::spawn(config).await.unwrap()
}

/// Makes the broker's callback the fake app's one callback URL, as at Atlassian.
pub async fn register_callback(client: &reqwest::Client, fake_url: &str, callback_url: &str) {
    let response = client
        .post(format!("{fake_url}/__admin/callback-url"))
        .json(&json!({"uri": callback_url}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// The real fake and the real broker, wired together.
pub struct Stack {
    pub client: reqwest::Client,
    pub fake: RunningFake,
    pub broker: RunningBroker,
}

impl Stack {
    pub async fn start() -> Stack {
        Self::with(|c| c).await
    }

    /// `tweak` adjusts the default broker config (pointing at the fake).
    pub async fn with(tweak: impl FnOnce(BrokerConfig) -> BrokerConfig) -> Stack {
        let (client, fake) = (http(), fake().await);
        let broker = broker(tweak(broker_config(&fake.base_url))).await;
        register_callback(&client, &fake.base_url, &broker.callback_url).await;
        Stack {
            client,
            fake,
            broker,
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.broker.base_url)
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/v1/authorize", self.broker.base_url)
    }

    /// `(authorization_code, refresh_token)` grants the fake's token endpoint has seen.
    pub async fn grants(&self) -> (u64, u64) {
        grants(&self.client, &self.fake.base_url).await
    }

    /// The full sign-in up to the client's redirect: the fragment's fields.
    pub async fn sign_in(&self, key: &Key) -> Fragment {
        let flow = self.begin(key).await;
        let location = self.consent(&flow).await;
        let fragment = self.callback(&location).await;
        assert!(fragment.ticket.is_some(), "{fragment:?}");
        fragment
    }

    /// `POST /v1/authorize`; returns the Atlassian authorize URL.
    pub async fn begin(&self, key: &Key) -> String {
        let answer = send(
            self.client
                .post(self.authorize_url())
                .header("dpop", key.proof("POST", &self.authorize_url()))
                .json(&json!({"redirect_uri": REDIRECT_URI, "state": CLIENT_STATE})),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["authorize_url"].as_str().unwrap().to_string()
    }

    /// The fake's auto-consent: returns where Atlassian sends the browser (the broker callback).
    pub async fn consent(&self, authorize_url: &str) -> String {
        let response = self.client.get(authorize_url).send().await.unwrap();
        assert_eq!(response.status(), 302, "authorize should redirect");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&self.broker.callback_url),
            "{location}"
        );
        location
    }

    /// Follows the callback URL at the broker and parses the client redirect it answers.
    pub async fn callback(&self, callback_url: &str) -> Fragment {
        let answer = get(&self.client, callback_url).await;
        assert_eq!(answer.status, 302, "{}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
        Fragment::parse(answer.header("location").unwrap())
    }

    pub async fn redeem(&self, key: &Key, ticket: &str) -> Answer {
        send(
            self.client
                .post(self.token_url())
                .header("dpop", key.proof("POST", &self.token_url()))
                .json(&json!({"grant_type": "urn:jira-3lo:ticket", "ticket": ticket})),
        )
        .await
    }

    pub async fn refresh(&self, key: &Key, blob: &str) -> Answer {
        send(
            self.client
                .post(self.token_url())
                .header("dpop", key.proof("POST", &self.token_url()))
                .json(&json!({"grant_type": "refresh_token", "refresh_token": blob})),
        )
        .await
    }

    /// Sign-in and redemption: the token response.
    pub async fn tokens(&self, key: &Key) -> Value {
        let ticket = self.sign_in(key).await.ticket.unwrap();
        let answer = self.redeem(key, &ticket).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }
}

/// The fields of the fragment the broker's callback redirects the client to.
#[derive(Debug)]
pub struct Fragment {
    pub base: String,
    pub ticket: Option<String>,
    pub error: Option<String>,
    pub state: Option<String>,
    pub keys: Vec<String>,
}

impl Fragment {
    pub fn parse(location: &str) -> Fragment {
        let (base, fragment) = location.split_once('#').expect("a fragment");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        Fragment {
            base: base.to_string(),
            ticket: field("ticket"),
            error: field("error"),
            state: field("state"),
            keys: pairs.iter().map(|(k, _)| k.clone()).collect(),
        }
    }
}

/// A browser's P-256 key pair, and a test-only DPoP proof builder (RFC 9449, ES256).
pub struct Key {
    signing: SigningKey,
}

impl Key {
    pub fn generate() -> Key {
        loop {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).unwrap();
            if let Ok(signing) = SigningKey::from_slice(&seed) {
                return Key { signing };
            }
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.signing.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256",
               "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
    }

    /// A fresh proof for `htm htu`: iat now, a random jti.
    pub fn proof(&self, htm: &str, htu: &str) -> String {
        self.proof_with(&self.jwk(), &Self::claims(htm, htu, now() as i64))
    }

    pub fn claims(htm: &str, htu: &str, iat: i64) -> Value {
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).unwrap();
        json!({"htm": htm, "htu": htu, "iat": iat, "jti": B64.encode(jti)})
    }

    /// Signs `claims` with this key, announcing `jwk` (another key's, to forge).
    pub fn proof_with(&self, jwk: &Value, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        self.sign_raw(&header, claims)
    }

    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A random 32-byte sealing key.
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).unwrap();
    key
}

/// `(authorization_code, refresh_token)` grants the fake's token endpoint has seen.
pub async fn grants(client: &reqwest::Client, fake_url: &str) -> (u64, u64) {
    let stats: Value = client
        .get(format!("{fake_url}/__admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        stats["grants"]["authorization_code"].as_u64().unwrap_or(0),
        stats["grants"]["refresh_token"].as_u64().unwrap_or(0),
    )
}

/// Every refresh token the fake ever issued.
pub async fn issued_refresh_tokens(client: &reqwest::Client, fake_url: &str) -> Vec<String> {
    client
        .get(format!("{fake_url}/__admin/issued-refresh-tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    /// Asserts a broker refusal: status, code, the OAuth error shape, and a JSON content type.
    pub fn assert_refusal(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["error"], code, "{}", self.text);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}",
            self.text
        );
        assert_eq!(self.headers["content-type"], "application/json");
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

pub async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> Answer {
    answer(client.post(url).json(body).send().await.unwrap()).await
}

pub async fn post_json_from(
    client: &reqwest::Client,
    url: &str,
    origin: &str,
    body: &Value,
) -> Answer {
    answer(
        client
            .post(url)
            .header("origin", origin)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut request = client.post(url).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    answer(request.send().await.unwrap()).await
}

pub async fn get(client: &reqwest::Client, url: &str) -> Answer {
    answer(client.get(url).send().await.unwrap()).await
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    answer(request.send().await.unwrap()).await
}

/// `POST /oauth/token` requests the fake has served so far.
pub async fn token_requests(client: &reqwest::Client, fake_url: &str) -> u64 {
    let stats: Value = client
        .get(format!("{fake_url}/__admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["requests"]["POST /oauth/token"].as_u64().unwrap_or(0)
}

pub async fn fault(client: &reqwest::Client, fake_url: &str, fault: Value) {
    let response = client
        .post(format!("{fake_url}/__admin/faults"))
        .json(&json!({"route": "POST /oauth/token", "count": 1, "fault": fault}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "fault not accepted: {}",
        response.status()
    );
}

pub async fn advance_clock(client: &reqwest::Client, fake_url: &str, secs: u64) {
    let response = client
        .post(format!("{fake_url}/__admin/clock"))
        .json(&json!({"advance_secs": secs}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends raw bytes over one connection and returns everything the server answered.
pub async fn raw_http(addr: &str, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

pub fn host_port(base_url: &str) -> &str {
    base_url.trim_start_matches("http://")
}

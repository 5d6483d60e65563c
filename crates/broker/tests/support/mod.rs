//! Shared helpers: the real fake Atlassian and the real broker on 127.0.0.1, and small HTTP
//! helpers. Every test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use fake_atlassian::{FakeConfig, RunningFake};
use jira_3lo_broker::{BrokerConfig, RunningBroker};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-secret";
pub const REDIRECT_URI: &str = "https://app.example/callback";
pub const ORIGIN: &str = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub async fn fake() -> RunningFake {
    fake_atlassian::spawn(FakeConfig::default().allow_redirect_uri(CLIENT_ID, REDIRECT_URI))
        .await
        .unwrap()
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

/// Runs the fake's auto-consent authorize step and returns the authorization code.
pub async fn authorize(client: &reqwest::Client, fake_url: &str) -> String {
    let response = client
        .get(format!("{fake_url}/authorize"))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", CLIENT_ID),
            (
                "scope",
                "read:jira-work write:jira-work read:jira-user offline_access",
            ),
            ("redirect_uri", REDIRECT_URI),
            ("state", "st4te"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "authorize should redirect");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let url = url::Url::parse(&location).unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code in the redirect")
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

/// Code exchange through the broker; returns the parsed token response.
pub async fn exchange(client: &reqwest::Client, broker_url: &str, code: &str) -> Value {
    let answer = post_json(
        client,
        &format!("{broker_url}/oauth/token"),
        &json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

pub async fn refresh(client: &reqwest::Client, broker_url: &str, refresh_token: &str) -> Answer {
    post_json(
        client,
        &format!("{broker_url}/oauth/token"),
        &json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
    )
    .await
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

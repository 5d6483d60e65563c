//! Measures how fast the fake answers a simple API call with a warm token, so benchmarks can
//! tell whether it could ever be their bottleneck.
//!
//! `cargo run --release -p fake-atlassian --example latency [-- ITERATIONS]`
//!
//! Sequential `GET /ex/jira/{cloudId}/rest/api/3/myself` over one keep-alive connection; the
//! figure is the full client round trip (reqwest included), so the server's share is smaller.

use std::time::{Duration, Instant};

use fake_atlassian::{ids, spawn, FakeConfig};
use serde_json::{json, Value};

const CB: &str = "http://127.0.0.1:9/cb";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let fake = spawn(FakeConfig::default().allow_redirect_uri("demo-client", CB)).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    let authorize = format!(
        "{}/authorize?audience=api.atlassian.com&client_id=demo-client&scope=read%3Ajira-user&redirect_uri={}&state=s&response_type=code",
        fake.base_url,
        url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
    );
    let location = http.get(authorize).send().await?.headers()["location"]
        .to_str()?
        .to_string();
    let code = url::Url::parse(&location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .ok_or("no code")?;
    let token: Value = http
        .post(format!("{}/oauth/token", fake.base_url))
        .json(&json!({"grant_type": "authorization_code", "client_id": "demo-client", "client_secret": "demo-secret", "code": code, "redirect_uri": CB}))
        .send()
        .await?
        .json()
        .await?;
    let access = token["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_string();
    let url = format!("{}/ex/jira/{}/rest/api/3/myself", fake.base_url, ids::ACME);

    let call = || {
        let req = http.get(&url).bearer_auth(&access);
        async move {
            let resp = req.send().await.expect("request");
            assert!(resp.status().is_success());
            resp.bytes().await.expect("body").len()
        }
    };
    for _ in 0..1000 {
        call().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        call().await;
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "GET /ex/jira/{{cloudId}}/rest/api/3/myself, warm token, keep-alive, {iterations} sequential calls:\n  \
         median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs; {:.0} calls/s",
        us(pct(0.5)),
        us(pct(0.9)),
        us(pct(0.99)),
        us(*samples.last().unwrap()),
        iterations as f64 / total.as_secs_f64()
    );
    let stats = fake.stats();
    println!(
        "  fake counted {} myself calls",
        stats
            .requests
            .get("GET /ex/jira/{cloudId}/rest/api/3/myself")
            .copied()
            .unwrap_or(0)
    );
    Ok(())
}

//! No code, token or secret in the broker's logs: capture everything it logs (at trace level,
//! including hyper and reqwest) during a full exchange + refresh + refused refresh, then search
//! the capture for every issued value.

mod support;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_code_token_or_secret_is_ever_logged() {
    let capture = Capture::default();
    let writer = capture.clone();
    // Everything at trace level except the fake, which is the test's stand-in for Atlassian and
    // is allowed to know the values.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,fake_atlassian=off",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .json()
        .flatten_event(true)
        .init();

    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    let code = authorize(&client, &fake.base_url).await;
    let tokens = exchange(&client, &broker.base_url, &code).await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let refreshed = refresh(&client, &broker.base_url, &first_refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let refreshed = refreshed.json();
    // A refused request and an upstream error also go through the logging paths.
    let redirect_refusal = post_json(
        &client,
        &format!("{}/oauth/token", broker.base_url),
        &json!({"grant_type": "authorization_code", "code": "leak-me-code", "redirect_uri": "https://evil.example/"}),
    )
    .await;
    assert_eq!(redirect_refusal.status, 400);
    assert_eq!(
        refresh(&client, &broker.base_url, "leak-me-refresh")
            .await
            .status,
        403
    );

    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let secrets = [
        code.as_str(),
        CLIENT_SECRET,
        tokens["access_token"].as_str().unwrap(),
        &first_refresh,
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        "leak-me-code",
        "leak-me-refresh",
    ];
    for secret in secrets {
        assert!(
            !logged.contains(secret),
            "a secret value appears in the logs"
        );
    }
    // The capture is real: the broker logged each request, structured, with its outcome.
    let lines: Vec<serde_json::Value> = logged
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == "jira_3lo_broker::server" && l["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 4, "{logged}");
    assert!(requests
        .iter()
        .any(|l| l["grant_type"] == "refresh_token" && l["upstream_status"] == 200));
    assert!(requests
        .iter()
        .any(|l| l["error"] == "redirect_uri_not_allowed"));
    assert!(
        lines
            .iter()
            .any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("hyper"))),
        "trace level reached hyper"
    );
}

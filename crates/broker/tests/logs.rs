//! No code, token, secret, state, ticket or blob in the broker's logs: capture everything it
//! logs (at trace level, including hyper and reqwest) during a full sign-in, redemption,
//! refresh, refusals and a declined consent, then search the capture for every value.

mod support;

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

    let stack = Stack::start().await;
    let key = Key::generate();
    // The sign-in, step by step, to see every value that passes through the broker.
    let authorize_url = stack.begin(&key).await;
    let sealed_state = url::Url::parse(&authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let callback = stack.consent(&authorize_url).await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let ticket = stack.callback(&callback).await.ticket.unwrap();
    let redeemed = stack.redeem(&key, &ticket).await.json();
    let first_blob = redeemed["refresh_token"].as_str().unwrap().to_string();
    let refreshed = stack.refresh(&key, &first_blob).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let refreshed = refreshed.json();
    // Refusals and an Atlassian error also go through the logging paths.
    stack
        .redeem(&key, &ticket)
        .await
        .assert_refusal(400, "invalid_grant");
    stack
        .refresh(&key, "leak-me-refresh")
        .await
        .assert_refusal(400, "invalid_grant");
    let declined = format!(
        "{}?error=access_denied&error_description=leak-me-description&state={}",
        stack.broker.callback_url,
        url::form_urlencoded::byte_serialize(
            url::Url::parse(&stack.begin(&key).await)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "state")
                .unwrap()
                .1
                .as_bytes()
        )
        .collect::<String>()
    );
    assert_eq!(
        stack.callback(&declined).await.error.as_deref(),
        Some("access_denied")
    );
    let raw_refresh = issued_refresh_tokens(&stack.client, &stack.fake.base_url).await;
    assert_eq!(raw_refresh.len(), 2);

    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let secrets = [
        code.as_str(),
        CLIENT_SECRET,
        CLIENT_STATE,
        &sealed_state,
        &ticket,
        redeemed["access_token"].as_str().unwrap(),
        &first_blob,
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        &raw_refresh[0],
        &raw_refresh[1],
        "leak-me-refresh",
        "leak-me-description",
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
    let routes: Vec<&str> = requests
        .iter()
        .map(|l| l["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        [
            "/v1/authorize",
            "/oauth/callback",
            "/oauth/token",
            "/oauth/token",
            "/oauth/token",
            "/oauth/token",
            "/v1/authorize",
            "/oauth/callback"
        ],
        "{logged}"
    );
    assert!(requests
        .iter()
        .any(|l| l["grant_type"] == "authorization_code" && l["upstream_status"] == 200));
    assert!(requests
        .iter()
        .any(|l| l["grant_type"] == "refresh_token" && l["upstream_status"] == 200));
    assert!(requests
        .iter()
        .any(|l| l["grant_type"] == "urn:jira-3lo:ticket" && l["error"] == "invalid_grant"));
    assert!(requests
        .iter()
        .any(|l| l["redirect_error"] == "access_denied"));
    assert!(
        lines
            .iter()
            .any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("hyper"))),
        "trace level reached hyper"
    );
}

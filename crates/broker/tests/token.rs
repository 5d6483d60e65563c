//! The broker's job over real HTTP against the real fake Atlassian: code exchange, refresh with
//! rotation, and Atlassian's own errors passed through unchanged.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn exchange_then_refresh_rotates_every_time() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;

    let code = authorize(&client, &fake.base_url).await;
    let tokens = exchange(&client, &broker.base_url, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let mut refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    assert!(
        tokens["expires_in"].as_u64().is_some_and(|s| s > 0),
        "{tokens}"
    );
    assert!(!access.is_empty());

    let mut seen = vec![refresh_token.clone()];
    for _ in 0..3 {
        let answer = refresh(&client, &broker.base_url, &refresh_token).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        let body = answer.json();
        assert!(body["access_token"].as_str().is_some_and(|t| t != access));
        refresh_token = body["refresh_token"].as_str().unwrap().to_string();
        assert!(
            !seen.contains(&refresh_token),
            "rotation must hand out a new refresh token each time"
        );
        seen.push(refresh_token.clone());
    }
    // Exactly one upstream call per client request: 1 exchange + 3 refreshes.
    assert_eq!(token_requests(&client, &fake.base_url).await, 4);
}

#[tokio::test]
async fn form_bodies_are_accepted_and_forwarded() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    let code = authorize(&client, &fake.base_url).await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .finish();
    let answer = post_raw(
        &client,
        &format!("{}/oauth/token", broker.base_url),
        Some("application/x-www-form-urlencoded"),
        form.into_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.json()["refresh_token"].is_string());
}

/// The broker's answer must be byte-identical to what the fake says to the same request made
/// with the client credentials.
async fn assert_passthrough(
    client: &reqwest::Client,
    fake_url: &str,
    broker_url: &str,
    body: serde_json::Value,
) -> Answer {
    let via_broker = post_json(client, &format!("{broker_url}/oauth/token"), &body).await;
    let mut direct_body = body.clone();
    direct_body["client_id"] = json!(CLIENT_ID);
    direct_body["client_secret"] = json!(CLIENT_SECRET);
    let direct = post_json(client, &format!("{fake_url}/oauth/token"), &direct_body).await;
    assert_eq!(via_broker.status, direct.status);
    assert_eq!(via_broker.text, direct.text);
    via_broker
}

#[tokio::test]
async fn atlassian_errors_pass_through_verbatim() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;

    // Unknown refresh token: 403 invalid_grant.
    let answer = assert_passthrough(
        &client,
        &fake.base_url,
        &broker.base_url,
        json!({"grant_type": "refresh_token", "refresh_token": "not-a-real-token"}),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.json()["error"], "invalid_grant");

    // Invalid authorization code: 400 invalid_request.
    let answer = assert_passthrough(
        &client,
        &fake.base_url,
        &broker.base_url,
        json!({"grant_type": "authorization_code", "code": "bogus-code", "redirect_uri": REDIRECT_URI}),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_request");
}

#[tokio::test]
async fn a_rotated_token_outside_the_leeway_is_refused_by_atlassian_and_passed_on() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    let code = authorize(&client, &fake.base_url).await;
    let first = exchange(&client, &broker.base_url, &code).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = refresh(&client, &broker.base_url, &first).await;
    assert_eq!(answer.status, 200);
    advance_clock(&client, &fake.base_url, 601).await;
    let answer = refresh(&client, &broker.base_url, &first).await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(answer.json()["error"], "invalid_grant");
    assert!(
        !answer.text.contains(&first),
        "the refresh token must not be echoed"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_atlassians_401_not_the_brokers() {
    let (client, fake) = (http(), fake().await);
    let mut config = broker_config(&fake.base_url);
    config.client_secret = "wrong-secret".into();
    let broker = broker(config).await;
    let code = authorize(&client, &fake.base_url).await;
    let answer = post_json(
        &client,
        &format!("{}/oauth/token", broker.base_url),
        &json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}),
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert_eq!(answer.json()["error"], "access_denied");
    assert!(!answer.text.contains("wrong-secret"));
}

#[tokio::test]
async fn client_metadata_and_health() {
    let (client, fake) = (http(), fake().await);
    let broker =
        broker(broker_config(&fake.base_url).scopes(&["read:jira-work", "offline_access"])).await;
    let answer = get(&client, &format!("{}/v1/client", broker.base_url)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({
            "client_id": CLIENT_ID,
            "audience": "api.atlassian.com",
            "scopes": ["read:jira-work", "offline_access"],
            "redirect_uris": [REDIRECT_URI],
        })
    );
    assert!(!answer.text.contains(CLIENT_SECRET));

    let answer = get(&client, &format!("{}/healthz", broker.base_url)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({"status": "ok"}));
    assert_eq!(
        token_requests(&client, &fake.base_url).await,
        0,
        "neither route calls Atlassian"
    );
}

#[tokio::test]
async fn default_scopes_are_published() {
    let broker = broker(broker_config("http://127.0.0.1:9")).await;
    let answer = get(&http(), &format!("{}/v1/client", broker.base_url)).await;
    assert_eq!(
        answer.json()["scopes"],
        json!([
            "read:jira-work",
            "write:jira-work",
            "read:jira-user",
            "offline_access"
        ])
    );
}

#[tokio::test]
async fn atlassian_5xx_json_errors_pass_through_with_retry_after() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    fault(
        &client,
        &fake.base_url,
        json!({"status": 503, "retry_after_secs": 7}),
    )
    .await;
    let answer = refresh(&client, &broker.base_url, "some-refresh-token").await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert!(answer.json()["error"].is_string(), "{}", answer.text);
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert!(!answer.text.contains("some-refresh-token"));

    // The same status with an HTML body (a proxy's error page) is not JSON: the broker's own 502.
    fault(
        &client,
        &fake.base_url,
        json!({"status": 503, "body": "<html>down</html>", "content_type": "text/html"}),
    )
    .await;
    let answer = refresh(&client, &broker.base_url, "some-refresh-token").await;
    answer.assert_refusal(502, "upstream_invalid_response");
}

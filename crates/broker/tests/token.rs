//! The broker's sign-in flow over real HTTP against the real fake Atlassian: authorize →
//! consent → the broker's callback → ticket in the client's fragment → redeem → refresh with
//! rotation; Atlassian's errors on the callback and on refresh; key rotation.

mod support;

use jira_3lo_broker::BrokerConfig;
use serde_json::json;
use support::*;

#[tokio::test]
async fn sign_in_redeem_and_refresh_twice_with_rotation() {
    let stack = Stack::start().await;
    let key = Key::generate();

    // 1. The client asks for an authorize URL, with a proof.
    let authorize_url = stack.begin(&key).await;
    let parsed = url::Url::parse(&authorize_url).unwrap();
    assert_eq!(
        authorize_url.split('?').next().unwrap(),
        format!("{}/authorize", stack.fake.base_url)
    );
    let query: std::collections::HashMap<String, String> =
        parsed.query_pairs().into_owned().collect();
    assert_eq!(query["audience"], "api.atlassian.com");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], stack.broker.callback_url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(
        query["scope"],
        "read:jira-work write:jira-work read:jira-user offline_access"
    );
    assert!(
        authorize_url.contains("scope=read%3Ajira-work%20write"),
        "{authorize_url}"
    );
    assert_ne!(
        query["state"], CLIENT_STATE,
        "the broker's own sealed state"
    );

    // 2. Atlassian (auto-consent) sends the browser to the broker's callback.
    let callback = stack.consent(&authorize_url).await;
    // 3. The broker exchanges the code and redirects to the client with a ticket.
    let fragment = stack.callback(&callback).await;
    assert_eq!(fragment.base, REDIRECT_URI);
    assert_eq!(fragment.state.as_deref(), Some(CLIENT_STATE));
    assert_eq!(fragment.keys, ["ticket", "state"]);
    assert_eq!(stack.grants().await, (1, 0));

    // 4. Redeem with the same key.
    let answer = stack
        .redeem(&key, fragment.ticket.as_deref().unwrap())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    // What is left of the hour: the whole seconds the ticket waited since the exchange are gone
    // (a second can tick between the callback and the redeem).
    let expires_in = tokens["expires_in"].as_u64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(
        tokens["scope"],
        "read:jira-work write:jira-work read:jira-user offline_access"
    );
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let mut blob = tokens["refresh_token"].as_str().unwrap().to_string();
    // The access token works at the API; the refresh token is not one Atlassian issued.
    let me = stack
        .client
        .get(format!(
            "{}/oauth/token/accessible-resources",
            stack.fake.base_url
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let issued = issued_refresh_tokens(&stack.client, &stack.fake.base_url).await;
    assert_eq!(issued.len(), 1);
    assert!(!blob.contains(&issued[0]));

    // 5. Two refreshes, each with the latest blob; each rotates at Atlassian.
    let mut seen = vec![blob.clone()];
    for round in 1..=2u64 {
        let answer = stack.refresh(&key, &blob).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let body = answer.json();
        assert!(body["access_token"].as_str().is_some_and(|t| t != access));
        assert_eq!(body["token_type"], "Bearer");
        blob = body["refresh_token"].as_str().unwrap().to_string();
        assert!(!seen.contains(&blob), "a new blob every time");
        seen.push(blob.clone());
        assert_eq!(stack.grants().await, (1, round));
    }
    let issued = issued_refresh_tokens(&stack.client, &stack.fake.base_url).await;
    assert_eq!(issued.len(), 3, "Atlassian rotated twice");
    for raw in &issued {
        assert!(seen.iter().all(|b| !b.contains(raw.as_str())));
    }
}

#[tokio::test]
async fn a_ticket_can_be_redeemed_with_a_form_body_and_scopes_can_be_narrowed() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let answer = send(
        stack
            .client
            .post(stack.authorize_url())
            .header("dpop", key.proof("POST", &stack.authorize_url()))
            .json(&json!({"redirect_uri": REDIRECT_URI, "state": "s", "scope": "read:jira-work"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let authorize_url = answer.json()["authorize_url"].as_str().unwrap().to_string();
    assert!(authorize_url.contains("scope=read%3Ajira-work%20offline_access&"));
    let callback = stack.consent(&authorize_url).await;
    let ticket = stack.callback(&callback).await.ticket.unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:jira-3lo:ticket")
        .append_pair("ticket", &ticket)
        .finish();
    let answer = send(
        stack
            .client
            .post(stack.token_url())
            .header("dpop", key.proof("POST", &stack.token_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["scope"], "read:jira-work offline_access");
}

#[tokio::test]
async fn atlassians_refresh_errors_pass_through_with_their_status() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let tokens = stack.tokens(&key).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(stack.refresh(&key, &first).await.status, 200);
    // The rotated-away blob outside Atlassian's leeway: Atlassian's 403, passed on.
    advance_clock(&stack.client, &stack.fake.base_url, 601).await;
    let answer = stack.refresh(&key, &first).await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
    assert!(!answer.text.contains(&first));
    assert_eq!(stack.grants().await, (1, 2), "both reached Atlassian");
}

#[tokio::test]
async fn atlassian_5xx_json_errors_pass_through_with_retry_after() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    fault(
        &stack.client,
        &stack.fake.base_url,
        json!({"status": 503, "retry_after_secs": 7}),
    )
    .await;
    let answer = stack.refresh(&key, &blob).await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert!(answer.json()["error"].is_string(), "{}", answer.text);
    assert_eq!(answer.header("retry-after"), Some("7"));
    // An HTML error page instead is not JSON: the broker's own 502.
    fault(
        &stack.client,
        &stack.fake.base_url,
        json!({"status": 503, "body": "<html>down</html>", "content_type": "text/html"}),
    )
    .await;
    stack
        .refresh(&key, &blob)
        .await
        .assert_refusal(502, "upstream_invalid_response");
    // The blob still works afterwards: failed refreshes did not rotate it.
    assert_eq!(stack.refresh(&key, &blob).await.status, 200);
}

#[tokio::test]
async fn the_callback_forwards_atlassians_errors_as_sanitized_codes() {
    let stack = Stack::start().await;
    let key = Key::generate();

    // The user declined: Atlassian's `error`, never its description.
    let authorize_url = stack.begin(&key).await;
    let state = url::Url::parse(&authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let callback = |query: &str| format!("{}?{query}", stack.broker.callback_url);
    let sealed = url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>();
    let fragment = stack
        .callback(&callback(&format!(
            "error=access_denied&error_description=User%20did%20not%20authorize&state={sealed}"
        )))
        .await;
    assert_eq!(fragment.error.as_deref(), Some("access_denied"));
    assert_eq!(fragment.state.as_deref(), Some(CLIENT_STATE));
    assert_eq!(fragment.keys, ["error", "state"]);

    // An error code that is not a plain OAuth code is replaced.
    let authorize_url = stack.begin(&key).await;
    let state = query_value(&authorize_url, "state");
    let fragment = stack
        .callback(&callback(&format!(
            "error=%3Cscript%3E&state={}",
            enc(&state)
        )))
        .await;
    assert_eq!(fragment.error.as_deref(), Some("invalid_error_code"));

    // Atlassian's token endpoint refuses the code: its code, sanitized.
    let authorize_url = stack.begin(&key).await;
    let state = query_value(&authorize_url, "state");
    let fragment = stack
        .callback(&callback(&format!("code=bogus&state={}", enc(&state))))
        .await;
    assert_eq!(fragment.error.as_deref(), Some("invalid_request"));

    // Atlassian 5xx → temporarily_unavailable; garbage → server_error.
    for (fault_body, expected) in [
        (json!({"status": 503}), "temporarily_unavailable"),
        (json!("drop"), "temporarily_unavailable"),
        (json!("html"), "server_error"),
    ] {
        fault(&stack.client, &stack.fake.base_url, fault_body).await;
        let authorize_url = stack.begin(&key).await;
        let location = stack.consent(&authorize_url).await;
        let fragment = stack.callback(&location).await;
        assert_eq!(fragment.error.as_deref(), Some(expected));
        assert_eq!(fragment.state.as_deref(), Some(CLIENT_STATE));
        assert!(fragment.ticket.is_none());
    }
}

#[tokio::test]
async fn an_unreachable_atlassian_at_the_callback_is_temporarily_unavailable() {
    let (client, fake) = (http(), fake().await);
    let key = Key::generate();
    let shared = random_key();
    let working = broker(broker_config(&fake.base_url).sealing_key("k", shared)).await;
    let down = broker(
        broker_config(&format!("http://127.0.0.1:{}", closed_port())).sealing_key("k", shared),
    )
    .await;
    // The state was sealed by `working`; the callback lands on `down` (same keys).
    let stack = Stack {
        client: client.clone(),
        fake,
        broker: working,
    };
    register_callback(&client, &stack.fake.base_url, &stack.broker.callback_url).await;
    let location = stack.consent(&stack.begin(&key).await).await;
    let moved = location.replace(&stack.broker.base_url, &down.base_url);
    let fragment = stack.callback(&moved).await;
    assert_eq!(fragment.error.as_deref(), Some("temporarily_unavailable"));
}

#[tokio::test]
async fn a_wrong_client_secret_ends_in_atlassians_access_denied() {
    let stack = Stack::with(|mut c| {
        c.client_secret = "wrong-secret".into();
        c
    })
    .await;
    let key = Key::generate();
    let location = stack.consent(&stack.begin(&key).await).await;
    let fragment = stack.callback(&location).await;
    assert_eq!(fragment.error.as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn sealing_keys_rotate_old_blobs_open_and_new_ones_use_the_first_key() {
    let (client, fake) = (http(), fake().await);
    let (k1, k2) = (random_key(), random_key());
    let key = Key::generate();
    let before = broker(broker_config(&fake.base_url).sealing_key("kid1", k1)).await;
    register_callback(&client, &fake.base_url, &before.callback_url).await;
    let stack = Stack {
        client,
        fake,
        broker: before,
    };
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(blob.starts_with("kid1."), "{blob}");

    // Restart with a new first key; the old one still opens.
    let after = broker(
        broker_config(&stack.fake.base_url)
            .sealing_key("kid2", k2)
            .sealing_key("kid1", k1),
    )
    .await;
    let stack = Stack {
        broker: after,
        ..stack
    };
    let answer = stack.refresh(&key, &blob).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let rotated = answer.json()["refresh_token"].as_str().unwrap().to_string();
    assert!(rotated.starts_with("kid2."), "{rotated}");
    // Once kid1 is dropped, its blobs are refused before Atlassian is called.
    let dropped = broker(broker_config(&stack.fake.base_url).sealing_key("kid2", k2)).await;
    let stack = Stack {
        broker: dropped,
        ..stack
    };
    stack
        .refresh(&key, &blob)
        .await
        .assert_refusal(400, "invalid_grant");
    assert_eq!(stack.grants().await, (1, 1));
    assert_eq!(stack.refresh(&key, &rotated).await.status, 200);
}

#[tokio::test]
async fn client_metadata_and_health() {
    let stack = Stack::with(|c| c.scopes(&["read:jira-work", "offline_access"])).await;
    let answer = get(
        &stack.client,
        &format!("{}/v1/client", stack.broker.base_url),
    )
    .await;
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
    let answer = get(&stack.client, &format!("{}/healthz", stack.broker.base_url)).await;
    assert_eq!(answer.json(), json!({"status": "ok"}));
    assert_eq!(token_requests(&stack.client, &stack.fake.base_url).await, 0);
}

#[tokio::test]
async fn the_public_url_names_the_callback_and_the_proof_target() {
    let (client, fake) = (http(), fake().await);
    let config = BrokerConfig::new(&fake.base_url, CLIENT_ID, CLIENT_SECRET)
        .allow_redirect_uri(REDIRECT_URI)
        .public_url("https://broker.example/");
    let broker = broker(config).await;
    assert_eq!(broker.callback_url, "https://broker.example/oauth/callback");
    let key = Key::generate();
    let local = format!("{}/v1/authorize", broker.base_url);
    let body = json!({"redirect_uri": REDIRECT_URI, "state": "s"});
    // A proof naming the address it was sent to is not good enough: htu is the public URL.
    send(
        client
            .post(&local)
            .header("dpop", key.proof("POST", &local))
            .json(&body),
    )
    .await
    .assert_refusal(400, "invalid_dpop_proof");
    let answer = send(
        client
            .post(&local)
            .header(
                "dpop",
                key.proof("POST", "https://broker.example/v1/authorize"),
            )
            .json(&body),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        query_value(
            answer.json()["authorize_url"].as_str().unwrap(),
            "redirect_uri"
        ),
        "https://broker.example/oauth/callback"
    );
}

fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap()
        .1
        .into_owned()
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A ticket waits up to two minutes in the client's redirect: the access token it carries has
/// aged meanwhile, so the redemption must not announce Atlassian's full `expires_in` again
/// (the client would use the token past its real expiry).
#[tokio::test]
async fn a_ticket_redeemed_later_announces_the_access_tokens_remaining_lifetime() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let offset = Arc::new(AtomicU64::new(0));
    let source = offset.clone();
    let stack = Stack::with(move |c| c.clock(move || now() + source.load(Ordering::SeqCst))).await;
    let key = Key::generate();
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    offset.store(100, Ordering::SeqCst);
    let claims = Key::claims("POST", &stack.token_url(), (now() + 100) as i64);
    let answer = send(
        stack
            .client
            .post(stack.token_url())
            .header("dpop", key.proof_with(&key.jwk(), &claims))
            .json(&json!({"grant_type": "urn:jira-3lo:ticket", "ticket": ticket})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let expires_in = answer.json()["expires_in"].as_u64().unwrap();
    assert!(
        (3490..=3500).contains(&expires_in),
        "issued 100 s ago with 3600 s: {expires_in}"
    );
}

/// Firefox's launchWebAuthFlow refuses a first URL whose `redirect_uri` is not the extension's:
/// the answer's `start_url` (no `redirect_uri`) redirects to the very authorize URL, and only
/// for a state this broker sealed.
#[tokio::test]
async fn the_start_url_redirects_to_the_authorize_url_and_only_for_a_sealed_state() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let answer = send(
        stack
            .client
            .post(stack.authorize_url())
            .header("dpop", key.proof("POST", &stack.authorize_url()))
            .json(&json!({"redirect_uri": REDIRECT_URI, "state": "s", "scope": "read:jira-work"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let authorize_url = answer.json()["authorize_url"].as_str().unwrap().to_string();
    let start_url = answer.json()["start_url"].as_str().unwrap().to_string();
    let parsed = url::Url::parse(&start_url).unwrap();
    assert_eq!(parsed.path(), "/oauth/start");
    assert!(
        parsed.query_pairs().all(|(k, _)| k != "redirect_uri"),
        "{start_url}"
    );
    let response = stack.client.get(&start_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        authorize_url
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    // The redirect leads through consent to the broker's callback as before.
    let callback = stack.consent(&authorize_url).await;
    assert!(stack.callback(&callback).await.ticket.is_some());

    let forged = start_url.replace("state=", "state=x");
    let response = stack.client.get(&forged).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let no_state = format!(
        "{}/oauth/start?scope=read%3Ajira-work",
        stack.broker.base_url
    );
    assert_eq!(
        stack.client.get(&no_state).send().await.unwrap().status(),
        400
    );
}

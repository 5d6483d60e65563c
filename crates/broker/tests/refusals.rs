//! Every refusal of the broker over real HTTP: the status, the stable `error` code, the OAuth
//! error shape, Atlassian not called (the fake's `grants` counters), and no value echoed.

mod support;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const SECRET_LOOKING_TOKEN: &str = "rt-7f3a9c-do-not-echo";

#[tokio::test]
async fn disallowed_origins_get_403_without_cors_headers_and_nothing_is_forwarded() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    let token_url = format!("{}/oauth/token", broker.base_url);
    let body = json!({"grant_type": "refresh_token", "refresh_token": SECRET_LOOKING_TOKEN});

    for origin in [
        "https://evil.example",
        "null",
        "chrome-extension://otherextensionidotherextensionid",
    ] {
        let answer = post_json_from(&client, &token_url, origin, &body).await;
        answer.assert_refusal(403, "origin_not_allowed");
        assert_eq!(answer.header("access-control-allow-origin"), None);
        assert!(!answer.text.contains(SECRET_LOOKING_TOKEN));
    }
    // Other routes are guarded the same way.
    let answer = send(
        client
            .get(format!("{}/v1/client", broker.base_url))
            .header("origin", "https://evil.example"),
    )
    .await;
    answer.assert_refusal(403, "origin_not_allowed");

    // Preflight from a disallowed origin: refused, no CORS headers.
    let answer = send(
        client
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await;
    answer.assert_refusal(403, "origin_not_allowed");
    assert_eq!(answer.header("access-control-allow-origin"), None);
    assert_eq!(answer.header("access-control-allow-methods"), None);

    assert_eq!(token_requests(&client, &fake.base_url).await, 0);
}

#[tokio::test]
async fn moz_extension_star_allows_any_firefox_add_on_origin_and_no_other() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url).allow_origin("moz-extension://*")).await;
    let token_url = format!("{}/oauth/token", broker.base_url);
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, dpop")
    };
    let firefox = "moz-extension://5c0f3e2a-7d41-4c9b-9b3e-2f6a1d8c4e70";
    let answer = send(preflight(firefox)).await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(firefox));
    let other = send(preflight(
        "chrome-extension://abcdefghijklmnopabcdefghijklmnpp",
    ))
    .await;
    assert_eq!(other.status, 403);
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_and_their_preflight_answered() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url).allow_origin("http://127.0.0.1:8080/")).await;
    let token_url = format!("{}/oauth/token", broker.base_url);

    let answer = send(
        client
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, dpop"),
    )
    .await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(answer
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type, dpop")
    );
    assert_eq!(
        token_requests(&client, &fake.base_url).await,
        0,
        "a preflight is never forwarded"
    );

    // A real request from an allowed origin (configured with a trailing slash) carries the headers.
    register_callback(&client, &fake.base_url, &broker.callback_url).await;
    let stack = Stack {
        client: client.clone(),
        fake,
        broker,
    };
    let key = Key::generate();
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    let answer = send(
        client
            .post(&token_url)
            .header("origin", "http://127.0.0.1:8080")
            .header("dpop", key.proof("POST", &token_url))
            .json(&json!({"grant_type": "urn:jira-3lo:ticket", "ticket": ticket})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    assert!(answer.header("vary").unwrap().contains("origin"));

    // Refusals to an allowed origin stay readable by the page (CORS headers present).
    let answer = post_json_from(
        &client,
        &token_url,
        ORIGIN,
        &json!({"grant_type": "password"}),
    )
    .await;
    answer.assert_refusal(400, "unsupported_grant_type");
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));

    // No Origin at all (curl, a server): allowed, and no CORS headers.
    let answer = get(&client, &format!("{}/v1/client", stack.broker.base_url)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn bad_requests_are_refused_before_reaching_atlassian() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    let token_url = format!("{}/oauth/token", broker.base_url);
    let t = SECRET_LOOKING_TOKEN;

    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        // Codes only ever reach the broker's own callback.
        (
            Some("application/json"),
            json!({"grant_type": "authorization_code", "code": t, "redirect_uri": REDIRECT_URI})
                .to_string()
                .into(),
            400,
            "unsupported_grant_type",
        ),
        // Unknown grant types.
        (
            Some("application/json"),
            json!({"grant_type": "client_credentials"})
                .to_string()
                .into(),
            400,
            "unsupported_grant_type",
        ),
        (
            Some("application/json"),
            json!({"grant_type": "password", "refresh_token": t})
                .to_string()
                .into(),
            400,
            "unsupported_grant_type",
        ),
        // Missing fields.
        (
            Some("application/json"),
            json!({"refresh_token": t}).to_string().into(),
            400,
            "invalid_request",
        ),
        (
            Some("application/json"),
            json!({"grant_type": "refresh_token"}).to_string().into(),
            400,
            "invalid_request",
        ),
        (
            Some("application/json"),
            json!({"grant_type": "urn:jira-3lo:ticket"})
                .to_string()
                .into(),
            400,
            "invalid_request",
        ),
        // Not JSON / not form.
        (
            Some("application/json"),
            format!("{{\"grant_type\":\"refresh_token\",\"refresh_token\":\"{t}\"").into(),
            400,
            "invalid_request",
        ),
        (
            Some("text/plain"),
            format!("grant_type=refresh_token&refresh_token={t}").into(),
            400,
            "invalid_request",
        ),
        (
            None,
            format!("grant_type=refresh_token&refresh_token={t}").into(),
            400,
            "invalid_request",
        ),
        (
            Some("application/json"),
            json!({"grant_type": "refresh_token", "refresh_token": 42})
                .to_string()
                .into(),
            400,
            "invalid_request",
        ),
        // Client credentials in the body.
        (
            Some("application/json"),
            json!({"grant_type": "refresh_token", "refresh_token": t, "client_secret": "x"})
                .to_string()
                .into(),
            400,
            "invalid_request",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            format!("grant_type=refresh_token&refresh_token={t}&client_id={CLIENT_ID}").into(),
            400,
            "invalid_request",
        ),
        // Over the body limit.
        (
            Some("application/json"),
            json!({"grant_type": "refresh_token", "refresh_token": "x".repeat(17 * 1024)})
                .to_string()
                .into(),
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let answer = post_raw(&client, &token_url, content_type, body).await;
        answer.assert_refusal(status, code);
        assert!(
            !answer.text.contains(t),
            "echoed the token: {}",
            answer.text
        );
    }
    assert_eq!(
        token_requests(&client, &fake.base_url).await,
        0,
        "nothing may be forwarded"
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let broker = broker(broker_config("http://127.0.0.1:9")).await;
    let chunk = "a".repeat(8 * 1024);
    let mut request = String::from(
        "POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
    );
    for _ in 0..3 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    let raw = raw_http(host_port(&broker.base_url), request.as_bytes()).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("payload_too_large"), "{raw}");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let (client, broker) = (http(), broker(broker_config("http://127.0.0.1:9")).await);
    get(
        &client,
        &format!("{}/oauth/authorize?code=abc", broker.base_url),
    )
    .await
    .assert_refusal(404, "not_found");
    get(&client, &format!("{}/oauth/token", broker.base_url))
        .await
        .assert_refusal(405, "method_not_allowed");
    send(client.delete(format!("{}/v1/client", broker.base_url)))
        .await
        .assert_refusal(405, "method_not_allowed");
}

#[tokio::test]
async fn too_many_requests_from_one_address_get_429_with_retry_after() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url).rate_limit_per_minute(2)).await;
    let token_url = format!("{}/oauth/token", broker.base_url);
    let body = json!({"grant_type": "refresh_token", "refresh_token": SECRET_LOOKING_TOKEN});
    for _ in 0..2 {
        post_json(&client, &token_url, &body)
            .await
            .assert_refusal(400, "invalid_dpop_proof");
    }
    let answer = post_json(&client, &token_url, &body).await;
    answer.assert_refusal(429, "rate_limited");
    let retry_after: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert!(!answer.text.contains(SECRET_LOOKING_TOKEN));
    assert_eq!(token_requests(&client, &fake.base_url).await, 0);
    // Starting a sign-in counts against the same budget.
    send(
        client
            .post(format!("{}/v1/authorize", broker.base_url))
            .json(&json!({"redirect_uri": REDIRECT_URI, "state": "s"})),
    )
    .await
    .assert_refusal(429, "rate_limited");

    // Health and metadata stay available to a limited client.
    assert_eq!(
        get(&client, &format!("{}/healthz", broker.base_url))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&client, &format!("{}/v1/client", broker.base_url))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_is_per_forwarded_address() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(
        broker_config(&fake.base_url)
            .rate_limit_per_minute(1)
            .client_ip_header("x-forwarded-for"),
    )
    .await;
    let token_url = format!("{}/oauth/token", broker.base_url);
    let body = json!({"grant_type": "refresh_token", "refresh_token": "x"});
    let from = |xff: &'static str| {
        client
            .post(&token_url)
            .header("x-forwarded-for", xff)
            .json(&body)
    };
    assert_eq!(send(from("203.0.113.9, 198.51.100.1")).await.status, 400);
    send(from("203.0.113.7, 198.51.100.1"))
        .await
        .assert_refusal(429, "rate_limited");
    // The proxy appends the address it saw last; a client-supplied prefix does not matter.
    assert_eq!(send(from("198.51.100.2")).await.status, 400);
    // Rate limiting can be switched off entirely.
    let unlimited = support::broker(broker_config(&fake.base_url).rate_limit_per_minute(0)).await;
    for _ in 0..5 {
        assert_eq!(
            post_json(
                &client,
                &format!("{}/oauth/token", unlimited.base_url),
                &body
            )
            .await
            .status,
            400
        );
    }
}

/// A key, and a refresh blob bound to it, sealed under `sealing_key` by a broker that signed
/// in at a fake of its own: lets a second broker with the same key face a broken upstream.
async fn blob_for(sealing_key: [u8; 32]) -> (Key, String) {
    let stack = Stack::with(|c| c.sealing_key("k", sealing_key)).await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    (key, blob)
}

async fn refresh_at(broker_url: &str, key: &Key, blob: &str) -> Answer {
    let url = format!("{broker_url}/oauth/token");
    send(
        http()
            .post(&url)
            .header("dpop", key.proof("POST", &url))
            .json(&json!({"grant_type": "refresh_token", "refresh_token": blob})),
    )
    .await
}

#[tokio::test]
async fn an_unreachable_atlassian_is_502_upstream_unreachable() {
    let sealing = random_key();
    let (key, blob) = blob_for(sealing).await;
    let broker = broker(
        broker_config(&format!("http://127.0.0.1:{}", closed_port())).sealing_key("k", sealing),
    )
    .await;
    let answer = refresh_at(&broker.base_url, &key, &blob).await;
    answer.assert_refusal(502, "upstream_unreachable");
    assert!(!answer.text.contains(&blob));
}

#[tokio::test]
async fn a_dropped_connection_is_502_upstream_unreachable() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    fault(&stack.client, &stack.fake.base_url, json!("drop")).await;
    let answer = stack.refresh(&key, &blob).await;
    answer.assert_refusal(502, "upstream_unreachable");
    assert!(!answer.text.contains(&blob));
}

#[tokio::test]
async fn a_slow_atlassian_is_504_upstream_timeout() {
    let stack = Stack::with(|c| c.upstream_timeout(Duration::from_millis(300))).await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    fault(
        &stack.client,
        &stack.fake.base_url,
        json!({"delay_ms": 3000}),
    )
    .await;
    let started = std::time::Instant::now();
    let answer = stack.refresh(&key, &blob).await;
    answer.assert_refusal(504, "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the configured timeout"
    );
}

#[tokio::test]
async fn non_json_answers_are_502_upstream_invalid_response() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for kind in ["html", "malformed_json"] {
        fault(&stack.client, &stack.fake.base_url, json!(kind)).await;
        let answer = stack.refresh(&key, &blob).await;
        answer.assert_refusal(502, "upstream_invalid_response");
        assert!(
            !answer.text.contains('<'),
            "the upstream body is not relayed: {}",
            answer.text
        );
    }
}

/// A tiny real upstream that answers every request with a redirect to `trap`, and counts hits.
async fn redirecting_upstream(trap: &str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let location = format!("{trap}/oauth/token");
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            (
                axum::http::StatusCode::FOUND,
                [("location", location)],
                "{}",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

/// A listener that counts connections and never answers.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn only_the_configured_token_endpoint_is_ever_called() {
    let client = http();
    let (trap_url, trap_hits) = trap().await;
    let (upstream_url, upstream_hits) = redirecting_upstream(&trap_url).await;
    let sealing = random_key();
    let (key, blob) = blob_for(sealing).await;
    let broker = broker(broker_config(&upstream_url).sealing_key("k", sealing)).await;
    let token_url = format!("{}/oauth/token", broker.base_url);

    // URLs smuggled into the body, the Host header and forwarding headers are not followed.
    let answer = send(
        client
            .post(&token_url)
            .header("host", host_port(&trap_url))
            .header("x-forwarded-host", host_port(&trap_url))
            .header("dpop", key.proof("POST", &token_url))
            .json(&json!({
                "grant_type": "refresh_token",
                "refresh_token": blob,
                "redirect_uri": format!("{trap_url}/cb"),
                "token_url": format!("{trap_url}/oauth/token"),
                "auth_base_url": trap_url,
            })),
    )
    .await;
    // The upstream answered with a redirect: not followed, not relayed.
    answer.assert_refusal(502, "upstream_invalid_response");
    assert_eq!(answer.header("location"), None);
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 1);
    // Following the redirect would have had to connect before the broker answered.
    assert_eq!(
        trap_hits.load(Ordering::SeqCst),
        0,
        "the broker connected somewhere it was pointed to"
    );
}

// ---------- proof of possession, sealed material, single use ----------

/// Asserts a refusal and that Atlassian's token endpoint saw nothing new.
async fn refused_before_atlassian(stack: &Stack, answer: Answer, code: &str, before: (u64, u64)) {
    answer.assert_refusal(400, code);
    assert_eq!(stack.grants().await, before, "Atlassian must not be called");
}

async fn post_token(stack: &Stack, proof: Option<String>, body: Value) -> Answer {
    let mut request = stack.client.post(stack.token_url()).json(&body);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    send(request).await
}

fn refresh_body(blob: &str) -> Value {
    json!({"grant_type": "refresh_token", "refresh_token": blob})
}

#[tokio::test]
async fn proofs_are_required_and_checked_before_atlassian_is_called() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let before = stack.grants().await;
    assert_eq!(before, (1, 0));
    let htu = stack.token_url();
    let body = refresh_body(&blob);

    // No proof.
    refused_before_atlassian(
        &stack,
        post_token(&stack, None, body.clone()).await,
        "invalid_dpop_proof",
        before,
    )
    .await;
    // Two DPoP headers.
    let twice = send(
        stack
            .client
            .post(&htu)
            .header("dpop", key.proof("POST", &htu))
            .header("dpop", key.proof("POST", &htu))
            .json(&body),
    )
    .await;
    refused_before_atlassian(&stack, twice, "invalid_dpop_proof", before).await;
    // Signed by another key than the one its jwk announces.
    let other = Key::generate();
    let forged = other.proof_with(&key.jwk(), &Key::claims("POST", &htu, now() as i64));
    refused_before_atlassian(
        &stack,
        post_token(&stack, Some(forged), body.clone()).await,
        "invalid_dpop_proof",
        before,
    )
    .await;
    // A valid proof of another key than the blob's.
    let answer = post_token(&stack, Some(other.proof("POST", &htu)), body.clone()).await;
    refused_before_atlassian(&stack, answer, "invalid_grant", before).await;
    // Replayed jti: the same proof twice (the first one is spent even though it is refused
    // later for a plaintext token).
    let proof = key.proof("POST", &htu);
    let first = post_token(&stack, Some(proof.clone()), refresh_body("plain-token")).await;
    refused_before_atlassian(&stack, first, "invalid_grant", before).await;
    let replay = post_token(&stack, Some(proof), body.clone()).await;
    refused_before_atlassian(&stack, replay, "invalid_dpop_proof", before).await;
    // Stale or future iat (±61 s).
    for skew in [-61i64, 61] {
        let claims = Key::claims("POST", &htu, now() as i64 + skew);
        let answer = post_token(
            &stack,
            Some(key.proof_with(&key.jwk(), &claims)),
            body.clone(),
        )
        .await;
        refused_before_atlassian(&stack, answer, "invalid_dpop_proof", before).await;
    }
    // Wrong htu (another route, another host) and wrong htm.
    for (htm, target) in [
        ("POST", stack.authorize_url()),
        ("POST", htu.replace("127.0.0.1", "localhost")),
        ("GET", htu.clone()),
        ("post", htu.clone()),
    ] {
        let answer = post_token(&stack, Some(key.proof(htm, &target)), body.clone()).await;
        refused_before_atlassian(&stack, answer, "invalid_dpop_proof", before).await;
    }
    // Malformed: not a JWS, wrong typ, wrong alg, a private key in the jwk.
    let claims = Key::claims("POST", &htu, now() as i64);
    let mut with_d = key.jwk();
    with_d["d"] = json!("AAAA");
    for proof in [
        "not-a-jws".to_string(),
        key.sign_raw(
            &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
            &claims,
        ),
        key.sign_raw(
            &json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": key.jwk()}),
            &claims,
        ),
        key.sign_raw(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": with_d}),
            &claims,
        ),
        key.sign_raw(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &claims),
    ] {
        let answer = post_token(&stack, Some(proof), body.clone()).await;
        refused_before_atlassian(&stack, answer, "invalid_dpop_proof", before).await;
    }
    // After all that, the blob still works with a good proof.
    assert_eq!(stack.refresh(&key, &blob).await.status, 200);
}

#[tokio::test]
async fn forged_foreign_and_plaintext_refresh_tokens_never_reach_atlassian() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let blob = stack.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let before = stack.grants().await;

    // A blob bound to another key, presented with that other key's valid proof.
    let thief = Key::generate();
    let answer = stack.refresh(&thief, &blob).await;
    refused_before_atlassian(&stack, answer, "invalid_grant", before).await;
    // Tampered: one character of the ciphertext changed.
    let mut bytes = blob.clone().into_bytes();
    let at = bytes.len() - 5;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    refused_before_atlassian(
        &stack,
        stack.refresh(&key, &tampered).await,
        "invalid_grant",
        before,
    )
    .await;
    // Unknown kid.
    let (_, body) = blob.split_once('.').unwrap();
    let unknown = format!("nokid.{body}");
    refused_before_atlassian(
        &stack,
        stack.refresh(&key, &unknown).await,
        "invalid_grant",
        before,
    )
    .await;
    // Atlassian's raw refresh token, as a client that skipped sealing would send it.
    let raw = issued_refresh_tokens(&stack.client, &stack.fake.base_url).await;
    let answer = stack.refresh(&key, &raw[0]).await;
    refused_before_atlassian(&stack, answer, "invalid_grant", before).await;
    // A ticket is not a refresh blob, even for the right key.
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    let before = stack.grants().await;
    refused_before_atlassian(
        &stack,
        stack.refresh(&key, &ticket).await,
        "invalid_grant",
        before,
    )
    .await;
    // Blobs sealed by another broker (another key under the same kid).
    let elsewhere = Stack::with(|c| c.sealing_key("ephemeral", random_key())).await;
    let foreign = elsewhere.tokens(&key).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    refused_before_atlassian(
        &stack,
        stack.refresh(&key, &foreign).await,
        "invalid_grant",
        before,
    )
    .await;
}

#[tokio::test]
async fn tickets_are_single_use_and_bound_to_the_key() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    let before = stack.grants().await;
    // Another key cannot redeem it, and the attempt does not burn it.
    let thief = Key::generate();
    refused_before_atlassian(
        &stack,
        stack.redeem(&thief, &ticket).await,
        "invalid_grant",
        before,
    )
    .await;
    assert_eq!(stack.redeem(&key, &ticket).await.status, 200);
    // Replayed.
    refused_before_atlassian(
        &stack,
        stack.redeem(&key, &ticket).await,
        "invalid_grant",
        before,
    )
    .await;
    // Tampered, unknown kid, a state or blob presented as a ticket.
    let last = if ticket.ends_with('A') { "B" } else { "A" };
    let tampered = format!("{}{last}", &ticket[..ticket.len() - 1]);
    refused_before_atlassian(
        &stack,
        stack.redeem(&key, &tampered).await,
        "invalid_grant",
        before,
    )
    .await;
    let (_, body) = ticket.split_once('.').unwrap();
    refused_before_atlassian(
        &stack,
        stack.redeem(&key, &format!("other.{body}")).await,
        "invalid_grant",
        before,
    )
    .await;
    refused_before_atlassian(
        &stack,
        stack.redeem(&key, "plain").await,
        "invalid_grant",
        before,
    )
    .await;
}

#[tokio::test]
async fn broker_states_are_single_use_and_checked_before_atlassian() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let location = stack.consent(&stack.begin(&key).await).await;
    assert!(stack.callback(&location).await.ticket.is_some());
    let before = stack.grants().await;
    assert_eq!(before, (1, 0));
    // The same callback again (a replayed state, even with a fresh code): refused, no redirect.
    let answer = get(&stack.client, &location).await;
    answer.assert_refusal(400, "invalid_state");
    assert_eq!(answer.header("location"), None);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    let url = url::Url::parse(&location).unwrap();
    let state: String = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let callback = &stack.broker.callback_url;
    for query in [
        format!("code=fresh&state={}", enc(&state)),
        "code=fresh".to_string(),
        "code=fresh&state=forged".to_string(),
        format!("code=fresh&state={}x", enc(&state)),
        format!("code=fresh&state={}&state={}", enc(&state), enc(&state)),
        "error=access_denied".to_string(),
    ] {
        let answer = get(&stack.client, &format!("{callback}?{query}")).await;
        answer.assert_refusal(400, "invalid_state");
        assert_eq!(answer.header("location"), None);
    }
    // A ticket is not a state.
    let ticket = stack.sign_in(&key).await.ticket.unwrap();
    let before = stack.grants().await;
    let answer = get(
        &stack.client,
        &format!("{callback}?code=fresh&state={}", enc(&ticket)),
    )
    .await;
    answer.assert_refusal(400, "invalid_state");
    assert_eq!(stack.grants().await, before, "Atlassian must not be called");
}

#[tokio::test]
async fn authorize_requests_are_checked() {
    let stack = Stack::start().await;
    let key = Key::generate();
    let url = stack.authorize_url();
    let ask = |body: Value, proof: Option<String>| {
        let mut request = stack.client.post(&url).json(&body);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        send(request)
    };
    let good = json!({"redirect_uri": REDIRECT_URI, "state": "s"});
    ask(good.clone(), None)
        .await
        .assert_refusal(400, "invalid_dpop_proof");
    ask(good.clone(), Some(key.proof("POST", &stack.token_url())))
        .await
        .assert_refusal(400, "invalid_dpop_proof");
    let cases = [
        (
            json!({"redirect_uri": "https://evil.example/cb", "state": "s"}),
            "redirect_uri_not_allowed",
        ),
        (
            json!({"redirect_uri": stack.broker.callback_url, "state": "s"}),
            "redirect_uri_not_allowed",
        ),
        (
            json!({"redirect_uri": REDIRECT_URI, "state": ""}),
            "invalid_request",
        ),
        (
            json!({"redirect_uri": REDIRECT_URI, "state": "has space"}),
            "invalid_request",
        ),
        (
            json!({"redirect_uri": REDIRECT_URI, "state": "x".repeat(513)}),
            "invalid_request",
        ),
        (json!({"redirect_uri": REDIRECT_URI}), "invalid_request"),
        (
            json!({"redirect_uri": REDIRECT_URI, "state": "s", "scope": "manage:jira-configuration"}),
            "invalid_scope",
        ),
        (
            json!({"redirect_uri": REDIRECT_URI, "state": "s", "scope": ""}),
            "invalid_scope",
        ),
    ];
    for (body, code) in cases {
        ask(body, Some(key.proof("POST", &url)))
            .await
            .assert_refusal(400, code);
    }
    let answer = ask(good, Some(key.proof("POST", &url))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(stack.grants().await, (0, 0));
}

#[tokio::test]
async fn a_full_replay_cache_fails_closed_with_503() {
    let stack = Stack::with(|c| c.replay_capacity(2)).await;
    let key = Key::generate();
    let url = stack.authorize_url();
    let body = json!({"redirect_uri": REDIRECT_URI, "state": "s"});
    for _ in 0..2 {
        let answer = send(
            stack
                .client
                .post(&url)
                .header("dpop", key.proof("POST", &url))
                .json(&body),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let answer = send(
        stack
            .client
            .post(&url)
            .header("dpop", key.proof("POST", &url))
            .json(&body),
    )
    .await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.json()["error"], "replay_check_unavailable");
    assert!(answer.header("retry-after").is_some());
}

//! Every refusal of the broker over real HTTP: the status, the stable `error` code, the OAuth
//! error shape, nothing forwarded to Atlassian, and no token echoed.

mod support;

use serde_json::json;
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
async fn allowed_origins_get_cors_headers_and_their_preflight_answered() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url).allow_origin("http://127.0.0.1:8080/")).await;
    let token_url = format!("{}/oauth/token", broker.base_url);

    let answer = send(
        client
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(answer
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(answer
        .header("access-control-allow-headers")
        .unwrap()
        .contains("content-type"));
    assert_eq!(
        token_requests(&client, &fake.base_url).await,
        0,
        "a preflight is never forwarded"
    );

    // A real request from an allowed origin (configured with a trailing slash) carries the headers.
    let code = authorize(&client, &fake.base_url).await;
    let answer = post_json_from(
        &client,
        &token_url,
        "http://127.0.0.1:8080",
        &json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}),
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
    let answer = get(&client, &format!("{}/v1/client", broker.base_url)).await;
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
        // A redirect URI outside the allow-list.
        (
            Some("application/json"),
            json!({"grant_type": "authorization_code", "code": t, "redirect_uri": "https://evil.example/cb"}).to_string().into(),
            400,
            "redirect_uri_not_allowed",
        ),
        // Unknown grant types.
        (Some("application/json"), json!({"grant_type": "client_credentials"}).to_string().into(), 400, "unsupported_grant_type"),
        (Some("application/json"), json!({"grant_type": "password", "refresh_token": t}).to_string().into(), 400, "unsupported_grant_type"),
        // Missing fields.
        (Some("application/json"), json!({"refresh_token": t}).to_string().into(), 400, "invalid_request"),
        (Some("application/json"), json!({"grant_type": "refresh_token"}).to_string().into(), 400, "invalid_request"),
        (Some("application/json"), json!({"grant_type": "authorization_code", "code": t}).to_string().into(), 400, "invalid_request"),
        (
            Some("application/json"),
            json!({"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}).to_string().into(),
            400,
            "invalid_request",
        ),
        // Not JSON / not form.
        (Some("application/json"), format!("{{\"grant_type\":\"refresh_token\",\"refresh_token\":\"{t}\"").into(), 400, "invalid_request"),
        (Some("text/plain"), format!("grant_type=refresh_token&refresh_token={t}").into(), 400, "invalid_request"),
        (None, format!("grant_type=refresh_token&refresh_token={t}").into(), 400, "invalid_request"),
        (Some("application/json"), json!({"grant_type": "refresh_token", "refresh_token": 42}).to_string().into(), 400, "invalid_request"),
        // Client credentials in the body.
        (
            Some("application/json"),
            json!({"grant_type": "refresh_token", "refresh_token": t, "client_secret": "x"}).to_string().into(),
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
            json!({"grant_type": "refresh_token", "refresh_token": "x".repeat(17 * 1024)}).to_string().into(),
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
        assert_eq!(
            post_json(&client, &token_url, &body).await.status,
            403,
            "forwarded, Atlassian refuses the token"
        );
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
    assert_eq!(
        token_requests(&client, &fake.base_url).await,
        2,
        "the limited request is not forwarded"
    );

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
    assert_eq!(send(from("203.0.113.9, 198.51.100.1")).await.status, 403);
    send(from("203.0.113.7, 198.51.100.1"))
        .await
        .assert_refusal(429, "rate_limited");
    // The proxy appends the address it saw last; a client-supplied prefix does not matter.
    assert_eq!(send(from("198.51.100.2")).await.status, 403);
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
            403
        );
    }
}

#[tokio::test]
async fn an_unreachable_atlassian_is_502_upstream_unreachable() {
    let client = http();
    let broker = broker(broker_config(&format!(
        "http://127.0.0.1:{}",
        closed_port()
    )))
    .await;
    let answer = refresh(&client, &broker.base_url, SECRET_LOOKING_TOKEN).await;
    answer.assert_refusal(502, "upstream_unreachable");
    assert!(!answer.text.contains(SECRET_LOOKING_TOKEN));
}

#[tokio::test]
async fn a_dropped_connection_is_502_upstream_unreachable() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    fault(&client, &fake.base_url, json!("drop")).await;
    let answer = refresh(&client, &broker.base_url, SECRET_LOOKING_TOKEN).await;
    answer.assert_refusal(502, "upstream_unreachable");
    assert!(!answer.text.contains(SECRET_LOOKING_TOKEN));
}

#[tokio::test]
async fn a_slow_atlassian_is_504_upstream_timeout() {
    let (client, fake) = (http(), fake().await);
    let broker =
        broker(broker_config(&fake.base_url).upstream_timeout(Duration::from_millis(300))).await;
    fault(&client, &fake.base_url, json!({"delay_ms": 3000})).await;
    let started = std::time::Instant::now();
    let answer = refresh(&client, &broker.base_url, SECRET_LOOKING_TOKEN).await;
    answer.assert_refusal(504, "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the configured timeout"
    );
    assert!(!answer.text.contains(SECRET_LOOKING_TOKEN));
}

#[tokio::test]
async fn non_json_answers_are_502_upstream_invalid_response() {
    let (client, fake) = (http(), fake().await);
    let broker = broker(broker_config(&fake.base_url)).await;
    for kind in ["html", "malformed_json"] {
        fault(&client, &fake.base_url, json!(kind)).await;
        let answer = refresh(&client, &broker.base_url, SECRET_LOOKING_TOKEN).await;
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
    let broker =
        broker(broker_config(&upstream_url).allow_redirect_uri(&format!("{trap_url}/cb"))).await;
    let token_url = format!("{}/oauth/token", broker.base_url);

    // URLs smuggled into the body, the Host header and forwarding headers are not followed.
    let answer = send(
        client
            .post(&token_url)
            .header("host", host_port(&trap_url))
            .header("x-forwarded-host", host_port(&trap_url))
            .json(&json!({
                "grant_type": "authorization_code",
                "code": "c",
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

//! The admin API (stats, reset, clock, settings, faults, revoke, loopback guard) and the real
//! `fake-atlassian` binary, over real HTTP.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use fake_atlassian::FakeConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

// ---------- stats ----------

#[tokio::test]
async fn stats_count_by_route_template_and_grant_type() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    for _ in 0..2 {
        env.get(&t.access, &jira(ACME, "/myself")).await;
    }
    env.get(&t.access, &jira(ACME, "/issue/PLAT-1")).await;
    env.get(&t.access, &jira(INITECH, "/issue/TPS-2")).await;
    env.get(&t.access, "/oauth/token/accessible-resources")
        .await;
    env.refresh(t.refresh.as_ref().unwrap()).await;
    env.refresh("not-a-token").await;
    env.http
        .get(env.url("/__test/callback"))
        .send()
        .await
        .unwrap();
    let stats = env.stats().await;
    let requests = stats["requests"].as_object().unwrap();
    let expected = json!({
        "GET /authorize": 1,
        "POST /oauth/token": 3,
        "GET /ex/jira/{cloudId}/rest/api/3/myself": 2,
        "GET /ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}": 2,
        "GET /oauth/token/accessible-resources": 1,
    });
    assert_eq!(
        &Value::Object(requests.clone()),
        &expected,
        "admin calls and the test callback are not counted"
    );
    assert_eq!(
        stats["grants"],
        json!({"authorization_code": 1, "refresh_token": 2})
    );
    assert_eq!(
        stats["grants_ok"],
        json!({"authorization_code": 1, "refresh_token": 1})
    );
}

#[tokio::test]
async fn reset_restores_everything() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    env.advance(1000).await;
    env.admin(
        "/__admin/settings",
        json!({"access_token_lifetime_secs": 5, "consent_mode": "page", "rate_limit_budget": 1}),
    )
    .await;
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /me", "count": 5, "fault": "drop"}),
    )
    .await;
    let before = env.admin_get("/__admin/clock").await;
    env.admin("/__admin/reset", json!({})).await;
    let stats = env.stats().await;
    assert_eq!(stats["requests"], json!({}));
    assert_eq!(
        stats["grants"],
        json!({"authorization_code": 0, "refresh_token": 0})
    );
    let clock = env.admin_get("/__admin/clock").await;
    assert_eq!(clock["offset_secs"], 0);
    assert!(clock["now"].as_u64().unwrap() < before["now"].as_u64().unwrap());
    let settings = env.admin_get("/__admin/settings").await;
    assert_eq!(settings["access_token_lifetime_secs"], 3600);
    assert_eq!(settings["consent_mode"], "auto");
    assert_eq!(settings["rate_limit_budget"], Value::Null);
    assert_eq!(env.admin_get("/__admin/faults").await, json!([]));
    // Tokens are gone, the redirect URI registration is not.
    assert_eq!(
        env.get_status(&t.access, "/oauth/token/accessible-resources")
            .await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = env.sign_in(SCOPES).await;
    assert_eq!(env.get_status(&fresh.access, "/me").await, StatusCode::OK);
}

#[tokio::test]
async fn clock_moves_forward_and_reports_now() {
    let env = start().await;
    let a = env.admin_get("/__admin/clock").await["now"]
        .as_u64()
        .unwrap();
    let b = env
        .admin("/__admin/clock", json!({"advance_secs": 86_400}))
        .await["now"]
        .as_u64()
        .unwrap();
    assert!(b >= a + 86_400 && b < a + 86_400 + 60);
    let resp = env
        .http
        .post(env.url("/__admin/clock"))
        .json(&json!({"advance": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // In-process twin of the admin call.
    let c = env.fake.advance_clock(10);
    assert!(c >= b + 10);
}

#[tokio::test]
async fn settings_round_trip_and_validate() {
    let env = start().await;
    let defaults = env.admin_get("/__admin/settings").await;
    assert_eq!(
        defaults,
        json!({"access_token_lifetime_secs": 3600, "refresh_leeway_secs": 600, "code_lifetime_secs": 600,
               "rate_limit_budget": null, "rate_limit_window_secs": 60, "omit_refresh_token_next": false,
               "consent_mode": "auto", "consent_user": "alice"})
    );
    let updated = env
        .admin(
            "/__admin/settings",
            json!({"rate_limit_budget": 10, "consent_user": "bob"}),
        )
        .await;
    assert_eq!(updated["rate_limit_budget"], 10);
    assert_eq!(updated["consent_user"], "bob");
    assert_eq!(updated["refresh_leeway_secs"], 600);
    for bad in [
        json!({"consent_user": "mallory"}),
        json!({"no_such_setting": 1}),
        json!({"consent_mode": "maybe"}),
        json!({"rate_limit_window_secs": 0}),
    ] {
        let resp = env
            .http
            .post(env.url("/__admin/settings"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        env.admin_get("/__admin/settings").await["consent_user"],
        "bob",
        "a refused patch changes nothing"
    );
}

#[tokio::test]
async fn the_callback_url_can_be_replaced_at_runtime_and_there_is_only_one() {
    let env = start().await;
    let extra = "https://abcdefghijklmnop.chromiumapp.org/";
    let resp = env.authorize("demo-client", extra, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let answer = env
        .admin("/__admin/callback-url", json!({"uri": extra}))
        .await;
    assert_eq!(answer["callback_url"], extra);
    let resp = env.authorize("demo-client", extra, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(extra));
    // The earlier callback is gone: an app has exactly one, as at Atlassian.
    let resp = env.authorize("demo-client", CB, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_issued_refresh_token_is_listed_even_after_reset() {
    let env = start().await;
    let first = env.sign_in(SCOPES).await.refresh.unwrap();
    let rotated = env
        .token(
            json!({"grant_type": "refresh_token", "client_id": "demo-client",
                      "client_secret": "demo-secret", "refresh_token": first}),
        )
        .await;
    let rotated = tokens(rotated).await.refresh.unwrap();
    env.admin("/__admin/reset", json!({})).await;
    let listed = env.admin_get("/__admin/issued-refresh-tokens").await;
    assert_eq!(listed, json!([first, rotated]));
}

// ---------- faults ----------

#[tokio::test]
async fn status_fault_uses_atlassian_shapes_and_counts_down() {
    let env = start().await;
    env.admin("/__admin/faults", json!({"route": "POST /oauth/token", "count": 2, "fault": {"status": 503, "retry_after_secs": 7}})).await;
    let t0 = Instant::now();
    for _ in 0..2 {
        let code = env.code(SCOPES).await;
        let resp = env.exchange(&code).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "7");
        let (_, body) = json_of(resp).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body["error_description"].is_string());
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    let code = env.code(SCOPES).await;
    assert_eq!(
        env.exchange(&code).await.status(),
        StatusCode::OK,
        "third request is normal"
    );
    let t = env.sign_in(SCOPES).await;
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /ex/jira/{cloudId}/rest/api/3/myself", "fault": {"status": 502}}),
    )
    .await;
    let (status, body) = json_of(env.get(&t.access, &jira(ACME, "/myself")).await).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body["errorMessages"].is_array() && body["errors"].is_object());
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /me", "fault": {"status": 500, "body": "{\"custom\":true}"}}),
    )
    .await;
    let (status, body) = json_of(env.get(&t.access, "/me").await).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, json!({"custom": true}));
    // Faulted requests are still counted: they reached the fake.
    assert_eq!(env.stats().await["requests"]["POST /oauth/token"], 4);
}

#[tokio::test]
async fn delay_fault_waits_then_answers_normally() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /ex/jira/{cloudId}/rest/api/3/myself", "fault": {"delay_ms": 150}}),
    )
    .await;
    let t0 = Instant::now();
    let resp = env.get(&t.access, &jira(ACME, "/myself")).await;
    let slow = t0.elapsed();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(slow >= Duration::from_millis(150), "{slow:?}");
    let t1 = Instant::now();
    env.get(&t.access, &jira(ACME, "/myself")).await;
    assert!(t1.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn malformed_json_and_html_faults() {
    let env = start().await;
    env.admin(
        "/__admin/faults",
        json!({"route": "POST /oauth/token", "fault": "malformed_json"}),
    )
    .await;
    let resp = env.exchange("whatever").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let t = env.sign_in(SCOPES).await;
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /oauth/token/accessible-resources", "fault": "html"}),
    )
    .await;
    let resp = env
        .get(&t.access, "/oauth/token/accessible-resources")
        .await;
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.text().await.unwrap().contains("<html"));
    assert_eq!(
        env.get_status(&t.access, "/oauth/token/accessible-resources")
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_a_response() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    env.admin(
        "/__admin/faults",
        json!({"route": "*", "count": 1, "fault": "drop"}),
    )
    .await;
    let err = env
        .http
        .get(env.url(&jira(ACME, "/myself")))
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err}");
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err:?}"
    );
    // The next request (new connection) is served.
    assert_eq!(env.myself_status(&t, ACME).await, StatusCode::OK);
    // And dropping works on the token endpoint too.
    env.admin(
        "/__admin/faults",
        json!({"route": "POST /oauth/token", "fault": "drop"}),
    )
    .await;
    assert!(env
        .http
        .post(env.url("/oauth/token"))
        .json(&json!({}))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn faults_validate_list_and_clear() {
    let env = start().await;
    for bad in [
        json!({"route": "POST /oauth/tokens", "fault": "drop"}),
        json!({"route": "GET /me", "fault": "explode"}),
        json!({"route": "GET /me", "count": 0, "fault": "drop"}),
        json!({"route": "GET /me", "fault": {"status": 99}}),
    ] {
        let resp = env
            .http
            .post(env.url("/__admin/faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /authorize", "count": 3, "fault": {"status": 500}}),
    )
    .await;
    let list = env.admin_get("/__admin/faults").await;
    assert_eq!(list[0]["route"], "GET /authorize");
    assert_eq!(list[0]["remaining"], 3);
    let resp = env.authorize("demo-client", CB, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(env.admin_get("/__admin/faults").await[0]["remaining"], 2);
    env.http
        .delete(env.url("/__admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(env.admin_get("/__admin/faults").await, json!([]));
    assert_eq!(
        env.authorize("demo-client", CB, SCOPES, "s").await.status(),
        StatusCode::FOUND
    );
}

// ---------- loopback guard ----------

/// This machine's address on a non-loopback interface (no packet is sent).
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn admin_answers_loopback_clients_only() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("SKIPPED: no non-loopback interface on this machine; covered by the unit test of is_loopback");
        return;
    };
    let env = start_with(FakeConfig::default().listen("0.0.0.0:0".parse().unwrap())).await;
    let port = env.fake.addr().port();
    let remote = format!("http://{}", SocketAddr::new(ip, port));
    let local = format!("http://127.0.0.1:{port}");
    for path in ["/__admin/stats", "/__admin/settings", "/__test/callback"] {
        let resp = env
            .http
            .get(format!("{remote}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            env.http
                .get(format!("{local}{path}"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let resp = env
        .http
        .post(format!("{remote}/__admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The API itself answers everyone.
    let resp = env
        .http
        .get(format!("{remote}/oauth/token/accessible-resources"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

// ---------- the binary ----------

struct Bin {
    child: Child,
    base: String,
}

async fn run_bin(args: &[&str]) -> Bin {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-atlassian"))
        .args(args)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start fake-atlassian");
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(Duration::from_secs(20), lines.read_line(&mut first))
        .await
        .expect("listening line in time")
        .unwrap();
    let base = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with('/'),
        "{base}"
    );
    assert!(base.rsplit(':').next().unwrap().parse::<u16>().unwrap() > 0);
    Bin { child, base }
}

async fn stop(mut bin: Bin) -> String {
    bin.child.start_kill().unwrap();
    let _ = bin.child.wait().await;
    let mut err = String::new();
    if let Some(mut stderr) = bin.child.stderr.take() {
        let _ = stderr.read_to_string(&mut err).await;
    }
    err
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn binary_prints_listening_line_and_serves_a_full_flow_without_logging_secrets() {
    let bin = run_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--demo-callback-url",
        "{base}/__test/callback",
    ])
    .await;
    let http = client();
    let cb = format!("{}/__test/callback", bin.base);
    let mut authorize = url::Url::parse(&format!("{}/authorize", bin.base)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", "demo-client")
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", &cb)
        .append_pair("state", "bin-state")
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent");
    let resp = http.get(authorize).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let code = query_param(resp.headers()["location"].to_str().unwrap(), "code").unwrap();
    let resp = http
        .post(format!("{}/oauth/token", bin.base))
        .json(&json!({"grant_type": "authorization_code", "client_id": "demo-client", "client_secret": "demo-secret",
                      "code": code, "redirect_uri": cb}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let t = tokens(resp).await;
    let refresh = t.refresh.clone().unwrap();
    let resp = http
        .post(format!("{}/oauth/token", bin.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let t2 = tokens(resp).await;
    let me = http
        .get(format!("{}{}", bin.base, jira(ACME, "/myself")))
        .bearer_auth(&t2.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let stats: Value = http
        .get(format!("{}/__admin/stats", bin.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["requests"]["GET /ex/jira/{cloudId}/rest/api/3/myself"],
        1
    );

    let logs = stop(bin).await;
    assert!(
        logs.contains("route=\"/ex/jira/{cloudId}/rest/api/3/myself\""),
        "debug logs are on: {logs}"
    );
    assert!(!logs.contains('\u{1b}'), "no colour codes in a pipe");
    for secret in [
        code.as_str(),
        t.access.as_str(),
        refresh.as_str(),
        t2.access.as_str(),
        t2.refresh.as_deref().unwrap(),
        "demo-secret",
        "bin-state",
    ] {
        assert!(!logs.contains(secret), "stderr leaks a secret");
    }
}

#[tokio::test]
async fn binary_registers_an_app_from_flags() {
    let bin = run_bin(&[
        "--client-id",
        "my-app",
        "--client-secret",
        "my-secret",
        "--callback-url",
        "http://127.0.0.1:9/two",
        "--scope",
        "read:jira-work",
        "--scope",
        "offline_access",
    ])
    .await;
    let http = client();
    let authorize = |redirect: &str, scope: &str| {
        let mut u = url::Url::parse(&format!("{}/authorize", bin.base)).unwrap();
        u.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", "my-app")
            .append_pair("scope", scope)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "s")
            .append_pair("response_type", "code");
        u
    };
    let ok = http
        .get(authorize(
            "http://127.0.0.1:9/two",
            "read:jira-work offline_access",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::FOUND);
    let code = query_param(ok.headers()["location"].to_str().unwrap(), "code").unwrap();
    let too_much = http
        .get(authorize(
            "http://127.0.0.1:9/two",
            "read:jira-work write:jira-work",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(too_much.headers()["location"].to_str().unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
    let resp = http
        .post(format!("{}/oauth/token", bin.base))
        .json(&json!({"grant_type": "authorization_code", "client_id": "my-app", "client_secret": "my-secret",
                      "code": code, "redirect_uri": "http://127.0.0.1:9/two"}))
        .send()
        .await
        .unwrap();
    let t = tokens(resp).await;
    assert_eq!(t.body["scope"], "read:jira-work offline_access");
    assert!(t.refresh.is_some());
    stop(bin).await;
}

#[tokio::test]
async fn binary_reads_a_config_file_and_rejects_a_bad_one() {
    let dir = std::env::temp_dir().join(format!("fake-atlassian-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.json");
    std::fs::write(
        &file,
        r#"{"apps": [{"client_id": "file-app", "client_secret": "file-secret", "callback_url": "http://127.0.0.1:9/cb"}],
            "settings": {"consent_mode": "page", "consent_user": "bob"}}"#,
    )
    .unwrap();
    let bin = run_bin(&["--config", file.to_str().unwrap()]).await;
    let mut u = url::Url::parse(&format!("{}/authorize", bin.base)).unwrap();
    u.query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", "file-app")
        .append_pair("scope", "read:jira-work")
        .append_pair("redirect_uri", "http://127.0.0.1:9/cb")
        .append_pair("response_type", "code");
    let resp = client().get(u).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"accept\"") && html.contains("Bob Brown"));
    stop(bin).await;

    std::fs::write(&file, r#"{"apps": [{"client_id": "x"}]}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-atlassian"))
        .args(["--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
    assert!(out.stdout.is_empty());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-atlassian"))
        .args(["--consent-user", "mallory"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mallory"));
    // A port in use is a start failure, not a configuration error.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-atlassian"))
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

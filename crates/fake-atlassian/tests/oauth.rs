//! auth.atlassian.com behaviour over real HTTP: /authorize (auto-consent, consent page, site
//! picker, Cancel, mismatches) and /oauth/token (codes, secrets, rotation, leeway, families).

mod common;

use common::*;
use fake_atlassian::{ConsentMode, FakeConfig};
use reqwest::StatusCode;
use serde_json::json;

// ---------- /authorize ----------

#[tokio::test]
async fn auto_consent_redirects_with_code_and_state() {
    let env = start().await;
    let location = env.authorize_redirect(SCOPES, "xyz state/+").await;
    assert!(location.starts_with(&format!("{CB}?code=")), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("xyz state/+")
    );
    let code = query_param(&location, "code").unwrap();
    assert!(code.len() >= 32);
}

#[tokio::test]
async fn authorize_answers_carry_cors_star_for_fetch() {
    let env = start().await;
    let ok = env.authorize("demo-client", CB, SCOPES, "s").await;
    assert_eq!(ok.headers()["access-control-allow-origin"], "*");
    let bad = env
        .authorize("demo-client", "http://evil.test/cb", SCOPES, "s")
        .await;
    assert_eq!(bad.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn redirect_uri_mismatch_is_an_html_page_never_a_redirect() {
    let env = start().await;
    for uri in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callbac",
        "http://evil.test/callback",
        "",
    ] {
        let resp = env.authorize("demo-client", uri, SCOPES, "s").await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = resp.text().await.unwrap();
        assert!(body.contains("Callback URL mismatch"), "{body}");
    }
}

#[tokio::test]
async fn unknown_client_is_an_html_error() {
    let env = start().await;
    let resp = env.authorize("nobody", CB, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("not registered"));
}

#[tokio::test]
async fn bad_audience_response_type_and_scopes_redirect_with_errors() {
    let env = start().await;
    let base = env.authorize_url("demo-client", CB, SCOPES, "s1");
    let cases = [
        (
            base.replace("audience=api.atlassian.com", "audience=example.com"),
            "invalid_request",
        ),
        (
            base.replace("audience=api.atlassian.com&", ""),
            "invalid_request",
        ),
        (
            base.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            env.authorize_url(
                "demo-client",
                CB,
                "read:jira-work manage:jira-configuration",
                "s1",
            ),
            "invalid_scope",
        ),
        (
            env.authorize_url("demo-client", CB, "", "s1"),
            "invalid_scope",
        ),
    ];
    for (url, error) in cases {
        let resp = env.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{url}");
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(CB));
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{url}"
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("s1"));
        assert!(query_param(&location, "code").is_none());
    }
}

#[tokio::test]
async fn consent_page_accept_cancel_and_site_picker() {
    let env = start_with(FakeConfig::default().consent_mode(ConsentMode::Page)).await;
    let page = |state: &'static str| {
        let url = env.authorize_url("demo-client", CB, SCOPES, state);
        let http = env.http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()["access-control-allow-origin"], "*");
            let html = resp.text().await.unwrap();
            let id = html
                .split("name=\"consent\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            (html, id)
        }
    };
    // alice has two sites: a picker with "all" selected by default.
    let (html, id) = page("c1").await;
    assert!(html.contains("id=\"accept\"") && html.contains("id=\"cancel\""));
    assert!(html.contains("<select id=\"site\""));
    assert!(html.contains(ACME) && html.contains(INITECH));

    // Cancel → access_denied with Atlassian's text (%20 encoded) and the state.
    let resp = env
        .http
        .post(env.url("/authorize/consent"))
        .form(&[("consent", id.as_str()), ("decision", "cancel")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("{CB}?error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=c1")
    );
    // The consent id is single use.
    let again = env
        .http
        .post(env.url("/authorize/consent"))
        .form(&[("consent", id.as_str()), ("decision", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // Accept with one picked site → the grant covers only that site.
    let (_, id) = page("c2").await;
    let resp = env
        .http
        .post(env.url("/authorize/consent"))
        .form(&[
            ("consent", id.as_str()),
            ("decision", "accept"),
            ("site", INITECH),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(query_param(&location, "state").as_deref(), Some("c2"));
    let t = tokens(env.exchange(&query_param(&location, "code").unwrap()).await).await;
    let (_, sites) = json_of(
        env.get(&t.access, "/oauth/token/accessible-resources")
            .await,
    )
    .await;
    let ids: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![INITECH]);
    let other = env.get(&t.access, &jira(ACME, "/myself")).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // Accept with the default ("all") → both sites.
    let (_, id) = page("c3").await;
    let resp = env
        .http
        .post(env.url("/authorize/consent"))
        .form(&[
            ("consent", id.as_str()),
            ("decision", "accept"),
            ("site", "all"),
        ])
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let t = tokens(env.exchange(&query_param(&location, "code").unwrap()).await).await;
    let (_, sites) = json_of(
        env.get(&t.access, "/oauth/token/accessible-resources")
            .await,
    )
    .await;
    let mut ids: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, vec![ACME, INITECH]);
}

#[tokio::test]
async fn bob_gets_no_site_picker() {
    let env = start_with(
        FakeConfig::default()
            .consent_mode(ConsentMode::Page)
            .consent_user("bob"),
    )
    .await;
    let html = env
        .authorize("demo-client", CB, SCOPES, "s")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<select id=\"site\""));
    assert!(html.contains("globex"));
    assert!(html.contains("Bob Brown"));
}

#[tokio::test]
async fn consent_user_and_mode_follow_admin_settings() {
    let env = start().await;
    env.admin("/__admin/settings", json!({"consent_user": "bob"}))
        .await;
    let t = env.sign_in(SCOPES).await;
    let (_, me) = json_of(env.get(&t.access, "/me").await).await;
    assert_eq!(me["account_id"], fake_atlassian::ids::BOB_ACCOUNT_ID);
    env.admin("/__admin/settings", json!({"consent_mode": "page"}))
        .await;
    let resp = env.authorize("demo-client", CB, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("id=\"accept\""));
}

#[tokio::test]
async fn test_callback_answers_ok_with_cors() {
    let env = start().await;
    let resp = env
        .http
        .get(env.url("/__test/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn base_placeholder_registers_the_fakes_own_callback() {
    let env =
        start_exactly(FakeConfig::default().callback_url("demo-client", "{base}/__test/callback"))
            .await;
    let own = env.url("/__test/callback");
    let resp = env.authorize("demo-client", &own, SCOPES, "s").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&own));
    // Following the redirect like a browser fetch ends on a readable 200.
    let follow = reqwest::Client::new();
    let end = follow
        .get(env.authorize_url("demo-client", &own, SCOPES, "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), StatusCode::OK);
    assert!(query_param(end.url().as_str(), "code").is_some());
}

// ---------- /oauth/token: authorization_code ----------

#[tokio::test]
async fn code_exchange_json_and_form() {
    let env = start().await;
    let resp = env.exchange(&env.code(SCOPES).await).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let t = tokens(resp).await;
    assert_eq!(t.body["token_type"], "Bearer");
    assert_eq!(t.body["expires_in"], 3600);
    assert_eq!(t.body["scope"], SCOPES);
    assert!(t.refresh.is_some());

    let code = env.code(SCOPES).await;
    let form = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let t2 = tokens(form).await;
    assert_ne!(t.access, t2.access);
}

#[tokio::test]
async fn code_is_single_use() {
    let env = start().await;
    let code = env.code(SCOPES).await;
    assert_eq!(env.exchange(&code).await.status(), StatusCode::OK);
    let (status, body) = json_of(env.exchange(&code).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_request", "error_description": "authorization_code is invalid"})
    );
}

#[tokio::test]
async fn code_lives_ten_minutes_by_the_fake_clock() {
    let env = start().await;
    let fresh = env.code(SCOPES).await;
    let stale = env.code(SCOPES).await;
    env.advance(599).await;
    assert_eq!(env.exchange(&fresh).await.status(), StatusCode::OK);
    env.advance(1).await;
    let (status, body) = json_of(env.exchange(&stale).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "authorization_code is invalid");
}

#[tokio::test]
async fn code_is_bound_to_client_and_redirect_uri() {
    let env = start_with(FakeConfig::default().with_app(
        "other",
        "other-secret",
        Some(CB),
        &["read:jira-work"],
    ))
    .await;
    let code = env.code(SCOPES).await;
    let wrong_uri = env
        .token(json!({"grant_type": "authorization_code", "client_id": "demo-client", "client_secret": "demo-secret",
                      "code": code, "redirect_uri": "http://127.0.0.1:9/other"}))
        .await;
    assert_eq!(wrong_uri.status(), StatusCode::BAD_REQUEST);
    let code = env.code(SCOPES).await;
    let wrong_client = env
        .token(json!({"grant_type": "authorization_code", "client_id": "other", "client_secret": "other-secret",
                      "code": code, "redirect_uri": CB}))
        .await;
    let (status, body) = json_of(wrong_client).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "authorization_code is invalid");
}

#[tokio::test]
async fn wrong_or_missing_secret_is_401_access_denied() {
    let env = start().await;
    let code = env.code(SCOPES).await;
    for body in [
        json!({"grant_type": "authorization_code", "client_id": "demo-client", "client_secret": "nope", "code": code, "redirect_uri": CB}),
        json!({"grant_type": "authorization_code", "client_id": "demo-client", "code": code, "redirect_uri": CB}),
        json!({"grant_type": "authorization_code", "client_id": "nobody", "client_secret": "demo-secret", "code": code, "redirect_uri": CB}),
        json!({"grant_type": "refresh_token", "client_id": "demo-client", "client_secret": "nope", "refresh_token": "x"}),
    ] {
        let (status, json) = json_of(env.token(body).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            json,
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        );
    }
    // The secret check did not use the code up.
    assert_eq!(env.exchange(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_offline_access_no_refresh_token() {
    let env = start().await;
    let t = env.sign_in("read:jira-work read:jira-user").await;
    assert!(t.refresh.is_none());
    assert!(t.body.get("refresh_token").is_none());
    assert_eq!(t.body["scope"], "read:jira-work read:jira-user");
}

#[tokio::test]
async fn unsupported_grant_and_bad_bodies() {
    let env = start().await;
    let (status, body) = json_of(env.token(json!({"grant_type": "password"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tokens_are_random_and_unique() {
    let env = start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let t = env.sign_in(SCOPES).await;
        assert!(
            t.access.len() >= 40,
            "access tokens carry >= 32 random bytes"
        );
        assert!(seen.insert(t.access.clone()));
        assert!(seen.insert(t.refresh.unwrap()));
    }
}

// ---------- /oauth/token: refresh_token ----------

#[tokio::test]
async fn every_refresh_rotates() {
    let env = start().await;
    let t0 = env.sign_in(SCOPES).await;
    let mut rt = t0.refresh.unwrap();
    for _ in 0..3 {
        let (status, body) = json_of(env.refresh(&rt).await).await;
        assert_eq!(status, StatusCode::OK);
        let next = body["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(next, rt);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], SCOPES);
        rt = next;
        env.advance(601).await;
    }
}

#[tokio::test]
async fn previous_pair_works_during_leeway_then_is_revoked() {
    let env = start().await;
    let t0 = env.sign_in(SCOPES).await;
    let rt0 = t0.refresh.clone().unwrap();
    let t1 = tokens(env.refresh(&rt0).await).await;
    let myself = jira(ACME, "/myself");
    // Companion access token still works inside the leeway...
    env.advance(599).await;
    assert_eq!(env.get_status(&t0.access, &myself).await, StatusCode::OK);
    // ...and a retry with the previous refresh token is tolerated.
    let retry = env.refresh(&rt0).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let t_retry = tokens(retry).await;
    assert!(t_retry.refresh.is_some());
    env.advance(1).await;
    // After the leeway the old access token is dead although its hour is not over.
    let (status, body) = json_of(env.get(&t0.access, &myself).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"code": 401, "message": "Unauthorized"}));
    assert_eq!(env.get_status(&t1.access, &myself).await, StatusCode::OK);
    assert_eq!(
        env.get_status(&t_retry.access, &myself).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn previous_refresh_after_leeway_revokes_the_family() {
    let env = start().await;
    let t0 = env.sign_in(SCOPES).await;
    let rt0 = t0.refresh.unwrap();
    let t1 = tokens(env.refresh(&rt0).await).await;
    env.advance(600).await;
    let (status, body) = json_of(env.refresh(&rt0).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
    // Everything of that grant is gone: the current refresh token and access token too.
    assert_eq!(env.refresh_status(&t1).await, StatusCode::FORBIDDEN);
    assert_eq!(env.myself_status(&t1, ACME).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn older_generation_revokes_the_family_even_inside_leeway() {
    let env = start().await;
    let other = env.sign_in(SCOPES).await;
    let t0 = env.sign_in(SCOPES).await;
    let rt0 = t0.refresh.unwrap();
    let t1 = tokens(env.refresh(&rt0).await).await;
    let t2 = tokens(env.refresh(t1.refresh.as_ref().unwrap()).await).await;
    assert_eq!(env.refresh(&rt0).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(env.myself_status(&t2, ACME).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.refresh_status(&t2).await, StatusCode::FORBIDDEN);
    // Another family (another consent) is untouched.
    assert_eq!(env.myself_status(&other, ACME).await, StatusCode::OK);
    assert_eq!(env.refresh_status(&other).await, StatusCode::OK);
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let env = start().await;
    for rt in ["garbage", ""] {
        let (status, body) = json_of(env.refresh(rt).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["error_description"],
            "Unknown or invalid refresh token."
        );
    }
}

#[tokio::test]
async fn refresh_token_of_another_client_is_refused() {
    let env = start_with(FakeConfig::default().with_app(
        "other",
        "other-secret",
        Some(CB),
        &["offline_access"],
    ))
    .await;
    let t = env.sign_in(SCOPES).await;
    let resp = env
        .token(json!({"grant_type": "refresh_token", "client_id": "other", "client_secret": "other-secret",
                      "refresh_token": t.refresh.unwrap()}))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn access_tokens_expire_after_expires_in() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    env.advance(3599).await;
    assert_eq!(env.myself_status(&t, ACME).await, StatusCode::OK);
    env.advance(1).await;
    assert_eq!(env.myself_status(&t, ACME).await, StatusCode::UNAUTHORIZED);
    // The refresh token still works and yields a live token.
    let fresh = tokens(env.refresh(t.refresh.as_ref().unwrap()).await).await;
    assert_eq!(env.myself_status(&fresh, ACME).await, StatusCode::OK);
}

#[tokio::test]
async fn lifetime_and_leeway_are_settable() {
    let env = start().await;
    env.admin(
        "/__admin/settings",
        json!({"access_token_lifetime_secs": 60, "refresh_leeway_secs": 5}),
    )
    .await;
    let t0 = env.sign_in(SCOPES).await;
    assert_eq!(t0.body["expires_in"], 60);
    env.advance(60).await;
    assert_eq!(env.myself_status(&t0, ACME).await, StatusCode::UNAUTHORIZED);
    let rt0 = t0.refresh.unwrap();
    let _t1 = tokens(env.refresh(&rt0).await).await;
    env.advance(5).await;
    assert_eq!(
        env.refresh(&rt0).await.status(),
        StatusCode::FORBIDDEN,
        "leeway of 5 s is over"
    );
}

#[tokio::test]
async fn omit_refresh_token_next_is_one_shot_and_keeps_the_old_token() {
    let env = start().await;
    let t0 = env.sign_in(SCOPES).await;
    let rt0 = t0.refresh.unwrap();
    env.admin(
        "/__admin/settings",
        json!({"omit_refresh_token_next": true}),
    )
    .await;
    let quiet = tokens(env.refresh(&rt0).await).await;
    assert!(quiet.refresh.is_none());
    assert_eq!(env.myself_status(&quiet, ACME).await, StatusCode::OK);
    let settings = env.admin_get("/__admin/settings").await;
    assert_eq!(settings["omit_refresh_token_next"], false);
    // Keeping the old refresh token is right: it still works long after any leeway.
    env.advance(3000).await;
    let next = tokens(env.refresh(&rt0).await).await;
    assert!(next.refresh.is_some());
}

#[tokio::test]
async fn admin_revoke_kills_all_or_one_users_grants() {
    let env = start().await;
    let alice = env.sign_in(SCOPES).await;
    env.admin("/__admin/settings", json!({"consent_user": "bob"}))
        .await;
    let bob = env.sign_in(SCOPES).await;
    let out = env.admin("/__admin/revoke", json!({"user": "bob"})).await;
    assert_eq!(out["revoked"], 1);
    assert_eq!(
        env.myself_status(&bob, GLOBEX).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.refresh_status(&bob).await, StatusCode::FORBIDDEN);
    assert_eq!(env.myself_status(&alice, ACME).await, StatusCode::OK);
    env.admin("/__admin/revoke", json!({})).await;
    assert_eq!(
        env.myself_status(&alice, ACME).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = json_of(env.refresh(alice.refresh.as_ref().unwrap()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "invalid_grant");
}

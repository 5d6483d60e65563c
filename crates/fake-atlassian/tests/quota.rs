//! The points-based quota of `POST /__admin/quota` over real HTTP: Atlassian's headers on every
//! Jira REST answer, counted down per request, 429 with `Retry-After` once exhausted, a new
//! window by the fake clock, lifted by `/__admin/reset`.

mod common;

use common::*;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;

fn h<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_jira_answer_carries_the_quota_counted_down_then_429_until_the_window_ends() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let myself = jira(ACME, "/myself");
    // No quota set: no quota headers.
    let resp = env.get(&t.access, &myself).await;
    assert!(h(resp.headers(), "beta-ratelimit").is_none());

    let set = env
        .admin(
            "/__admin/quota",
            json!({"limit": 10, "remaining": 3, "window_secs": 600, "reason": "jira-quota-tenant-based", "near_limit_below": 2}),
        )
        .await;
    assert_eq!(
        (set["limit"].as_u64(), set["remaining"].as_u64()),
        (Some(10), Some(3))
    );
    for (left, near) in [(2, false), (1, true), (0, true)] {
        let resp = env.get(&t.access, &myself).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let hs = resp.headers();
        assert_eq!(
            h(hs, "beta-ratelimit-policy"),
            Some("\"tenant-app-quota\";q=10;w=600")
        );
        let beta = h(hs, "beta-ratelimit").unwrap();
        let prefix = format!("\"tenant-app-quota\";r={left};t=");
        let t_secs: u64 = beta
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{beta}"))
            .parse()
            .unwrap();
        assert!((1..=600).contains(&t_secs), "{beta}");
        assert_eq!(h(hs, "x-ratelimit-limit"), Some("10"));
        assert_eq!(
            h(hs, "x-ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
        assert_eq!(
            h(hs, "x-beta-ratelimit-reason"),
            Some("jira-quota-tenant-based")
        );
        assert_eq!(h(hs, "ratelimit-reason"), Some("jira-quota-tenant-based"));
        assert_eq!(
            h(hs, "x-beta-ratelimit-nearlimit"),
            near.then_some("true"),
            "{left} left"
        );
        assert_eq!(h(hs, "x-ratelimit-nearlimit"), near.then_some("true"));
        let reset = h(hs, "x-beta-ratelimit-reset").unwrap();
        assert!(reset.len() == 17 && reset.ends_with('Z'), "{reset}");
    }
    // Exhausted: 429, Retry-After, r=0, and no policy header (as Atlassian at zero).
    let resp = env.get(&t.access, &myself).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let hs = resp.headers().clone();
    let retry: u64 = h(&hs, "retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert!(h(&hs, "beta-ratelimit")
        .unwrap()
        .starts_with("\"tenant-app-quota\";r=0;t="));
    assert!(h(&hs, "beta-ratelimit-policy").is_none());
    assert_eq!(h(&hs, "x-ratelimit-remaining"), Some("0"));
    let (_, body) = json_of(resp).await;
    assert!(
        body["errorMessages"].is_array(),
        "Jira's ErrorCollection: {body}"
    );
    // A write is refused alike; the gateway's own routes are not metered.
    let resp = env
        .post(
            &t.access,
            &jira(ACME, "/search/jql"),
            json!({"jql": "project = PLAT"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let resp = env
        .get(&t.access, "/oauth/token/accessible-resources")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(h(resp.headers(), "beta-ratelimit").is_none());
    // The window ends: the whole limit is back.
    env.advance(retry).await;
    let resp = env.get(&t.access, &myself).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(h(resp.headers(), "beta-ratelimit")
        .unwrap()
        .starts_with("\"tenant-app-quota\";r=9;t=600"));
    assert_eq!(env.admin_get("/__admin/quota").await["remaining"], 9);
    // A reset lifts it.
    env.admin("/__admin/reset", json!({})).await;
    assert!(env.admin_get("/__admin/quota").await.is_null());
    let t = env.sign_in(SCOPES).await;
    let resp = env.get(&t.access, &myself).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(h(resp.headers(), "beta-ratelimit").is_none());
    assert!(h(resp.headers(), "x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn defaults_and_an_error_answer_carry_the_headers_too() {
    let env = start().await;
    let t = env.sign_in(SCOPES).await;
    let set = env.admin("/__admin/quota", json!({"limit": 100})).await;
    assert_eq!(set["window_secs"], 3600);
    assert_eq!(set["remaining"], 100);
    assert_eq!(set["near_limit_below"], 20, "Atlassian's 20%");
    let resp = env.get(&t.access, &jira(ACME, "/issue/NOPE-1")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // `t` counts down by the fake's clock: a second may have ticked since the quota was set.
    let meter = h(resp.headers(), "beta-ratelimit").unwrap();
    assert!(
        ["t=3600", "t=3599"]
            .iter()
            .any(|t| meter == format!("\"tenant-app-quota\";r=99;{t}")),
        "{meter}"
    );
    assert!(
        h(resp.headers(), "x-beta-ratelimit-reason").is_none(),
        "no reason set"
    );
    // An injected fault is metered and carries them as well.
    env.admin(
        "/__admin/faults",
        json!({"route": "GET /ex/jira/{cloudId}/rest/api/3/myself", "fault": {"status": 503}}),
    )
    .await;
    let resp = env.get(&t.access, &jira(ACME, "/myself")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(h(resp.headers(), "beta-ratelimit")
        .unwrap()
        .contains(";r=98;"));
}

#[tokio::test]
async fn the_admin_call_refuses_what_atlassian_would_never_send() {
    let env = start().await;
    for body in [
        json!({"limit": 5, "remaining": 6}),
        json!({"limit": 5, "window_secs": 0}),
        json!({"limit": 5, "reason": "two words"}),
        json!({"limit": 5, "reason": "a".repeat(65)}),
        json!({"limit": 5, "extra": 1}),
        json!({"remaining": 5}),
    ] {
        let resp = env
            .http
            .post(env.url("/__admin/quota"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert!(
        env.admin_get("/__admin/quota").await.is_null(),
        "nothing was set"
    );
}

//! Rate-limit awareness (issue 14) over real HTTP against the fake's `/__admin/quota`: every
//! Jira response updates the site's quota, another context sees it through the session area,
//! which is written only when the quota changes in a way that matters (or every 30 s), and a
//! 429 at exhaustion is a typed `rate_limited` error that keeps the tokens.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::cell::Cell;
use std::rc::Rc;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::core::rate_limit::PUBLISH_INTERVAL_MS;
use jira_3lo::core::records::keys;
use jira_3lo::session::ports::{Area, KeyValueStore};
use jira_3lo::Error;
use serde_json::json;
use support::signed_in_session;

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "current_thread")]
async fn every_response_updates_the_quota_and_another_context_reads_it() {
    let (env, session) = signed_in_session().await;
    assert_eq!(session.quota().await.unwrap(), None, "no quota headers yet");
    session.send(myself()).await.unwrap();
    assert_eq!(
        session.quota().await.unwrap(),
        None,
        "the fake sends none by default"
    );

    env.quota(json!({"limit": 100, "remaining": 40, "window_secs": 600, "reason": "jira-quota-tenant-based"}))
        .await;
    session.send(myself()).await.unwrap();
    let q = session.quota().await.unwrap().expect("a quota");
    assert_eq!((q.remaining, q.limit), (Some(39), Some(100)));
    assert_eq!(q.near_limit, Some(false));
    assert_eq!(q.reason.as_deref(), Some("jira-quota-tenant-based"));
    let resets = q.resets_at.unwrap();
    assert!(resets.abs_diff(now_ms() + 600_000) < 5_000, "{resets}");

    // An error answer updates it too (a Jira 404).
    let missing = session
        .send(JiraRequest::get("/rest/api/3/issue/NOPE-404"))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, Error::Jira { status: 404, .. }),
        "{missing:?}"
    );
    assert_eq!(session.quota().await.unwrap().unwrap().remaining, Some(38));

    // Another context (the options page) reads what this one published (its first quota).
    let other = env.session();
    let seen = other.quota().await.unwrap().expect("published");
    assert_eq!(seen.limit, Some(100));
    assert_eq!(
        seen.remaining,
        Some(39),
        "the first one: nothing since was worth a write"
    );
    // Its own, newer observation wins over the stored one.
    other.send(myself()).await.unwrap();
    assert_eq!(other.quota().await.unwrap().unwrap().remaining, Some(37));
}

#[tokio::test(flavor = "current_thread")]
async fn the_quota_is_written_when_it_matters_or_every_30_s_not_per_call() {
    let (env, session) = signed_in_session().await;
    let key = keys::quota("default");
    let writes = Rc::new(Cell::new(0u32));
    let counted = Rc::clone(&writes);
    let watched = key.clone();
    session.platform().watch(Rc::new(move |k: Option<&str>| {
        if k == Some(watched.as_str()) {
            counted.set(counted.get() + 1);
        }
    }));
    env.quota(json!({"limit": 100, "remaining": 30, "near_limit_below": 25}))
        .await;
    for _ in 0..4 {
        session.send(myself()).await.unwrap();
    }
    assert_eq!(writes.get(), 1, "four calls, one write (the first quota)");
    // 29 → 25 left: not near yet; the fifth and sixth cross below 25.
    for _ in 0..2 {
        session.send(myself()).await.unwrap();
    }
    assert_eq!(writes.get(), 2, "near the limit now: written at once");
    let stored = session.platform().store.json(Area::Session, &key);
    assert_eq!(stored["quota"]["nearLimit"], true, "{stored}");
    assert_eq!(stored["quota"]["remaining"], 24);
    session.send(myself()).await.unwrap();
    assert_eq!(writes.get(), 2);
    // The interval: written again, once.
    session
        .platform()
        .clock
        .advance_local_ms(PUBLISH_INTERVAL_MS);
    session.send(myself()).await.unwrap();
    session.send(myself()).await.unwrap();
    assert_eq!(writes.get(), 3);
    assert_eq!(
        session.platform().store.json(Area::Session, &key)["quota"]["remaining"],
        22
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_at_exhaustion_is_rate_limited_keeps_the_tokens_and_says_when_it_resets() {
    let (env, session) = signed_in_session().await;
    env.quota(json!({"limit": 50, "remaining": 1, "window_secs": 3600}))
        .await;
    session.send(myself()).await.unwrap();
    let refresh_key = keys::refresh("default");
    let refresh_before = session
        .platform()
        .store
        .raw_get(Area::Persistent, &refresh_key);
    let grants_before = env.grants("refresh_token").await;
    let e = session.send(myself()).await.unwrap_err();
    let Error::RateLimited {
        status,
        retry_after_ms,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(status, 429);
    assert!(
        (3_590_000..=3_600_000).contains(&retry_after_ms),
        "{retry_after_ms}"
    );
    let q = session.quota().await.unwrap().unwrap();
    assert_eq!(
        (q.remaining, q.limit, q.near_limit),
        (Some(0), Some(50), Some(true))
    );
    assert!(q.resets_at.unwrap().abs_diff(now_ms() + 3_600_000) < 5_000);
    // The tokens are kept and nothing was refreshed; the next window works at once.
    assert_eq!(
        session
            .platform()
            .store
            .raw_get(Area::Persistent, &refresh_key),
        refresh_before
    );
    assert!(refresh_before.is_some());
    assert_eq!(env.grants("refresh_token").await, grants_before);
    env.quota(json!({"limit": 50})).await;
    session.send(myself()).await.unwrap();
    assert_eq!(session.quota().await.unwrap().unwrap().remaining, Some(49));
    // A sign-out forgets the quota in every context.
    session.sign_out().await.unwrap();
    assert!(session
        .platform()
        .store
        .raw_get(Area::Session, &keys::quota("default"))
        .is_none());
    assert_eq!(env.session().quota().await.unwrap(), None);
}

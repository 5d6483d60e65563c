//! The grant's lifetime (issue 14, "Token lifecycle") against the real fake and broker: the
//! sign-in dates the consent, every refresh carries it over and dates the rotation, status
//! tells when the user will have to reconnect, and Atlassian's refusal after 365 days clears
//! the tokens then and only then. A record of an older version (no dates) still loads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::core::lifecycle::Limit;
use jira_3lo::session::ports::Area;
use jira_3lo::session::Status;
use jira_3lo::ErrorCode;
use serde_json::Value;
use support::{signed_in_session, Env, TestPlatform};

const DAY_S: u64 = 86_400;
const DAY_MS: u64 = DAY_S * 1000;
const KEY: &str = "jira3lo:default:refresh";

fn record(env: &Env) -> Option<Value> {
    env.platform
        .store
        .raw_get(Area::Persistent, KEY)
        .map(|raw| serde_json::from_str(&raw).unwrap())
}

/// Unix ms of the fake's clock (the test clock moves with it).
async fn fake_now_ms(env: &Env) -> u64 {
    let clock = reqwest::get(format!("{}/__admin/clock", env.fake.base_url))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    clock["now"].as_u64().unwrap() * 1000
}

fn near(actual: u64, expected: u64, what: &str) {
    assert!(
        actual.abs_diff(expected) < 5_000,
        "{what}: {actual} vs {expected}"
    );
}

/// Moves both clocks by `days` and makes a call: the access token is dead, so it refreshes.
async fn use_after(
    env: &Env,
    session: &jira_3lo::session::Session<TestPlatform>,
    days: u64,
) -> Result<(), jira_3lo::Error> {
    env.advance(days * DAY_S).await;
    session
        .send(JiraRequest::get("/rest/api/3/myself"))
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "current_thread")]
async fn the_consent_is_dated_by_the_sign_in_and_carried_over_by_every_refresh() {
    let (env, session) = signed_in_session().await;
    let consented = fake_now_ms(&env).await;
    let stored = record(&env).unwrap();
    let consent = stored["consented_at_ms"].as_u64().expect("consent dated");
    near(consent, consented, "consent");
    assert_eq!(stored["rotated_at_ms"].as_u64(), Some(consent));
    let (status, reconnect) = session.status_with_reconnect().await.unwrap();
    assert!(matches!(status, Status::SignedIn { .. }), "{status:?}");
    let r = reconnect.expect("dates known after a sign-in");
    assert_eq!((r.limit, r.warn), (Limit::Inactivity, false));
    near(r.by_ms, consent + 90 * DAY_MS, "90 days after the consent");

    // Refreshed every 80 days: the consent stays, the rotation moves.
    for n in 1..=4u64 {
        use_after(&env, &session, 80).await.unwrap();
        let stored = record(&env).unwrap();
        assert_eq!(
            stored["consented_at_ms"].as_u64(),
            Some(consent),
            "refresh {n}"
        );
        near(
            stored["rotated_at_ms"].as_u64().unwrap(),
            consent + n * 80 * DAY_MS,
            "rotation",
        );
    }
    // Day 320: the absolute limit comes first, 45 days ahead; no warning yet.
    let r = session.reconnect().await.unwrap().unwrap();
    assert_eq!((r.limit, r.warn), (Limit::Absolute, false));
    near(
        r.by_ms,
        consent + 365 * DAY_MS,
        "365 days after the consent",
    );
    assert_eq!(env.grants("refresh_token").await, 4);

    // Day 351: the warning is due without any network request (status reads storage only).
    env.advance(31 * DAY_S).await;
    let requests = env.total_requests().await;
    let (_, r) = session.status_with_reconnect().await.unwrap();
    assert!(r.unwrap().warn);
    assert_eq!(env.total_requests().await, requests);

    // Day 366: Atlassian refuses the refresh; only now are the tokens gone.
    assert!(record(&env).is_some());
    let err = use_after(&env, &session, 15).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired, "{err:?}");
    assert!(record(&env).is_none());
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert_eq!(session.reconnect().await.unwrap(), None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_consent_starts_a_new_year() {
    let (env, session) = signed_in_session().await;
    for _ in 0..4 {
        use_after(&env, &session, 80).await.unwrap();
    }
    env.advance(32 * DAY_S).await;
    assert!(session.reconnect().await.unwrap().unwrap().warn);
    let reconsented = fake_now_ms(&env).await;
    env.sign_in(&session).await;
    let r = session.reconnect().await.unwrap().unwrap();
    assert_eq!((r.limit, r.warn), (Limit::Inactivity, false));
    near(r.by_ms, reconsented + 90 * DAY_MS, "a new 90 days");
    near(
        record(&env).unwrap()["consented_at_ms"].as_u64().unwrap(),
        reconsented,
        "the new consent",
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_of_an_older_version_loads_and_its_dates_stay_unknown() {
    let (env, session) = signed_in_session().await;
    // What the previous version stored: no dates.
    let mut old = record(&env).unwrap();
    let map = old.as_object_mut().unwrap();
    for field in ["consented_at_ms", "rotated_at_ms", "clock_offset_ms"] {
        map.remove(field);
    }
    env.platform
        .store
        .raw_set(Area::Persistent, KEY, &old.to_string());
    let (status, reconnect) = session.status_with_reconnect().await.unwrap();
    assert!(matches!(status, Status::SignedIn { .. }), "{status:?}");
    assert_eq!(reconnect, None, "not guessed");
    assert!(session.take_storage_reports().is_empty());
    // A refresh dates the rotation, but the consent stays unknown, and so does the date.
    use_after(&env, &session, 1).await.unwrap();
    let stored = record(&env).unwrap();
    assert!(stored["rotated_at_ms"].as_u64().is_some());
    assert!(stored.get("consented_at_ms").is_none());
    assert_eq!(session.reconnect().await.unwrap(), None);
}

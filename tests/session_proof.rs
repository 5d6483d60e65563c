//! Proof of possession, natively against the real broker and fake: what the browser stores is
//! useless without the installation's key, no raw Atlassian refresh token is ever stored, and a
//! raw one an older version stored is removed with a clear `reauth_required`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::session::ports::Area;
use jira_3lo::session::{Session, Status};
use jira_3lo::{Error, ErrorCode};
use support::{signed_in_session, start, TestKey, TestPlatform};

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

/// Every stored value, both areas.
fn all_values(platform: &TestPlatform) -> Vec<String> {
    [Area::Session, Area::Persistent]
        .into_iter()
        .flat_map(|area| {
            platform
                .store
                .keys(area)
                .into_iter()
                .filter_map(move |k| platform.store.raw_get(area, &k))
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn no_raw_refresh_token_issued_by_atlassian_is_ever_stored() {
    let (env, session) = signed_in_session().await;
    for _ in 0..2 {
        env.advance(3_601).await;
        session.send(myself()).await.unwrap();
    }
    let issued = env.issued_refresh_tokens().await;
    assert_eq!(issued.len(), 3, "the sign-in and two rotations");
    let stored = all_values(&env.platform);
    assert!(stored.iter().any(|v| v.contains("refresh_token")));
    for raw in &issued {
        assert!(
            !stored.iter().any(|v| v.contains(raw.as_str())),
            "a raw refresh token is stored"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_copied_to_another_installation_cannot_refresh_and_the_owner_still_can() {
    let (env, session) = signed_in_session().await;
    // Another browser profile with a copy of every record, but not the key.
    let elsewhere = TestPlatform::new(Some(&env.fake.base_url)).with_key(TestKey::random());
    for area in [Area::Session, Area::Persistent] {
        for key in env.platform.store.keys(area) {
            let value = env.platform.store.raw_get(area, &key).unwrap();
            elsewhere.store.raw_set(area, &key, &value);
        }
    }
    let thief = Session::new(env.config(), elsewhere.clone());
    env.advance(3_601).await;
    elsewhere.clock.advance_local_ms(3_601_000);
    let err = thief.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired, "{err:?}");
    assert!(
        matches!(&err, Error::ReauthRequired { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    assert_eq!(
        env.grants("refresh_token").await,
        0,
        "the broker refused before Atlassian"
    );
    // The owner's blob is untouched: its refresh goes through.
    session.send(myself()).await.unwrap();
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_raw_refresh_token_of_an_older_version_is_removed_with_a_clear_reauth() {
    let (env, session) = signed_in_session().await;
    // What the previous version stored: Atlassian's own refresh token, no `sealed` field.
    let raw = env.issued_refresh_tokens().await.pop().unwrap();
    let old = serde_json::json!({ "v": 1, "refresh_token": raw }).to_string();
    env.platform
        .store
        .raw_set(Area::Persistent, "jira3lo:default:refresh", &old);
    let err = session.status().await.unwrap_err();
    assert!(
        matches!(&err, Error::ReauthRequired { error, .. } if error == "unsealed_refresh_token"),
        "{err:?}"
    );
    assert!(err.needs_reconnect());
    assert!(err.to_string().contains("reconnect once"), "{err}");
    assert!(env
        .platform
        .store
        .raw_get(Area::Persistent, "jira3lo:default:refresh")
        .is_none());
    assert!(env
        .platform
        .store
        .raw_get(Area::Session, "jira3lo:default:access")
        .is_none());
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert_eq!(
        env.grants("refresh_token").await,
        0,
        "the raw token was never sent"
    );

    // The same record met by a refresh (a context that never asked for the status).
    let env = start().await;
    let session = env.session();
    env.sign_in_and_choose(&session).await;
    let raw = env.issued_refresh_tokens().await.pop().unwrap();
    let old = serde_json::json!({ "v": 1, "refresh_token": raw }).to_string();
    env.platform
        .store
        .raw_set(Area::Persistent, "jira3lo:default:refresh", &old);
    env.advance(3_601).await;
    let err = session.send(myself()).await.unwrap_err();
    assert!(
        matches!(&err, Error::ReauthRequired { error, .. } if error == "unsealed_refresh_token"),
        "{err:?}"
    );
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert_eq!(
        env.count("POST /oauth/token").await,
        1,
        "only the sign-in's"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_device_clock_minutes_off_the_brokers_still_signs_in_after_one_refused_proof() {
    let env = start().await;
    // A broker whose clock is 5 minutes ahead of this device's (the test clock).
    let ahead = env.platform.clock.unix_secs_source();
    let broker = env
        .broker_with(move |c| c.clock(move || ahead() + 300))
        .await;
    let mut config = env.config();
    config.broker_url = broker.base_url.clone();
    let platform = env.platform.sibling();
    let session = Session::new(config, platform.clone());
    let url = session.begin_sign_in(support::REDIRECT).await.unwrap();
    assert_eq!(
        platform.sent_matching("POST /v1/authorize"),
        2,
        "refused once for the clock, then sent with the broker's time"
    );
    let callback = env.authorize(&url).await;
    session.complete_sign_in(&callback).await.unwrap();
    assert_eq!(
        platform.sent_matching("POST /oauth/token"),
        1,
        "the offset is kept: the redemption goes through at once"
    );
}

//! Refresh behaviour with rotating refresh tokens: rotation, responses without a refresh
//! token, permanent refusals, transient failures with a cooldown, and 401 → refresh → retry.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::session::ports::Area;
use jira_3lo::session::Status;
use jira_3lo::{Error, ErrorCode};
use serde_json::json;
use support::{signed_in_session, Env, REDIRECT};

const MYSELF: &str = "GET /ex/jira/{cloudId}/rest/api/3/myself";
const TOKEN: &str = "POST /oauth/token";

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

fn stored_refresh(env: &Env) -> Option<String> {
    env.platform
        .store
        .raw_get(Area::Persistent, "jira3lo:default:refresh")
        .map(|raw| {
            serde_json::from_str::<serde_json::Value>(&raw).unwrap()["refresh_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
}

fn stored_access(env: &Env) -> Option<serde_json::Value> {
    env.platform
        .store
        .raw_get(Area::Session, "jira3lo:default:access")
        .map(|raw| serde_json::from_str(&raw).unwrap())
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_rotates_and_stores_the_new_refresh_token() {
    let (env, session) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    let exp1 = stored_access(&env).unwrap()["expires_at_ms"]
        .as_u64()
        .unwrap();
    env.advance(3_601).await;
    session.send(myself()).await.unwrap();
    let rt2 = stored_refresh(&env).unwrap();
    assert_ne!(rt1, rt2, "rotated");
    assert!(
        stored_access(&env).unwrap()["expires_at_ms"]
            .as_u64()
            .unwrap()
            > exp1 + 3_000_000
    );
    // Past the leeway the old token is dead at the fake, but we never present it again.
    env.advance(3_601).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 2);
    assert_ne!(stored_refresh(&env).unwrap(), rt2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_response_without_refresh_token_keeps_the_stored_one() {
    let (env, session) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    let access1 = stored_access(&env).unwrap();
    let issued = env.issued_refresh_tokens().await.len();
    env.settings(json!({ "omit_refresh_token_next": true }))
        .await;
    env.advance(3_601).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
    // Atlassian sent no new refresh token: the broker sealed the old one again (a fresh blob,
    // same token inside), and it still refreshes.
    assert_eq!(env.issued_refresh_tokens().await.len(), issued);
    assert_ne!(stored_refresh(&env).unwrap(), rt1, "a new blob");
    env.advance(3_601).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 2);
    assert_ne!(
        stored_access(&env).unwrap()["access_token"],
        access1["access_token"],
        "new access token stored"
    );
    assert_eq!(stored_access(&env).unwrap()["scopes"], access1["scopes"]);
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_grant_clears_the_tokens_and_requires_reauthorization() {
    let (env, session) = signed_in_session().await;
    env.revoke(None).await;
    env.advance(3_601).await;
    let err = session.send(myself()).await.unwrap_err();
    let Error::ReauthRequired { error, description } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(error, "invalid_grant");
    assert_eq!(
        description.as_deref(),
        Some("Unknown or invalid refresh token.")
    );
    assert_eq!(err.code(), ErrorCode::ReauthRequired);
    assert!(err.needs_reconnect());
    assert!(stored_refresh(&env).is_none());
    assert!(stored_access(&env).is_none());
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    // The refusal was re-read once, not retried against the token endpoint.
    assert_eq!(
        env.count(TOKEN).await,
        2,
        "1 code exchange + 1 refresh attempt"
    );
    // Further calls do not hammer the token endpoint.
    assert_eq!(
        session.send(myself()).await.unwrap_err(),
        Error::NotSignedIn
    );
    assert_eq!(env.count(TOKEN).await, 2);
    // A new sign-in works again.
    let again = env.session();
    assert!(matches!(
        env.sign_in_and_choose(&again).await,
        Status::SignedIn { .. }
    ));
    again.send(myself()).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_context_uses_the_token_a_sibling_already_refreshed() {
    let (env, a) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    env.advance(3_601).await;
    let b = env.session();
    b.send(myself()).await.unwrap();
    let rt2 = stored_refresh(&env).unwrap();
    assert_ne!(rt1, rt2);
    // A's view: the access token it used was rejected. It refreshes with what storage holds.
    a.send(myself()).await.unwrap();
    assert!(matches!(a.status().await.unwrap(), Status::SignedIn { .. }));
    assert_eq!(env.grants("refresh_token").await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_503_on_the_token_endpoint_keeps_the_refresh_token_and_cools_down() {
    let (env, session) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    env.advance(3_601).await;
    env.fault(TOKEN, 1, json!({ "status": 503, "retry_after_secs": 1 }))
        .await;
    let tokens_before = env.count(TOKEN).await;
    let err = session.send(myself()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    // The fake's 503 body (`temporarily_unavailable`) passes through the broker verbatim.
    let Error::Oauth { status, error, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((*status, error.as_str()), (503, "temporarily_unavailable"));
    assert_eq!(stored_refresh(&env).unwrap(), rt1, "refresh token kept");
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    assert_eq!(env.count(TOKEN).await, tokens_before + 1);

    // Within the cooldown the token endpoint is left alone: the same failure, saying when the
    // next attempt is, and no request.
    let again = session.send(myself()).await.unwrap_err();
    let Error::RefreshPaused {
        last,
        retry_after_ms,
    } = &again
    else {
        panic!("{again:?}")
    };
    assert_eq!(**last, err);
    assert_eq!(again.code(), err.code());
    assert!((1..=5_000).contains(retry_after_ms), "{again:?}");
    assert_eq!(env.count(TOKEN).await, tokens_before + 1);
    assert_eq!(env.count(MYSELF).await, 0);

    // After the cooldown (default 5 s) the refresh is tried again and succeeds.
    env.advance(6).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.count(TOKEN).await, tokens_before + 2);
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_ne!(stored_refresh(&env).unwrap(), rt1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_connection_or_garbage_from_the_token_endpoint_is_transient() {
    let (env, session) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    env.advance(3_601).await;
    // The broker stands between us and the fake: what reaches the engine is always the
    // broker's own 502 refusal, never the raw garbage.
    for (fault, broker_error) in [
        (json!("drop"), "upstream_unreachable"),
        (json!("html"), "upstream_invalid_response"),
        (json!("malformed_json"), "upstream_invalid_response"),
    ] {
        env.fault(TOKEN, 1, fault.clone()).await;
        let err = session.send(myself()).await.unwrap_err();
        let Error::Broker { status, error, .. } = &err else {
            panic!("{fault}: {err:?}")
        };
        assert_eq!((*status, error.as_str()), (502, broker_error), "{fault}");
        assert!(err.is_transient(), "{fault}: {err:?}");
        assert_eq!(
            stored_refresh(&env).unwrap(),
            rt1,
            "{fault}: refresh token kept"
        );
        env.advance(6).await; // past the cooldown
    }
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_broker_is_a_network_error_and_a_slow_one_a_timeout() {
    let (env, _) = signed_in_session().await;
    env.advance(3_601).await;
    let rt1 = stored_refresh(&env).unwrap();

    let mut config = env.config();
    config.broker_url = "http://127.0.0.1:1".into();
    let offline = jira_3lo::session::Session::new(config, env.platform.sibling());
    let err = offline.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network, "{err:?}");
    assert!(err.is_transient());

    env.fault(TOKEN, 1, json!({ "delay_ms": 1_500 })).await;
    let slow = env.session_on(
        env.platform
            .sibling()
            .with_timeout(Duration::from_millis(300)),
    );
    assert_eq!(slow.send(myself()).await.unwrap_err(), Error::Timeout);
    assert_eq!(stored_refresh(&env).unwrap(), rt1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_401_refreshes_once_and_retries_once_also_for_post() {
    let (env, session) = signed_in_session().await;
    // The stored access token looks fresh but the gateway no longer accepts it (as after a
    // companion-token revocation): a 401, one refresh, one retry.
    let corrupt = |env: &Env| {
        let mut access = stored_access(env).unwrap();
        access["access_token"] = json!("revoked-or-garbage");
        env.platform
            .store
            .raw_set(Area::Session, "jira3lo:default:access", &access.to_string());
    };
    corrupt(&env);
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(env.count(MYSELF).await, 2);

    corrupt(&env);
    let created: serde_json::Value = session
        .send_json(JiraRequest::post(
            "/rest/api/3/search/approximate-count",
            json!({ "jql": "assignee = currentUser()" }),
        ))
        .await
        .unwrap();
    assert!(created["count"].is_u64(), "{created}");
    assert_eq!(env.grants("refresh_token").await, 2);
    assert_eq!(
        env.count("POST /ex/jira/{cloudId}/rest/api/3/search/approximate-count")
            .await,
        2
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_401_right_after_a_refresh_is_not_retried_again_and_clears_nothing() {
    let (env, session) = signed_in_session().await;
    let unauthorized =
        json!({ "status": 401, "body": "{\"code\":401,\"message\":\"Unauthorized\"}" });
    env.fault(MYSELF, 2, unauthorized).await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired, "{err:?}");
    assert!(err.needs_reconnect());
    assert_eq!(env.count(MYSELF).await, 2, "one retry after one refresh");
    assert_eq!(env.grants("refresh_token").await, 1);
    // The token endpoint accepted the grant a moment ago: the gateway's refusals end nothing.
    // The refresh token it issued is kept, and the next call works once the gateway does.
    let rotated = stored_refresh(&env).expect("refresh token kept");
    assert!(stored_access(&env).is_some());
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    env.session().send(myself()).await.unwrap();
    assert_eq!(stored_refresh(&env), Some(rotated));
    assert_eq!(env.grants("refresh_token").await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_revoked_grant_during_a_call_is_reauth_required_after_one_refresh_attempt() {
    let (env, session) = signed_in_session().await;
    env.revoke(None).await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired, "{err:?}");
    assert_eq!(
        env.count(MYSELF).await,
        1,
        "one 401, then the refresh was refused: no retry"
    );
    assert_eq!(env.count(TOKEN).await, 2);
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_grant_is_reread_once_and_a_siblings_rotation_wins() {
    let (env, _) = signed_in_session().await;
    let store = env.platform.store.clone();
    let snapshot = |store: &support::MemoryStore| {
        (
            store
                .raw_get(Area::Persistent, "jira3lo:default:refresh")
                .unwrap(),
            store
                .raw_get(Area::Session, "jira3lo:default:access")
                .unwrap(),
        )
    };
    let before = snapshot(&store);
    env.advance(3_601).await;
    // The sibling's real refresh (its result is what storage will hold after our refusal).
    env.session().send(myself()).await.unwrap();
    let sibling = snapshot(&store);
    assert_ne!(before.0, sibling.0);
    // Back to the state our context saw, then: our refresh is refused while the sibling's
    // rotation lands in storage.
    store.raw_set(Area::Persistent, "jira3lo:default:refresh", &before.0);
    store.raw_set(Area::Session, "jira3lo:default:access", &before.1);
    let refused = json!({
        "status": 403,
        "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Unknown or invalid refresh token.\"}"
    });
    env.fault(TOKEN, 1, refused).await;
    let hook_store = store.clone();
    let (rt, at) = sibling.clone();
    // A sibling rotates the token while our refresh is on the wire.
    let platform = support::Staged::new(env.platform.sibling());
    *platform.before_token.borrow_mut() = Some(Box::new(move || {
        hook_store.raw_set(Area::Persistent, "jira3lo:default:refresh", &rt);
        hook_store.raw_set(Area::Session, "jira3lo:default:access", &at);
    }));
    let ours = jira_3lo::session::Session::new(env.config(), platform);
    let tokens_before = env.count(TOKEN).await;
    ours.send(myself()).await.unwrap();
    assert_eq!(
        env.count(TOKEN).await,
        tokens_before + 1,
        "refused once, then the sibling's token was used"
    );
    assert_eq!(snapshot(&store), sibling, "nothing cleared");
    assert!(matches!(
        ours.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn errors_and_debug_output_never_contain_a_token() {
    let (env, session) = signed_in_session().await;
    let rt = stored_refresh(&env).unwrap();
    let at = stored_access(&env).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = vec![format!("{session:?}"), format!("{:?}", session.config())];
    env.fault(TOKEN, 1, json!({ "status": 500 })).await;
    env.advance(3_601).await;
    let err = session.send(myself()).await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    env.revoke(None).await;
    env.advance(6).await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReauthRequired);
    seen.push(format!("{err} {err:?}"));
    for s in seen {
        assert!(!s.contains(&rt) && !s.contains(&at), "{s}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_access_token_without_a_refresh_token_is_signed_out() {
    let (env, session) = signed_in_session().await;
    env.platform
        .store
        .raw_remove(Area::Persistent, "jira3lo:default:refresh");
    assert!(
        matches!(session.status().await.unwrap(), Status::SignedIn { .. }),
        "still a live access token"
    );
    session.send(myself()).await.unwrap();
    env.advance(3_601).await;
    assert_eq!(session.status().await.unwrap(), Status::SignedOut);
    assert_eq!(
        session.send(myself()).await.unwrap_err(),
        Error::NotSignedIn
    );
    assert_eq!(
        env.count(TOKEN).await,
        1,
        "nothing to refresh with: no token request"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn access_denied_from_a_misconfigured_broker_keeps_the_refresh_token() {
    let (env, _) = signed_in_session().await;
    let rt1 = stored_refresh(&env).unwrap();
    env.advance(3_601).await;
    // A broker deployed with the wrong client secret: Atlassian answers 401 access_denied.
    // That says nothing about the user's grant.
    let misconfigured = env.broker_with_secret("not-the-secret").await;
    let mut config = env.config();
    config.broker_url = misconfigured.base_url.clone();
    let session = jira_3lo::session::Session::new(config, env.platform.sibling());
    let err = session.send(myself()).await.unwrap_err();
    let Error::Oauth {
        status,
        error,
        description,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, error.as_str(), description.as_deref()),
        (401, "access_denied", Some("Unauthorized"))
    );
    assert!(!err.needs_reconnect(), "{err:?}");
    assert_eq!(stored_refresh(&env).unwrap(), rt1, "refresh token kept");
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    assert_eq!(env.count(MYSELF).await, 0);
    // Once the broker is fixed, the same refresh token still works.
    env.session().send(myself()).await.unwrap();
    assert_ne!(stored_refresh(&env).unwrap(), rt1, "rotated");
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 1);
}

/// Waits (bounded, on the real clock) until context A holds the refresh lock, i.e. its
/// refresh is on the wire.
async fn until_a_refresh_is_in_flight(env: &Env, acquisitions_before: u64) {
    support::eventually("the refresh taking the lock", || async {
        env.platform.lock.refreshes() > acquisitions_before
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_in_flight_cannot_resurrect_tokens_after_a_sign_out_in_another_context() {
    let (env, a) = signed_in_session().await;
    let b = env.session();
    env.advance(3_601).await;
    // A's refresh answer takes a while; B signs out meanwhile.
    env.fault(TOKEN, 1, json!({ "delay_ms": 300 })).await;
    let before = env.platform.lock.refreshes();
    let (ra, rb) = futures_util::future::join(a.send(myself()), async {
        until_a_refresh_is_in_flight(&env, before).await;
        b.sign_out().await
    })
    .await;
    rb.unwrap();
    // A's call may finish (it refreshed before the sign-out took effect), but what it stored
    // must be gone afterwards.
    assert!(ra.is_ok(), "{ra:?}");
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 1);
    assert!(stored_refresh(&env).is_none(), "refresh token resurrected");
    assert!(stored_access(&env).is_none(), "access token resurrected");
    assert_eq!(a.status().await.unwrap(), Status::SignedOut);
    assert_eq!(b.status().await.unwrap(), Status::SignedOut);
    assert_eq!(a.send(myself()).await.unwrap_err(), Error::NotSignedIn);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_in_flight_does_not_overwrite_a_new_sign_in_in_another_context() {
    let (env, a) = signed_in_session().await;
    env.advance(3_601).await;
    // B signs in again as another user (bob) while A's refresh of alice's grant is slow.
    env.settings(json!({ "consent_user": "bob" })).await;
    let b = env.session();
    let url = b.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    env.fault(TOKEN, 1, json!({ "delay_ms": 300 })).await;
    let before = env.platform.lock.refreshes();
    let (ra, rb) = futures_util::future::join(a.send(myself()), async {
        until_a_refresh_is_in_flight(&env, before).await;
        b.complete_sign_in(&callback).await
    })
    .await;
    assert!(ra.is_ok(), "{ra:?}");
    let Status::SignedIn { site } = rb.unwrap() else {
        panic!()
    };
    assert_eq!(site.name, "globex");
    // Storage holds bob's grant, not alice's rotated one: both contexts now act as bob.
    for s in [&a, &b] {
        let me: serde_json::Value = s.send_json(myself()).await.unwrap();
        assert_eq!(me["displayName"], "Bob Brown");
    }
    assert_eq!(env.stats().await["grants_ok"]["refresh_token"], 1);
}

#[tokio::test(flavor = "current_thread")]
async fn debug_of_a_real_token_response_shows_no_body() {
    let (env, _) = signed_in_session().await;
    let rt = stored_refresh(&env).unwrap();
    let platform = env.platform.sibling();
    let resp = jira_3lo::session::ports::HttpClient::send(
        &platform,
        jira_3lo::session::ports::HttpRequest {
            method: jira_3lo::session::ports::Method::Post,
            url: format!("{}/oauth/token", env.broker.base_url),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "dpop".into(),
                    platform.proof("POST", &format!("{}/oauth/token", env.broker.base_url)),
                ),
            ],
            body: Some(json!({ "grant_type": "refresh_token", "refresh_token": rt }).to_string()),
        },
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200);
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    let (at, new_rt) = (
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    let debug = format!("{resp:?} {resp:#?}");
    for secret in [at, new_rt, rt.as_str()] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("200"), "{debug}");
    assert!(debug.contains("cache-control"), "header names: {debug}");
    assert!(
        debug.contains(&format!("{} bytes", resp.body.len())),
        "{debug}"
    );
}

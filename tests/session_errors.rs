//! Gateway and Jira failures: rate limits with Retry-After, missing scopes, HTML bodies, Jira
//! ErrorCollections, network failures, a site that is gone, and corrupted storage records.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::session::ports::Area;
use jira_3lo::session::{Session, Status};
use jira_3lo::{Error, ErrorCode};
use serde_json::{json, Value};
use support::{signed_in_session, start, Env, TestPlatform, REDIRECT};

const MYSELF: &str = "GET /ex/jira/{cloudId}/rest/api/3/myself";
const COUNT: &str = "POST /ex/jira/{cloudId}/rest/api/3/search/approximate-count";

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

fn approximate_count() -> JiraRequest {
    JiraRequest::post(
        "/rest/api/3/search/approximate-count",
        json!({ "jql": "assignee = currentUser()" }),
    )
}

fn session_with(
    env: &Env,
    edit: impl FnOnce(&mut jira_3lo::session::SessionConfig),
) -> Session<TestPlatform> {
    let mut config = env.config();
    edit(&mut config);
    Session::new(config, env.platform.sibling())
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_with_retry_after_on_a_get_is_waited_out_and_retried() {
    let (env, session) = signed_in_session().await;
    env.fault(MYSELF, 2, json!({ "status": 429, "retry_after_secs": 2 }))
        .await;
    let me: Value = session.send_json(myself()).await.unwrap();
    assert!(me["accountId"].is_string());
    assert_eq!(env.count(MYSELF).await, 3);
    assert_eq!(
        env.platform.clock.slept_ms(),
        4_000,
        "waited exactly Retry-After twice, on the test clock"
    );

    // 503 with Retry-After is treated the same way.
    env.fault(MYSELF, 1, json!({ "status": 503, "retry_after_secs": 1 }))
        .await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.platform.clock.slept_ms(), 5_000);
}

#[tokio::test(flavor = "current_thread")]
async fn the_fakes_own_rate_limit_is_waited_out_on_the_fake_clock() {
    let (env, session) = signed_in_session().await;
    env.settings(json!({ "rate_limit_budget": 2, "rate_limit_window_secs": 10 }))
        .await;
    for _ in 0..4 {
        session.send(myself()).await.unwrap();
    }
    assert!(
        env.platform.clock.slept_ms() > 0,
        "at least one 429 was waited out"
    );
    assert!(env.count(MYSELF).await > 4);
}

/// The error a request fails with once a 429/503 is not (or no longer) waited out.
fn rate_limited(status: u16, retry_after_ms: u64) -> Error {
    Error::RateLimited {
        status,
        retry_after_ms,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn rate_limits_beyond_the_budget_or_on_a_post_are_typed_errors() {
    let (env, _) = signed_in_session().await;
    let session = session_with(&env, |c| c.max_retry_wait_ms = 5_000);
    // Each wait fits but the total would not: 2 s + 2 s, then 2 s more is over 5 s.
    env.fault(MYSELF, 3, json!({ "status": 429, "retry_after_secs": 2 }))
        .await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err, rate_limited(429, 2_000));
    assert_eq!(env.count(MYSELF).await, 3);
    assert!(err.is_transient());

    // One wait longer than the whole budget: not retried at all.
    env.fault(MYSELF, 1, json!({ "status": 429, "retry_after_secs": 60 }))
        .await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err, rate_limited(429, 60_000));
    assert_eq!(env.count(MYSELF).await, 4);

    // A POST is never retried on its own.
    let slept = env.platform.clock.slept_ms();
    env.fault(COUNT, 1, json!({ "status": 429, "retry_after_secs": 1 }))
        .await;
    let err = session.send(approximate_count()).await.unwrap_err();
    assert_eq!(err, rate_limited(429, 1_000));
    assert_eq!(env.count(COUNT).await, 1);
    assert_eq!(env.platform.clock.slept_ms(), slept);
    assert_eq!(err.code().as_str(), "rate_limited");
}

#[tokio::test(flavor = "current_thread")]
async fn a_scope_mismatch_is_missing_scope_without_a_refresh() {
    let env = start().await;
    // Without read:jira-user, /myself is refused by the gateway with "scope does not match".
    let session = session_with(&env, |c| c.scopes = vec!["read:jira-work".into()]);
    env.sign_in_and_choose(&session).await;
    let err = session.send(myself()).await.unwrap_err();
    let Error::MissingScope { message } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("scope does not match"), "{message}");
    assert!(err.needs_reconnect());
    assert_eq!(env.count(MYSELF).await, 1);
    assert_eq!(
        env.grants("refresh_token").await,
        0,
        "no refresh for a scope problem"
    );
    // The session is otherwise fine.
    let n: Value = session.send_json(approximate_count()).await.unwrap();
    assert!(n["count"].is_u64());
}

#[tokio::test(flavor = "current_thread")]
async fn html_and_malformed_bodies_are_invalid_responses() {
    let (env, session) = signed_in_session().await;
    env.fault(MYSELF, 1, json!("html")).await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidResponse, "{err:?}");

    env.fault(MYSELF, 1, json!("malformed_json")).await;
    let err = session.send_json::<Value>(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidResponse, "{err:?}");

    // A well-formed body of the wrong shape is also an InvalidResponse from send_json.
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct NotAUser {
        definitely_missing_field: String,
    }
    let err = session.send_json::<NotAUser>(myself()).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
    assert_eq!(env.grants("refresh_token").await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_jira_error_collection_becomes_a_typed_jira_error() {
    let (_env, session) = signed_in_session().await;
    let err = session
        .send(JiraRequest::get("/rest/api/3/issue/NOPE-999999"))
        .await
        .unwrap_err();
    let Error::Jira {
        status,
        error_messages,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 404);
    assert!(!error_messages.is_empty());
    assert!(err.to_string().contains(&error_messages[0]));

    let err = session
        .send(JiraRequest::get("/rest/api/3/search/jql").query("jql", "this is ((( not jql"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Jira { status: 400, .. }), "{err:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn network_failures_are_typed() {
    let (env, session) = signed_in_session().await;
    env.fault(MYSELF, 1, json!("drop")).await;
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network, "{err:?}");
    assert!(err.is_transient());
    // Nothing about the sign-in changed.
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    session.send(myself()).await.unwrap();

    let offline = session_with(&env, |c| c.api_base_url = "http://127.0.0.1:1".into());
    let err = offline.send(myself()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network, "{err:?}");
    assert!(
        matches!(&err, Error::Network { origin: Some(o), .. } if o == "http://127.0.0.1:1"),
        "{err:?}"
    );
}

/// The origin of a loopback port nobody listens on.
fn closed_origin() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let origin = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    origin
}

fn assert_unreachable(err: &Error, origin: &str) {
    let Error::Network {
        origin: Some(reported),
        ..
    } = err
    else {
        panic!("expected a network error with an origin, got {err:?}")
    };
    assert_eq!(reported, origin);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("/broker-path"), "no path: {shown}");
    assert!(!shown.contains("code="), "no code: {shown}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_broker_is_named_by_its_origin() {
    let env = start().await;
    let origin = closed_origin();
    // Asking the broker for the authorize URL.
    let offline = session_with(&env, |c| c.broker_url = format!("{origin}/broker-path/"));
    let err = offline.begin_sign_in(REDIRECT).await.unwrap_err();
    assert_unreachable(&err, &origin);
    assert!(err.is_transient());

    // Redeeming the ticket: the sign-in began at the real broker (same store, same key), and
    // the broker is gone when the callback comes back.
    let offline = session_with(&env, |c| c.broker_url = format!("{origin}/broker-path"));
    let url = env.session().begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let err = offline.complete_sign_in(&callback).await.unwrap_err();
    assert_unreachable(&err, &origin);
    assert!(matches!(offline.status().await.unwrap(), Status::SignedOut));
}

#[tokio::test(flavor = "current_thread")]
async fn a_broker_rate_limit_says_when_to_retry() {
    let env = start().await;
    // Three broker requests a minute: a sign-in takes two (the authorize URL, the ticket), the
    // next sign-in's authorize URL the third, and its ticket redemption is the one refused.
    let limited = env.broker_with(|c| c.rate_limit_per_minute(3)).await;
    let session = session_with(&env, |c| c.broker_url = limited.base_url.clone());
    env.sign_in(&session).await;
    let url = session.begin_sign_in(REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    let err = session.complete_sign_in(&callback).await.unwrap_err();
    match &err {
        Error::Broker {
            status: 429,
            error,
            retry_after_ms: Some(ms),
            ..
        } => {
            assert_eq!(error, "rate_limited");
            assert!(*ms > 0, "{err:?}");
        }
        other => panic!("expected a broker 429 with Retry-After, got {other:?}"),
    }
    assert_eq!(err.code(), ErrorCode::Broker);
}

fn site_record(env: &Env) -> Value {
    env.platform
        .store
        .json(Area::Persistent, "jira3lo:default:site")
}

#[tokio::test(flavor = "current_thread")]
async fn a_site_that_is_gone_is_rediscovered_once() {
    let (env, session) = signed_in_session().await;
    let mut rec = site_record(&env);
    let real_sites = rec["sites"].clone();
    let gone = "00000000-dead-beef-0000-000000000000";
    rec["sites"].as_array_mut().unwrap().push(
        json!({"id": gone, "name": "gone", "url": "https://gone.atlassian.net", "avatarUrl": null}),
    );
    rec["chosen"] = json!(gone);
    env.platform
        .store
        .raw_set(Area::Persistent, "jira3lo:default:site", &rec.to_string());

    let err = session.send(myself()).await.unwrap_err();
    // alice still has two sites: she must pick one again.
    let Error::SiteSelectionRequired { sites } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(serde_json::to_value(sites).unwrap(), real_sites);
    assert_eq!(
        env.count("GET /oauth/token/accessible-resources").await,
        2,
        "rediscovered once"
    );
    assert_eq!(
        env.grants("refresh_token").await,
        0,
        "a gone site is not an expired token"
    );
    assert_eq!(site_record(&env)["sites"], real_sites);
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { .. }
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_gone_site_with_one_site_left_switches_the_choice_and_says_so() {
    let env = start().await;
    env.settings(json!({ "consent_user": "bob" })).await;
    let session = env.session();
    let Status::SignedIn { site } = env.sign_in(&session).await else {
        panic!()
    };
    let mut rec = site_record(&env);
    rec["chosen"] = json!("00000000-dead-beef-0000-000000000000");
    rec["sites"].as_array_mut().unwrap().push(json!({"id": "00000000-dead-beef-0000-000000000000", "name": "gone", "url": "https://gone.atlassian.net", "avatarUrl": null}));
    env.platform
        .store
        .raw_set(Area::Persistent, "jira3lo:default:site", &rec.to_string());
    let err = session.send(myself()).await.unwrap_err();
    assert_eq!(
        err,
        Error::UnknownSite {
            site_id: "00000000-dead-beef-0000-000000000000".into()
        }
    );
    assert_eq!(session.status().await.unwrap(), Status::SignedIn { site });
    session.send(myself()).await.unwrap();
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn corrupted_records_are_reported_and_discarded_not_fatal() {
    let (env, session) = signed_in_session().await;
    let store = &env.platform.store;

    // A broken access record: discarded, the refresh token gets a new one.
    store.raw_set(
        Area::Session,
        "jira3lo:default:access",
        "{\"v\":99,\"access_token\":\"x\"}",
    );
    session.send(myself()).await.unwrap();
    let reports = session.take_storage_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].key, "jira3lo:default:access");
    assert!(reports[0].reason.contains("version"), "{reports:?}");
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(store.json(Area::Session, "jira3lo:default:access")["v"], 1);

    // A broken site record: status still answers; the next call discovers again.
    store.raw_set(Area::Persistent, "jira3lo:default:site", "not json at all");
    assert_eq!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { sites: vec![] }
    );
    assert!(
        store
            .raw_get(Area::Persistent, "jira3lo:default:site")
            .is_none(),
        "discarded"
    );
    assert_eq!(
        session.take_storage_reports()[0].key,
        "jira3lo:default:site"
    );
    let sites = session.sites().await.unwrap();
    assert_eq!(sites.len(), 2);

    // A broken pending record is discarded: with no attempt, nothing is a callback of ours.
    store.raw_set(
        Area::Persistent,
        "jira3lo:default:pending",
        "{\"v\":1,\"state\":42}",
    );
    let err = session
        .complete_sign_in(&format!("{}?code=x&state=y", support::REDIRECT))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NotACallback);

    // A broken refresh record while the access token is fresh: calls keep working.
    session.choose_site(&sites[0].id).await.unwrap();
    store.raw_set(Area::Persistent, "jira3lo:default:refresh", "[1,2,3]");
    assert!(
        matches!(session.status().await.unwrap(), Status::SignedIn { .. }),
        "the fresh access token still counts"
    );
    session.send(myself()).await.unwrap();
    let reports = session.take_storage_reports();
    assert!(
        reports.iter().any(|r| r.key == "jira3lo:default:refresh"),
        "{reports:?}"
    );
    for r in &reports {
        assert!(!r.reason.contains("1,2,3"));
    }
}

const RESOURCES: &str = "GET /oauth/token/accessible-resources";

#[tokio::test(flavor = "current_thread")]
async fn a_401_that_mentions_a_resource_is_an_expired_token_not_a_gone_site() {
    let (env, session) = signed_in_session().await;
    let body = r#"{"code":401,"message":"Unauthorized: this resource needs a valid site token"}"#;
    env.fault(MYSELF, 1, json!({ "status": 401, "body": body }))
        .await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1, "refreshed");
    assert_eq!(
        env.count(RESOURCES).await,
        1,
        "no rediscovery (sign-in only)"
    );
    assert_eq!(env.count(MYSELF).await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn only_the_gateways_not_found_means_the_site_is_gone() {
    let (env, session) = signed_in_session().await;
    // Another 404 in the gateway's shape is an error, not a reason to rediscover.
    let other = r#"{"code":404,"message":"No route for this endpoint"}"#;
    env.fault(MYSELF, 1, json!({ "status": 404, "body": other }))
        .await;
    let err = session.send(myself()).await.unwrap_err();
    let Error::Jira {
        status: 404,
        error_messages,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(error_messages, &["No route for this endpoint".to_string()]);
    assert_eq!(env.count(RESOURCES).await, 1, "sign-in only");
    assert_eq!(env.count(MYSELF).await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_rediscovery_that_refreshed_the_retry_uses_the_new_token() {
    let (env, session) = signed_in_session().await;
    // A rotated token's companion access token dies at once.
    env.settings(json!({ "refresh_leeway_secs": 0 })).await;
    // The gateway says "not in this grant" (the exact answer for a foreign cloud id); the
    // rediscovery's first accessible-resources call finds the access token expired and
    // refreshes; the site is still listed, so the call is retried there.
    env.fault(
        MYSELF,
        1,
        json!({ "status": 404, "body": r#"{"code":404,"message":"Not Found"}"# }),
    )
    .await;
    env.fault(RESOURCES, 1, json!({ "status": 401 })).await;
    let me: Value = session.send_json(myself()).await.unwrap();
    assert!(me["accountId"].is_string());
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(env.count(RESOURCES).await, 1 + 2, "sign-in + 401 + retry");
    assert_eq!(
        env.count(MYSELF).await,
        2,
        "the retry carried the refreshed token (no 401 round trip)"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn retry_after_zero_still_waits_a_second_between_retries() {
    let (env, session) = signed_in_session().await;
    env.fault(MYSELF, 3, json!({ "status": 429, "retry_after_secs": 0 }))
        .await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.count(MYSELF).await, 4);
    assert_eq!(env.platform.clock.slept_ms(), 3_000, "1 s per retry");

    // The 1 s floor counts against the total wait.
    let bounded = session_with(&env, |c| c.max_retry_wait_ms = 2_000);
    env.fault(MYSELF, 3, json!({ "status": 503, "retry_after_secs": 0 }))
        .await;
    let err = bounded.send(myself()).await.unwrap_err();
    assert_eq!(err, rate_limited(503, 1_000));
    assert_eq!(env.count(MYSELF).await, 4 + 3);
    assert_eq!(env.platform.clock.slept_ms(), 3_000 + 2_000);
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_rediscovery_without_sites_sites_discovers_again() {
    let (env, session) = signed_in_session().await;
    // The chosen site looks gone and, for a moment, accessible-resources lists nothing.
    env.fault(
        MYSELF,
        1,
        json!({ "status": 404, "body": r#"{"code":404,"message":"Not Found"}"# }),
    )
    .await;
    env.fault(RESOURCES, 1, json!({ "status": 200, "body": "[]" }))
        .await;
    assert_eq!(session.send(myself()).await.unwrap_err(), Error::NoJiraSite);
    assert_eq!(env.count(RESOURCES).await, 2);
    // Still connected; the empty list means "discovery pending", and sites() discovers.
    assert_eq!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { sites: vec![] }
    );
    let sites = session.sites().await.unwrap();
    assert_eq!(sites.len(), 2, "{sites:?}");
    assert_eq!(env.count(RESOURCES).await, 3);
    assert!(matches!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { sites } if sites.len() == 2
    ));
    // Cached from now on.
    session.sites().await.unwrap();
    assert_eq!(env.count(RESOURCES).await, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn a_404_from_accessible_resources_is_an_error_not_a_dead_grant() {
    let (env, session) = signed_in_session().await;
    let rec = site_record(&env);
    env.platform
        .store
        .raw_remove(Area::Persistent, "jira3lo:default:site");
    env.fault(RESOURCES, 1, json!({ "status": 404 })).await;
    let err = session.sites().await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(env.grants("refresh_token").await, 0, "no refresh");
    assert_eq!(
        session.status().await.unwrap(),
        Status::SiteSelectionRequired { sites: vec![] },
        "tokens kept, discovery still pending"
    );
    let sites = session.sites().await.unwrap();
    assert_eq!(serde_json::to_value(&sites).unwrap(), rec["sites"]);
}

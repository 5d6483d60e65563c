//! Request budgets, asserted with the fake Atlassian's `/__admin/stats` counters.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use futures_util::future::join_all;
use jira_3lo::core::api_request::JiraRequest;
use jira_3lo::session::Status;
use support::{signed_in_session, start};

const MYSELF: &str = "GET /ex/jira/{cloudId}/rest/api/3/myself";

fn myself() -> JiraRequest {
    JiraRequest::get("/rest/api/3/myself")
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_with_a_fresh_token_and_a_chosen_site_costs_exactly_one_request() {
    let (env, session) = signed_in_session().await;
    let before = env.total_requests().await;
    let sent_before = session.platform().sent.borrow().len();
    let me: serde_json::Value = session.send_json(myself()).await.unwrap();
    assert!(me["accountId"].is_string(), "{me}");
    assert_eq!(env.total_requests().await - before, 1);
    assert_eq!(session.platform().sent.borrow().len() - sent_before, 1);
    // And again: still one each.
    session.send(myself()).await.unwrap();
    assert_eq!(env.total_requests().await - before, 2);
    assert_eq!(env.count(MYSELF).await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn accessible_resources_is_called_once_per_authorization_even_after_recreating_the_engine() {
    let env = start().await;
    let first = env.session();
    let Status::SiteSelectionRequired { sites } = env.sign_in(&first).await else {
        panic!()
    };
    first.choose_site(&sites[0].id).await.unwrap();
    first.send(myself()).await.unwrap();
    drop(first);

    // Reopening the popup = a new engine over the same storage, several times.
    for _ in 0..3 {
        let reopened = env.session();
        assert!(matches!(
            reopened.status().await.unwrap(),
            Status::SignedIn { .. }
        ));
        assert_eq!(reopened.sites().await.unwrap(), sites);
        reopened.send(myself()).await.unwrap();
    }
    // Even after the token expired and was refreshed.
    env.advance(3_700).await;
    env.session().send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 1);

    // A new authorization discovers again, once.
    let again = env.session();
    let status = env.sign_in(&again).await;
    assert_eq!(
        status,
        Status::SignedIn {
            site: sites[0].clone()
        },
        "the previous choice is kept"
    );
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn fifty_concurrent_calls_with_an_expired_token_refresh_exactly_once() {
    let (env, session) = signed_in_session().await;
    env.advance(3_601).await;
    let locks_before = env.platform.lock.refreshes();
    let calls = (0..50).map(|_| session.send_json::<serde_json::Value>(myself()));
    let results = join_all(calls).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(
        env.count("POST /oauth/token").await,
        2,
        "one code exchange + one refresh"
    );
    assert_eq!(env.count(MYSELF).await, 50);
    assert_eq!(
        env.platform.lock.refreshes() - locks_before,
        1,
        "the 50 callers shared one refresh future"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn two_contexts_sharing_store_and_lock_refresh_exactly_once_with_fifty_calls_each() {
    let (env, popup) = signed_in_session().await;
    let worker = env.session();
    env.advance(3_601).await;
    let locks_before = env.platform.lock.refreshes();
    let a = (0..50).map(|_| popup.send(myself()));
    let b = (0..50).map(|_| worker.send(myself()));
    let (ra, rb) = futures_util::future::join(join_all(a), join_all(b)).await;
    for r in ra.iter().chain(rb.iter()) {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(env.count(MYSELF).await, 100);
    // One refresh future per context; the second found the token already rotated.
    assert_eq!(env.platform.lock.refreshes() - locks_before, 2);
    // No re-authorization: both contexts are still signed in and keep working.
    assert!(matches!(
        popup.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    assert!(matches!(
        worker.status().await.unwrap(),
        Status::SignedIn { .. }
    ));
    // Well past the 10-minute leeway the token family is still healthy.
    env.advance(3_601).await;
    worker.send(myself()).await.unwrap();
    popup.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_within_the_skew_is_refreshed_before_the_call() {
    let (env, session) = signed_in_session().await;
    // 3600 s lifetime, 60 s skew: at +3530 s (70 s left) the token is used as is …
    env.advance(3_530).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 0);
    // … at +3541 s (59 s left) it counts as expired and is refreshed before the call.
    env.advance(11).await;
    session.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
    assert_eq!(
        env.count(MYSELF).await,
        2,
        "no 401 round trip: the refresh came first"
    );
}

/// A popup opened while the service worker completes a sign-in asks for the status and the
/// sites mid-flight; it waits for the worker's discovery instead of repeating it.
#[tokio::test(flavor = "current_thread")]
async fn a_popup_opened_during_a_sign_in_does_not_repeat_the_discovery() {
    let env = start().await;
    let worker = env.session();
    let popup = env.session();
    // The discovery takes a while (as across a real network), so the popup opens during it.
    env.fault(
        "GET /oauth/token/accessible-resources",
        1,
        serde_json::json!({"delay_ms": 300}),
    )
    .await;
    let url = worker.begin_sign_in(support::REDIRECT).await.unwrap();
    let callback = env.authorize(&url).await;
    // Polls like a popup that opens while the worker signs in: until it sees the grant
    // (bounded: 2 s), then asks for the sites.
    let popup_side = async {
        let mut seen = Vec::new();
        for _ in 0..2_000 {
            let status = popup.status().await.unwrap();
            if !matches!(status, Status::SignedOut) {
                seen.push(popup.sites().await.unwrap());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        seen
    };
    let (signed_in, seen) =
        futures_util::future::join(worker.complete_sign_in(&callback), popup_side).await;
    let Status::SiteSelectionRequired { sites } = signed_in.unwrap() else {
        panic!("the seed user has two sites")
    };
    assert!(!seen.is_empty(), "the popup never saw the sign-in");
    // The popup did ask while no sites were stored: it took the sites lock after the worker.
    assert!(
        env.platform.lock.acquisitions_of("jira-3lo:sites:default") >= 2,
        "the popup never waited for the discovery"
    );
    assert!(seen.iter().all(|s| *s == sites), "{seen:?}");
    assert_eq!(env.count("GET /oauth/token/accessible-resources").await, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn calls_with_a_fresh_token_read_no_storage_and_a_change_elsewhere_is_seen() {
    let (env, popup) = signed_in_session().await;
    let worker = env.session();
    worker.send(myself()).await.unwrap(); // a new context reads storage once
    let reads = env.platform.store.reads.get();
    for _ in 0..10 {
        worker.send(myself()).await.unwrap();
    }
    assert_eq!(
        env.platform.store.reads.get(),
        reads,
        "the token and site are held in memory"
    );
    assert_eq!(env.count(MYSELF).await, 11);

    // Another context rotates the tokens an hour later: the change event dropped the token's
    // copy and the site's is past its 30 s life, so the next call reads both once, without a
    // refresh of its own; the call after reads nothing.
    env.advance(3_601).await;
    popup.send(myself()).await.unwrap();
    assert_eq!(env.grants("refresh_token").await, 1);
    let reads = env.platform.store.reads.get();
    worker.send(myself()).await.unwrap();
    assert_eq!(env.platform.store.reads.get() - reads, 2);
    worker.send(myself()).await.unwrap();
    assert_eq!(env.platform.store.reads.get() - reads, 2);
    assert_eq!(env.grants("refresh_token").await, 1);

    // A sign-out elsewhere ends the worker's access at once.
    popup.sign_out().await.unwrap();
    assert_eq!(
        worker.send(myself()).await.unwrap_err(),
        jira_3lo::Error::NotSignedIn
    );
}
